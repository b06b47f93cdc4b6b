"""Notifications: channels, the outbox of notices and their delivery attempts, rule state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tasksched.store.tables import BigId, JSONType, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("notify", JSONType, nullable=True))
    op.create_table(
        "channels",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("scope", JSONType, nullable=False),
        sa.Column("kinds", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channels"),
        sa.UniqueConstraint("name", name="uq_channels_name"),
    )
    op.create_table(
        "notices",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel_id", BigId, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(300), nullable=False),
        sa.Column("task_id", sa.BigInteger, nullable=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name="fk_notices_channel_id_channels", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("channel_id", "dedupe_key", name="uq_notices_channel_id_dedupe_key"),
    )
    op.create_index("ix_notices_status_next_attempt_at", "notices", ["status", "next_attempt_at"])
    op.create_index("ix_notices_status_lease_until", "notices", ["status", "lease_until"])
    op.create_index("ix_notices_task_id_id", "notices", ["task_id", "id"])
    op.create_index("ix_notices_run_id", "notices", ["run_id"])
    op.create_table(
        "notice_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("notice_id", BigId, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notice_attempts"),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name="fk_notice_attempts_notice_id_notices", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_notice_attempts_notice_id_attempt", "notice_attempts", ["notice_id", "attempt"])
    op.create_table(
        "notify_state",
        sa.Column("task_id", BigId, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("failure_noticed", sa.Boolean, nullable=False),
        sa.Column("last_success_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_notify_state"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_notify_state_task_id_tasks", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "notify_settings",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", JSONType, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_notify_settings"),
    )


def downgrade() -> None:
    op.drop_table("notify_settings")
    op.drop_table("notify_state")
    op.drop_table("notice_attempts")
    op.drop_table("notices")
    op.drop_table("channels")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("notify")
