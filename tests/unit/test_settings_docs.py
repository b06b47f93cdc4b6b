"""Settings are defined once (config.py): the CLI's options and the README's table come from them."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tasksched.cli import main
from tasksched.cli.options import SettingOption, settings_from, settings_options, settings_table
from tasksched.config import Settings, env_var, shown_default

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_is_generated_from_settings() -> None:
    text = README.read_text()
    found = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S)
    assert found, "README.md lost its settings-table markers"
    expected = settings_table(main)
    assert found.group(1) == expected, f"update README.md's configuration table to:\n{expected}"
    for name in Settings.model_fields:  # every setting, with its variable and option
        assert f"| `{env_var(name)}` | `--{name.replace('_', '-')}` |" in expected


def _setting_options() -> list[tuple[str, SettingOption]]:
    found: list[tuple[str, SettingOption]] = []

    def walk(group: click.Group, path: str) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # the commands load lazily: ask for each
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, f"{path} {name}")
            else:
                found.extend((f"{path} {name}", p) for p in command.params if isinstance(p, SettingOption))

    walk(main, "tasksched")
    return found


def test_every_setting_option_says_what_the_setting_says() -> None:
    options = _setting_options()
    assert {option.setting for _, option in options} == set(Settings.model_fields)
    for command, option in options:
        field = Settings.model_fields[option.setting]
        assert option.envvar == env_var(option.setting), command
        assert option.help == (field.description or "").replace("`", ""), command
        assert option.default is None  # only what was given reaches Settings
        help_text = " ".join(CliRunner().invoke(main, [*command.split()[1:], "--help"]).output.split())
        assert env_var(option.setting) in help_text
        default = shown_default(option.setting)
        if default is not None:
            assert f"default: {default}" in help_text, (command, option.setting)
        if field.annotation is bool:
            assert option.secondary_opts == [f"--no-{option.setting.replace('_', '-')}"]


@click.command()
@settings_options("port", "enable_shell", "log_level")
def _probe(**options: object) -> None:
    settings = settings_from(options)
    click.echo(f"{settings.port} {settings.enable_shell} {settings.log_level} {settings.drain_seconds}")


@pytest.mark.parametrize(
    ("args", "env", "printed"),
    [
        ([], {}, "8000 False info 30.0"),
        ([], {"TASKSCHED_PORT": "9000", "TASKSCHED_DRAIN_SECONDS": "3"}, "9000 False info 3.0"),
        (["--port", "9100", "--enable-shell"], {"TASKSCHED_PORT": "9000"}, "9100 True info 30.0"),
        (
            ["--no-enable-shell", "--log-level", "DEBUG"],
            {"TASKSCHED_ENABLE_SHELL": "true"},
            "8000 False debug 30.0",
        ),
    ],
)
def test_an_option_wins_over_its_variable_which_wins_over_the_default(
    args: list[str], env: dict[str, str], printed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in Settings.model_fields:  # whatever the shell running the tests has set
        monkeypatch.delenv(env_var(name), raising=False)
    result = CliRunner().invoke(_probe, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == printed
