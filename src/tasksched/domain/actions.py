"""What a task runs: an HTTP request, a shell command (argv) or a registered Python function."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tasksched.domain.base import JSONValue, RequiredTag, StrictModel, from_storage

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# After IDNA encoding (which httpx does) a host name is ASCII; underscores occur in real DNS names.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
# WHATWG's "ends in a number": browsers, and resolvers via inet_aton, then read the host as IPv4.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")


def _check_host(host: str) -> None:
    """Refuse host names that parse but that resolvers, browsers and httpx would not agree on."""
    if ":" in host:
        return  # an IPv6 literal: httpx has checked it
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # 2130706433, 0x7f.1, 127.1 or 1.2.3.4.5: httpx sends them as names, getaddrinfo reads most as
        # IPv4 addresses (all of the first three as 127.0.0.1), a browser others. Only the plain form
        # means one thing everywhere.
        try:
            canonical = str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            canonical = False
        if not canonical:
            raise ValueError(
                f"host {host!r} reads as an IPv4 address in a form clients disagree on (a number, hex, "
                "octal or not four parts); write it as four decimal numbers, like 192.0.2.10"
            )
        return
    if len(host) > 253:
        raise ValueError("host name is longer than 253 characters")
    for label in labels:
        if not _HOST_LABEL.fullmatch(label):
            raise ValueError(
                f"host {host!r} is not a valid host name: each dot-separated part must be 1-63 letters, "
                "digits, - or _"
            )


def check_http_url(value: str) -> None:
    """Raise ValueError unless ``value`` is an absolute http(s) URL the executor can request as is."""
    if "\\" in value:
        # Browsers (WHATWG) read \ as /, httpx as a character: http://a.example\@b.example/ names a
        # different host for each.
        raise ValueError("must not contain a backslash (\\); write / or %5C")
    # httpx's URL parser, not its client: parsing is pure, and a URL checked by the parser the
    # executor requests it with is a URL that will be requested as it was checked (the standard
    # library's urlsplit accepts hosts like 0177.0.0.1 or full-width digits that httpx then refuses on
    # every run). Imported here: a process that never sees an http action (a worker of plain
    # functions) does not load httpx.
    from httpx import URL, InvalidURL

    try:
        url = URL(value)
    except InvalidURL as exc:
        raise ValueError(f"is not a URL the HTTP client can request: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not url.host:
        raise ValueError("must name a host")
    if url.port is not None and not 1 <= url.port <= 65_535:
        raise ValueError(f"has an invalid port {url.port} (ports are 1-65535)")
    _check_host(url.raw_host.decode("ascii", "replace"))


class HttpAction(StrictModel):
    type: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(max_length=4096, description="An absolute http:// or https:// URL.")
    headers: dict[str, str] = Field(default_factory=dict, max_length=100)
    body: JSONValue = Field(
        default=None,
        description="A string is sent as is; any other JSON value is sent as application/json.",
    )
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None,
        max_length=100,
        description="Status codes that count as success; null means any 2xx.",
    )
    follow_redirects: bool = True

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str, info: ValidationInfo) -> str:
        if not from_storage(info):
            check_http_url(value)
            return value
        # A stored URL saved before check_http_url existed: the checks it was saved under.
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError("must name a host")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError("has an invalid port") from exc
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if "\r" in header_value or "\n" in header_value:
                raise ValueError(f"header {name!r} contains a line break")
        return value

    def accepts(self, status: int) -> bool:
        if self.expect_status:
            return status in self.expect_status
        return 200 <= status < 300


def _checked_env(value: dict[str, str]) -> dict[str, str]:
    for name, env_value in value.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\x00" in env_value:
            raise ValueError(f"value of {name!r} contains a NUL byte")
    return value


class ShellAction(StrictModel):
    type: Literal["shell"] = "shell"
    command: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=1000, description="argv list; run directly, never through a shell."
    )
    env: dict[str, str] = Field(default_factory=dict, max_length=200)
    cwd: str | None = Field(default=None, max_length=4096)

    @field_validator("command")
    @classmethod
    def _no_nul(cls, value: list[str]) -> list[str]:
        if any("\x00" in arg for arg in value):
            raise ValueError("arguments must not contain NUL bytes")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked_env(value)


class PythonAction(StrictModel):
    type: Literal["python"] = "python"
    function: str = Field(
        min_length=1,
        max_length=300,
        description="The name a function was registered under with @task; never an import path.",
    )
    args: list[JSONValue] = Field(default_factory=list, max_length=1000)
    kwargs: dict[str, JSONValue] = Field(default_factory=dict, max_length=1000)

    @field_validator("function")
    @classmethod
    def _dotted_name(cls, value: str) -> str:
        if not _FUNCTION_NAME.match(value):
            raise ValueError("must be a dotted name such as 'reports.nightly'")
        return value


Action = Annotated[HttpAction | ShellAction | PythonAction, Field(discriminator="type"), RequiredTag("type")]


# Which action type each field of a run's input is for.
_INPUT_FIELDS: dict[str, str] = {"args": "python", "kwargs": "python", "body": "http", "env": "shell"}


class RunInput(StrictModel):
    """What one run takes on top of its task's action (``POST /api/tasks/{id}/run``'s ``input``).

    ``args`` replaces a python action's positional arguments; ``kwargs`` entries override its
    keyword arguments of the same name (the others stay); ``body`` replaces an http action's body;
    ``env`` entries are added to a shell action's environment (overriding those of the same name).
    Only the fields of one action type may be given, and only for a task of that type.
    """

    args: list[JSONValue] | None = Field(default=None, max_length=1000)
    kwargs: dict[str, JSONValue] | None = Field(default=None, max_length=1000)
    body: JSONValue = Field(
        default=None,
        description="A string is sent as is; any other JSON value is sent as application/json.",
    )
    env: dict[str, str] | None = Field(default=None, max_length=200)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _checked_env(value)

    @functools.cached_property
    def named(self) -> frozenset[str]:
        """The fields the input gives: ``body`` may be given as null (a null body); a null
        ``args``, ``kwargs`` or ``env`` is the same as leaving it out."""
        return frozenset(n for n in self.model_fields_set if n == "body" or getattr(self, n) is not None)

    @property
    def given(self) -> dict[str, Any]:
        """The fields the input gives, as stored with the run."""
        return self.model_dump(mode="json", include=set(self.named))

    @model_validator(mode="after")
    def _one_action_type(self) -> RunInput:
        if len({_INPUT_FIELDS[name] for name in self.named}) > 1:
            raise ValueError(
                "mixes fields of different action types: args and kwargs are for python, body for "
                "http, env for shell"
            )
        return self

    def action_type(self) -> str | None:
        """The action type this input is for; None when it names nothing (it fits any task)."""
        return next((_INPUT_FIELDS[name] for name in self.named), None)


def input_mismatch(run_input: RunInput, action_type: str) -> tuple[str, str] | None:
    """(field, message) when ``run_input`` does not fit a task whose action is ``action_type``."""
    for name in sorted(run_input.named):
        if _INPUT_FIELDS[name] != action_type:
            wanted = [f for f, t in _INPUT_FIELDS.items() if t == action_type]
            return (
                f"input.{name}",
                f"the task's action is {action_type}; its run input takes {' and '.join(wanted)}, "
                f"not {name} (that is for {_INPUT_FIELDS[name]} actions)",
            )
    return None


def apply_input(
    action: HttpAction | ShellAction | PythonAction, given: dict[str, Any] | None
) -> HttpAction | ShellAction | PythonAction:
    """The action a run executes: its task's, with the run's input (``RunInput.given``) applied."""
    if not given:
        return action
    if isinstance(action, PythonAction):
        update: dict[str, Any] = {}
        if "args" in given:
            update["args"] = given["args"]
        if "kwargs" in given:
            update["kwargs"] = {**action.kwargs, **given["kwargs"]}
        return action.model_copy(update=update)
    if isinstance(action, HttpAction):
        return action.model_copy(update={"body": given["body"]}) if "body" in given else action
    if "env" in given:
        return action.model_copy(update={"env": {**action.env, **given["env"]}})
    return action
