"""SQLite: a consistent copy through the online backup API, and the file replaced on restore."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from coordinator.backup import BackupFailed
from coordinator.backup import contents as database_contents
from coordinator.backup.contents import Contents
from coordinator.crypto.sealed_file import sync_folder

#: How long the copy waits for a writer holding SQLite's lock (milliseconds).
_BUSY_TIMEOUT_MS = 10_000


def copy(database: Path, target: Path) -> Contents:
    """Copy the live ``database`` to the new file ``target`` (mode 0600) and describe the copy.

    ``Connection.backup`` with its default of all pages in one step copies within one read
    transaction: a consistent snapshot while the app goes on writing (WAL mode lets readers
    and the writer proceed together). The copy is then switched out of WAL mode, so that it is
    one self-contained file.
    """
    if not database.is_file():
        raise BackupFailed(f"The database file {database} does not exist.")
    _create_private(target)
    with (
        closing(sqlite3.connect(database)) as source,
        closing(sqlite3.connect(target)) as destination,
    ):
        source.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        source.backup(destination)
        destination.execute("PRAGMA journal_mode = DELETE")
        return database_contents.read(lambda sql: destination.execute(sql).fetchall(), "sqlite")


def check(restored: Path) -> Contents:
    """Describe a decrypted database file after SQLite's own integrity check of every page."""
    with closing(sqlite3.connect(restored)) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchall()
        if verdict != [("ok",)]:
            raise BackupFailed(
                "The database in the backup fails SQLite's integrity check; the database was "
                "not touched."
            )
        return database_contents.read(lambda sql: connection.execute(sql).fetchall(), "sqlite")


def current(database: Path) -> Contents:
    """What the configured database holds now (nothing if there is no file yet: it is not
    created by looking)."""
    if not database.is_file():
        return database_contents.EMPTY
    uri = f"{database.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as connection:
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        return database_contents.read(lambda sql: connection.execute(sql).fetchall(), "sqlite")


def replace(database: Path, restored: Path) -> None:
    """Put ``restored`` in the place of ``database`` in one rename.

    The old database is first switched out of WAL mode, which SQLite does only when no other
    connection has it open: the app must not be running, and this is where we find out. A
    write-ahead log left beside the new file would otherwise be replayed into it.
    """
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if database.is_file():
        # A running app keeps its connections open: a short wait tells it from a passing one.
        with closing(sqlite3.connect(database, timeout=2)) as connection:
            try:
                (mode,) = connection.execute("PRAGMA journal_mode = DELETE").fetchone()
            except sqlite3.OperationalError:
                mode = None
        if mode != "delete":
            raise BackupFailed(
                f"The database {database} is in use: stop the app (every instance and worker) "
                "and run the restore again. The database was not touched."
            )
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(restored, database)
    sync_folder(database.parent)


def _create_private(path: Path) -> None:
    """An empty file only its owner reads, before SQLite opens it (SQLite uses the umask)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
