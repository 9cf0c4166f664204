"""Backup and restore (issue 10, "Faults"): a backup taken through the command restores into a
fresh, empty database with every row, the patients decrypting as they were and both journal
chains intact; a backup reveals nothing in clear, opens only with its key ring, and a damaged
one is refused before the database is touched. Run on the engine of the test run (SQLite, or
PostgreSQL through the real pg_dump and pg_restore)."""

from __future__ import annotations

import stat
import struct
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import column, create_engine, func, inspect, select, table
from sqlalchemy.engine import make_url

from coordinator.backup import postgres
from coordinator.backup.service import BACKUP, MAGIC
from coordinator.cli import main
from coordinator.config import PROJECT_ROOT
from coordinator.crypto import sealed_file
from coordinator.crypto.keys import KeyRing, MasterKey
from coordinator.crypto.runtime import write_canary
from coordinator.extensions import db
from coordinator.journal import retention
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, CaseJournalEntry, Chain, ChainHead, EntryKind
from coordinator.patients.models import Patient
from tests.conftest import World, make_app
from tests.crypto.support import SEALED_COLUMNS, actor_for, running
from tests.databases import DatabaseFactory, is_postgres
from tests.factories import PatientFactory
from tests.journal.support import NOTES, sql, write_history

ENGINE = "postgresql" if is_postgres() else "sqlite"
HEAD = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()
#: When the backups of these tests are taken.
TAKEN_AT = datetime(2031, 6, 15, 12, 0, tzinfo=UTC)
DOES_NOT_DECRYPT = (
    "does not decrypt: the file was altered, its parts reordered or cut, or it was written "
    "with other keys"
)


def _run(env: Mapping[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=dict(env), catch_exceptions=False)


def _tables(url: str) -> dict[str, int]:
    """Rows per table, counted with plain SQLAlchemy (not through the code under test); an
    SQLite database that was never created has none (looking does not create it)."""
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return {}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            return {
                name: connection.scalar(select(func.count()).select_from(table(name))) or 0
                for name in names
            }
    finally:
        engine.dispose()


def _work_folders(url: str, tmp_path: Path) -> list[Path]:
    """The restore's private folders left behind: beside an SQLite database, or in the
    instance folder for PostgreSQL's dump."""
    if url.startswith("sqlite"):
        folder = Path(make_url(url).database or "").parent
    else:
        folder = tmp_path / "restored-instance"
    return list(folder.glob(".coordinator-backup-*"))


@pytest.fixture
def fresh(databases: DatabaseFactory) -> Iterator[str]:
    """A new, empty database: no tables at all."""
    url = databases.empty()
    yield url
    databases.drop(url)


@pytest.fixture
def data(app: Flask, world: World) -> World:
    """The world, three signed journal entries and five access-log entries, built through the
    services, and a third patient."""
    with app.app_context():
        write_history(world)
        PatientFactory(unit_id=world.unit_b.id, first_name="Nio", last_name="Niosson")
        db.session.remove()
    return world


def _restore_env(command_env: Mapping[str, str], url: str, tmp_path: Path) -> dict[str, str]:
    """The command's environment for another database (and instance folder), same keys."""
    return {
        **command_env,
        "DATABASE_URL": url,
        "COORDINATOR_INSTANCE": str(tmp_path / "restored-instance"),
    }


def _backup(env: Mapping[str, str], *args: str) -> Path:
    with time_machine.travel(TAKEN_AT, tick=False):
        result = _run(env, "backup", *args)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.splitlines()[0].removeprefix("Backup: ").rsplit(" (", 1)[0])


def _heads(app: Flask) -> dict[Chain, tuple[int, bytes]]:
    with app.app_context():
        heads = {h.chain: (h.seq, h.hash) for h in db.session.scalars(select(ChainHead))}
        db.session.remove()
    return heads


# -- the round trip -----------------------------------------------------------------------------


def test_a_backup_restored_into_an_empty_database_holds_every_row_and_verifies(
    app: Flask,
    data: World,
    command_env: dict[str, str],
    database_url: str,
    fresh: str,
    tmp_path: Path,
) -> None:
    heads = _heads(app)

    with time_machine.travel(TAKEN_AT, tick=False):
        backed_up = _run(command_env, "backup")

    assert backed_up.exit_code == 0, backed_up.output
    folder = Path(command_env["COORDINATOR_INSTANCE"]) / "backups"
    path = folder / f"coordinator-{ENGINE}-20310615T120000Z.backup"
    assert backed_up.stdout.splitlines() == [
        f"Backup: {path} ({path.stat().st_size} bytes)",
        f"{ENGINE} database at schema revision {HEAD}, encrypted with key version 1",
        "patients: 3, case-journal entries: 3, access-log entries: 5",
        f"access chain head: entry 5, hash {heads[Chain.ACCESS][1].hex()}",
        f"case chain head: entry 3, hash {heads[Chain.CASE][1].hex()}",
    ]
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _tables(fresh) == {}

    target = _restore_env(command_env, fresh, tmp_path)
    restored = _run(target, "restore", str(path))

    assert restored.exit_code == 0, restored.output
    counts = _tables(database_url)
    assert restored.stdout.splitlines() == [
        f"Restored {path}: {ENGINE} database at schema revision {HEAD}, written "
        f"{TAKEN_AT.isoformat()}, key version 1; every part verified.",
        "patients: 3, case-journal entries: 3, access-log entries: 5",
        f"All {len(counts)} tables hold the rows the backup recorded.",
        "access: 5 entries verified, chain intact",
        "case: 3 entries verified, chain intact",
        "Every encrypted value is sealed with an active key version.",
    ]
    assert _tables(fresh) == counts
    if not is_postgres():
        assert stat.S_IMODE(Path(make_url(fresh).database or "").stat().st_mode) == 0o600
    assert (counts["patients"], counts["users"], counts["care_units"]) == (3, 4, 2)
    with running(make_app(fresh, tmp_path / "reader")):
        patient = db.session.get(Patient, data.patient_a.id)
        assert patient is not None
        assert (patient.personnummer, patient.first_name, patient.last_name, patient.unit_id) == (
            "194107086995",
            "Tolvan",
            "Tolvansson",
            data.unit_a.id,
        )
        entries = db.session.scalars(select(CaseJournalEntry).order_by(CaseJournalEntry.seq))
        assert [(e.heading, e.body) for e in entries] == list(NOTES)
        restored_heads = {h.chain: (h.seq, h.hash) for h in db.session.scalars(select(ChainHead))}
        assert restored_heads == heads
    verified = _run(target, "verify-journal")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.splitlines() == [
        "access: 5 entries verified, chain intact",
        "case: 3 entries verified, chain intact",
    ]


def test_a_backup_reveals_nothing_in_clear(
    data: World, command_env: dict[str, str], tmp_path: Path
) -> None:
    """Field encryption hides the patients in any copy of the database; the backup's own
    encryption hides the rest, such as the care units' and users' names (kept in clear in
    the database) and the journal's structure."""
    path = _backup(command_env, "--output", str(tmp_path / "nightly.backup"))

    raw = path.read_bytes()
    secrets = [
        "194107086995", "410708-6995", "Tolvan", "Tolvansson", "Elvasson", "Niosson",
        "Vårdcentralen Norr", "Vårdcentralen Söder", "koord.a", "chef",
        *(text for note in NOTES for text in note),
    ]  # fmt: skip
    for secret in secrets:
        assert secret.encode("utf-8") not in raw, secret
    for structure in (b"CREATE TABLE", b"SQLite format 3", b"PGDMP"):
        assert structure not in raw, structure
    assert raw.startswith(MAGIC)


def test_a_backup_taken_while_another_thread_writes_is_consistent(
    app: Flask, data: World, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    """A coordinator keeps writing to the journal and the access log (committing each entry)
    from before the backup starts until after it ends; the backup holds some prefix of both
    chains, whole, and restores to chains that verify."""
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def keep_writing() -> None:
        with app.app_context():
            try:
                actor = actor_for(data.coordinator_a, data.unit_a, request_id="writer")
                patient = db.session.get(Patient, data.patient_a.id)
                assert patient is not None
                while not stop.is_set():
                    journal.add_entry(actor, patient, EntryKind.NOTE, "Samtal", "Uppföljning.")
                    journal.record_access(actor, patient, AccessAction.READ)
                    db.session.commit()
                    written.append(1)
                    if len(written) == 3:
                        started.set()
            except BaseException as failure:
                failures.append(failure)
                started.set()
            finally:
                db.session.remove()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert started.wait(timeout=120)
        before = len(written)
        backed_up = _run(command_env, "backup", "--output", str(tmp_path / "busy.backup"))
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert backed_up.exit_code == 0, backed_up.output
    # Each round adds one journal entry and two access-log entries (its CREATE and a READ).
    counts = backed_up.stdout.splitlines()[2]
    rounds = [
        n for n in range(before, len(written) + 1)
        if counts == f"patients: 3, case-journal entries: {3 + n}, access-log entries: {5 + 2 * n}"
    ]  # fmt: skip
    assert len(rounds) == 1, counts

    target = _restore_env(command_env, fresh, tmp_path)
    restored = _run(target, "restore", str(tmp_path / "busy.backup"))

    assert restored.exit_code == 0, restored.output
    assert restored.stdout.splitlines()[-3:-1] == [
        f"access: {5 + 2 * rounds[0]} entries verified, chain intact",
        f"case: {3 + rounds[0]} entries verified, chain intact",
    ]


# -- refusals -----------------------------------------------------------------------------------


def _first_part_at(path: Path) -> int:
    """Where the first chunk's ciphertext begins (after the header, its frame and nonce)."""
    (length,) = struct.unpack(">I", path.read_bytes()[len(MAGIC) : len(MAGIC) + 4])
    return len(MAGIC) + 4 + length + 5 + 12


def _damaged(path: Path, damage: str) -> Path:
    """A copy of the backup at ``path`` with one kind of damage."""
    content = bytearray(path.read_bytes())
    if damage == "one byte flipped":
        content[_first_part_at(path) + 3] ^= 0x01
    elif damage == "end cut off":
        del content[-1]
    else:  # the header is in clear, but every part binds it
        content = bytearray(content.replace(b'"patients": 3', b'"patients": 4', 1))
    copy = path.with_name(damage.replace(" ", "-") + ".backup")
    copy.write_bytes(bytes(content))
    return copy


def test_a_damaged_backup_is_refused_and_the_database_is_untouched(
    data: World, command_env: dict[str, str], databases: DatabaseFactory, tmp_path: Path
) -> None:
    backup = _backup(command_env, "--output", str(tmp_path / "good.backup"))
    target_url = databases.copy_of_template()  # an initialised database, replaced with --yes
    target = _restore_env(command_env, target_url, tmp_path)
    try:
        before = _tables(target_url)
        for damage, reason in (
            ("one byte flipped", f"part 1 {DOES_NOT_DECRYPT}"),
            ("end cut off", "the backup is cut: its end is missing"),
            ("header changed", f"part 1 {DOES_NOT_DECRYPT}"),
        ):
            path = _damaged(backup, damage)

            refused = _run(target, "restore", str(path), "--yes")

            assert refused.exit_code == 1, damage
            assert refused.stdout == ""
            assert refused.stderr == (
                f"Error: {path} does not verify: {reason}. The database was not touched.\n"
            )
            assert _tables(target_url) == before
            assert _work_folders(target_url, tmp_path) == []
    finally:
        databases.drop(target_url)


def test_a_backup_opens_only_with_the_key_ring_that_wrote_it(
    data: World, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    path = _backup(command_env, "--output", str(tmp_path / "keyed.backup"))
    target = _restore_env(command_env, fresh, tmp_path)
    for keyring, reason in (
        (KeyRing.generate(), f"does not verify: part 1 {DOES_NOT_DECRYPT}."),
        (
            KeyRing([MasterKey(2, bytes(range(32)))]),
            "was encrypted with key version 1, which is not in the key ring: restore needs "
            "the key file the backup was written with.",
        ),
    ):
        other_keys = {**target, "COORDINATOR_ENCRYPTION_KEYS": keyring.dumps()}

        refused = _run(other_keys, "restore", str(path))

        assert refused.exit_code == 1
        assert refused.stderr == f"Error: {path} {reason} The database was not touched.\n"
        assert _tables(fresh) == {}


def test_a_backup_restored_with_its_key_version_retired_says_its_values_do_not_open(
    app: Flask, data: World, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    """The key file after a rotation still opens the backup (retired versions open backups
    and verify seals) but no longer decrypts the fields sealed before it: the restore says so
    and exits 1, rather than leave a database whose patients fail to open."""
    path = _backup(command_env, "--output", str(tmp_path / "before-rotation.backup"))
    with app.app_context():
        sealed = sum(
            db.session.scalar(
                select(func.count())
                .select_from(table(sealed_table))
                .where(column(name).is_not(None))
            )
            or 0
            for sealed_table, names in SEALED_COLUMNS.items()
            for name in names
        )
        db.session.remove()
    rotated = KeyRing.parse(command_env["COORDINATOR_ENCRYPTION_KEYS"], source="test")
    rotated = rotated.with_new_version().with_retired([1])
    after_rotation = {
        **_restore_env(command_env, fresh, tmp_path),
        "COORDINATOR_ENCRYPTION_KEYS": rotated.dumps(),
    }

    restored = _run(after_rotation, "restore", str(path))

    assert restored.exit_code == 1
    assert restored.stdout.splitlines()[-1] == (
        f"Values sealed with key versions this key ring has retired or lacks (v1: {sealed}) do "
        "not open: use the key file from when the backup was taken (docs/backup.md)."
    )
    assert sealed >= 3 * 3 + 3 * 2  # three patients' names and numbers, three notes


def test_a_database_with_data_is_replaced_only_with_yes(
    app: Flask, data: World, command_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """Restoring over the live database: refused without --yes; with it, a patient
    registered after the backup is gone and every table is as the backup recorded."""
    path = _backup(command_env, "--output", str(tmp_path / "before.backup"))
    at_backup = _tables(database_url)
    with app.app_context():
        PatientFactory(unit_id=data.unit_a.id, first_name="Tio", last_name="Tiosson")
        db.session.remove()
    now = _tables(database_url)

    refused = _run(command_env, "restore", str(path))

    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: The database already holds data (4 patients, {sum(now.values())} rows in all). "
        "Restoring replaces all of it: run again with --yes if that is what you want. The "
        "database was not touched.\n"
    )
    assert _tables(database_url) == now

    with app.app_context():
        db.engine.dispose()  # the app stops
    replaced = _run(command_env, "restore", str(path), "--yes")

    assert replaced.exit_code == 0, replaced.output
    assert replaced.stdout.splitlines()[1] == (
        "patients: 3, case-journal entries: 3, access-log entries: 5"
    )
    assert _tables(database_url) == at_backup


@pytest.mark.skipif(is_postgres(), reason="SQLite: the database file is replaced")
def test_an_sqlite_database_in_use_is_not_replaced(
    app: Flask, data: World, command_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    path = _backup(command_env, "--output", str(tmp_path / "in-use.backup"))
    before = _tables(database_url)
    with app.app_context(), db.engine.connect() as running_app:
        running_app.exec_driver_sql("SELECT count(*) FROM patients").all()

        refused = _run(command_env, "restore", str(path), "--yes")

    assert refused.exit_code == 1
    database = make_url(database_url).database
    assert refused.stderr == (
        f"Error: The database {database} is in use: stop the app (every instance and worker) and "
        "run the restore again. The database was not touched.\n"
    )
    assert _tables(database_url) == before


def test_a_backup_of_a_newer_schema_is_refused(
    app: Flask, data: World, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    """A later version of Coordinator has migrated the database further than this one knows."""
    with app.app_context():
        sql("UPDATE alembic_version SET version_num = '9999'")
        db.session.remove()
    path = _backup(command_env, "--output", str(tmp_path / "newer.backup"))

    refused = _run(_restore_env(command_env, fresh, tmp_path), "restore", str(path))

    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: The backup is of schema revision 9999, which this version of Coordinator does "
        f"not know (it is at {HEAD}): it was written by a newer version. Install that version "
        "(or a later one) to restore it. The database was not touched.\n"
    )
    assert _tables(fresh) == {}


def test_a_backup_of_an_older_schema_is_restored_and_then_upgraded_by_init(
    databases: DatabaseFactory, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    older = "0007"
    source = databases.empty()
    try:
        with running(make_app(source, tmp_path / "old-instance")):
            upgrade(revision=older)
            write_canary()
            db.session.commit()
        old = {**command_env, "DATABASE_URL": source}
        path = _backup(old, "--output", str(tmp_path / "old.backup"))
    finally:
        databases.drop(source)
    target = _restore_env(command_env, fresh, tmp_path)

    restored = _run(target, "restore", str(path))

    assert restored.exit_code == 0, restored.output
    assert restored.stdout.splitlines()[-1] == (
        f"This version of Coordinator is at schema revision {HEAD}: run `coordinator init` to "
        "upgrade the database, then `coordinator verify-journal`."
    )
    assert _run(target, "init").exit_code == 0
    verified = _run(target, "verify-journal")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.splitlines() == [
        "access: 0 entries verified, chain intact",
        "case: 0 entries verified, chain intact",
    ]


def test_an_access_log_archive_is_not_a_backup_nor_a_backup_an_archive(
    app: Flask, data: World, command_env: dict[str, str], fresh: str, tmp_path: Path
) -> None:
    backup = _backup(command_env, "--output", str(tmp_path / "real.backup"))
    archive = tmp_path / "access-log-1-5.archive"
    with archive.open("wb") as handle:
        writer = sealed_file.Writer(handle, retention.ARCHIVE, {"format": 1}, bytes(32))
        writer.finish()

    as_backup = _run(_restore_env(command_env, fresh, tmp_path), "restore", str(archive))
    with app.app_context():
        as_archive = retention.verify_archive(backup)

    assert as_backup.exit_code == 1
    assert as_backup.stderr == (
        f"Error: {archive} does not verify: not a Coordinator backup. The database was not "
        "touched.\n"
    )
    assert (as_archive.broken, as_archive.header) == ("not an access-log archive", None)
    assert BACKUP.magic != retention.ARCHIVE.magic


def test_an_existing_file_is_never_overwritten(
    data: World, command_env: dict[str, str], tmp_path: Path
) -> None:
    existing = tmp_path / "kept.backup"
    existing.write_bytes(b"yesterday's backup")

    refused = _run(command_env, "backup", "--output", str(existing))

    assert refused.exit_code == 1
    assert refused.stderr == f"Error: {existing} already exists: choose another file.\n"
    assert existing.read_bytes() == b"yesterday's backup"


def test_a_failed_backup_leaves_no_file(
    data: World, command_env: dict[str, str], tmp_path: Path
) -> None:
    """PostgreSQL: pg_dump fails (a program that exits 1 in its place, through the setting);
    SQLite: the database file is gone."""
    if is_postgres():
        failing = {**command_env, "COORDINATOR_PG_DUMP": "/bin/false"}
        message = "pg_dump failed (exit 1): no message"
    else:
        missing = tmp_path / "gone.db"
        failing = {**command_env, "DATABASE_URL": f"sqlite:///{missing}"}
        message = f"The database file {missing} does not exist."
    folder = tmp_path / "backups"

    failed = _run(failing, "backup", "--output", str(folder / "failed.backup"))

    assert failed.exit_code == 1
    assert failed.stderr == f"Error: {message}\n"
    assert list(folder.iterdir()) == []


# -- the PostgreSQL tools' connection -----------------------------------------------------------


def test_the_password_reaches_pg_dump_only_through_its_environment() -> None:
    url = make_url(
        "postgresql+psycopg://backup:s3cret@db.internal:5433/coordinator?sslmode=require"
    )

    environment = postgres.environment(url)

    assert {
        "PGHOST": "db.internal",
        "PGPORT": "5433",
        "PGUSER": "backup",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "coordinator",
        "PGSSLMODE": "require",
    }.items() <= environment.items()
    assert postgres.tool("pg_dump", "/opt/pg/bin/pg_dump") == "/opt/pg/bin/pg_dump"
