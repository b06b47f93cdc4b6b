"""Table definitions: the schema the Alembic migrations must reproduce exactly (a test checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class _SqliteTimestamp(sa.types.UserDefinedType[str]):
    """SQLite's DATETIME column, written and read as text by ``UTCDateTime`` itself.

    SQLAlchemy's own SQLite DateTime formats and parses with Python code on every value; the C
    ``isoformat``/``fromisoformat`` pair gives the very same text several times faster, and claiming
    and finishing runs moves a lot of timestamps.
    """

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "DATETIME"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend.

    SQLite has no time zone type: values are stored as naive UTC text in one fixed format
    (``2026-01-02 03:04:05.000006``) so that string comparison is time comparison. PostgreSQL gets
    ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteTimestamp())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def process_result_value(self, value: datetime | str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite makes INTEGER PRIMARY KEY the rowid (fast, autoincrementing); PostgreSQL gets BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# JSON whose Python None is SQL NULL (not the JSON value null): for columns most rows leave empty.
NullableJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("tags", JSONType, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("action", JSONType, nullable=False),
    sa.Column("schedule", JSONType, nullable=True),
    # When the schedule was last set: interval schedules without start_at count from here.
    sa.Column("schedule_anchor", UTCDateTime, nullable=False),
    sa.Column("timeout_seconds", sa.Float, nullable=True),
    sa.Column("retry", JSONType, nullable=False),
    sa.Column("concurrency_policy", sa.String(16), nullable=False),
    sa.Column("misfire_policy", sa.String(16), nullable=False),
    sa.Column("misfire_grace_seconds", sa.Float, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("next_run_at", UTCDateTime, nullable=True),
    sa.Column("last_run_id", sa.BigInteger, nullable=True),
    sa.Column("last_run_status", sa.String(16), nullable=True),
    sa.Column("last_run_at", UTCDateTime, nullable=True),
    # When the task was paused: slots missed meanwhile are recorded as skipped on resume.
    sa.Column("paused_at", UTCDateTime, nullable=True),
    # The task's own notification rules (domain/notifications.py NotifyRules); null: the global ones.
    sa.Column("notify", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Overrides of the server's retention settings (domain Retention), or null.
    sa.Column("retention", JSONType, nullable=True),
    sa.UniqueConstraint("name"),
    sa.Index("ix_tasks_due", "enabled", "next_run_at"),
    sa.Index("ix_tasks_last_run_status", "last_run_status"),
)

task_tags = sa.Table(
    "task_tags",
    metadata,
    sa.Column("task_id", BigId, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Index("ix_task_tags_tag", "tag"),
)

# On PostgreSQL (migration 0008) this table is partitioned by RANGE of scheduled_for, one partition a
# month (store/partitions.py), and its primary key is (id, scheduled_for): a partitioned table's
# keys must hold the partition key. Declared here with the key SQLite needs (id alone: the rowid).
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("task_id", BigId, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_name", sa.String(200), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("scheduled_for", UTCDateTime, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("queued_at", UTCDateTime, nullable=False),
    sa.Column("available_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=True),
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("output", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    # What the run was asked to take on top of its task's action (domain RunInput.given), or null.
    sa.Column("input", NullableJSON, nullable=True),
    # The key that makes a slot fire at most once, whatever number of schedulers race for it.
    sa.UniqueConstraint("task_id", "scheduled_for", "attempt"),
    sa.Index("ix_runs_task_id_id", "task_id", "id"),
    sa.Index("ix_runs_status_lease_until", "status", "lease_until"),
    sa.Index("ix_runs_finished_at", "finished_at"),
    # The dashboard's counts of finished runs by status and task read only this index (migration 0012).
    sa.Index("ix_runs_finished_at_status_task_id", "finished_at", "status", "task_id"),
    # A task's last success and last start, read per task by every metrics scrape: one seek each.
    sa.Index("ix_runs_task_id_status_finished_at", "task_id", "status", "finished_at"),
    sa.Index("ix_runs_task_id_started_at", "task_id", "started_at"),
)
# Idempotency keys of manual runs (``Idempotency-Key`` on ``POST /api/tasks/{id}/run`` and the items
# of ``POST /api/runs:batch``): one run per (task, key), enforced by the primary key. A table of its
# own because on PostgreSQL ``runs`` is partitioned by ``scheduled_for``, and a unique index there
# must hold the partition key. A key lives as long as its run: retention deletes both.
run_keys = sa.Table(
    "run_keys",
    metadata,
    sa.Column("task_id", BigId, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    # The run's partition key: its row is found with the month it is in.
    sa.Column("scheduled_for", UTCDateTime, nullable=False),
    # SHA-256 of the input sent with the key: the same key with another input is refused.
    sa.Column("input_digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_run_keys_run_id", "run_id"),
)

# In the claim's own order (priority descending), so claiming reads the index instead of sorting
# every queued run.
sa.Index("ix_runs_claim", runs.c.status, runs.c.queue, runs.c.priority.desc(), runs.c.available_at, runs.c.id)
# The same order for workers that take every queue ('*').
sa.Index("ix_runs_claim_any_queue", runs.c.status, runs.c.priority.desc(), runs.c.available_at, runs.c.id)
# The runs page's search over error text (a substring, any case). PostgreSQL: a trigram GIN index,
# which answers ILIKE '%…%' without reading every row. SQLite: a partial index of the runs that have
# an error, which a LIKE scans instead of the table (most runs succeed and have none).
sa.Index(
    "ix_runs_error",
    runs.c.error,
    sqlite_where=runs.c.error.isnot(None),
    postgresql_using="gin",
    postgresql_ops={"error": "gin_trgm_ops"},
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("key_hash"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("queues", JSONType, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("running", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("stopped_at", UTCDateTime, nullable=True),
)

# One row per scheduler process: its loop moves heartbeat_at on every pass ("is a scheduler ticking?").
schedulers = sa.Table(
    "schedulers",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("stopped_at", UTCDateTime, nullable=True),
    sa.Index("ix_schedulers_heartbeat_at", "heartbeat_at"),
)

# Secrets every API instance must share without configuration (today the key that signs event-stream
# tickets): made at random on first use, the first writer's value kept.
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The audit log: one row per change, written in the transaction of the change (services/audit.py).
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("actor_name", sa.String(200), nullable=False),
    sa.Column("actor_key_id", sa.BigInteger, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(32), nullable=False),
    sa.Column("target_id", sa.BigInteger, nullable=True),
    sa.Column("target_name", sa.String(200), nullable=True),
    sa.Column("before", JSONType, nullable=True),
    sa.Column("after", JSONType, nullable=True),
    sa.Column("client_address", sa.String(64), nullable=True),
    # Pruning by age, and the time-range filter.
    sa.Index("ix_audit_at", "at"),
    # "Everything done to task 7", newest first.
    sa.Index("ix_audit_target_type_target_id_id", "target_type", "target_id", "id"),
)

# Each backup, manual or scheduled, and how it ended. A scheduled backup's slot is unique: the
# scheduler that inserts the slot's row first makes that backup, the others see the row and skip it.
backups = sa.Table(
    "backups",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("slot", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("slot"),
)

# -- notifications (domain/notifications.py) ---------------------------------------------------

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    # Holds the channel's secrets: read and written only by store/channels.py's one pair of functions.
    sa.Column("config", JSONType, nullable=False),
    sa.Column("scope", JSONType, nullable=False),
    sa.Column("kinds", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("name"),
)

# The outbox: one row per notice and channel, written in the transaction of what caused it.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    # One notice per occurrence: the rule's checks run every pass, the key keeps what they find once.
    sa.Column("dedupe_key", sa.String(300), nullable=False),
    # No foreign keys: a notice about a task outlives the task (deleting it is no reason to be silent).
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
    sa.UniqueConstraint("channel_id", "dedupe_key"),
    sa.Index("ix_notices_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_notices_status_lease_until", "status", "lease_until"),
    sa.Index("ix_notices_task_id_id", "task_id", "id"),
    sa.Index("ix_notices_run_id", "run_id"),
)

notice_attempts = sa.Table(
    "notice_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("notice_id", BigId, sa.ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
    sa.Column("worker", sa.String(200), nullable=False),
    sa.Index("ix_notice_attempts_notice_id_attempt", "notice_id", "attempt"),
)

# What the rules remember per task between outcomes: failures in a row, whether a failure notice
# was written since the last success (a recovery is due), when it last succeeded.
notify_state = sa.Table(
    "notify_state",
    metadata,
    sa.Column("task_id", BigId, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("failure_noticed", sa.Boolean, nullable=False),
    sa.Column("last_success_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Global notification settings by name; today "defaults", the rules of tasks without their own.
notify_settings = sa.Table(
    "notify_settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
