"""Keys at run time: where they come from, what is refused, and the canary check at start-up."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from coordinator import create_app
from coordinator.config import ConfigurationError
from coordinator.crypto import runtime
from coordinator.crypto.keys import KeyRing, KeyRingInvalid, KeyStatus, MasterKey
from coordinator.crypto.models import EncryptionCanary
from coordinator.extensions import db
from tests.conftest import TEST_KEYS, make_app
from tests.crypto.support import running

EXPECTED_DOCUMENT = '{"keys": [{"version": 1, "key": "<base64>", "status": "active"}]}'


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests choose the key source themselves."""
    monkeypatch.delenv("COORDINATOR_ENCRYPTION_KEYS", raising=False)


def _instance(tmp_path: Path, content: str | None = None, mode: int = 0o600) -> Path:
    instance = tmp_path / "keyed-instance"
    instance.mkdir(mode=0o700)
    if content is not None:
        key_file = instance / "encryption_keys"
        key_file.write_text(content)
        key_file.chmod(mode)
    return instance


def test_without_keys_the_app_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    instance = _instance(tmp_path)

    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, instance, ENCRYPTION_KEYS="")

    assert str(raised.value) == (
        f"No encryption keys: run `coordinator init` to create {instance / 'encryption_keys'}, "
        "or set COORDINATOR_ENCRYPTION_KEYS. Coordinator never stores health data unencrypted."
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(
    database_url: str, tmp_path: Path, mode: int
) -> None:
    instance = _instance(tmp_path, TEST_KEYS, mode=mode)
    path = instance / "encryption_keys"

    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, instance, ENCRYPTION_KEYS="")

    assert str(raised.value) == (
        f"The key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`."
    )


def test_keys_from_a_private_key_file_are_used(database_url: str, tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    runtime.save(KeyRing.parse(TEST_KEYS, source="test"), instance)

    app = make_app(database_url, instance, ENCRYPTION_KEYS="")

    with running(app):
        assert runtime.keys().dumps() == KeyRing.parse(TEST_KEYS, source="test").dumps()
    assert stat.S_IMODE((instance / "encryption_keys").stat().st_mode) == 0o600


def test_keys_from_the_environment_win_over_the_key_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _instance(tmp_path, KeyRing.generate().dumps())  # would not fit the database
    monkeypatch.setenv("COORDINATOR_ENCRYPTION_KEYS", TEST_KEYS)

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": secrets.token_hex(32),
        }
    )

    with running(app):
        assert runtime.keys().dumps() == KeyRing.parse(TEST_KEYS, source="test").dumps()


#: Ways the same 32 key bytes can be written as a secret key. The key file itself holds the
#: base64 form, so that is the one an operator would copy by mistake.
SAME_KEY_WRITTEN: dict[str, Callable[[bytes], str]] = {
    "hex": lambda key: key.hex(),
    "upper-hex": lambda key: key.hex().upper(),
    "base64-as-in-the-key-file": lambda key: base64.b64encode(key).decode(),
}


@pytest.mark.parametrize("secret", SAME_KEY_WRITTEN.values(), ids=SAME_KEY_WRITTEN.keys())
def test_an_encryption_key_equal_to_the_secret_key_is_refused(
    database_url: str, tmp_path: Path, secret: Callable[[bytes], str]
) -> None:
    master = KeyRing.parse(TEST_KEYS, source="test").master(1).secret

    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, tmp_path / "instance", SECRET_KEY=secret(master))

    assert str(raised.value) == "An encryption key must not also be the session secret key."


def test_a_key_file_that_is_not_json_is_refused(database_url: str, tmp_path: Path) -> None:
    instance = _instance(tmp_path, "keys: [1]")
    path = instance / "encryption_keys"

    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, instance, ENCRYPTION_KEYS="")

    assert str(raised.value) == (
        f"Encryption keys unusable: {path} is not a valid key document (JSONDecodeError); "
        f"expected {EXPECTED_DOCUMENT}"
    )


def _document(*entries: dict[str, object]) -> str:
    return json.dumps({"keys": list(entries)})


_KEY = base64.b64encode(bytes(range(32))).decode()
_OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
_SHORT_KEY = base64.b64encode(b"short").decode()

#: Unusable key documents, and what the refusal says about each.
UNUSABLE = {
    "no-keys-member": ('{"versions": []}', " is not a valid key document (KeyError)"),
    "bad-base64": (_document({"version": 1, "key": "not base64!"}), " (Error)"),
    "bad-status": (_document({"version": 1, "key": _KEY, "status": "lost"}), " (ValueError)"),
    "empty": (_document(), ": the key ring holds no keys"),
    "none-active": (
        _document({"version": 1, "key": _KEY, "status": "retired"}),
        ": the key ring holds no active key",
    ),
    "short-key": (_document({"version": 1, "key": _SHORT_KEY}), ": key version 1 is not 32 bytes"),
    "version-zero": (_document({"version": 0, "key": _KEY}), ": key version 0 is outside 1–65535"),
    "duplicate-version": (
        _document({"version": 1, "key": _KEY}, {"version": 1, "key": _OTHER_KEY}),
        " names a key version twice",
    ),
    "shared-material": (
        _document({"version": 1, "key": _KEY}, {"version": 2, "key": _KEY}),
        ": two key versions share the same key material",
    ),
}


@pytest.mark.parametrize(("text", "problem"), UNUSABLE.values(), ids=UNUSABLE.keys())
def test_an_unusable_key_document_in_the_environment_is_refused(
    database_url: str, tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, tmp_path / "instance", ENCRYPTION_KEYS=text)

    message = str(raised.value)
    assert message.startswith("Encryption keys unusable: COORDINATOR_ENCRYPTION_KEYS")
    assert problem in message
    assert _KEY not in message


def test_the_canary_opens_only_with_its_own_keys(app: Flask) -> None:
    keys = KeyRing.parse(TEST_KEYS, source="test")
    with app.app_context():
        canaries = db.session.execute(
            db.select(EncryptionCanary.version, EncryptionCanary.sealed)
        ).all()

    assert [version for version, _ in canaries] == [1]
    sealed = canaries[0][1]
    assert runtime.CANARY_PLAINTEXT not in sealed
    assert runtime.canary_opens(keys, 1, sealed)
    assert not runtime.canary_opens(KeyRing.generate(), 1, sealed)


# Keys that do not open the canary: tests/crypto/test_fields.py::
# test_an_app_with_other_keys_refuses_to_start_on_the_database.


def test_keys_missing_the_version_of_a_canary_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    only_version_2 = KeyRing([MasterKey(2, os.urandom(32))]).dumps()

    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, tmp_path / "instance", ENCRYPTION_KEYS=only_version_2)

    assert str(raised.value) == (
        "The database holds data encrypted with key version 1, which is not in the configured "
        "keys. Restore the key file (or COORDINATOR_ENCRYPTION_KEYS) that belongs to this "
        "database."
    )


def test_a_retired_version_still_opens_its_canary(database_url: str, tmp_path: Path) -> None:
    rotated = KeyRing.parse(TEST_KEYS, source="test").with_new_version().with_retired([1])

    app = make_app(database_url, tmp_path / "instance", ENCRYPTION_KEYS=rotated.dumps())

    with running(app):
        assert runtime.keys().active_versions == (2,)


# -- the key ring itself ----------------------------------------------------------------------


def test_the_text_form_round_trips_and_never_shows_in_a_repr() -> None:
    keys = KeyRing.generate().with_new_version().with_retired([1])

    again = KeyRing.parse(keys.dumps(), source="test")

    assert again.dumps() == keys.dumps()
    assert (again.versions, again.active_versions, again.current) == ((1, 2), (2,), 2)
    assert again.master(1).status is KeyStatus.RETIRED
    for version in (1, 2):
        secret = again.master(version).secret
        assert base64.b64encode(secret).decode() not in repr(again.master(version))
        assert secret.hex() not in repr(again.master(version))


def test_the_current_version_cannot_be_retired() -> None:
    keys = KeyRing.generate().with_new_version()

    with pytest.raises(KeyRingInvalid, match=r"^the current key version cannot be retired$"):
        keys.with_retired([2])


def test_every_purpose_and_version_gets_its_own_derived_key() -> None:
    keys = KeyRing.generate().with_new_version()
    derived = {
        keys.blind_index_key(1, "patients", "personnummer"),
        keys.blind_index_key(2, "patients", "personnummer"),
        keys.blind_index_key(1, "patients", "last_name"),
        keys.seal_key(1, "access"),
        keys.seal_key(1, "case"),
        keys.seal_key(2, "access"),
        keys.master(1).secret,
        keys.master(2).secret,
    }

    assert len(derived) == 8
