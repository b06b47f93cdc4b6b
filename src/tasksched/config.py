"""Settings, read from ``TASKSCHED_*`` environment variables (and CLI options of the same names).

This class is the one place each setting is defined: its type, default, limits and description.
The CLI builds its options from it (``cli/options.py``: help text, variable, default shown) and the
README's configuration table is generated from it (a test keeps the two equal).

Nothing is built at import time: call ``Settings()`` where settings are needed, or pass one in.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from limits import RateLimitItem

ENV_PREFIX = "TASKSCHED_"


def _default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _default_worker_threads() -> int:
    # The standard library's default for a thread pool: enough for functions waiting on I/O, not so
    # many that a burst of runs opens hundreds of connections at once.
    return min(32, (os.cpu_count() or 1) + 4)


def _shown(text: str) -> dict[str, JsonValue]:
    """How a default that is not a plain value (computed, or none) is shown in help and docs."""
    return {"shown_default": text}


class Settings(BaseSettings):
    # Inputs are never quoted in errors: some settings are keys.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: str = Field(
        default="sqlite:///tasksched.db",
        description="`sqlite:///path/file.db` or `postgresql://user@host:port/db`.",
    )
    database_pooling: Literal["session", "transaction"] = Field(
        default="session",
        description="`transaction` when the database URL points at PgBouncer in transaction-pooling mode: no prepared statement outlives its transaction, and LISTEN needs `TASKSCHED_LISTEN_URL` or Redis.",
    )
    listen_url: str | None = Field(
        default=None,
        description="A direct PostgreSQL URL (not through PgBouncer) for the LISTEN connection that carries events between processes (default: the database URL).",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Database connections a process keeps open (PostgreSQL; SQLite: readers).",
    )
    db_max_overflow: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Database connections a process may open beyond the pool under load (PostgreSQL).",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    bootstrap_key: str | None = Field(
        default=None,
        description="The first admin API key, created when the database has none (else one is generated and printed).",
        json_schema_extra=_shown("generated"),
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (`https://host[:port]`) whose pages may call the API from a browser; `*` for any. Empty: none (the UI is same-origin and needs none).",
    )
    cors_allow_credentials: bool = Field(
        default=False,
        description="Let those origins send cookies and HTTP auth (API keys travel in `Authorization` and need no credentials); refused with `*`.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDRs of proxies whose `X-Forwarded-For` names the client (rate limits, audit).",
    )
    redis_url: str | None = Field(
        default=None,
        description="`redis://host:port/db`: shared rate-limit counters and events across processes (optional; the database stays the source of truth).",
    )
    redis_prefix: str = Field(
        default="tasksched:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key and channel tasksched uses (several deployments can share one Redis).",
    )
    rate_limit: str = Field(
        default="6000/minute",
        description="Requests per API key, such as `6000/minute` or `200/second;6000/minute`; empty: unlimited.",
    )
    rate_limit_anonymous: str = Field(
        default="120/minute",
        description="Requests per client address that carry no API key (event-stream tickets, 401s); empty: unlimited.",
    )
    rate_limit_auth_failures: str = Field(
        default="10/minute",
        description="Failed authentications per client address; past it the address gets 429 before any key is looked up.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="When set, `GET /metrics` needs `Authorization: Bearer <token>` (else it is open: aggregate figures and task names only).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="A scheduler or worker process without the API serves its own counters at `http://host:port/metrics` (off when unset).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="Days the audit log keeps each recorded change; older entries are pruned in small batches.",
    )

    worker_concurrency: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description=(
            "Runs one worker executes at once. Async functions, http and shell actions run up to this "
            "many at once; plain (sync) functions also need one of `TASKSCHED_WORKER_THREADS`."
        ),
    )
    worker_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Worker processes `tasksched worker` runs (`--processes` for short). Above 1, one parent imports the task modules once "
            "and forks this many workers, which share its memory; each has its own name (`host:pid`, or "
            "`--worker-name` with `-1`, `-2`…) and, with `TASKSCHED_METRICS_PORT`, its own port "
            "(the port plus 0, 1…). The parent restarts a worker that dies."
        ),
    )
    worker_threads: int = Field(
        default_factory=_default_worker_threads,
        ge=1,
        le=1_000,
        description=(
            "Threads a worker runs plain (sync) Python functions in: at most this many run at once, "
            "whatever the concurrency; the others wait for a thread, their timeout not yet counting."
        ),
        json_schema_extra=_shown("min(32, CPUs + 4)"),
    )
    worker_queues: str = Field(
        default="default", description="Comma-separated queues a worker takes runs from; `*` for all."
    )
    worker_name: str = Field(
        default_factory=_default_worker_name,
        description="The name recorded on runs and on notice deliveries.",
        json_schema_extra=_shown("host:pid"),
    )
    lease_seconds: float = Field(
        default=30,
        gt=1,
        le=3600,
        description="How long a claim lasts without a heartbeat; then the attempt fails and is retried under its policy.",
    )
    drain_seconds: float = Field(
        default=30, ge=0, le=3600, description="On SIGTERM, how long running work gets before it is released."
    )
    output_limit_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Output kept per run (the tail)."
    )
    worker_poll_seconds: float = Field(
        default=2,
        ge=0.1,
        le=3600,
        description="How often an idle worker looks for queued runs although nothing woke it (a safety net: new runs wake workers at once through the event relay).",
    )
    scheduler_poll_seconds: float = Field(
        default=5,
        ge=0.1,
        le=3600,
        description="How often the scheduler looks for due tasks although nothing woke it (a safety net: task changes wake it at once through the event relay).",
    )

    scheduler_fire_ahead_seconds: float = Field(
        default=60,
        ge=1,
        le=600,
        description="How far ahead of a crowded instant (many tasks due at once, such as every task on `0 * * * *`) the scheduler may start queueing its slots, so that all are queued by the time they come; each run still starts no earlier than its slot. 1 turns this off (slots are then queued at most 1 s ahead).",
    )

    retention_days: int = Field(
        default=30,
        ge=0,
        le=100_000,
        description="Days a succeeded run is kept (0: kept forever). A task's `retention` overrides it.",
    )
    retention_failed_days: int = Field(
        default=90,
        ge=0,
        le=100_000,
        description="Days a failed, timed-out, skipped or cancelled run is kept (0: kept forever).",
    )
    retention_keep_last: int = Field(
        default=100,
        ge=0,
        le=1_000_000,
        description="Runs per task always kept, newest first, whatever their age.",
    )
    backup_schedule: str | None = Field(
        default=None,
        description="Cron expression (UTC) for automatic backups by the scheduler, e.g. `0 3 * * *`; none when unset.",
    )
    backup_dir: str = Field(default="backups", description="Folder automatic backups are written to.")
    backup_keep: int = Field(
        default=7, ge=1, le=10_000, description="Automatic backups kept; older ones are deleted."
    )

    enable_shell: bool = Field(
        default=False, description="Allow `shell` actions (argv lists, never a shell string)."
    )
    http_allow_private: bool = Field(
        default=False,
        description="Let `http` actions reach loopback, private, link-local and metadata addresses.",
    )
    http_allow: str = Field(
        default="",
        description="Comma-separated CIDRs, addresses and host names (`*.example.com` for its subdomains) that `http` actions may reach although they are private; checked on the connected address and every redirect.",
    )
    shell_allow: str = Field(
        default="",
        description="Comma-separated absolute paths of the executables `shell` actions may run (a bare name is looked up in `PATH`; directory symlinks are resolved, a linked file is not); empty: any.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key that encrypts header and env secrets in the database (`tasksched db new-secret-key` makes one); unset: stored in clear, with a warning.",
    )
    secret_key_old: str = Field(
        default="",
        description="Comma-separated earlier keys, used only to decrypt while `tasksched db rotate-secrets` moves values to the new key.",
    )
    imports: str = Field(
        default="",
        description="Comma-separated modules whose `@task` functions to register (API and workers).",
    )

    public_url: str = Field(
        default="",
        description="The address users open the web UI at (`https://tasks.example.com`): notices link to task and run pages under it.",
    )
    notifier: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Run the notifier (delivers notices) in this process: `auto` where a scheduler runs (`serve`, `scheduler`), `on`, or `off`.",
    )
    notify_lease_seconds: float = Field(
        default=60,
        ge=2,
        le=3600,
        description="How long a notifier holds a notice it is sending; a notice held longer (its notifier died) is sent again.",
    )
    notify_timeout_seconds: float = Field(
        default=15,
        gt=0,
        le=300,
        description="How long one delivery attempt may take (HTTP request or SMTP session).",
    )
    notify_max_attempts: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Delivery attempts per notice before it is marked failed (backoff doubles from 5 s up to 1 h).",
    )

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info",
        description="`debug`, `info`, `warning` or `error` (libraries never log below `info`, and no level logs a secret).",
    )
    log_format: Literal["json", "console", "auto"] = Field(
        default="auto", description="`json` lines, `console`, or `auto` (console on a terminal)."
    )

    @field_validator("log_level", "log_format", "database_pooling", "notifier", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or CIDR") from None
        return value

    @field_validator("http_allow")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        http_allow_entries(value)
        return value

    @field_validator("shell_allow")
    @classmethod
    def _absolute_paths(cls, value: str) -> str:
        for item in _items(value):
            if not os.path.isabs(item):
                raise ValueError(f"{item!r} is not an absolute path")
        return value

    @field_validator("secret_key", "secret_key_old")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        for number, item in enumerate(_items(value or ""), start=1):
            try:
                ok = len(base64.urlsafe_b64decode(item.encode("ascii"))) == 32
            except (ValueError, UnicodeEncodeError):
                ok = False
            if not ok:  # never quote the value: it is a key
                raise ValueError(
                    f"key {number} is not 32 url-safe base64-encoded bytes; "
                    "make one with `tasksched db new-secret-key`"
                )
        return value

    @model_validator(mode="after")
    def _old_keys_need_a_key(self) -> Settings:
        if self.secret_key_old.strip() and not (self.secret_key or "").strip():
            raise ValueError(
                "TASKSCHED_SECRET_KEY_OLD is set but TASKSCHED_SECRET_KEY is not: old keys only decrypt, "
                "set the key to encrypt with"
            )
        return self

    @property
    def http_allow_list(self) -> HttpAllow:
        return http_allow_entries(self.http_allow)

    @property
    def shell_allow_list(self) -> list[str]:
        return _items(self.shell_allow)

    @property
    def secret_keys(self) -> list[str]:
        """The key that encrypts first, then the ones only read (empty: no encryption).

        ``TASKSCHED_SECRET_KEY`` may itself be a comma-separated list: its first key encrypts."""
        return _items(self.secret_key or "") + _items(self.secret_key_old)

    @field_validator("rate_limit", "rate_limit_anonymous", "rate_limit_auth_failures")
    @classmethod
    def _limits_parse(cls, value: str, info: ValidationInfo) -> str:
        # The defaults are known good (tests/unit/test_security_settings.py parses them): a process
        # that keeps them, as every process but the API does, need not load the parser.
        if info.field_name is None or value != cls.model_fields[info.field_name].default:
            parse_rate_limits(value)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        for item in (o.strip() for o in value.split(",")):
            if item and item != "*" and (problem := origin_problem(item)):
                raise ValueError(f"{item!r} is not an origin: {problem}")
        return value

    @field_validator("cors_allow_credentials")
    @classmethod
    def _no_credentials_for_everyone(cls, value: bool, info: ValidationInfo) -> bool:
        origins = str(info.data.get("cors_origins", ""))
        if value and "*" in (o.strip() for o in origins.split(",")):
            raise ValueError(
                "credentials cannot be allowed for the origin '*' (any site could act as the signed-in "
                "user): list the origins in TASKSCHED_CORS_ORIGINS, or leave credentials off"
            )
        return value

    @field_validator("backup_schedule")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from tasksched.domain.cron import normalize_expression

        return normalize_expression(value.strip())

    @property
    def queue_list(self) -> list[str]:
        return [q.strip() for q in self.worker_queues.split(",") if q.strip()]

    @property
    def import_list(self) -> list[str]:
        return [m.strip() for m in self.imports.split(",") if m.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST_NAME = re.compile(
    r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$"
)


@dataclass(frozen=True)
class HttpAllow:
    """``TASKSCHED_HTTP_ALLOW`` parsed: networks, exact host names, and ``*.suffix`` patterns."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".example.com" for "*.example.com"

    def allows_name(self, host: str) -> bool:
        host = host.lower().removesuffix(".")
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.1.2.3 is 10.1.2.3
        return any(ip.version == n.version and ip in n for n in self.networks)


def http_allow_entries(text: str) -> HttpAllow:
    """Parse ``TASKSCHED_HTTP_ALLOW``; ValueError naming the first entry that is neither a CIDR nor a name."""
    networks: list[IPNetwork] = []
    names: set[str] = set()
    suffixes: list[str] = []
    for item in _items(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
            continue
        except ValueError:
            pass
        name = item.lower().removesuffix(".")
        if not _HOST_NAME.fullmatch(name) or len(name) > 253 or name.replace(".", "").isdigit():
            raise ValueError(f"{item!r} is neither an IP address, a CIDR nor a host name")
        if name.startswith("*."):
            suffixes.append(name[1:])
        else:
            names.add(name)
    return HttpAllow(tuple(networks), frozenset(names), tuple(suffixes))


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_rate_limits(text: str) -> list[RateLimitItem]:
    """``"20/second;600/minute"`` → its limits (empty text: none); a clear ``ValueError`` otherwise."""
    from limits import parse_many  # only the API limits requests: other processes need not load it

    items: list[RateLimitItem] = []
    for part in (p.strip() for p in text.replace(",", ";").split(";")):
        if not part:
            continue
        try:
            items.extend(parse_many(part))
        except ValueError:
            raise ValueError(
                f"{part!r} is not a rate limit; write a count per period, such as '600/minute', "
                "'10/second' or '1000 per hour'"
            ) from None
    for item in items:
        if item.amount < 1:
            raise ValueError(f"{item} allows nothing; a limit needs a count of at least 1")
    return items


def origin_problem(text: str) -> str | None:
    """Why ``text`` is not a browser origin (``scheme://host[:port]``), or None when it is one."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    try:
        port = parts.port
    except ValueError:
        return "its port is not a number from 0 to 65535"
    if not parts.hostname:
        return "it names no host"
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return "an origin is only scheme://host[:port], without a path, query, user or trailing slash"
    del port
    return None


def env_var(name: str) -> str:
    """The environment variable of a setting: ``database_url`` → ``TASKSCHED_DATABASE_URL``."""
    return ENV_PREFIX + name.upper()


def shown_default(name: str) -> str | None:
    """A setting's default as help and docs show it (None: no default worth showing)."""
    field = Settings.model_fields[name]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    default = field.get_default(call_default_factory=False)
    if default is None or default == "":
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)
