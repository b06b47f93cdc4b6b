"""Secret values of actions: HTTP header values and shell environment values.

They are write-only: the API shows each as ``MASK``, and a task sent back with ``MASK`` in place of a
value keeps the value it had. They are also blanked out of captured output before it is stored.
"""

from __future__ import annotations

from typing import Any

from tasksched.domain.actions import HttpAction, PythonAction, ShellAction

MASK = "********"
# Shorter values would blank out ordinary words in output; they are still never answered by the API.
_MIN_REDACTED_LENGTH = 4


def secret_field(action_type: str) -> str | None:
    """The field of an action of this type whose values are secrets."""
    return {"http": "headers", "shell": "env"}.get(action_type)


def mask_action(action: dict[str, Any]) -> dict[str, Any]:
    """The action's JSON with every secret value replaced by ``MASK``."""
    field = secret_field(action.get("type", ""))
    if field is None or not action.get(field):
        return action
    return {**action, field: dict.fromkeys(action[field], MASK)}


def secret_values(action: HttpAction | ShellAction | PythonAction) -> list[str]:
    if isinstance(action, HttpAction):
        return list(action.headers.values())
    if isinstance(action, ShellAction):
        return list(action.env.values())
    return []


def restore_masked(
    new: HttpAction | ShellAction | PythonAction, old: HttpAction | ShellAction | PythonAction | None
) -> HttpAction | ShellAction | PythonAction:
    """``new`` with each ``MASK`` value replaced by the value ``old`` holds under the same name.

    Raises ValueError naming the field when a ``MASK`` has no stored value to stand for.
    """
    field = secret_field(new.type)
    if field is None:
        return new
    values: dict[str, str] = getattr(new, field)
    if MASK not in values.values():
        return new
    stored: dict[str, str] = getattr(old, field) if old is not None and old.type == new.type else {}
    restored = {}
    for name, value in values.items():
        if value == MASK:
            if name not in stored:
                raise ValueError(
                    f"action.{field}.{name}: {MASK!r} stands for a stored value, but there is none"
                )
            value = stored[name]
        restored[name] = value
    return new.model_copy(update={field: restored})


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value longer than a few characters replaced by ``MASK``."""
    for secret in secrets:
        if len(secret) >= _MIN_REDACTED_LENGTH and secret in text:
            text = text.replace(secret, MASK)
    return text
