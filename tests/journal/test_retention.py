"""Access-log retention: purges younger than the retention time are refused; older entries go
to an encrypted archive that verifies on its own, and the kept chain verifies from the
archive's boundary."""

from __future__ import annotations

import hashlib
import stat
import struct
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from coordinator import clock
from coordinator.crypto import keys
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import chain, retention
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, Chain, ChainHead, LogPurge
from coordinator.journal.retention import PurgeRefused, RetentionRefused
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.databases import is_postgres
from tests.journal.support import ALTERED, sql, without_guards


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on the Swedish clock."""
    return datetime(year, month, day, hour, minute, tzinfo=clock.LOCAL_ZONE)


#: When each access-log entry of the fixed history is written, by seq. Entry 4 is the first
#: not older than 2026-06-15 (it is that day's first instant); entry 5 is older again (a
#: clock set back), so the first purge must stop before it.
WRITTEN_AT = {
    1: local(2026, 1, 10),
    2: local(2026, 3, 2, 9),
    3: local(2026, 6, 14, 23, 30),
    4: local(2026, 6, 15, 0, 0),
    5: local(2026, 2, 1),
    6: local(2031, 6, 1),
    7: local(2031, 6, 14),
}
#: The day the purges are run on, and the latest ``before`` each allows with 5 years.
TODAY = date(2031, 6, 15)
LATER = date(2031, 12, 1)

#: The exact SQL of the SQLite guard, as migration 0002 creates it.
SQLITE_GUARD = (
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
)


@pytest.fixture
def context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def history(context: None, world: World) -> dict[int, bytes]:
    """Access-log entries 1-7 written at WRITTEN_AT; returns each entry's hash by seq."""
    people = {
        1: (world.coordinator_a, world.unit_a, world.patient_a, AccessAction.READ),
        2: (world.coordinator_b, world.unit_b, world.patient_b, AccessAction.READ),
        3: (world.coordinator_a, world.unit_a, world.patient_a, AccessAction.CHANGE),
    }
    for seq, moment in WRITTEN_AT.items():
        user, unit, patient_ref, action = people.get(seq, people[1])
        with time_machine.travel(moment, tick=False):
            actor = actor_for(user, unit, request_id=f"retention-{seq}")
            patient = db.session.get(Patient, patient_ref.id)
            assert patient is not None
            journal.record_access(actor, patient, action)
            db.session.commit()
    hashes = {
        seq: own for seq, own in db.session.execute(select(AccessLogEntry.seq, AccessLogEntry.hash))
    }
    db.session.rollback()
    assert sorted(hashes) == [1, 2, 3, 4, 5, 6, 7]
    return hashes


def _seqs() -> list[int]:
    seqs = list(db.session.scalars(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq)))
    db.session.rollback()
    return seqs


def _base() -> tuple[int, bytes]:
    row = db.session.execute(
        select(ChainHead.base_seq, ChainHead.base_hash).where(ChainHead.chain == Chain.ACCESS)
    ).one()
    db.session.rollback()
    return row[0], row[1]


def _access_chain() -> tuple[int, int, chain.Break | None]:
    access = journal.verify_all()[0]
    assert access.chain is Chain.ACCESS
    return access.base_seq, access.verified, access.broken


def _purges() -> int:
    count = db.session.scalar(select(func.count()).select_from(LogPurge))
    db.session.rollback()
    return count or 0


# -- the retention time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "years", "latest"),
    [
        (date(2031, 6, 15), 5, date(2026, 6, 15)),
        (date(2031, 6, 15), 7, date(2024, 6, 15)),
        (date(2032, 2, 29), 5, date(2027, 2, 28)),  # no 29 February in 2027
        (date(2032, 2, 29), 8, date(2024, 2, 29)),  # a leap year again
        (date(2031, 1, 1), 5, date(2026, 1, 1)),
    ],
)
def test_the_latest_date_allowed_is_the_retention_in_calendar_years(
    today: date, years: int, latest: date
) -> None:
    assert retention.latest_allowed_before(today, years) == latest


def test_a_purge_younger_than_the_retention_is_refused_and_changes_nothing(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    archives = tmp_path / "archives"

    with pytest.raises(RetentionRefused) as refused:
        retention.purge(date(2026, 6, 16), archives, TODAY)
    db.session.rollback()

    assert "2026-06-15" in str(refused.value.message)
    assert "2026-06-16" in str(refused.value.message)
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert _base() == (0, bytes(32))
    assert (_purges(), archives.exists()) == (0, False)


def test_the_last_day_the_retention_allows_is_accepted(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    report = retention.purge(date(2026, 6, 15), tmp_path / "archives", TODAY)

    assert (report.removed, report.first_seq, report.last_seq) == (3, 1, 3)


def test_a_longer_configured_retention_moves_the_limit(
    app: Flask, history: dict[int, bytes], tmp_path: Path
) -> None:
    app.config["ACCESS_LOG_RETENTION_YEARS"] = 7

    with pytest.raises(RetentionRefused) as refused:
        retention.purge(date(2026, 6, 15), tmp_path, TODAY)
    db.session.rollback()

    assert "2024-06-15" in str(refused.value.message)
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]


# -- the command --------------------------------------------------------------------------------


def _cli(app: Flask, *args: str, on: date = TODAY) -> Result:
    with time_machine.travel(local(on.year, on.month, on.day, 12), tick=False):
        return app.test_cli_runner().invoke(args=list(args))


def test_the_command_refuses_a_date_younger_than_the_retention(
    app: Flask, history: dict[int, bytes], tmp_path: Path
) -> None:
    archives = tmp_path / "archives"

    result = _cli(app, "purge-logs", "--before", "2026-06-16", "--archive-dir", str(archives))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "2026-06-15" in result.stderr
    assert "2026-06-16" in result.stderr
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert (_base(), _purges(), archives.exists()) == ((0, bytes(32)), 0, False)


def test_the_command_purges_up_to_the_last_day_allowed_and_prints_the_archive(
    app: Flask, history: dict[int, bytes], tmp_path: Path
) -> None:
    archives = tmp_path / "archives"

    result = _cli(app, "purge-logs", "--before", "2026-06-15", "--archive-dir", str(archives))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Archived and removed 3 access-log entries (1–3) recorded before 2026-06-15.",
        f"Archive: {archives / 'access-log-1-3.archive'}",
        f"Boundary hash: {history[3].hex()}",
    ]
    assert _seqs() == [4, 5, 6, 7]

    checked = _cli(app, "verify-archive", str(archives / "access-log-1-3.archive"))

    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines() == [
        f"{archives / 'access-log-1-3.archive'}: access-log entries 1–3 recorded before "
        "2026-06-15, key version 1",
        f"3 entries verified, chain intact from base {'00' * 32} to boundary {history[3].hex()}",
        "The boundary is the database's chain base: the kept log continues from it.",
    ]


def test_the_command_archives_into_the_instance_folder_by_default(
    app: Flask, history: dict[int, bytes]
) -> None:
    result = _cli(app, "purge-logs", "--before", "2026-06-15")

    assert result.exit_code == 0, result.output
    folder = Path(app.instance_path) / "log-archives"
    assert [p.name for p in folder.iterdir()] == ["access-log-1-3.archive"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_command_reports_when_nothing_is_old_enough(
    app: Flask, history: dict[int, bytes], tmp_path: Path
) -> None:
    result = _cli(app, "purge-logs", "--before", "2026-01-10", "--archive-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "No access-log entries recorded before 2026-01-10 are left: nothing was removed."
    ]
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert (_purges(), list(tmp_path.iterdir())) == (0, [])


def test_the_command_exits_1_for_a_broken_archive(
    app: Flask, history: dict[int, bytes], tmp_path: Path
) -> None:
    report = retention.purge(date(2026, 6, 15), tmp_path, TODAY)
    assert report.archive is not None
    _flip_byte(report.archive, -5)

    result = _cli(app, "verify-archive", str(report.archive))

    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "BROKEN: part 1 does not decrypt: the file was altered, its parts reordered or cut, "
        "or it was written with other keys (0 entries before it verified)"
    )


# -- the round trip -----------------------------------------------------------------------------


def test_purged_entries_go_to_the_archive_and_the_kept_chain_verifies_from_its_boundary(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    archives = tmp_path / "archives"
    assert _access_chain() == (0, 7, None)

    report = retention.purge(date(2026, 6, 15), archives, TODAY)

    path = archives / "access-log-1-3.archive"
    assert report == retention.PurgeReport(date(2026, 6, 15), 3, 1, 3, path, history[3])
    # The old ones are gone, from the first entry not older (4) on everything is kept.
    assert _seqs() == [4, 5, 6, 7]
    assert _base() == (3, history[3])
    assert _access_chain() == (3, 4, None)
    assert stat.S_IMODE(archives.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in archives.iterdir()] == [path.name]

    checked = retention.verify_archive(path)

    assert (checked.is_intact, checked.broken, checked.verified) == (True, None, 3)
    assert checked.header == retention.ArchiveHeader(
        key_version=1,
        first_seq=1,
        last_seq=3,
        base_hash=bytes(32),
        boundary_hash=history[3],
        before=date(2026, 6, 15),
    )
    assert checked.is_latest is True
    purge = db.session.scalars(select(LogPurge)).one()
    assert (purge.before, purge.first_seq, purge.last_seq) == (date(2026, 6, 15), 1, 3)
    assert (purge.boundary_hash, purge.archive_name) == (history[3], path.name)
    assert purge.archive_sha256 == hashlib.sha256(path.read_bytes()).digest() == checked.sha256


def test_the_archive_reveals_nothing_in_clear(history: dict[int, bytes], tmp_path: Path) -> None:
    report = retention.purge(date(2026, 6, 15), tmp_path, TODAY)
    assert report.archive is not None

    data = report.archive.read_bytes()

    for clear in (b"patient_id", b"user_id", b"request_id", b"retention-1", b"read", b"change",
                  b"194107086995", b"198112289874", b"2026-01-10"):  # fmt: skip
        assert clear not in data, clear
    # What is in clear: the format, the span and its two hashes, for finding the right file.
    assert history[3].hex().encode() in data


def test_a_second_purge_continues_from_the_boundary(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    first = retention.purge(date(2026, 6, 15), tmp_path, TODAY)

    second = retention.purge(date(2026, 12, 1), tmp_path, LATER)

    # 4 and 5 are older than 2026-12-01 (5 was written with the clock set back); 6 is not.
    assert (second.removed, second.first_seq, second.last_seq) == (2, 4, 5)
    assert second.boundary_hash == history[5]
    assert _seqs() == [6, 7]
    assert _base() == (5, history[5])
    assert _access_chain() == (5, 2, None)
    assert first.archive is not None
    assert second.archive is not None
    older, newer = retention.verify_archive(first.archive), retention.verify_archive(second.archive)
    assert (older.is_intact, older.verified, older.is_latest) == (True, 3, False)
    assert (newer.is_intact, newer.verified, newer.is_latest) == (True, 2, True)
    assert newer.header is not None
    assert older.header is not None
    assert newer.header.base_hash == older.header.boundary_hash == history[3]
    assert _purges() == 2


def test_nothing_old_enough_changes_nothing(history: dict[int, bytes], tmp_path: Path) -> None:
    report = retention.purge(date(2026, 1, 10), tmp_path / "archives", TODAY)

    assert report == retention.PurgeReport(date(2026, 1, 10), 0)
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert (_base(), _purges(), (tmp_path / "archives").exists()) == ((0, bytes(32)), 0, False)


def test_the_whole_log_can_go_when_all_of_it_is_old_enough(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    report = retention.purge(date(2031, 6, 15), tmp_path, date(2036, 6, 15))

    assert (report.removed, report.first_seq, report.last_seq) == (7, 1, 7)
    assert _seqs() == []
    assert _access_chain() == (7, 0, None)


# -- refusals that protect the log --------------------------------------------------------------


def test_a_broken_chain_is_not_archived(history: dict[int, bytes], tmp_path: Path) -> None:
    without_guards("access_log")
    sql("UPDATE access_log SET request_id = 'rewritten' WHERE seq = 2")

    with pytest.raises(PurgeRefused) as refused:
        retention.purge(date(2026, 6, 15), tmp_path / "archives", TODAY)
    db.session.rollback()

    assert "2" in str(refused.value.message)
    assert ALTERED in str(refused.value.message)
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert (_base(), _purges(), (tmp_path / "archives").exists()) == ((0, bytes(32)), 0, False)


def test_an_archive_already_there_is_never_overwritten(
    history: dict[int, bytes], tmp_path: Path
) -> None:
    existing = tmp_path / "access-log-1-3.archive"
    existing.write_bytes(b"kept")

    with pytest.raises(PurgeRefused) as refused:
        retention.purge(date(2026, 6, 15), tmp_path, TODAY)
    db.session.rollback()

    assert "access-log-1-3.archive" in str(refused.value.message)
    assert existing.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == [existing.name]
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]


def test_the_base_only_moves_forward(history: dict[int, bytes], tmp_path: Path) -> None:
    retention.purge(date(2026, 6, 15), tmp_path, TODAY)

    with pytest.raises(DatabaseError) as refused:
        sql("UPDATE journal_heads SET base_seq = 0 WHERE chain = 'access'")
    db.session.rollback()

    assert "a chain base only moves forward" in str(refused.value)
    assert _base() == (3, history[3])


def test_the_delete_guard_is_back_after_a_purge(history: dict[int, bytes], tmp_path: Path) -> None:
    retention.purge(date(2026, 6, 15), tmp_path, TODAY)

    with pytest.raises(DatabaseError) as refused:
        sql("DELETE FROM access_log WHERE seq = 7")
    db.session.rollback()

    assert "access_log is append-only" in str(refused.value)
    assert _seqs() == [4, 5, 6, 7]
    if is_postgres():
        enabled = db.session.scalar(
            text("SELECT tgenabled FROM pg_trigger WHERE tgname = 'access_log_append_only'")
        )
        assert enabled == "O"
    else:
        created = db.session.scalar(
            text("SELECT sql FROM sqlite_master WHERE name = 'access_log_no_delete'")
        )
        assert created == SQLITE_GUARD
    db.session.rollback()


# -- tampering with the archive -----------------------------------------------------------------


def _flip_byte(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def _split(data: bytes) -> tuple[bytes, list[bytes]]:
    """An archive's bytes as (everything before the first chunk, the chunks with their frames)."""
    start = len(retention.MAGIC)
    (length,) = struct.unpack(">I", data[start : start + 4])
    at = start + 4 + length
    prelude, chunks = data[:at], []
    while at < len(data):
        (size,) = struct.unpack(">I", data[at + 1 : at + 5])
        end = at + 5 + 12 + size
        chunks.append(data[at:end])
        at = end
    return prelude, chunks


@pytest.fixture
def archive(history: dict[int, bytes], tmp_path: Path) -> Path:
    """Entries 1-3 archived one per chunk: three chunks, the last marked so."""
    report = retention.purge(date(2026, 6, 15), tmp_path, TODAY, batch=1)
    assert report.archive is not None
    assert len(_split(report.archive.read_bytes())[1]) == 3
    assert retention.verify_archive(report.archive).verified == 3
    return report.archive


DOES_NOT_DECRYPT = (
    "does not decrypt: the file was altered, its parts reordered or cut, or it was written "
    "with other keys"
)


def _verdict(path: Path) -> tuple[str | None, int]:
    checked = retention.verify_archive(path)
    return checked.broken, checked.verified


def test_a_changed_byte_in_an_entry_breaks_the_archive(archive: Path) -> None:
    _flip_byte(archive, -3)  # in the last chunk's ciphertext

    assert _verdict(archive) == (f"part 3 {DOES_NOT_DECRYPT}", 2)


def test_a_changed_byte_in_the_header_breaks_every_part(archive: Path) -> None:
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b'"before": "2026-06-15"', b'"before": "2026-06-16"'))

    assert _verdict(archive) == (f"part 1 {DOES_NOT_DECRYPT}", 0)


def test_parts_swapped_break_the_archive(archive: Path) -> None:
    prelude, (one, two, three) = _split(archive.read_bytes())
    archive.write_bytes(prelude + two + one + three)

    assert _verdict(archive) == (f"part 1 {DOES_NOT_DECRYPT}", 0)


def test_the_last_part_dropped_is_found(archive: Path) -> None:
    prelude, (one, two, _three) = _split(archive.read_bytes())
    archive.write_bytes(prelude + one + two)

    assert _verdict(archive) == ("the archive is cut: its end is missing", 2)


def test_a_part_marked_last_too_early_is_found(archive: Path) -> None:
    """Cutting after part 2 and setting its flag does not pass: the flag is authenticated."""
    prelude, (one, two, _three) = _split(archive.read_bytes())
    archive.write_bytes(prelude + one + b"\x01" + two[1:])

    assert _verdict(archive) == (f"part 2 {DOES_NOT_DECRYPT}", 1)


def test_a_file_cut_inside_a_part_is_found(archive: Path) -> None:
    archive.write_bytes(archive.read_bytes()[:-10])

    assert _verdict(archive) == ("the archive is cut: its end is missing", 2)


def test_an_archive_opens_with_a_retired_key_version(archive: Path) -> None:
    """Old archives stay readable after rotation: the archive key of a retired version."""
    ring = KeyRing.generate()
    retired = ring.with_new_version().with_retired([1])

    assert retired.archive_key(1) == ring.archive_key(1)
    assert ring.archive_key(1) not in {ring.seal_key(1, "access"), ring.seal_key(1, "case")}


def test_a_file_that_is_not_an_archive_is_broken(tmp_path: Path, context: None) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"just some text\n")

    checked = retention.verify_archive(other)

    assert (checked.header, checked.broken, checked.is_latest) == (
        None,
        "not an access-log archive",
        False,
    )


# -- verification's progress ------------------------------------------------------------------


def test_verification_reports_its_progress_after_every_batch(history: dict[int, bytes]) -> None:
    seen: list[int] = []
    with db.engine.connect() as connection:
        result = chain.verify(
            connection.execution_options(read_only=True),
            keys(),
            Chain.ACCESS,
            batch=3,
            progress=seen.append,
        )

    assert (result.verified, result.broken, seen) == (7, None, [3, 6, 7])


def test_verify_all_passes_progress_on_with_the_chain(history: dict[int, bytes]) -> None:
    seen: list[tuple[Chain, int]] = []

    journal.verify_all(progress=lambda which, done: seen.append((which, done)))

    assert seen == [(Chain.ACCESS, 7)]  # the case journal is empty: nothing to report
