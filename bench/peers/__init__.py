"""tasksched side by side with Celery, Huey, RQ, arq, Procrastinate and APScheduler: ``python -m bench.peers``.

See ``bench/README.md``. The job body (``job.py``) and the apps (``apps/``) are also imported by the
peers' own virtual environments, so nothing here imports more than the standard library at load time.
"""
