"""Secrets at rest: the one place values are sealed (encrypted) before they are stored, and unsealed
after they are read.

``seal(text) -> stored`` and ``unseal(stored) -> text`` are the seam: every secret the store keeps
(HTTP header values, shell environment values, channel secrets) goes through them, and nothing above
the store ever sees a sealed value.

A sealed value is ``tasksched:sealed:1:<key id>:<Fernet token>``. Fernet (from ``cryptography``) is
AES-128-CBC with an HMAC-SHA256, so a changed or truncated value is refused, never decrypted into
garbage. The key id (the first 12 hex digits of the key's SHA-256) names the key without revealing
it, so a value sealed with a key this process does not have is reported by that key's id.

Keys come from ``TASKSCHED_SECRET_KEY`` (seals and unseals) and ``TASKSCHED_SECRET_KEY_OLD`` (only
unseals, during a rotation). With no key, ``seal`` stores the text as it is (and the process warns
at start-up); ``unseal`` passes unsealed text through, so values stored before a key was set still
read. The keys are process-wide (``use_keys``, called when a context opens): a process has one
configuration.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tasksched.domain.secrets import mask_action, secret_field
from tasksched.errors import TaskschedError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# cryptography is imported where a key is used: a process without TASKSCHED_SECRET_KEY never loads
# it (a worker starts without it, issue 10 point 5).

PREFIX = "tasksched:sealed:1:"


class SecretKeyError(TaskschedError):
    """A sealed value cannot be unsealed with the keys configured (none, or not the one it needs)."""

    status = 503
    title = "Secret key missing or wrong"


def new_key() -> str:
    """A fresh key for ``TASKSCHED_SECRET_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    return hashlib.sha256(base64.urlsafe_b64decode(key.encode("ascii"))).hexdigest()[:12]


class Keyring:
    """The first key seals; every key unseals the values sealed with it."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        if keys:
            from cryptography.fernet import Fernet
        self._fernets: dict[str, Fernet] = {key_id(key): Fernet(key.encode("ascii")) for key in keys}
        self.current: str | None = key_id(keys[0]) if keys else None
        # Workers read the same stored values over and over (every claim of a task's runs), and a
        # decryption costs tens of microseconds; each sealed value is unique (a fresh IV), so a
        # value's entry can only ever hold its own text.
        self._decrypt = functools.lru_cache(maxsize=4096)(self._decrypt_uncached)

    @property
    def ids(self) -> list[str]:
        return list(self._fernets)

    def seal(self, text: str) -> str:
        if self.current is None:
            return text
        token = self._fernets[self.current].encrypt(text.encode("utf-8")).decode("ascii")
        return f"{PREFIX}{self.current}:{token}"

    def unseal(self, stored: str) -> str:
        sealed_with = sealed_key(stored)
        if sealed_with is None:
            return stored  # stored before a key was set
        if sealed_with not in self._fernets:
            raise SecretKeyError(self.describe_missing({sealed_with}))
        return self._decrypt(stored, sealed_with)

    def _decrypt_uncached(self, stored: str, sealed_with: str) -> str:
        from cryptography.fernet import InvalidToken

        token = stored[len(PREFIX) + len(sealed_with) + 1 :]
        try:
            return self._fernets[sealed_with].decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                f"a stored secret sealed with key {sealed_with} does not decrypt: it was altered or damaged"
            ) from None

    def describe_missing(self, needed: set[str]) -> str:
        """Why values sealed with the keys ``needed`` cannot be read here, naming every key id."""
        wanted = ", ".join(sorted(needed))
        if self.current is None:
            return (
                f"the database holds secrets encrypted with key {wanted}, but TASKSCHED_SECRET_KEY is not "
                "set: set it to that key"
            )
        old = [i for i in self._fernets if i != self.current]
        have = f"TASKSCHED_SECRET_KEY is key {self.current}" + (
            f" and TASKSCHED_SECRET_KEY_OLD holds {', '.join(old)}" if old else ""
        )
        return (
            f"the database holds secrets encrypted with key {wanted}, but {have}: the key is wrong, or "
            "the key it replaced is missing from TASKSCHED_SECRET_KEY_OLD"
        )


def sealed_key(stored: str) -> str | None:
    """The id of the key ``stored`` was sealed with; None if it is not sealed."""
    if not stored.startswith(PREFIX):
        return None
    return stored[len(PREFIX) :].split(":", 1)[0]


_keyring = Keyring()


def use_keys(keys: Sequence[str]) -> Keyring:
    """Make ``keys`` (the sealing key first) this process's keys."""
    global _keyring
    _keyring = Keyring(keys)
    return _keyring


def keyring() -> Keyring:
    return _keyring


def seal(text: str) -> str:
    """``text`` as it is stored: sealed with the current key, or as it is without one."""
    return _keyring.seal(text)


def unseal(stored: str) -> str:
    """The text a stored value holds; SecretKeyError if its key is not configured."""
    return _keyring.unseal(stored)


# -- actions ---------------------------------------------------------------------------------


def _map_secrets(action: Any, change: Any) -> Any:
    field = secret_field(action.get("type", "")) if isinstance(action, dict) else None
    if field is None or not action.get(field):
        return action
    return {**action, field: {name: change(value) for name, value in action[field].items()}}


def seal_action(action: Any) -> Any:
    """An action's JSON with its secret values (header or env values) sealed."""
    return _map_secrets(action, seal)


def unseal_action(action: Any) -> Any:
    return _map_secrets(action, unseal)


def masked_action(action: Any) -> Any:
    """An action's JSON with its secret values as ``MASK``, sealed or not (nothing decrypted)."""
    return mask_action(action) if isinstance(action, dict) else action


def action_keys(action: Any) -> set[str | None]:
    """The keys an action's stored secrets are sealed with (None for a value in clear)."""
    field = secret_field(action.get("type", "")) if isinstance(action, dict) else None
    if field is None:
        return set()
    return {sealed_key(value) for value in (action.get(field) or {}).values()}


def reseal_action(action: Any) -> Any:
    """The stored action with every secret sealed with the current key."""
    return seal_action(unseal_action(action))
