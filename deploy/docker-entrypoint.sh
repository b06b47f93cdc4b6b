#!/bin/sh
# The image's entrypoint.
#
#   docker run IMAGE                     tasksched serve
#   docker run IMAGE api --port 8000     tasksched api --port 8000 (any tasksched command or option)
#   docker run IMAGE sh                  anything that is a program on PATH runs as it is
#
# TASKSCHED_MIGRATE=1 runs `tasksched db upgrade` first and stops if it fails. (serve, api,
# scheduler and worker also apply pending migrations on start; this is for a one-off migration
# container or Job, and for making a failed migration stop the container before it starts serving.)
# The command is exec'd: it is PID 1 and gets the container's SIGTERM (workers drain).
set -eu

if [ "${TASKSCHED_MIGRATE:-0}" = "1" ]; then
    tasksched db upgrade
fi

if [ "$#" -eq 0 ]; then
    set -- serve
fi
# An option, or a word that is no program (serve, api, worker, db, …): a tasksched command.
case "$1" in
    -*) set -- tasksched "$@" ;;
    *) command -v "$1" >/dev/null 2>&1 || set -- tasksched "$@" ;;
esac
exec "$@"
