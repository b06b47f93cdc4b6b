"""Command-line options built from ``Settings``, and the CLI's one way of reporting a user error.

``@settings_options("database_url", "log_level")`` gives a command ``--database-url`` and
``--log-level``: the help text is the setting's description, the environment variable is
``TASKSCHED_<NAME>``, the type comes from the annotation (``--x/--no-x`` for booleans, a choice for
literals) and the default shown is the setting's. Nothing is repeated here, so ``config.py`` stays
the one place a setting is defined.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, Literal, NoReturn, TypeVar, get_args, get_origin

import click
from pydantic import ValidationError

from tasksched.config import Settings, env_var, shown_default
from tasksched.errors import TaskschedError

F = TypeVar("F", bound=Callable[..., Any])


class SettingOption(click.Option):
    """An option that sets one field of ``Settings`` (its name is kept for the docs table)."""

    def __init__(self, *args: Any, setting: str, shown: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting
        self.shown = shown

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        # The option's own default is None (so that only what was given reaches Settings); show the
        # setting's default instead.
        if self.shown is not None:
            extra["default"] = self.shown
        return extra


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


# Shorter spellings a setting's option also takes (``option_name`` stays the one errors name).
ALIASES: dict[str, tuple[str, ...]] = {"worker_processes": ("--processes",)}


def option_names(name: str) -> list[str]:
    return [option_name(name), *ALIASES.get(name, ())]


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """The click type of a setting's annotation, and whether it is a boolean flag."""
    if annotation is bool:
        return click.BOOL, True
    if get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in get_args(annotation)], case_sensitive=False), False
    if isinstance(annotation, types.UnionType):  # `str | None`: the option takes the str
        (annotation,) = (a for a in get_args(annotation) if a is not type(None))
    if annotation in (int, float, str):
        return annotation, False
    raise TypeError(f"no command-line type for a setting of type {annotation!r}")


def setting_option(name: str) -> Callable[[F], F]:
    field = Settings.model_fields[name]
    kind, is_flag = _click_type(field.annotation)
    flag = option_name(name)
    decls = [f"{flag}/--no-{flag[2:]}"] if is_flag else option_names(name)
    return click.option(
        *decls,
        name,
        cls=SettingOption,
        setting=name,
        shown=shown_default(name),
        type=None if is_flag else kind,
        default=None,
        envvar=env_var(name),
        show_envvar=True,
        # Descriptions are written for the README too, where `code` is marked; a terminal shows it plain.
        help=(field.description or "").replace("`", ""),
    )


def settings_options(*names: str) -> Callable[[F], F]:
    """Give a command the options of these settings, in this order (see the module docstring)."""
    unknown = [n for n in names if n not in Settings.model_fields]
    if unknown:
        raise TypeError(f"not settings: {unknown}")

    def decorate(func: F) -> F:
        for name in reversed(names):  # click lists options in the reverse order of decoration
            func = setting_option(name)(func)
        return func

    return decorate


def settings_from(options: dict[str, Any]) -> Settings:
    """Settings from the options given (the rest from the environment, then the defaults).

    Pops the settings out of ``options``, leaving a command's own arguments.
    """
    given = {k: options.pop(k) for k in list(options) if k in Settings.model_fields}
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(describe_settings_error(exc)) from exc


def describe_settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        where = f" ({option_name(name)}, {env_var(name)})" if name in Settings.model_fields else ""
        problems.append(f"invalid {name}{where}: {error['msg']}")
    return "; ".join(problems)


def one_line(text: str) -> str:
    return " ".join(text.split())


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(code)


class TaskschedGroup(click.Group):
    """The top-level group: every user error ends the process with ONE line on stderr.

    Usage errors, bad option values, invalid settings and tasksched's own errors (``errors.py``)
    are user errors: the line says what was wrong; no usage block, no traceback. Anything else is
    a bug and keeps its traceback.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # name → "module:attribute", imported when the command is first asked for.
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TaskschedError as exc:
            raise click.ClickException(exc.detail) from exc

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            # `tasksched keys` alone: the group's help is the answer, not an error line.
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("interrupted", 130)
        # Without standalone mode, click returns a command's return value or an exit code.
        sys.exit(result if isinstance(result, int) else 0)


def setting_commands(group: click.Group, path: str = "tasksched") -> Iterator[tuple[str, str]]:
    """(setting, command) for every setting option of every command under ``group``."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        full = f"{path} {name}"
        if isinstance(command, click.Group):
            yield from setting_commands(command, full)
            continue
        for param in command.params:
            if isinstance(param, SettingOption):
                yield param.setting, full


def settings_table(group: click.Group) -> str:
    """The README's configuration table: every setting, its variable, option, default, the commands
    that take it as an option and its description (``tests/unit/test_settings_docs.py`` keeps the
    README equal to it)."""
    used: dict[str, list[str]] = {}
    for setting, command in setting_commands(group):
        used.setdefault(setting, []).append(command.removeprefix("tasksched "))
    # The commands that take any setting (all but `tasks …`, which speak HTTP to a server).
    every = sorted({c for commands in used.values() for c in commands})
    rows = [
        "| variable | option | default | option of | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = shown_default(name)
        commands = used.get(name, [])
        commands_text = "all" if commands == every else ", ".join(commands) or "(environment only)"
        rows.append(
            f"| `{env_var(name)}` | `{option_name(name)}` | {f'`{default}`' if default else 'none'} "
            f"| {commands_text} | {field.description} |"
        )
    return "\n".join(rows)
