"""An index in claim order for workers that take runs from every queue (``--queues '*'``).

Without it such a worker's claim sorts every queued run to find the first few; the per-queue
index ``ix_runs_claim`` serves workers with a list of queues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_runs_claim_any_queue", "runs", ["status", sa.text("priority DESC"), "available_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_runs_claim_any_queue", table_name="runs")
