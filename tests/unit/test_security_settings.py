"""Rate limits and CORS origins are checked when settings are read: a bad value stops the start
with a message naming the setting and what would be right."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from tasksched.cli import main
from tasksched.config import Settings, parse_rate_limits


@pytest.mark.parametrize("text", ["600", "many/minute", "10/fortnight", "0/minute", "10/minute;oops"])
def test_a_malformed_rate_limit_is_refused(text: str) -> None:
    for name in ("rate_limit", "rate_limit_anonymous", "rate_limit_auth_failures"):
        with pytest.raises(ValidationError, match=r"rate limit|at least 1") as caught:
            Settings(**{name: text})  # type: ignore[arg-type]
        assert caught.value.errors()[0]["loc"] == (name,)


def test_rate_limits_may_be_several_and_in_either_spelling() -> None:
    items = parse_rate_limits("20/second; 600 per minute, 10000/day")
    assert [(i.amount, int(i.get_expiry())) for i in items] == [(20, 1), (600, 60), (10000, 86400)]


def test_the_default_rate_limits_parse() -> None:
    """Settings skip parsing a rate limit left at its default (only the API needs the parser)."""
    for name in ("rate_limit", "rate_limit_anonymous", "rate_limit_auth_failures"):
        default = Settings.model_fields[name].default
        assert default == "" or parse_rate_limits(default), name


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("ops.example.com", "http:// or https://"),
        ("https://ops.example.com/", "without a path"),
        ("https://ops.example.com/app", "without a path"),
        ("ftp://ops.example.com", "http:// or https://"),
        ("https://ops.example.com:99999", "port"),
        ("https://", "no host"),
        ("https://user@ops.example.com", "user"),
    ],
)
def test_a_malformed_origin_is_refused(origin: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(cors_origins=f"https://fine.example, {origin}")


def test_well_formed_origins_are_kept() -> None:
    settings = Settings(cors_origins="https://a.example, http://localhost:5173,https://[::1]:8443")
    assert settings.cors_origin_list == ["https://a.example", "http://localhost:5173", "https://[::1]:8443"]


def test_credentials_for_any_origin_are_refused() -> None:
    with pytest.raises(ValidationError, match="credentials cannot be allowed for the origin '\\*'"):
        Settings(cors_origins="*", cors_allow_credentials=True)
    assert Settings(cors_origins="*").cors_origin_list == ["*"]
    assert Settings(cors_origins="https://a.example", cors_allow_credentials=True).cors_allow_credentials


def test_the_server_does_not_start_on_a_bad_setting() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["api", "--rate-limit-auth-failures", "ten a minute"])
    assert result.exit_code != 0
    assert "TASKSCHED_RATE_LIMIT_AUTH_FAILURES" in result.output
    assert "is not a rate limit" in result.output
    result = runner.invoke(
        main, ["api"], env={"TASKSCHED_CORS_ORIGINS": "*", "TASKSCHED_CORS_ALLOW_CREDENTIALS": "true"}
    )
    assert result.exit_code != 0
    assert "TASKSCHED_CORS_ALLOW_CREDENTIALS" in result.output
    assert "credentials cannot be allowed" in result.output
