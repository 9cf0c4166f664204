"""Sealing and verifying the hash chains.

An entry's seal is ``HMAC-SHA256(seal_key(chain, key_version), canonical || prev_hash)``; the
canonical form joins the fields in :data:`ACCESS_FIELDS` / :data:`CASE_FIELDS` with a unit
separator. Editing an entry breaks its seal; deleting, inserting or reordering entries breaks
the ``prev_hash`` link or the gapless sequence; cutting entries off the end no longer reaches
the head recorded in ``journal_heads``.

The chain kept in the database begins after ``journal_heads.base_seq``: older access-log
entries may be archived and purged (:mod:`coordinator.journal.retention`), and the first kept
entry links to ``base_hash``, the hash of the last one purged. The archive carries the purged
part, verifiable on its own up to that same hash.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    Table,
    cast,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy import Enum as SQLEnum
from sqlalchemy.orm import Session, scoped_session

from coordinator.crypto.envelope import DecryptionError, open_sealed
from coordinator.crypto.keys import KeyRing, KeyRingError
from coordinator.journal.models import (
    HASH_BYTES,
    AccessLogEntry,
    CaseJournalEntry,
    Chain,
    ChainHead,
)

#: The ``prev_hash`` of the first entry of every chain.
GENESIS = bytes(HASH_BYTES)

#: The sealed fields of each chain, in canonical order.
ACCESS_FIELDS = (
    "seq", "at", "user_id", "unit_id", "role", "patient_id", "action",
    "object_type", "object_id", "request_id", "key_version",
)  # fmt: skip
CASE_FIELDS = (
    "seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
    "content_digest", "corrects_seq", "key_version",
)  # fmt: skip

_TABLES: dict[Chain, tuple[Table, tuple[str, ...]]] = {
    Chain.ACCESS: (AccessLogEntry.__table__, ACCESS_FIELDS),  # type: ignore[dict-item]
    Chain.CASE: (CaseJournalEntry.__table__, CASE_FIELDS),  # type: ignore[dict-item]
}
_HEADS: Table = ChainHead.__table__  # type: ignore[assignment]


#: How a timestamp appears in the canonical form: UTC, always with microseconds — the text
#: SQLite stores, and what ``_stored_at`` makes PostgreSQL produce, so verification can read it
#: as stored instead of building a datetime per row.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


def canonical(values: Iterable[Any]) -> bytes:
    return "\x1f".join(map(_text, values)).encode("utf-8")


def seal(key: bytes, values: Iterable[Any], prev_hash: bytes) -> bytes:
    return hmac.digest(key, canonical(values) + prev_hash, "sha256")


def content_digest(keys: KeyRing, version: int, heading: str, body: str) -> bytes:
    """The keyed digest of a case journal entry's text, which the chain covers."""
    key = keys.seal_key(version, "case-content")
    return hmac.digest(key, f"{heading}\x1f{body}".encode(), "sha256")


def append(
    session: Session | scoped_session[Any], keys: KeyRing, chain: Chain, entries: Sequence[Any]
) -> None:
    """Number, link and seal ``entries`` at the end of ``chain`` and add them to the session.

    The head row is updated first, in the caller's transaction: concurrent appenders queue on
    its lock and each sees the head the previous one committed, so the chain never forks.
    """
    if not entries:
        return
    _, fields = _TABLES[chain]
    if chain is not Chain.ACCESS:
        # Heads are locked in one order everywhere, the access log's first: a command holds
        # that one from its first logged read to its commit (a request appends its accesses
        # just before committing), so a journal entry that locked its own chain's head first
        # could deadlock against it (PostgreSQL row locks).
        session.execute(
            select(_HEADS.c.chain).where(_HEADS.c.chain == Chain.ACCESS.value).with_for_update()
        )
    last_seq, prev_hash = session.execute(
        update(_HEADS)
        .where(_HEADS.c.chain == chain.value)
        .values(seq=_HEADS.c.seq + len(entries))
        .returning(_HEADS.c.seq, _HEADS.c.hash)
    ).one()
    version = keys.current
    key = keys.seal_key(version, chain.value)
    for position, entry in enumerate(entries, start=last_seq - len(entries) + 1):
        entry.seq = position
        entry.key_version = version
        entry.prev_hash = prev_hash
        entry.hash = seal(key, (getattr(entry, name) for name in fields), prev_hash)
        prev_hash = entry.hash
    session.add_all(entries)
    session.execute(update(_HEADS).where(_HEADS.c.chain == chain.value).values(hash=prev_hash))
    session.flush()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    chain: Chain
    #: Entries whose seal and link were checked and found intact.
    verified: int
    broken: Break | None
    #: Where the walk began: entries up to this one were archived and purged (0: none).
    base_seq: int = 0

    @property
    def is_intact(self) -> bool:
        return self.broken is None


def _stored_at(column: Any, dialect: str) -> Any:
    """The timestamp column as canonical text, computed by the database."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return type_coerce(column, String)  # SQLite already stores exactly that text


def _stored(table: Table, name: str, dialect: str) -> Any:
    """A sealed field read as stored (text, integer or bytes), skipping per-row conversion."""
    column = table.c[name]
    if name == "at":
        return _stored_at(column, dialect)
    if name == "uid":
        return func.replace(cast(column, String), "-", "")
    if isinstance(column.type, SQLEnum):
        return type_coerce(column, String)
    return column


def stored_entries(chain: Chain, dialect: str) -> Select[Any]:
    """The chain's sealed fields as stored, then ``prev_hash`` and ``hash``, in chain order.

    Each row's sealed values give the entry's canonical form as they are (:func:`canonical`
    of them equals that of the typed values), which is how verification and the access-log
    archive read the chain.
    """
    table, fields = _TABLES[chain]
    columns = [_stored(table, name, dialect) for name in fields]
    return select(*columns, table.c.prev_hash, table.c.hash).order_by(table.c.seq)


class _Mac:
    """HMAC-SHA256 with one key, its padded key states hashed once instead of on every call."""

    def __init__(self, key: bytes) -> None:
        block = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _line(values: Sequence[Any]) -> bytes:
    """The canonical form of values read as stored (equal to :func:`canonical` of the typed)."""
    return "\x1f".join(
        [
            ""
            if v is None
            else v
            if v.__class__ is str
            else v.hex()
            if v.__class__ is bytes
            else str(v)
            for v in values
        ]
    ).encode("utf-8")


def verify(
    connection: Connection,
    keys: KeyRing,
    chain: Chain,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walk the kept part of ``chain``, from its base to its head, and report the first break.

    The walk begins after ``journal_heads.base_seq`` (entries up to it were archived and
    purged) with the ``base_hash`` the first kept entry must link to. ``progress``, if given,
    is called with the number of entries checked so far after every ``batch`` of them.

    Case journal entries are also opened and their text compared with the signed digest:
    the triggers let key rotation rewrite the sealed heading and body, so a text overwritten
    that way would otherwise pass the chain check.
    """
    base_seq, base_hash, head_seq, head_hash = _head(connection, chain)
    last_seq, last_hash, broken = _walk_from(
        connection, keys, chain, (base_seq, base_hash), None, batch, progress
    )
    count = last_seq - base_seq
    if broken is None and (head_seq != last_seq or head_hash != last_hash):
        broken = Break(last_seq + 1, _CUT)
    return Verification(chain, count, broken, base_seq)


def verify_span(
    connection: Connection,
    keys: KeyRing,
    chain: Chain,
    base: tuple[int, bytes],
    last_seq: int,
    batch: int = 20_000,
) -> Verification:
    """Walk ``chain`` from the entry after ``base`` (its seq and the hash the entry must link
    to) up to ``last_seq`` only — the entries a purge is about to archive: each must be there,
    linked and sealed. The entries after ``last_seq`` are not read."""
    reached, _, broken = _walk_from(connection, keys, chain, base, last_seq, batch, None)
    if broken is None and reached != last_seq:
        broken = Break(reached + 1, _MISSING)
    return Verification(chain, reached - base[0], broken, base[0])


def _head(connection: Connection, chain: Chain) -> tuple[int, bytes, int, bytes]:
    """The chain's base and head: (base_seq, base_hash, seq, hash).

    On PostgreSQL the walk that follows must see the same snapshot as this read, or an append
    or a purge committed in between would look like a break: the transaction is made
    REPEATABLE READ (SQLite's deferred transaction is a snapshot already).
    """
    if connection.dialect.name == "postgresql" and not connection.in_transaction():
        connection.execution_options(isolation_level="REPEATABLE READ")
    row = connection.execute(
        select(_HEADS.c.base_seq, _HEADS.c.base_hash, _HEADS.c.seq, _HEADS.c.hash).where(
            _HEADS.c.chain == chain.value
        )
    ).one()
    return row[0], bytes(row[1]), row[2], bytes(row[3])


def _walk_from(
    connection: Connection,
    keys: KeyRing,
    chain: Chain,
    base: tuple[int, bytes],
    last_seq: int | None,
    batch: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, bytes, Break | None]:
    """Walk the entries after ``base`` (up to ``last_seq`` if given): (last seq intact, its
    hash, first break)."""
    table, fields = _TABLES[chain]
    query = stored_entries(chain, connection.dialect.name).where(table.c.seq > base[0])
    if last_seq is not None:
        query = query.where(table.c.seq <= last_seq)
    if chain is Chain.CASE:
        query = query.add_columns(table.c.heading, table.c.body)
    with connection.execution_options(yield_per=batch).execute(query) as result:
        rows = result if progress is None else _counted(result, batch, progress)
        return _walk(rows, keys, chain, fields, base)


def _counted(rows: Iterable[Any], batch: int, progress: Callable[[int], None]) -> Iterator[Any]:
    """``rows``, calling ``progress`` with the number handed out after every ``batch`` of them
    has been checked (and after the last), when the walk asks for the next."""
    done = 0
    for done, row in enumerate(rows, start=1):
        yield row
        if done % batch == 0:
            progress(done)
    if done % batch:
        progress(done)


def _walk(
    rows: Iterable[Any],
    keys: KeyRing,
    chain: Chain,
    fields: tuple[str, ...],
    base: tuple[int, bytes],
) -> tuple[int, bytes, Break | None]:
    """Check every row's place, link and seal: (last seq intact, its hash, first break)."""
    macs: dict[int, _Mac] = {}
    expected_seq, expected_prev = base[0] + 1, base[1]
    compare, line = hmac.compare_digest, _line
    width, version_at = len(fields), fields.index("key_version")
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            return expected_seq - 1, expected_prev, Break(expected_seq, _MISSING)
        if row[width] != expected_prev:
            return seq - 1, expected_prev, Break(seq, _UNLINKED)
        version = row[version_at]
        mac = macs.get(version)
        if mac is None:
            try:
                mac = macs[version] = _Mac(keys.seal_key(version, chain.value))
            except KeyRingError:
                reason = f"sealed with unknown key version {version}"
                return seq - 1, expected_prev, Break(seq, reason)
        if not compare(mac(line(row[:width]) + row[width]), row[width + 1]):
            return seq - 1, expected_prev, Break(seq, _ALTERED)
        if chain is Chain.CASE and not _text_matches(
            keys, dict(zip(fields, row, strict=False)), row
        ):
            return seq - 1, expected_prev, Break(seq, _TEXT_ALTERED)
        expected_prev = row[width + 1]
        expected_seq += 1
    return expected_seq - 1, expected_prev, None


def _text_matches(keys: KeyRing, entry: dict[str, Any], row: Any) -> bool:
    """Whether a case entry's sealed heading and body open to the text its seal covers."""
    identity = entry["uid"]
    try:
        heading = open_sealed(keys, "case_journal", "heading", identity, row[-2]).decode()
        body = open_sealed(keys, "case_journal", "body", identity, row[-1]).decode()
    except DecryptionError:
        return False
    expected = content_digest(keys, entry["key_version"], heading, body)
    return hmac.compare_digest(expected, entry["content_digest"])


_MISSING = "entry missing: the sequence has a gap (an entry was deleted or renumbered)"
_UNLINKED = "does not follow the entry before it (entries were deleted, inserted or reordered)"
_ALTERED = "content does not match its seal (the entry was altered)"
_TEXT_ALTERED = "heading or body does not match the signed content (the text was overwritten)"
_CUT = "the chain ends before its recorded head (entries at the end were deleted)"
