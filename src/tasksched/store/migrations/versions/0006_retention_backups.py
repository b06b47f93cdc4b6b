"""Retention overrides per task, and the record of backups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tasksched.store.tables import BigId, JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): instant on both databases, whatever their size.
    op.add_column("tasks", sa.Column("retention", JSONType, nullable=True))
    op.create_table(
        "backups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("slot", UTCDateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backups"),
        sa.UniqueConstraint("slot", name="uq_backups_slot"),
    )


def downgrade() -> None:
    op.drop_table("backups")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("retention")
