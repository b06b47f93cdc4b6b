"""A run's input (``runs.input``) and the idempotency keys of manual runs (``run_keys``).

``runs.input`` is a nullable JSON column: on PostgreSQL, added to the partitioned parent, it is
added to every partition with it (no rewrite: a nullable column without a default). ``run_keys``
is a plain table with (task_id, key) as its primary key (a unique index on the partitioned
``runs`` would have to hold ``scheduled_for``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tasksched.store.tables import NullableJSON, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("input", NullableJSON, nullable=True))
    op.create_table(
        "run_keys",
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("scheduled_for", UTCDateTime, nullable=False),
        sa.Column("input_digest", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_run_keys_task_id_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "key", name="pk_run_keys"),
    )
    op.create_index("ix_run_keys_run_id", "run_keys", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_keys_run_id", table_name="run_keys")
    op.drop_table("run_keys")
    # Both databases drop a column in place (SQLite since 3.35): no copy of the run history.
    op.execute("ALTER TABLE runs DROP COLUMN input")
