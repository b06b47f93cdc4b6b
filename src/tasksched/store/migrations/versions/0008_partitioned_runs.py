"""The run history partitioned by month of ``scheduled_for`` on PostgreSQL (SQLite: unchanged).

The table is rebuilt: the old one is renamed aside, a partitioned ``runs`` made with the same
columns, indexes and id sequence, a partition made for every month the history covers (and the
current month and the ones ahead), every row copied in one ``INSERT … SELECT``, the old table
dropped. A partitioned table's unique keys must hold its partition key: the slot key
(task_id, scheduled_for, attempt) already does; the primary key becomes (id, scheduled_for).
The copy holds the table's lock for its duration: on a large history, plan the upgrade's window
(roughly a minute per few million runs on modest hardware).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tasksched.store import partitions

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The columns as of this revision (not tables.py's, which later revisions extend).
_COLUMNS = """
    id BIGINT NOT NULL DEFAULT nextval('runs_id_seq'::regclass),
    task_id BIGINT NOT NULL,
    task_name VARCHAR(200) NOT NULL,
    trigger VARCHAR(16) NOT NULL,
    scheduled_for TIMESTAMP WITH TIME ZONE NOT NULL,
    attempt INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL,
    reason TEXT,
    queue VARCHAR(64) NOT NULL,
    priority INTEGER NOT NULL,
    queued_at TIMESTAMP WITH TIME ZONE NOT NULL,
    available_at TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    duration_ms BIGINT,
    worker VARCHAR(200),
    lease_until TIMESTAMP WITH TIME ZONE,
    exit_code INTEGER,
    http_status INTEGER,
    output TEXT,
    error TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT fk_runs_task_id_tasks FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
"""
_NAMES = (
    "id, task_id, task_name, trigger, scheduled_for, attempt, status, reason, queue, priority,"
    " queued_at, available_at, started_at, finished_at, duration_ms, worker, lease_until, exit_code,"
    " http_status, output, error, cancel_requested"
)
_INDEXES = {
    "ix_runs_task_id_id": "(task_id, id)",
    "ix_runs_status_lease_until": "(status, lease_until)",
    "ix_runs_finished_at": "(finished_at)",
    "ix_runs_task_id_status_finished_at": "(task_id, status, finished_at)",
    "ix_runs_task_id_started_at": "(task_id, started_at)",
    "ix_runs_claim": "(status, queue, priority DESC, available_at, id)",
    "ix_runs_claim_any_queue": "(status, priority DESC, available_at, id)",
}
_UNIQUE = "uq_runs_task_id_scheduled_for_attempt"


def _set_aside() -> None:
    """Rename the current table to runs_old and free the names its indexes hold."""
    op.execute("ALTER TABLE runs RENAME TO runs_old")
    for name in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(f"ALTER TABLE runs_old DROP CONSTRAINT IF EXISTS {_UNIQUE}")
    op.execute("ALTER TABLE runs_old DROP CONSTRAINT IF EXISTS pk_runs")
    op.execute("ALTER TABLE runs_old DROP CONSTRAINT IF EXISTS fk_runs_task_id_tasks")
    op.execute("ALTER SEQUENCE runs_id_seq OWNED BY NONE")


def _finish(*, partitioned: bool) -> None:
    # Copied first, indexed after: building an index over the rows is faster than growing it.
    op.execute(f"INSERT INTO runs ({_NAMES}) SELECT {_NAMES} FROM runs_old")  # noqa: S608 (constants)
    for name, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON runs {columns}")
    op.execute("DROP TABLE runs_old")
    op.execute("ALTER SEQUENCE runs_id_seq OWNED BY runs.id")
    if partitioned:
        op.execute("ANALYZE runs")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(
        f"CREATE TABLE runs ({_COLUMNS},"
        " CONSTRAINT pk_runs PRIMARY KEY (id, scheduled_for),"
        f" CONSTRAINT {_UNIQUE} UNIQUE (task_id, scheduled_for, attempt)"
        ") PARTITION BY RANGE (scheduled_for)"
    )
    months = [
        m.replace(tzinfo=UTC) if m.tzinfo is None else m
        for m in bind.execute(
            sa.text("SELECT DISTINCT date_trunc('month', scheduled_for AT TIME ZONE 'UTC') FROM runs_old")
        ).scalars()
    ]
    _make_partitions(bind, months)
    _finish(partitioned=True)


def _make_partitions(bind: sa.Connection, months: list[datetime]) -> None:
    """The partitions of every month found, this month and the ones ahead, and the default."""
    wanted = {partitions.partition_for(m) for m in [*months, *partitions.months_from(datetime.now(UTC))]}
    for part in sorted(wanted, key=lambda p: p.start):
        bind.execute(sa.text(partitions.month_ddl(part)))
    bind.execute(sa.text(partitions.default_ddl()))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(
        f"CREATE TABLE runs ({_COLUMNS}, CONSTRAINT pk_runs PRIMARY KEY (id),"
        f" CONSTRAINT {_UNIQUE} UNIQUE (task_id, scheduled_for, attempt))"
    )
    _finish(partitioned=False)
