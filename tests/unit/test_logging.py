"""What the log configuration lets through at debug level: libraries' echoes and traceback locals."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from tasksched.observability.logging import configure

SECRET = "s3cret-value-4a7f"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, force=True)
    for name in ("aiosqlite", "sqlalchemy", "hpack", "httpx", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_libraries_do_not_echo_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure("debug", "json")
    logging.getLogger("aiosqlite").debug("executing %s", ("INSERT", SECRET))
    logging.getLogger("sqlalchemy.engine.Engine").info("[generated] (%r,)", SECRET)
    logging.getLogger("hpack.hpack").debug("Decoded header: %s", SECRET)
    logging.getLogger("uvicorn.access").info("GET /api/events?access_token=%s", SECRET)
    # A library's own debug lines are not vetted either, even if it lowers its logger's level.
    chatty = logging.getLogger("some.library")
    chatty.setLevel(logging.DEBUG)
    chatty.debug("payload %s", SECRET)
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("sqlalchemy.pool").warning("a pool warning still shows")
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "Started server process" in out
    assert "a pool warning still shows" in out


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_show_no_local_variables(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure("debug", fmt)
    log = structlog.get_logger("tasksched.test")

    def check(key: str) -> None:
        raise ValueError("the key is unknown")

    try:
        check(SECRET)
    except ValueError:
        log.exception("lookup failed")
    out = capsys.readouterr().out
    assert "the key is unknown" in out  # the traceback is there
    assert SECRET not in out  # but not the frame's local variables
