"""How a list of tasks can be ordered.

Apart from ``tasks.py`` (which re-exports both names) so that the store's task queries need not
import the task models: a worker does not load them (issue 10, point 5).
"""

from __future__ import annotations

from typing import Literal, get_args

TaskSort = Literal[
    "name", "-name", "next_run_at", "-next_run_at", "created_at", "-created_at",
    "updated_at", "-updated_at", "priority", "-priority", "id", "-id", "last_run_at", "-last_run_at",
]  # fmt: skip
"""How a list of tasks can be ordered: by a field, ascending, or descending with ``-``."""
SORT_FIELDS: tuple[str, ...] = tuple(key for key in get_args(TaskSort) if not key.startswith("-"))
