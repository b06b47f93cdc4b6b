"""API keys: the one definition of what a key looks like and of a key as the system keeps it.

A key is ``ts_`` and 32 random bytes (URL-safe base64); one chosen by the operator (the bootstrap
key) needs only to be long enough. Only its SHA-256 hash is stored, with its first characters as
a prefix that lets people tell keys apart in lists without revealing them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from pydantic import BaseModel

from tasksched.domain.principals import Role

KEY_PREFIX = "ts_"
KEY_RANDOM_BYTES = 32
MIN_KEY_LENGTH = 16
DISPLAY_PREFIX_LENGTH = 10


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a key, or None."""
    if len(key) < MIN_KEY_LENGTH:
        return f"a key must be at least {MIN_KEY_LENGTH} characters long"
    return None


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def hash_key(key: str) -> str:
    # Generated keys are 32 random bytes: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    """A stored key: everything but its value, which is never kept."""

    model_config = {"frozen": True}

    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
