"""Monitoring: scheduler heartbeats, and indexes that keep the per-task metrics cheap.

``schedulers`` holds one row per scheduler process, its ``heartbeat_at`` moved on every pass of its
loop, so "no scheduler is ticking" can be seen from any process (``GET /metrics``, ``GET /api/status``).
The two indexes make a task's last success and last start one index seek each, so ``/metrics`` can
read them from the database at every scrape (a restart must not reset them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tasksched.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedulers",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
        sa.Column("stopped_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_schedulers"),
    )
    op.create_index("ix_schedulers_heartbeat_at", "schedulers", ["heartbeat_at"])
    op.create_index("ix_runs_task_id_status_finished_at", "runs", ["task_id", "status", "finished_at"])
    op.create_index("ix_runs_task_id_started_at", "runs", ["task_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_task_id_started_at", table_name="runs")
    op.drop_index("ix_runs_task_id_status_finished_at", table_name="runs")
    op.drop_index("ix_schedulers_heartbeat_at", table_name="schedulers")
    op.drop_table("schedulers")
