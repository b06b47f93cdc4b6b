"""An index for the runs page's search over error text.

PostgreSQL: a trigram GIN index (pg_trgm), which answers ``error ILIKE '%…%'``; the extension is
created here when the server offers it. SQLite: a partial index of the runs with an error.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        offered = bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).scalar_one_or_none()
        if offered is None:
            # Without the extension the search still works, as a scan; the index is left out.
            return
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_runs_error",
            "runs",
            ["error"],
            postgresql_using="gin",
            postgresql_ops={"error": "gin_trgm_ops"},
        )
    else:
        op.create_index("ix_runs_error", "runs", ["error"], sqlite_where=sa.text("error IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_runs_error", table_name="runs", if_exists=True)
