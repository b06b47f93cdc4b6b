"""An index of finished runs by (finished_at, status, task_id), for the dashboard.

The dashboard counts the runs finished in the last hour and day by status, by hour or minute, and
groups the day's by task (the tasks that keep failing). With only ``ix_runs_finished_at`` each
counted run is a lookup in the table (33,000 a day at a million runs a month); this index holds
all three columns, so those counts read one range of it and nothing else. On PostgreSQL, created
on the partitioned parent, it is made on every partition.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_finished_at_status_task_id", "runs", ["finished_at", "status", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_finished_at_status_task_id", table_name="runs")
