"""The installation's key ring at run time: loaded at start-up, checked against the database.

The app refuses to start (``ConfigurationError``) when no key is configured, when the key file
is readable by others, when a master key equals the session secret, or when the database holds
a canary that the configured keys cannot open. There is no plaintext fallback anywhere.
"""

from __future__ import annotations

import binascii
import logging
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from flask import Flask, current_app
from sqlalchemy import URL, create_engine, func, inspect, select
from sqlalchemy.exc import OperationalError

from coordinator.config import ConfigurationError
from coordinator.crypto.keys import KEY_FILE, KeyRing, KeyRingError, KeyRingInvalid

log = logging.getLogger(__name__)

EXTENSION = "coordinator.keys"
_PENDING_CHECK = "coordinator.keys.pending-check"

#: What every canary decrypts to.
CANARY_PLAINTEXT = b"coordinator key canary v1"
_CANARY_NONCE_BYTES = 12


def keys() -> KeyRing:
    """The key ring of the running app."""
    return current_app.extensions[EXTENSION]


def key_file(instance: Path) -> Path:
    return instance / KEY_FILE


def load(config: Any, instance: Path) -> KeyRing:
    """Read the key ring from ``ENCRYPTION_KEYS`` (the environment) or the instance key file."""
    text = config.get("ENCRYPTION_KEYS") or ""
    source = "COORDINATOR_ENCRYPTION_KEYS"
    if not text:
        path = key_file(instance)
        if not path.exists():
            raise ConfigurationError(
                f"No encryption keys: run `coordinator init` to create {path}, or set "
                "COORDINATOR_ENCRYPTION_KEYS. Coordinator never stores health data unencrypted."
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"The key file {path} is readable by other users (mode {mode:o}); "
                f"run `chmod 600 {path}`."
            )
        try:
            # Bytes that are not UTF-8 are replaced: the parser then names the file invalid.
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:  # a folder in its place, no permission to read it
            raise ConfigurationError(
                f"The key file {path} cannot be read: {error.strerror}. Restore the key file "
                "that belongs to this database, or set COORDINATOR_ENCRYPTION_KEYS."
            ) from None
        source = str(path)
    try:
        return KeyRing.parse(text, source=source)
    except KeyRingInvalid as error:
        raise ConfigurationError(f"Encryption keys unusable: {error}") from None


def save(keyring: KeyRing, instance: Path) -> None:
    """Replace the key file atomically (write a 0600 temporary file, then rename)."""
    path = key_file(instance)
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(keyring.dumps() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def seal_canary(keyring: KeyRing, version: int) -> bytes:
    nonce = os.urandom(_CANARY_NONCE_BYTES)
    return nonce + keyring.canary_cipher(version).encrypt(nonce, CANARY_PLAINTEXT, None)


def canary_opens(keyring: KeyRing, version: int, sealed: bytes) -> bool:
    cipher = keyring.canary_cipher(version)
    try:
        nonce, body = sealed[:_CANARY_NONCE_BYTES], sealed[_CANARY_NONCE_BYTES:]
        return cipher.decrypt(nonce, body, None) == CANARY_PLAINTEXT
    except InvalidTag:
        return False


def write_canary(version: int | None = None) -> bool:
    """Store the canary of ``version`` (default: the current one) unless it exists."""
    from coordinator.crypto.models import EncryptionCanary
    from coordinator.extensions import db

    keyring = keys()
    version = keyring.current if version is None else version
    if db.session.get(EncryptionCanary, version) is not None:
        return False
    db.session.add(EncryptionCanary(version=version, sealed=seal_canary(keyring, version)))
    db.session.flush()
    return True


def check_canaries(keyring: KeyRing) -> None:
    """Raise ``ConfigurationError`` unless every canary in the database opens with ``keyring``."""
    from coordinator.crypto.models import EncryptionCanary
    from coordinator.extensions import db

    url = db.engine.url
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return  # no database file yet (and connecting would create one with the wrong mode)
    if not inspect(db.engine).has_table(EncryptionCanary.__tablename__):
        return  # a database not yet migrated: `coordinator init` writes the canary
    canaries = db.session.execute(select(EncryptionCanary.version, EncryptionCanary.sealed)).all()
    db.session.rollback()
    for version, sealed in canaries:
        try:
            fits = canary_opens(keyring, version, sealed)
        except KeyRingError:
            raise ConfigurationError(
                f"The database holds data encrypted with key version {version}, which is not "
                "in the configured keys. Restore the key file (or COORDINATOR_ENCRYPTION_KEYS) "
                "that belongs to this database."
            ) from None
        if not fits:
            raise ConfigurationError(
                f"The configured key version {version} does not match this database (its "
                "canary does not decrypt). Coordinator will not start with the wrong keys."
            )


def holds_canaries(url: URL) -> bool:
    """Whether the database at ``url`` holds a key canary, read without an app: its data is
    encrypted under keys that a newly generated key ring would not open."""
    from coordinator.crypto.models import EncryptionCanary

    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return False  # connecting would create the file
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(EncryptionCanary.__tablename__):
                return False
            canaries = connection.scalar(select(func.count()).select_from(EncryptionCanary))
            return bool(canaries)
    finally:
        engine.dispose()


def init_app(app: Flask) -> None:
    keyring = load(app.config, Path(app.instance_path))
    secret = app.config["SECRET_KEY"].encode()
    candidates = (secret, _hex_or_none(secret), _base64_or_none(secret))
    if any(candidate in keyring.secrets() for candidate in candidates):
        raise ConfigurationError("An encryption key must not also be the session secret key.")
    app.extensions[EXTENSION] = keyring
    from coordinator.extensions import db

    with app.app_context():
        try:
            check_canaries(keyring)
        except OperationalError:
            # The database is not reachable now; check before the first request is served.
            log.warning("database unreachable at start-up; key check deferred")
            app.extensions[_PENDING_CHECK] = True
            app.before_request(_deferred_check)
        finally:
            db.session.remove()
            db.engine.dispose()


def _hex_or_none(secret: bytes) -> bytes | None:
    try:
        return bytes.fromhex(secret.decode())
    except ValueError:
        return None


def _base64_or_none(secret: bytes) -> bytes | None:
    try:
        return binascii.a2b_base64(secret, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _deferred_check() -> None:
    if current_app.extensions.get(_PENDING_CHECK):
        check_canaries(keys())
        current_app.extensions[_PENDING_CHECK] = False
