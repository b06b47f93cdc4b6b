"""What a task runs: an HTTP request, a shell command (argv) or a registered Python function."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tasksched.domain.base import JSONValue, RequiredTag, StrictModel

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    def _absolute_http_url(cls, value: str) -> str:
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
        for name, env_value in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            if "\x00" in env_value:
                raise ValueError(f"value of {name!r} contains a NUL byte")
        return value


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
