"""Pure types and rules: tasks, schedules, runs. No I/O and no framework imports beyond Pydantic."""
