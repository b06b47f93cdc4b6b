"""tasksched: schedule HTTP calls, commands and Python functions, and see every run.

Public Python API: ``task`` registers a function for ``python`` actions; ``current_run`` gives a
running function its context; ``Retry`` asks for another attempt.
"""

from tasksched.registry import Retry, current_run, task

__version__ = "0.1.0"

__all__ = ["Retry", "__version__", "current_run", "task"]
