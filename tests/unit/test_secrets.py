from __future__ import annotations

import pytest

from tasksched.domain.actions import HttpAction, PythonAction, ShellAction
from tasksched.domain.secrets import MASK, mask_action, redact, restore_masked, secret_values


def test_mask_action_hides_header_and_env_values_only() -> None:
    assert mask_action({"type": "http", "url": "u", "headers": {"A": "x"}}) == {
        "type": "http",
        "url": "u",
        "headers": {"A": MASK},
    }
    assert mask_action({"type": "shell", "command": ["env"], "env": {"K": "v"}})["env"] == {"K": MASK}
    python = {"type": "python", "function": "f", "kwargs": {"password": "p"}}
    assert mask_action(python) is python


def test_restore_masked_takes_stored_values_of_the_same_type() -> None:
    old = ShellAction(command=["env"], env={"TOKEN": "abcd", "OTHER": "x"})
    new = ShellAction(command=["env"], env={"TOKEN": MASK, "NEW": "y"})
    assert restore_masked(new, old) == ShellAction(command=["env"], env={"TOKEN": "abcd", "NEW": "y"})
    with pytest.raises(ValueError, match=r"action.headers.TOKEN"):
        restore_masked(HttpAction(url="https://e.com", headers={"TOKEN": MASK}), old)
    untouched = PythonAction(function="f")
    assert restore_masked(untouched, old) is untouched


def test_redact_blanks_out_secret_values_in_output() -> None:
    action = HttpAction(url="https://e.com", headers={"Authorization": "Bearer s3cret", "X": "ok"})
    assert secret_values(action) == ["Bearer s3cret", "ok"]
    text = "sent Bearer s3cret; ok"
    assert redact(text, secret_values(action)) == f"sent {MASK}; ok"  # 'ok' is too short to blank out
