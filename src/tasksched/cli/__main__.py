"""``python -m tasksched.cli …``, the same as the ``tasksched`` script."""

from tasksched.cli import main

main()
