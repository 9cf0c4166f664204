"""Writing a backup of the whole database, and restoring one.

The backup file is a sealed file (:mod:`coordinator.crypto.sealed_file`) of its own kind: its
MAGIC and key (``KeyRing.backup_key``, label ``coordinator/backup/v1``) differ from an
access-log archive's, so neither is accepted as the other. Its header, in clear but
authenticated by every chunk, says which engine the database runs on, the schema revision, the
key version, when it was written, the rows of every table and the heads of both journal chains;
the chunks hold the database: SQLite's file, or ``pg_dump``'s custom-format archive.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from coordinator import clock
from coordinator.backup import BackupFailed, postgres, sqlite
from coordinator.backup.contents import Contents
from coordinator.config import ConfigurationError
from coordinator.crypto import rotation, runtime, sealed_file
from coordinator.crypto.keys import KeyRing, KeyRingError
from coordinator.crypto.runtime import keys
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.chain import Verification

#: The folder in the instance folder backups go to unless another file is named.
BACKUP_FOLDER = "backups"
#: The first bytes of every backup file.
MAGIC = b"coordinator backup\n"
FORMAT_VERSION = 1
BACKUP = sealed_file.Kind(MAGIC, noun="backup", name="a Coordinator backup")

#: Bytes of an SQLite copy sealed per chunk.
CHUNK_BYTES = 4 << 20

_ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class BackupHeader:
    """What a backup says about itself (authenticated with every chunk)."""

    #: ``sqlite`` or ``postgresql``.
    engine: str
    key_version: int
    written_at: datetime
    contents: Contents


@dataclass(frozen=True)
class BackupReport:
    path: Path
    #: Bytes of the backup file.
    size: int
    header: BackupHeader


@dataclass(frozen=True)
class RestoreReport:
    header: BackupHeader
    #: What the database holds after the restore (equal to what the backup recorded).
    restored: Contents
    #: The schema revision this version of Coordinator is at.
    head_revision: str
    #: Both journal chains verified in the restored database (none when it needs an upgrade
    #: first: the code reads the current schema).
    chains: tuple[Verification, ...] = ()
    #: Encrypted values sealed with key versions that this key ring does not keep active
    #: (retired since the backup, or missing), by version: they do not open.
    unreadable: Mapping[int, int] = field(default_factory=dict)

    @property
    def needs_upgrade(self) -> bool:
        """The backup is of an older schema: ``coordinator init`` upgrades it."""
        return self.header.contents.revision != self.head_revision

    @property
    def is_intact(self) -> bool:
        return not self.unreadable and all(chain.broken is None for chain in self.chains)


def default_path(engine: str, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return Path(current_app.instance_path) / BACKUP_FOLDER / f"coordinator-{engine}-{stamp}.backup"


# -- backing up ---------------------------------------------------------------------------------


def write(output: Path | None = None) -> BackupReport:
    """Back the whole database up into a new file (``output``, or one named after the engine
    and the time in ``instance/backups``), mode 0600 in a folder created 0700.

    The file appears complete or not at all: it is written under a temporary name, synced,
    then linked to its name, which never replaces an existing file."""
    engine = db.engine.dialect.name
    written_at = clock.now()
    path = output if output is not None else default_path(engine, written_at)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists():
            raise FileExistsError(path)
        header = _write(path, engine, written_at)
    except FileExistsError:
        raise BackupFailed(f"{path} already exists: choose another file.") from None
    except (OSError, sqlite3.Error, SQLAlchemyError) as error:
        raise BackupFailed(f"The backup could not be written: {error}") from error
    return BackupReport(path, path.stat().st_size, header)


def _write(path: Path, engine: str, written_at: datetime) -> BackupHeader:
    keyring = keys()
    key = keyring.backup_key(keyring.current)

    def header(contents: Contents) -> BackupHeader:
        if contents.revision is None:
            raise BackupFailed("The database is not initialised: run `coordinator init` first.")
        return BackupHeader(engine, keyring.current, written_at, contents)

    if engine == "sqlite":
        database = _sqlite_file()
        with _private_folder(database.parent) as work:
            written = header(sqlite.copy(database, work / "database"))
            sealed_file.create_exclusively(
                path, lambda handle: _seal_file(handle, written, key, work / "database")
            )
        return written
    program = postgres.tool("pg_dump", current_app.config["PG_DUMP"])
    with postgres.snapshot(db.engine) as (exported, contents):
        written = header(contents)
        sealed_file.create_exclusively(
            path, lambda handle: _seal_dump(handle, written, key, program, exported)
        )
    return written


def _fields(header: BackupHeader) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "engine": header.engine,
        "key_version": header.key_version,
        "written_at": header.written_at.isoformat(),
        **header.contents.to_header(),
    }


def _seal_file(handle: BinaryIO, header: BackupHeader, key: bytes, source: Path) -> bytes:
    writer = sealed_file.Writer(handle, BACKUP, _fields(header), key)
    with source.open("rb") as copy:
        while block := copy.read(CHUNK_BYTES):
            writer.write(block)
    return writer.finish()


def _seal_dump(
    handle: BinaryIO, header: BackupHeader, key: bytes, program: str, exported: str
) -> bytes:
    writer = sealed_file.Writer(handle, BACKUP, _fields(header), key)
    postgres.dump(program, db.engine.url, exported, writer.write)
    return writer.finish()


# -- restoring ----------------------------------------------------------------------------------


def restore(file: Path, *, replace: bool = False) -> RestoreReport:
    """Restore the backup ``file`` into the configured database.

    Refused, with the database untouched, when the file is not a backup, is of another engine
    or of a schema newer than this version knows, was written with a key not in the key ring,
    or when the database holds data and ``replace`` is not given. The whole file is decrypted
    and every chunk verified before the database is touched."""
    try:
        return _restore(file, replace=replace)
    except (OSError, sqlite3.Error, SQLAlchemyError) as error:
        raise BackupFailed(f"The restore failed: {error}") from error


def _restore(file: Path, *, replace: bool) -> RestoreReport:
    keyring = keys()
    known, head = _revisions()
    with file.open("rb") as handle:
        reader = sealed_file.Reader(handle, BACKUP)
        try:
            header, bound = _read_header(reader)
        except sealed_file.Broken as broken:
            raise BackupFailed(_broken(file, broken)) from None
        _check_restorable(header, known, head)
        try:
            key = keyring.backup_key(header.key_version)
        except KeyRingError:
            raise BackupFailed(
                f"{file} was encrypted with key version {header.key_version}, which is not in "
                "the key ring: restore needs the key file the backup was written with. The "
                "database was not touched."
            ) from None
        _check_target(header, replace=replace)
        if header.engine == "sqlite":
            _restore_sqlite(file, reader, key, bound, header)
        else:
            _restore_postgres(file, reader, key, bound)
    db.session.remove()
    db.engine.dispose()
    restored = _current()
    if restored != header.contents:
        raise BackupFailed(
            "The restored database does not hold what the backup recorded "
            f"({restored.rows} rows in {len(restored.tables)} tables instead of "
            f"{header.contents.rows} in {len(header.contents.tables)})."
        )
    if header.contents.revision != head:
        return RestoreReport(header, restored, head)
    return RestoreReport(
        header, restored, head, tuple(journal.verify_all()), _unreadable_values(keyring)
    )


def _unreadable_values(keyring: KeyRing) -> dict[int, int]:
    """Values the restored database seals with versions not active in the key ring. The key
    canaries must open first (a wrong key ring is a configuration error, said as such)."""
    try:
        runtime.check_canaries(keyring)
    except ConfigurationError as error:
        raise BackupFailed(str(error)) from None
    usable = set(keyring.active_versions)
    remaining = rotation.values_not_current(keyring)
    return {version: n for version, n in sorted(remaining.items()) if version not in usable}


def _read_header(reader: sealed_file.Reader) -> tuple[BackupHeader, bytes]:
    fields, bound = reader.header()
    if fields.get("format") != FORMAT_VERSION or fields.get("engine") not in _ENGINES:
        raise sealed_file.Broken("written in a format this version does not read")
    try:
        header = BackupHeader(
            engine=str(fields["engine"]),
            key_version=int(fields["key_version"]),
            written_at=datetime.fromisoformat(fields["written_at"]),
            contents=Contents.from_header(fields),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise sealed_file.Broken("its header is damaged") from None
    return header, bound


def _broken(file: Path, broken: sealed_file.Broken) -> str:
    return f"{file} does not verify: {broken.reason}. The database was not touched."


def _revisions() -> tuple[set[str], str]:
    """Every schema revision this version knows, and the newest."""
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    known = {revision.revision for revision in script.walk_revisions()}
    return known, str(script.get_current_head())


def _check_restorable(header: BackupHeader, known: set[str], head: str) -> None:
    engine = db.engine.dialect.name
    if header.engine != engine:
        raise BackupFailed(
            f"This is a backup of a {_ENGINES[header.engine]} database; the configured database "
            f"is {_ENGINES.get(engine, engine)}. The database was not touched."
        )
    revision = header.contents.revision
    if revision not in known:
        raise BackupFailed(
            f"The backup is of schema revision {revision}, which this version of Coordinator "
            f"does not know (it is at {head}): it was written by a newer version. Install that "
            "version (or a later one) to restore it. The database was not touched."
        )


def _check_target(header: BackupHeader, *, replace: bool) -> None:
    target = _current()
    if target.has_data and not replace:
        raise BackupFailed(
            f"The database already holds data ({target.patients} patients, "
            f"{target.rows} rows in all). Restoring replaces all of it: run again with --yes "
            "if that is what you want. The database was not touched."
        )
    unknown = sorted(set(target.tables) - set(header.contents.tables))
    if header.engine == "postgresql" and unknown:
        raise BackupFailed(
            f"The database has tables the backup does not ({', '.join(unknown)}): a newer "
            "schema than the backup's. Restore into an empty database (createdb), then run "
            "`coordinator init`. The database was not touched."
        )


def _decrypt(
    file: Path, reader: sealed_file.Reader, key: bytes, bound: bytes, target: Path
) -> None:
    """Decrypt every chunk into ``target`` (a new 0600 file); nothing is used before the
    last chunk has verified."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as plain:
            for chunk in reader.chunks(key, bound):
                plain.write(chunk)
    except sealed_file.Broken as broken:
        raise BackupFailed(_broken(file, broken)) from None


def _restore_sqlite(
    file: Path, reader: sealed_file.Reader, key: bytes, bound: bytes, header: BackupHeader
) -> None:
    database = _sqlite_file()
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Beside the database: the restored file is renamed into its place on the same disk.
    with _private_folder(database.parent) as work:
        restored = work / "database"
        _decrypt(file, reader, key, bound, restored)
        if sqlite.check(restored) != header.contents:
            raise BackupFailed(
                f"The database in {file} does not hold what its header records. The database "
                "was not touched."
            )
        db.session.remove()
        db.engine.dispose()  # the app's own connections would keep the old file in use
        sqlite.replace(database, restored)


def _restore_postgres(file: Path, reader: sealed_file.Reader, key: bytes, bound: bytes) -> None:
    program = postgres.tool("pg_restore", current_app.config["PG_RESTORE"])
    with _private_folder(Path(current_app.instance_path)) as work:
        dump = work / "database.dump"
        _decrypt(file, reader, key, bound, dump)
        db.session.remove()
        db.engine.dispose()
        postgres.restore(program, db.engine.url, dump)


# -- the configured database --------------------------------------------------------------------


def _sqlite_file() -> Path:
    name = db.engine.url.database
    if not name or name == ":memory:":
        raise BackupFailed("The configured SQLite database is in memory: there is no file.")
    return Path(name)


def _current() -> Contents:
    if db.engine.dialect.name == "sqlite":
        return sqlite.current(_sqlite_file())
    return postgres.current(db.engine)


@contextmanager
def _private_folder(parent: Path) -> Iterator[Path]:
    """A new folder only its owner can enter (0700), removed with everything in it."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".coordinator-backup-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
