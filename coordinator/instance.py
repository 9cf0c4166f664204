"""Setting up an instance folder: the place for one installation's database and keys."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from coordinator.config import SECRET_KEY_FILE
from coordinator.crypto.keys import KEY_FILE, KeyRing


def create_key_file(path: Path, content: str) -> bool:
    """Write ``content`` to a new file readable only by its owner; False if it already exists.

    The file is created with mode 0600 in one step (never world-readable, not even briefly).
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(content + "\n")
    return True


def create_private_file(path: Path) -> bool:
    """Create an empty file readable only by its owner; False if it already exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def prepare(
    instance: Path,
    *,
    need_secret_key: bool,
    need_encryption_keys: bool = False,
    sqlite_file: str | None = None,
) -> list[str]:
    """Create the folder, missing key files and the SQLite file; return what was created.

    The SQLite file is created empty with mode 0600 before SQLite opens it (SQLite would use the
    process umask, typically world-readable, and gives its -wal/-shm files the same mode).
    """
    created: list[str] = []
    if not instance.exists():
        instance.mkdir(mode=0o700, parents=True)
        created.append(str(instance))
    if need_secret_key and create_key_file(instance / SECRET_KEY_FILE, secrets.token_hex(32)):
        created.append(SECRET_KEY_FILE)
    if need_encryption_keys and create_key_file(instance / KEY_FILE, KeyRing.generate().dumps()):
        created.append(KEY_FILE)
    if sqlite_file and sqlite_file != ":memory:":
        path = Path(sqlite_file)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if create_private_file(path):
            created.append(path.name)
    return created
