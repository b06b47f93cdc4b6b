"""Structured logs: JSON lines on stdout, or readable colours on a terminal.

No secret reaches a log, at any level (header and environment values of actions, API keys and
their hashes). tasksched's own lines never carry them; the rest of this module keeps libraries and
tracebacks from printing them on our behalf.
"""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

# Libraries log through the standard library, and what some of them print is what passes through
# them: aiosqlite (debug) every statement with its parameters, which hold header and env values and
# key hashes; SQLAlchemy's engine (info, its "echo") the same; hpack and h2 (debug) every header,
# Authorization included; httpcore (debug) and httpx (info) requests and their URLs; uvicorn.access
# (info) request paths with their query strings (``?access_token=``). These never log below
# WARNING, whatever the level asked for. Every other library's debug output is not ours to vet: a
# library never logs below INFO. ``debug`` is for tasksched's own lines (through structlog).
_ECHOING_LIBRARIES = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "hpack",
    "h2",
    "h11",
    "httpcore",
    "httpx",
    "uvicorn.access",
    "alembic",  # not a leak: its per-migration lines would drown ours
)
_LIBRARY_FLOOR = logging.INFO


def _echoes(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in _ECHOING_LIBRARIES)


class _LibraryFilter(logging.Filter):
    """The caps above, enforced where records are written: a library that sets its own logger's
    level (or a logger created after ``configure``) still cannot print below them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.levelno >= _LIBRARY_FLOOR and not _echoes(record.name)


def _exception_formatter() -> structlog.typing.ExceptionRenderer:
    # On a terminal, structlog renders tracebacks with rich when it is installed, and rich prints
    # every frame's local variables by default: a key being checked, an action's headers.
    try:
        import rich  # noqa: F401
    except ImportError:
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)


def configure(level: str = "info", fmt: str = "auto") -> None:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if as_json:
        shared.append(structlog.processors.format_exc_info)  # plain tracebacks: no local variables
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=_exception_formatter())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, alembic) log through the standard library: route them to the same stream.
    library_level = max(_LEVELS[level], _LIBRARY_FLOOR)
    logging.basicConfig(level=library_level, stream=sys.stdout, format="%(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_LibraryFilter())
    for name in _ECHOING_LIBRARIES:
        logging.getLogger(name).setLevel(max(library_level, logging.WARNING))


def silence() -> None:
    """No log lines (tasksched logs nothing at CRITICAL): for one-shot commands (``keys``, ``db``), whose outcome is what they
    print, and whose failure is the one ``Error: …`` line the CLI prints (an outage's log line on
    top of it would be a second, noisier account of the same thing, on stdout)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
