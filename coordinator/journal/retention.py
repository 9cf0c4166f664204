"""Access-log retention: entries past the retention time are archived, then purged.

HSLF-FS 2016:40 ch. 4 has access logs kept at least five years (``ACCESS_LOG_RETENTION_YEARS``,
never fewer). :func:`purge` removes the oldest entries — always a prefix of the chain, so what
is kept still verifies from its new base — after writing them to an encrypted archive file that
verifies on its own (:func:`verify_archive`): each entry's seal, its link to the one before and
the gapless sequence, from the archive's base hash to its boundary hash, which becomes the
chain's ``base_hash`` in the database.

The archive is a sealed file (:mod:`coordinator.crypto.sealed_file`: a header in clear but
authenticated, then chunks encrypted with AES-256-GCM that cannot be altered, reordered, dropped
or cut off) under ``KeyRing.archive_key`` of the header's key version; each chunk is one batch
of entries as JSON lines. No key is ever written into the archive or the database.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, CursorResult, Table, delete, func, select, text, update

from coordinator import clock
from coordinator.crypto import keys, sealed_file
from coordinator.crypto.keys import KeyRing, KeyRingError
from coordinator.crypto.sealed_file import Broken
from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal.models import AccessLogEntry, Chain, ChainHead, LogPurge

#: The folder in the instance folder archives go to unless another is named.
ARCHIVE_FOLDER = "log-archives"
#: The first bytes of every archive file.
MAGIC = b"coordinator access-log archive\n"
FORMAT_VERSION = 1
#: What each archived entry holds: the sealed fields as stored, then the links (hex). The
#: header does not list them (only numbers, dates and hashes are in clear): the format
#: version names them.
ENTRY_FIELDS = (*chain.ACCESS_FIELDS, "prev_hash", "hash")
ARCHIVE = sealed_file.Kind(MAGIC, noun="archive", name="an access-log archive")

#: The guard migration 0002 puts on the access log against deletion, per engine.
_SQLITE_GUARD = "access_log_no_delete"
_POSTGRES_GUARD = "access_log_append_only"

_LOG: Table = AccessLogEntry.__table__  # type: ignore[assignment]
_HEADS: Table = ChainHead.__table__  # type: ignore[assignment]


class RetentionRefused(DomainError):
    """The entries asked for are younger than the retention time."""

    default_message = _l("Access-log entries are kept longer than that.")


class PurgeRefused(DomainError):
    """The purge cannot be done safely; nothing was removed."""

    default_message = _l("The access log could not be purged; nothing was removed.")


def latest_allowed_before(today: date, years: int) -> date:
    """The youngest ``before`` date a purge may use on ``today``: ``years`` calendar years
    back (29 February becomes the 28th). Entries recorded before that day began are at least
    ``years`` old."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February, in a year without one
        return today.replace(year=today.year - years, day=28)


def default_archive_dir() -> Path:
    return Path(current_app.instance_path) / ARCHIVE_FOLDER


@dataclass(frozen=True)
class PurgeReport:
    before: date
    #: Entries archived and removed (0: none were old enough, nothing changed).
    removed: int
    first_seq: int | None = None
    last_seq: int | None = None
    archive: Path | None = None
    #: Hash of the last entry removed: the chain's new base hash.
    boundary_hash: bytes | None = None


@dataclass(frozen=True)
class _Span:
    """The entries to archive: after ``base_seq`` up to ``last``, the first linking to
    ``base_hash``; ``boundary_hash`` is the hash of ``last``."""

    base_seq: int
    base_hash: bytes
    last: int
    boundary_hash: bytes = b""

    @property
    def first(self) -> int:
        return self.base_seq + 1

    @property
    def count(self) -> int:
        return self.last - self.base_seq


def purge(before: date, archive_dir: Path, today: date, *, batch: int = 10_000) -> PurgeReport:
    """Archive and delete the access-log entries recorded before the day ``before`` began.

    Only a prefix of the chain goes: from its base, up to the first entry that is not older.
    The part to go is verified first; the archive is written (and synced) and verified before
    anything is deleted; the deletion, the move of the chain's base and the :class:`LogPurge`
    record are one transaction, committed here (a command, not a request).
    """
    years = current_app.config["ACCESS_LOG_RETENTION_YEARS"]
    latest = latest_allowed_before(today, years)
    if before > latest:
        raise RetentionRefused(
            _l(
                "Access-log entries are kept at least %(years)d years: %(before)s is too recent, "
                "the latest date allowed is %(latest)s.",
                years=years,
                before=before.isoformat(),
                latest=latest.isoformat(),
            )
        )
    keyring = keys()
    with db.engine.connect() as connection:
        connection = connection.execution_options(read_only=True)
        span = _span(connection, before)
        if span is None:
            return PurgeReport(before, 0)
        span = _checked(connection, keyring, span, batch)
        path, digest = _write_archive(connection, keyring, span, before, archive_dir, batch)
    _check_written(path, span)
    try:
        _remove(span, before, path.name, digest, batch)
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)  # nothing was removed: the file only repeats the log
        raise
    db.session.commit()
    return PurgeReport(before, span.count, span.first, span.last, path, span.boundary_hash)


def _span(connection: Connection, before: date) -> _Span | None:
    """The longest run of entries after the base recorded before ``before``, if any."""
    base_seq, base_hash, head_seq = connection.execute(
        select(_HEADS.c.base_seq, _HEADS.c.base_hash, _HEADS.c.seq).where(
            _HEADS.c.chain == Chain.ACCESS.value
        )
    ).one()
    first_young = connection.scalar(
        select(func.min(_LOG.c.seq)).where(
            _LOG.c.seq > base_seq, _LOG.c.at >= clock.start_of(before)
        )
    )
    last = head_seq if first_young is None else first_young - 1
    return _Span(base_seq, bytes(base_hash), last) if last > base_seq else None


def _checked(connection: Connection, keyring: KeyRing, span: _Span, batch: int) -> _Span:
    """``span`` with its boundary hash, once every entry in it is there, linked and sealed."""
    result = chain.verify_span(
        connection, keyring, Chain.ACCESS, (span.base_seq, span.base_hash), span.last, batch
    )
    if result.broken is not None:
        raise PurgeRefused(
            _l(
                "The access log is broken at entry %(seq)d (%(reason)s): nothing was archived "
                "or removed. Run coordinator verify-journal.",
                seq=result.broken.seq,
                reason=result.broken.reason,
            )
        )
    boundary = connection.execute(select(_LOG.c.hash).where(_LOG.c.seq == span.last)).scalar_one()
    return _Span(span.base_seq, span.base_hash, span.last, bytes(boundary))


# -- writing the archive ------------------------------------------------------------------------


def _write_archive(
    connection: Connection,
    keyring: KeyRing,
    span: _Span,
    before: date,
    folder: Path,
    batch: int,
) -> tuple[Path, bytes]:
    """Write the entries of ``span`` to a new archive file in ``folder``: (path, SHA-256)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"access-log-{span.first}-{span.last}.archive"
    if path.exists():
        raise _exists(path)
    try:
        digest = sealed_file.create_exclusively(
            path, lambda handle: _write(handle, connection, keyring, span, before, batch)
        )
    except FileExistsError:
        raise _exists(path) from None
    return path, digest


def _exists(path: Path) -> PurgeRefused:
    return PurgeRefused(
        _l(
            "The archive file %(name)s already exists, so nothing was removed. Check it, move "
            "it away and run the purge again.",
            name=path.name,
        )
    )


def _write(
    handle: BinaryIO,
    connection: Connection,
    keyring: KeyRing,
    span: _Span,
    before: date,
    batch: int,
) -> bytes:
    version = keyring.current
    header = {
        "format": FORMAT_VERSION,
        "chain": Chain.ACCESS.value,
        "key_version": version,
        "first_seq": span.first,
        "last_seq": span.last,
        "base_hash": span.base_hash.hex(),
        "boundary_hash": span.boundary_hash.hex(),
        "before": before.isoformat(),
        "written_at": clock.now().isoformat(),
    }
    writer = sealed_file.Writer(handle, ARCHIVE, header, keyring.archive_key(version))
    query = chain.stored_entries(Chain.ACCESS, connection.dialect.name).where(
        _LOG.c.seq > span.base_seq, _LOG.c.seq <= span.last
    )
    written, last_hash = 0, span.base_hash
    with connection.execution_options(yield_per=batch).execute(query) as result:
        for rows in result.partitions():
            written += len(rows)
            writer.write(_lines(rows))
            last_hash = bytes(rows[-1][-1])
    if written != span.count or last_hash != span.boundary_hash:
        raise PurgeRefused(_l("The access log changed while it was archived; nothing was removed."))
    return writer.finish()


def _lines(rows: Sequence[Any]) -> bytes:
    """Entries as JSON lines: their sealed fields as stored, hashes in hex."""
    return b"\n".join(_line(row) for row in rows)


def _line(row: Sequence[Any]) -> bytes:
    values = [value.hex() if isinstance(value, bytes) else value for value in row]
    entry = dict(zip(ENTRY_FIELDS, values, strict=True))
    return json.dumps(entry, separators=(",", ":")).encode("utf-8")


def _check_written(path: Path, span: _Span) -> None:
    """Read the archive back before anything is deleted; a file that does not verify is
    removed (the entries are all still in the log)."""
    result = verify_archive(path)
    header = result.header
    if (
        result.broken is None
        and header is not None
        and (header.first_seq, header.last_seq, header.boundary_hash, result.verified)
        == (span.first, span.last, span.boundary_hash, span.count)
    ):
        return
    path.unlink()
    raise PurgeRefused(
        _l(
            "The archive did not verify when read back (%(reason)s); it was deleted and nothing "
            "was removed.",
            reason=result.broken or "its content is not what was written",
        )
    )


# -- removing the entries -----------------------------------------------------------------------


def _remove(
    span: _Span, before: date, archive_name: str, archive_sha256: bytes, batch: int
) -> None:
    """In the session's transaction: move the chain's base past ``span``, delete its entries
    with the append-only guard lifted for them only, and record the purge."""
    session = db.session
    # The head row first: appenders lock it before they insert, so taking it before the
    # access log's lock cannot deadlock with them. It also fails a purge that raced another.
    moved = session.execute(
        update(_HEADS)
        .where(_HEADS.c.chain == Chain.ACCESS.value, _HEADS.c.base_seq == span.base_seq)
        .values(base_seq=span.last, base_hash=span.boundary_hash)
        .returning(_HEADS.c.base_seq)
    ).all()
    if len(moved) != 1:
        raise PurgeRefused(
            _l("Another purge moved the start of the access log meanwhile; nothing was removed.")
        )
    removed = 0
    with _guard_lifted():
        for low in range(span.base_seq, span.last, batch):
            statement = delete(_LOG).where(
                _LOG.c.seq > low, _LOG.c.seq <= min(low + batch, span.last)
            )
            removed += cast("CursorResult[Any]", session.execute(statement)).rowcount
    if removed != span.count:
        raise PurgeRefused(_l("The access log changed while it was archived; nothing was removed."))
    session.add(
        LogPurge(
            before=before,
            first_seq=span.first,
            last_seq=span.last,
            boundary_hash=span.boundary_hash,
            archive_name=archive_name,
            archive_sha256=archive_sha256,
        )
    )
    session.flush()


@contextmanager
def _guard_lifted() -> Iterator[None]:
    """The access log's guard against deletion (migration 0002) off for the enclosed
    statements, inside the session's transaction: it is back before the transaction commits,
    and a rollback brings it back too (DDL is transactional on both engines)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # Holds the table's exclusive lock until commit: no one else writes meanwhile.
        session.execute(text(f"ALTER TABLE access_log DISABLE TRIGGER {_POSTGRES_GUARD}"))
        yield
        session.execute(text(f"ALTER TABLE access_log ENABLE TRIGGER {_POSTGRES_GUARD}"))
        return
    # The trigger is recreated from its own stored SQL: exactly what migration 0002 wrote.
    created = session.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": _SQLITE_GUARD},
    )
    if created is None:
        raise PurgeRefused(
            _l("The access log's guard against deletion is missing; nothing was removed.")
        )
    session.execute(text(f"DROP TRIGGER {_SQLITE_GUARD}"))
    yield
    session.execute(text(created))


# -- verifying an archive -----------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveHeader:
    """What an archive says about itself (authenticated with every chunk)."""

    key_version: int
    first_seq: int
    last_seq: int
    #: The ``prev_hash`` of its first entry, and the hash of its last.
    base_hash: bytes
    boundary_hash: bytes
    before: date


@dataclass(frozen=True)
class ArchiveVerification:
    path: Path
    #: None when the file is not a readable archive at all.
    header: ArchiveHeader | None
    #: Entries whose place, link and seal were checked and found intact.
    verified: int
    #: Why the archive does not verify, or None.
    broken: str | None
    #: Whether its boundary hash is the database's chain base: the archive the kept log
    #: continues from (the latest one).
    is_latest: bool
    #: SHA-256 of the file (what the purge recorded in ``log_purges``).
    sha256: bytes

    @property
    def is_intact(self) -> bool:
        return self.broken is None


def verify_archive(path: Path) -> ArchiveVerification:
    """Decrypt an archive and check each entry's place, link and seal, from the header's base
    hash to its boundary hash; and whether that boundary is the database's chain base."""
    keyring = keys()
    header, broken, verified = None, None, 0
    with path.open("rb") as handle:
        reader = sealed_file.Reader(handle, ARCHIVE)
        try:
            header, bound = _read_header(reader)
            for _seq in _checked_entries(reader, keyring, header, bound):
                verified += 1
        except Broken as failure:
            broken = failure.reason
        reader.drain()
    is_latest = header is not None and header.boundary_hash == _database_base()
    return ArchiveVerification(path, header, verified, broken, is_latest, reader.digest.digest())


def _read_header(reader: sealed_file.Reader) -> tuple[ArchiveHeader, bytes]:
    """The header, and the digest of everything before the first chunk (which chunks bind)."""
    fields, bound = reader.header()
    try:
        header = ArchiveHeader(
            key_version=int(fields["key_version"]),
            first_seq=int(fields["first_seq"]),
            last_seq=int(fields["last_seq"]),
            base_hash=bytes.fromhex(fields["base_hash"]),
            boundary_hash=bytes.fromhex(fields["boundary_hash"]),
            before=date.fromisoformat(fields["before"]),
        )
        layout = (fields["format"], fields["chain"])
    except (ValueError, KeyError, TypeError):
        raise Broken("its header is damaged") from None
    if layout != (FORMAT_VERSION, Chain.ACCESS.value):
        raise Broken("written in a format this version does not read")
    return header, bound


def _checked_entries(
    reader: sealed_file.Reader, keyring: KeyRing, header: ArchiveHeader, bound: bytes
) -> Iterator[int]:
    """Check every entry, yielding the seq of each found intact, up to the first break."""
    try:
        key = keyring.archive_key(header.key_version)
    except KeyRingError:
        raise Broken(
            f"encrypted with key version {header.key_version}, not in the key ring"
        ) from None
    expected_seq, expected_prev = header.first_seq, header.base_hash
    for plain in reader.chunks(key, bound):
        for line in plain.split(b"\n"):
            seq, own = _check_entry(keyring, line, expected_seq, expected_prev)
            yield seq
            expected_seq, expected_prev = seq + 1, own
    if expected_seq - 1 != header.last_seq or expected_prev != header.boundary_hash:
        raise Broken(f"it ends at entry {expected_seq - 1}, not at its boundary {header.last_seq}")


def _check_entry(
    keyring: KeyRing, line: bytes, expected_seq: int, expected_prev: bytes
) -> tuple[int, bytes]:
    """One entry's place, link and seal: (its seq, its hash)."""
    try:
        entry = json.loads(line)
        values = [entry[name] for name in chain.ACCESS_FIELDS]
        seq, version = int(entry["seq"]), int(entry["key_version"])
        prev, own = bytes.fromhex(entry["prev_hash"]), bytes.fromhex(entry["hash"])
    except (ValueError, KeyError, TypeError):
        raise Broken(f"entry {expected_seq} cannot be read") from None
    if seq != expected_seq:
        raise Broken(f"entry {expected_seq} is missing: the sequence has a gap")
    if prev != expected_prev:
        raise Broken(f"entry {seq} does not follow the entry before it")
    try:
        key = keyring.seal_key(version, Chain.ACCESS.value)
    except KeyRingError:
        raise Broken(f"entry {seq} is sealed with unknown key version {version}") from None
    if not hmac.compare_digest(chain.seal(key, values, prev), own):
        raise Broken(f"entry {seq}: its content does not match its seal")
    return seq, own


def _database_base() -> bytes:
    with db.engine.connect() as connection:
        connection = connection.execution_options(read_only=True)
        base = connection.execute(
            select(_HEADS.c.base_hash).where(_HEADS.c.chain == Chain.ACCESS.value)
        ).scalar_one()
    return bytes(base)
