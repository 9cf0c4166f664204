"""The database layer shared by every domain package: model base, column types, transactions.

One commit per request: services add and flush; :func:`commit_request` commits once when the
view has produced a successful response (2xx or a redirect) and rolls back when the response
reports a failure, so a change and the records that accompany it land together or not at all.
Models never commit themselves.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar

from flask import Flask, Response, g
from sqlalchemy import DateTime, Dialect, MetaData, event
from sqlalchemy import Enum as SQLEnum
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, UOWTransaction
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

#: Constraint names are fixed so that migrations can refer to them on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AppendOnlyError(RuntimeError):
    """Code tried to change or delete, through the ORM, a record that is history."""


class AppendOnly:
    """Mixin for records that are history: inserted once, never updated or deleted.

    The ORM refuses both (below); database triggers back that up, letting through only key
    rotation's rewrite of the sealed columns, which goes around the ORM.
    """

    #: What one record is called in the refusal ("entries", "records").
    append_only_noun: ClassVar[str] = "records"


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: UOWTransaction, _instances: object) -> None:
    for instance in session.deleted:
        if isinstance(instance, AppendOnly):
            name, noun = type(instance).__name__, instance.append_only_noun
            raise AppendOnlyError(f"{name} {noun} are never deleted")
    for instance in session.dirty:
        if isinstance(instance, AppendOnly) and session.is_modified(instance):
            name, noun = type(instance).__name__, instance.append_only_noun
            raise AppendOnlyError(f"{name} {noun} are never changed")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone and hands back naive values; this type makes both engines behave the
    same and refuses naive datetimes on the way in, where a local time would silently shift.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_class: type[Enum]) -> SQLEnum:
    """A column type storing an enum's *values* as short strings with a CHECK constraint."""
    return SQLEnum(
        enum_class,
        values_callable=lambda members: [member.value for member in members],
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        name=enum_class.__name__.lower(),
    )


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Turn on foreign keys and write-ahead logging for SQLite connections."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # The busy timeout comes from the driver's ``timeout`` (SQLITE_BUSY_TIMEOUT_SECONDS).
    cursor.close()
    # SQLAlchemy emits BEGIN itself (below), not the driver.
    dbapi_connection.isolation_level = None


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write.

    Nearly every request writes (the access log), and a transaction that read first and then
    tries to write after another one committed fails at once with SQLITE_BUSY instead of
    waiting. Starting with BEGIN IMMEDIATE makes writers queue (``busy_timeout``); readers are
    never blocked in WAL mode. A connection with the execution option ``read_only=True`` (long
    reads such as journal verification) begins a plain deferred snapshot instead.
    """
    if connection.dialect.name != "sqlite":
        return
    if connection.get_execution_options().get("read_only", False):
        connection.exec_driver_sql("BEGIN")
    elif not _begin_immediate(connection.connection.dbapi_connection):
        # Waited the whole busy timeout, or failed otherwise: once more through SQLAlchemy,
        # which raises its own OperationalError (for a request: the 503 page).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: How often a writer waiting for SQLite's write lock asks again.
_WRITE_LOCK_POLL_SECONDS = 0.002


def _begin_immediate(dbapi_connection: Any) -> bool:
    """BEGIN IMMEDIATE, asking again every 2 ms for up to the busy timeout; False if not begun.

    SQLite's own busy handler backs off to 100 ms sleeps, so the writer that has waited longest
    is the least likely to be awake when the lock comes free: under load (several app processes
    on one file) a few requests starved past the timeout while others went through at once.
    Asking at a short, even pace gives every waiter the same chance at each release.
    """
    timeout_ms = dbapi_connection.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout_ms / 1000
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    return False  # not a wait: let SQLAlchemy raise it, wrapped
            if time.monotonic() >= deadline:
                return False
            time.sleep(_WRITE_LOCK_POLL_SECONDS)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def persist_despite_failure() -> None:
    """Keep this request's writes even though its response will report a failure.

    For the few records that exist *because* something failed: a failed sign-in must still
    count towards the lock-out.
    """
    g.persist_despite_failure = True


def before_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` in this request's transaction just before it commits (not on rollback).

    For records written last so that the locks they take are held only for the commit: the
    access log's entries, whose chain head every request's reads would otherwise queue on.
    """
    callbacks: list[Callable[[], None]] = g.setdefault("before_commit", [])
    callbacks.append(callback)


def deferred(
    name: str, on_commit: Callable[[list[Any]], None], on_rollback: Callable[[list[Any]], None]
) -> list[Any]:
    """This request's list ``name`` of records to write at the end of its unit of work.

    The first call makes the list and registers ``on_commit`` and ``on_rollback`` to receive
    it; later calls return the same list to add to. Restarting the unit of work drops it.
    """
    lists: dict[str, list[Any]] = g.setdefault("deferred", {})
    if name not in lists:
        items: list[Any] = []
        lists[name] = items
        before_commit(lambda: on_commit(items))
        after_rollback(lambda: on_rollback(items))
    return lists[name]


def after_rollback(callback: Callable[[], None]) -> None:
    """Run ``callback`` in a fresh transaction if this request's unit of work is rolled back.

    For records of things that happened even though the request failed: patient data shown on
    a page that reports an error was still read, and the access log must say so.
    """
    callbacks: list[Callable[[], None]] = g.setdefault("after_rollback", [])
    callbacks.append(callback)


def restart_unit_of_work() -> None:
    """Roll back what this request has done so far and start over, before rendering afresh.

    For a change refused half-way (another user committed first): the session must be rolled
    back before anything else is read. Reads logged so far are forgotten too — the page about
    to be rendered loads and logs again what the user actually sees.
    """
    from coordinator.extensions import db

    db.session.rollback()
    for name in ("after_rollback", "before_commit", "deferred"):
        g.pop(name, None)


def commit_request(response: Response) -> Response:
    """Commit the request's unit of work, or roll it back if the response reports a failure.

    When the database cannot take the commit for now (its disk full, the server gone), the
    response becomes the "temporarily unavailable" page instead: nothing was saved.
    """
    from coordinator import errors
    from coordinator.extensions import db

    try:
        if response.status_code >= 400 and not g.get("persist_despite_failure", False):
            db.session.rollback()
            callbacks = g.pop("after_rollback", [])
            for callback in callbacks:
                callback()
            if callbacks:
                db.session.commit()
        else:
            for callback in g.pop("before_commit", []):
                callback()
            db.session.commit()
    except (DBAPIError, PoolTimeout) as error:
        reason = errors.database_unavailable(error)
        if reason is None:
            raise
        return errors.database_unavailable_response(reason)
    return response


def init_app(app: Flask) -> None:
    """Register the per-request commit."""
    app.after_request(commit_request)
