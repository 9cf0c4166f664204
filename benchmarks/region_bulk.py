"""Getting a region's rows into the database fast, for ``region.py``: values in the form
SQLAlchemy stores them, handed to the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), with secondary indexes built and SQLite's foreign keys checked once afterwards,
and a pool of processes that each hold the key ring so the model's ``Encrypted`` descriptors
seal there as they do in the app. Kept apart from what is generated: the patients and the
journal both load through these helpers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from flask import Flask

from coordinator.crypto import runtime
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import chain


class Failed(RuntimeError):
    """Something did not work as it must: the run is not a valid measurement."""


#: The canonical text of a timestamp (``chain.TIMESTAMP_FORMAT``), which is also what SQLite
#: stores for a ``UTCDateTime``.
AT_TEXT = chain.TIMESTAMP_FORMAT

# -- rows in stored form --------------------------------------------------------------------


def stored_value(value: Any, native: bool) -> Any:
    """A value as the database driver takes it for the column SQLAlchemy would write it to:
    enums as their values; on SQLite also what SQLAlchemy stores there — UUIDs as hex, times
    in UTC as ``chain.TIMESTAMP_FORMAT`` text, dates in ISO form, booleans as 0/1."""
    if isinstance(value, Enum):
        return value.value
    if native:
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(AT_TEXT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def stored_rows(
    table: str, rows: list[dict[str, Any]], native: bool
) -> tuple[str, tuple[str, ...], list[tuple[Any, ...]]]:
    """``rows`` of ``table`` for the driver, with the model's scalar column defaults that
    SQLAlchemy would have filled in (a callable default left out is an error here)."""
    if not rows:
        return table, (), []
    given = tuple(rows[0])
    defaults = {}
    for column in db.metadata.tables[table].columns:
        if column.name in given or column.default is None:
            continue
        if not column.default.is_scalar:
            raise Failed(f"{table}.{column.name} has a computed default: give it a value")
        defaults[column.name] = stored_value(column.default.arg, native)  # type: ignore[attr-defined]
    columns = (*given, *defaults)
    extra = tuple(defaults.values())
    return (
        table,
        columns,
        [tuple(stored_value(row[c], native) for c in given) + extra for row in rows],
    )


def driver_insert(table: str, columns: Sequence[str]) -> str:
    """An INSERT for the driver's own executemany: the rows are already in stored form, so
    SQLAlchemy's per-value processing (the bulk of a Core executemany here) is skipped."""
    style = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(columns)
    marks = ", ".join([style] * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (fixed names)


def bulk_insert(
    connection: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Rows in stored form into ``table``, in the connection's transaction: PostgreSQL through
    psycopg's ``COPY`` (an executemany there is a round of statements per batch, several times
    slower), SQLite through the driver's ``executemany``."""
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(driver_insert(table, columns), rows)
        return
    if not connection.in_transaction():
        connection.begin()  # so that the caller's commit() commits the copied rows
    names = ", ".join(columns)
    cursor = connection.connection.dbapi_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- the bulk load's connection -------------------------------------------------------------


@contextlib.contextmanager
def large_cache(connection: Any) -> Iterator[None]:
    """A larger SQLite page cache for the bulk load's connection (256 MiB instead of the
    default 2 MiB: the random keys of the uid and blind indexes touch pages all over), set
    back to the default afterwards, before the app's requests may use the connection."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA cache_size = -2000")


@contextlib.contextmanager
def references_checked_afterwards(connection: Any, tables: Sequence[str]) -> Iterator[None]:
    """SQLite: check the foreign keys of the bulk-loaded ``tables`` once afterwards
    (``PRAGMA foreign_key_check``) instead of row by row, and fail if one points nowhere.
    PostgreSQL checks them as the rows arrive."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.commit()  # the pragma is a no-op inside a transaction: set it between two
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        connection.commit()
        raw.execute("PRAGMA foreign_keys = ON")
    if raw.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        raise Failed("foreign keys could not be turned on again after the bulk load")
    for table in tables:
        broken = connection.exec_driver_sql(f'PRAGMA foreign_key_check("{table}")').all()
        if broken:
            raise Failed(f"{len(broken):,} rows of {table} refer to rows that do not exist")


@contextlib.contextmanager
def indexes_built_afterwards(connection: Any, tables: Sequence[str]) -> Iterator[None]:
    """Drop the secondary indexes of ``tables`` for the bulk load and create them again from
    their own definitions afterwards (building an index over sorted keys once is much faster
    than inserting a million random keys into it). Indexes that back a constraint (primary
    keys, ``uid`` uniqueness) stay."""
    if connection.dialect.name == "postgresql":
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint)"
        )
        found = connection.exec_driver_sql(query, (list(tables),)).all()
    else:
        marks = ", ".join("?" * len(tables))
        where = "type = 'index' AND sql IS NOT NULL AND tbl_name IN"
        query = f"SELECT name, sql FROM sqlite_master WHERE {where} ({marks})"  # noqa: S608
        found = connection.exec_driver_sql(query, tuple(tables)).all()
    for name, _ in found:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    connection.commit()
    yield
    for _, definition in found:
        connection.exec_driver_sql(definition)
    connection.commit()


# -- the pool -------------------------------------------------------------------------------


def pooled(
    work: Callable[[Any], Any], tasks: Sequence[Any], workers: int, keyring_text: str
) -> Iterator[Any]:
    """``work`` of each task, in order: in a pool of ``workers`` processes (each with the key
    ring, see ``_start_worker``) while the caller inserts, or here with one worker."""
    if workers <= 1:
        yield from map(work, tasks)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_start_worker, initargs=(keyring_text,)) as pool:
        yield from pool.imap(work, tasks)


_WORKER: dict[str, Any] = {}


def _start_worker(keyring_text: str) -> None:
    """A pool process: an app of its own holding only the key ring, so that the model's
    ``Encrypted`` descriptors seal as they do in the app."""
    app = Flask("region-worker")
    app.extensions[runtime.EXTENSION] = KeyRing.parse(keyring_text, source="benchmark")
    context = app.app_context()
    context.push()
    _WORKER["context"] = context
