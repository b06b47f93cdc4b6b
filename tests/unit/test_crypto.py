"""The sealing seam (store/crypto.py) on its own: round trips, rotation, and errors naming key ids."""

from __future__ import annotations

import pytest

from tasksched.store import crypto
from tasksched.store.crypto import PREFIX, Keyring, SecretKeyError, key_id, new_key

OLD, NEW, OTHER = new_key(), new_key(), new_key()


def test_a_sealed_value_holds_no_clear_text_and_unseals() -> None:
    ring = Keyring([NEW])
    stored = ring.seal("Bearer s3cret-tøken")
    assert stored.startswith(f"{PREFIX}{key_id(NEW)}:")
    assert "s3cret" not in stored
    assert ring.unseal(stored) == "Bearer s3cret-tøken"
    assert ring.seal("same") != ring.seal("same")  # a fresh IV every time: equal secrets do not show


def test_without_a_key_values_pass_through_in_clear() -> None:
    ring = Keyring()
    assert ring.seal("plain") == "plain"
    assert ring.unseal("plain") == "plain"
    assert Keyring([NEW]).unseal("stored before a key was set") == "stored before a key was set"


def test_the_old_key_still_unseals_and_the_new_one_seals() -> None:
    before = Keyring([OLD]).seal("v")
    during = Keyring([NEW, OLD])
    assert during.unseal(before) == "v"
    assert crypto.sealed_key(during.seal("v")) == key_id(NEW)


def test_a_missing_key_is_named() -> None:
    stored = Keyring([OLD]).seal("v")
    with pytest.raises(SecretKeyError) as none:
        Keyring().unseal(stored)
    assert none.value.detail == (
        f"the database holds secrets encrypted with key {key_id(OLD)}, but TASKSCHED_SECRET_KEY is not "
        "set: set it to that key"
    )
    with pytest.raises(SecretKeyError) as wrong:
        Keyring([NEW, OTHER]).unseal(stored)
    assert wrong.value.detail == (
        f"the database holds secrets encrypted with key {key_id(OLD)}, but TASKSCHED_SECRET_KEY is key "
        f"{key_id(NEW)} and TASKSCHED_SECRET_KEY_OLD holds {key_id(OTHER)}: the key is wrong, or the key "
        "it replaced is missing from TASKSCHED_SECRET_KEY_OLD"
    )


def test_an_altered_value_is_refused_not_decrypted() -> None:
    ring = Keyring([NEW])
    stored = ring.seal("value")
    flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    with pytest.raises(SecretKeyError, match="does not decrypt: it was altered or damaged"):
        ring.unseal(flipped)


def test_an_action_has_only_its_secret_values_sealed() -> None:
    crypto.use_keys([NEW])
    action = {"type": "http", "url": "https://example.com/", "headers": {"Authorization": "Bearer x"}}
    sealed = crypto.seal_action(action)
    assert sealed["url"] == action["url"]
    assert list(sealed["headers"]) == ["Authorization"]  # names stay readable: the API shows them
    assert sealed["headers"]["Authorization"].startswith(PREFIX)
    assert crypto.unseal_action(sealed) == action
    assert crypto.action_keys(sealed) == {key_id(NEW)}
    python = {"type": "python", "function": "f", "kwargs": {"headers": {"a": "b"}}}
    assert crypto.seal_action(python) is python


def test_settings_refuse_old_keys_without_a_key_and_never_quote_a_key() -> None:
    from pydantic import ValidationError

    from tasksched.cli.options import describe_settings_error
    from tasksched.config import Settings

    with pytest.raises(ValidationError) as no_current:
        Settings(secret_key_old=OLD)
    assert "TASKSCHED_SECRET_KEY_OLD is set but TASKSCHED_SECRET_KEY is not" in str(no_current.value)
    assert OLD not in str(no_current.value)
    with pytest.raises(ValidationError) as malformed:
        Settings(secret_key=NEW, secret_key_old=f"{OLD},{NEW[:-4]}")
    text = describe_settings_error(malformed.value)
    assert text == (
        "invalid secret_key_old (--secret-key-old, TASKSCHED_SECRET_KEY_OLD): Value error, key 2 is not 32 "
        "url-safe base64-encoded bytes; make one with `tasksched db new-secret-key`"
    )
    assert NEW[:-4] not in str(malformed.value)
    assert Settings(secret_key=NEW, secret_key_old=f" {OLD} ,").secret_keys == [NEW, OLD]
    assert Settings(secret_key=f"{NEW},{OLD}").secret_keys == [NEW, OLD]
    assert Settings().secret_keys == []
