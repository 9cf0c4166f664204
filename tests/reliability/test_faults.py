"""Faults: the database unreachable, locked, out of connections or full; a disk that refuses
the access-log archive; key files that are missing, unreadable or wrong.

The user gets a clear page (503 "temporarily unavailable", ``Retry-After``) and the log one line
naming the kind of failure — never a traceback, SQL or a value; nothing is half-written; the
same request succeeds once the fault is gone. Commands refuse with a message and a non-zero
exit code. Start-up refusals tested elsewhere: tests/crypto/test_runtime.py (no keys, a key
file others can read, one that is not JSON, keys missing a canary's version, a key equal to
the secret key), tests/crypto/test_fields.py (keys that do not open the canary),
tests/test_config.py (no or a placeholder secret key).
"""

from __future__ import annotations

import logging
import os
import resource
import secrets
import signal
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import time_machine
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from coordinator import clock
from coordinator.cli import main
from coordinator.config import ConfigurationError
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, ChainHead
from coordinator.logreview import chainstatus
from coordinator.patients.models import Patient
from tests.conftest import TEST_KEYS, World, make_app
from tests.crypto.support import actor_for
from tests.databases import DatabaseFactory, is_postgres
from tests.factories import PASSWORD
from tests.helpers import csrf_token

#: How long the app waits for a lock in these tests: short, so a held lock fails fast.
LOCK_TIMEOUT_SECONDS = 0.2

#: The page a request the database could not serve gets (errors.py), in Swedish.
UNAVAILABLE_PAGE = (
    "<h1>Tillfälligt otillgänglig</h1>\n"
    "  <p>Tjänsten är tillfälligt otillgänglig. Inget sparades. Försök igen om en stund.</p>"
)

NOTE = {"heading": "Telefon", "body": "Ringde arbetsgivaren om anpassade arbetsuppgifter."}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app as conftest builds it, but giving up on a held lock after a fifth of a second."""
    app = make_app(
        database_url,
        tmp_path / "instance",
        SQLITE_BUSY_TIMEOUT_SECONDS=LOCK_TIMEOUT_SECONDS,
        POSTGRES_LOCK_TIMEOUT_SECONDS=LOCK_TIMEOUT_SECONDS,
    )
    yield app
    chainstatus.wait_all()
    with app.app_context():
        db.engine.dispose()


# -- what the database holds, what the user and the log got -----------------------------------


def fingerprint(app: Flask) -> dict[str, Any]:
    """Rows per table and where each journal chain ends: the same before and after a request
    means the request wrote nothing at all."""
    with app.app_context():
        rows = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        heads = {
            head.chain.value: (head.seq, bytes(head.hash))
            for head in db.session.scalars(select(ChainHead))
        }
        db.session.rollback()
    return {"rows": rows, "heads": heads}


def grown(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """The tables that gained rows, and by how many."""
    return {
        name: after["rows"][name] - count
        for name, count in before["rows"].items()
        if after["rows"][name] != count
    }


def notes_and_chains(app: Flask) -> tuple[list[tuple[str, str]], bool]:
    """The journal notes as (heading, body), and whether both chains verify."""
    with app.app_context():
        notes = [
            (entry.heading, entry.body)
            for entry in db.session.scalars(select(CaseJournalEntry).order_by(CaseJournalEntry.seq))
        ]
        intact = all(result.broken is None for result in journal.verify_all())
        db.session.rollback()
    return notes, intact


def assert_unavailable_page(response: TestResponse, *, rate_limited: bool = False) -> None:
    assert response.status_code == 503
    if rate_limited:
        # Flask-Limiter puts its own Retry-After (the time left in its window) on every
        # response of a rate-limited step, this one included.
        assert response.headers["Retry-After"].isdigit()
    else:
        assert response.headers["Retry-After"] == "30"
    assert UNAVAILABLE_PAGE in response.text
    assert '<html lang="sv">' in response.text
    for internals in ("Traceback", "Error", "SQL", "sqlite", "psycopg", "locked", "disk"):
        assert internals not in response.text


def assert_logged_only(caplog: pytest.LogCaptureFixture, reason: str, *values: str) -> None:
    """The log holds one warning naming the kind of failure, and nothing more: no traceback,
    no SQL, none of the values sent."""
    warnings = [
        (record.name, record.getMessage())
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ]
    assert warnings == [("coordinator.errors", f"database unavailable ({reason}): answered 503")]
    for record in caplog.records:
        assert record.exc_info is None
        message = record.getMessage()
        for leak in ("Traceback", "SELECT", "INSERT", "UPDATE", "BEGIN", "[SQL", *values):
            assert leak not in message


def post_note(client: FlaskClient, patient_uid: str, token: str, **note: str) -> TestResponse:
    return client.post(
        f"/patients/{patient_uid}/journal", data={"csrf_token": token, **NOTE, **note}
    )


def same_browser(signed_in: FlaskClient, app: Flask) -> FlaskClient:
    """A client of ``app`` carrying ``signed_in``'s session cookie (both apps share the key)."""
    client = app.test_client()
    cookie = signed_in.get_cookie("coordinator_session")
    if cookie is not None:
        client.set_cookie("coordinator_session", cookie.value)
    return client


def _driver_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


# -- the database is locked ---------------------------------------------------------------------


@contextmanager
def lock_held(database_url: str) -> Iterator[None]:
    """Another connection holds a lock the app's next write needs, until the block ends.

    SQLite: the database's write lock (every request's transaction begins by taking it, so the
    request fails at its first statement). PostgreSQL: the access log's table, which a new
    note is logged in *after* the note itself and its journal head were written — so the
    request has written part of its change when it gives up.
    """
    if is_postgres():
        with psycopg.connect(_driver_url(database_url)) as holder:
            holder.execute("LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE")
            yield
            holder.rollback()
        return
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def test_a_locked_database_answers_503_writes_nothing_and_the_same_post_succeeds_after(
    app: Flask,
    world: World,
    coordinator_client: FlaskClient,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = csrf_token(coordinator_client)
    before = fingerprint(app)
    caplog.set_level(logging.DEBUG)

    with lock_held(database_url):
        refused = post_note(coordinator_client, world.patient_a.uid, token)

    assert_unavailable_page(refused)
    assert_logged_only(caplog, "55P03" if is_postgres() else "SQLITE_BUSY", NOTE["body"])
    assert fingerprint(app) == before

    retried = post_note(coordinator_client, world.patient_a.uid, token)

    assert retried.status_code == 302
    after = fingerprint(app)
    assert grown(before, after) == {"case_journal": 1, "access_log": 2}
    assert (after["heads"]["case"][0], after["heads"]["access"][0]) == (1, 2)
    assert notes_and_chains(app) == ([(NOTE["heading"], NOTE["body"])], True)


@pytest.mark.parametrize(
    ("configured", "sqlite_busy_timeout", "postgres_lock_timeout"),
    [
        ({}, 10000, "0"),  # the defaults: SQLite waits 10 s, PostgreSQL as long as it takes
        (
            {"SQLITE_BUSY_TIMEOUT_SECONDS": 2.5, "POSTGRES_LOCK_TIMEOUT_SECONDS": 2.5},
            2500,
            "2500ms",
        ),
    ],
)
def test_the_configured_lock_timeout_is_the_databases(
    untouched_database: str,
    tmp_path: Path,
    configured: dict[str, float],
    sqlite_busy_timeout: int,
    postgres_lock_timeout: str,
) -> None:
    app = make_app(untouched_database, tmp_path / "instance", **configured)

    with app.app_context():
        setting = "SHOW lock_timeout" if is_postgres() else "PRAGMA busy_timeout"
        value = db.session.scalar(text(setting))
        db.session.rollback()
        db.engine.dispose()

    assert value == (postgres_lock_timeout if is_postgres() else sqlite_busy_timeout)


def test_a_negative_lock_timeout_is_refused(untouched_database: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_app(untouched_database, tmp_path / "instance", POSTGRES_LOCK_TIMEOUT_SECONDS=-1)

    assert str(raised.value) == "POSTGRES_LOCK_TIMEOUT_SECONDS must not be negative."


# -- the database is unreachable ----------------------------------------------------------------


#: How the database can be out of reach, and the name the log gives the failure.
UNREACHABLE = {
    "postgresql-server-down": "connection failed",
    "sqlite-file-cannot-be-opened": "SQLITE_CANTOPEN",
}


@pytest.fixture(params=UNREACHABLE.keys())
def down(request: pytest.FixtureRequest, app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """The same installation (secret key, keys) started on a database it cannot reach: a
    PostgreSQL port nothing listens on, or an SQLite file whose folder is gone (a volume that
    is not mounted). Both kinds run whichever engine the suite runs on."""
    overrides = {"SECRET_KEY": app.config["SECRET_KEY"]}
    if request.param == "postgresql-server-down":
        with socket.socket() as closed:  # bound but never listening: connections are refused
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            url = f"postgresql://postgres@127.0.0.1:{port}/coordinator"
            down = make_app(url, tmp_path / "down-instance", **overrides)
            yield down
    else:
        url = f"sqlite:///{tmp_path / 'not-mounted' / 'coordinator.db'}"
        down = make_app(url, tmp_path / "down-instance", **overrides)
        yield down
    assert not (tmp_path / "not-mounted").exists()
    with down.app_context():
        db.engine.dispose()


def test_an_unreachable_database_answers_503_and_the_same_post_succeeds_once_it_is_back(
    app: Flask,
    down: Flask,
    request: pytest.FixtureRequest,
    world: World,
    coordinator_client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = csrf_token(coordinator_client)
    before = fingerprint(app)
    caplog.set_level(logging.DEBUG)

    refused = post_note(same_browser(coordinator_client, down), world.patient_a.uid, token)

    assert_unavailable_page(refused)
    assert_logged_only(caplog, UNREACHABLE[request.node.callspec.params["down"]], NOTE["body"])
    assert fingerprint(app) == before

    retried = post_note(coordinator_client, world.patient_a.uid, token)

    assert retried.status_code == 302
    assert grown(before, fingerprint(app)) == {"case_journal": 1, "access_log": 2}


def test_with_the_database_unreachable_sign_in_and_the_start_page_answer_503(
    app: Flask, down: Flask, request: pytest.FixtureRequest, world: World
) -> None:
    kind = request.node.callspec.params["down"]
    credentials = {"username": "koord.a", "password": PASSWORD}
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    signed_in = app.test_client()
    signed_in_token = csrf_token(signed_in)
    signed = signed_in.post("/auth/login", data={"csrf_token": signed_in_token, **credentials})
    assert signed.status_code == 302

    sign_in_form = same_browser(anonymous, down).get("/auth/login")
    sign_in = same_browser(anonymous, down).post(
        "/auth/login", data={"csrf_token": token, **credentials}
    )
    start_page = same_browser(signed_in, down).get("/")

    # The form itself needs no database; a PostgreSQL app that could not check its keys at
    # start-up checks them before its first request, and answers 503 until it can.
    if kind == "postgresql-server-down":
        assert_unavailable_page(sign_in_form)
    else:
        assert sign_in_form.status_code == 200
        assert "<h1>Logga in</h1>" in sign_in_form.text
    assert_unavailable_page(sign_in, rate_limited=True)
    assert_unavailable_page(start_page)


# -- every connection is taken ------------------------------------------------------------------


def test_with_every_connection_taken_a_request_answers_503_and_works_when_one_is_free(
    world: World, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    one_connection = {
        "pool_size": 1, "max_overflow": 0, "pool_timeout": LOCK_TIMEOUT_SECONDS,
        "hide_parameters": True,
    }  # fmt: skip
    app = make_app(database_url, tmp_path / "instance", SQLALCHEMY_ENGINE_OPTIONS=one_connection)
    client = app.test_client()
    token = csrf_token(client)
    caplog.set_level(logging.DEBUG)

    with app.app_context():
        taken = db.engine.connect()
        try:
            refused = client.post(
                "/auth/login",
                data={"csrf_token": token, "username": "koord.a", "password": PASSWORD},
            )
        finally:
            taken.close()
        db.engine.dispose()

    assert_unavailable_page(refused, rate_limited=True)
    assert_logged_only(caplog, "no free connection in the pool", PASSWORD)
    retried = client.post(
        "/auth/login", data={"csrf_token": token, "username": "koord.a", "password": PASSWORD}
    )
    assert retried.status_code == 302
    with app.app_context():
        db.engine.dispose()


# -- the disk is full ---------------------------------------------------------------------------

#: A note long enough to need new pages of an SQLite database (4 KiB each).
LONG_NOTE = {"heading": "Avstämningsmöte", "body": "Genomgång av arbetsförmågan. " * 600}


@contextmanager
def disk_full(app: Flask, database_url: str) -> Iterator[None]:
    """Writes fail for want of space until the block ends.

    SQLite: the database may not grow by a single page (``max_page_count`` pinned at its size on
    the app's connections), so the statement that needs one fails with SQLite's own "database
    or disk is full" — what a full disk gives. PostgreSQL: the server's "disk full" (SQLSTATE
    53100) at COMMIT, raised by a deferred trigger on new journal entries, so the request's
    commit itself fails after every statement went through.
    """
    if is_postgres():
        engine = create_engine(database_url)
        try:
            with engine.begin() as connection:
                connection.execute(text(_DISK_FULL_FUNCTION))
                connection.execute(text(_DISK_FULL_TRIGGER))
            yield
            with engine.begin() as connection:
                connection.execute(text("DROP TRIGGER fault_disk_full ON case_journal"))
                connection.execute(text("DROP FUNCTION fault_disk_full()"))
        finally:
            engine.dispose()
        return

    def no_more_pages(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        (pages,) = cursor.execute("PRAGMA page_count").fetchone()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    with app.app_context():
        engine = db.engine
    engine.dispose()  # the pooled connections were opened before the disk filled
    event.listen(engine, "connect", no_more_pages)
    try:
        yield
    finally:
        event.remove(engine, "connect", no_more_pages)
        engine.dispose()


_DISK_FULL_FUNCTION = """
CREATE FUNCTION fault_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END $$
"""
_DISK_FULL_TRIGGER = """
CREATE CONSTRAINT TRIGGER fault_disk_full AFTER INSERT ON case_journal
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fault_disk_full()
"""


def test_a_full_disk_answers_503_writes_nothing_and_the_same_post_succeeds_with_space_again(
    app: Flask,
    world: World,
    coordinator_client: FlaskClient,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = csrf_token(coordinator_client)
    before = fingerprint(app)
    caplog.set_level(logging.DEBUG)

    with disk_full(app, database_url):
        refused = post_note(coordinator_client, world.patient_a.uid, token, **LONG_NOTE)

    assert_unavailable_page(refused)
    assert_logged_only(caplog, "53100" if is_postgres() else "SQLITE_FULL", LONG_NOTE["body"])
    assert fingerprint(app) == before

    retried = post_note(coordinator_client, world.patient_a.uid, token, **LONG_NOTE)

    assert retried.status_code == 302
    assert grown(before, fingerprint(app)) == {"case_journal": 1, "access_log": 2}
    assert notes_and_chains(app) == ([(LONG_NOTE["heading"], LONG_NOTE["body"].strip())], True)


# -- the access-log archive cannot be written ---------------------------------------------------

#: The day the purges run on: entries from 2020 are past the five years kept.
PURGE_DAY = datetime(2031, 6, 15, 12, tzinfo=clock.LOCAL_ZONE)


@pytest.fixture
def old_entries(app: Flask, world: World) -> None:
    """Three access-log entries written in 2020 (seq 1-3), old enough to be purged."""
    with app.app_context():
        for month in (3, 6, 9):
            with time_machine.travel(datetime(2020, month, 2, 10, tzinfo=clock.LOCAL_ZONE)):
                actor = actor_for(world.coordinator_a, world.unit_a, request_id=f"2020-{month}")
                patient = db.session.get(Patient, world.patient_a.id)
                assert patient is not None
                journal.record_access(actor, patient, AccessAction.READ)
                db.session.commit()


def purge_logs(app: Flask, archive_dir: Path) -> Result:
    with time_machine.travel(PURGE_DAY, tick=False):
        return app.test_cli_runner().invoke(
            args=["purge-logs", "--before", "2021-01-01", "--archive-dir", str(archive_dir)]
        )


def access_log_seqs(app: Flask) -> list[int]:
    with app.app_context():
        seqs = list(db.session.scalars(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq)))
        db.session.rollback()
    return seqs


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file this process writes may grow past ``limit`` bytes, as on a full disk: a write
    past it fails (EFBIG, "File too large", where a full disk gives ENOSPC — the same OSError
    to the code writing)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_purge_logs_into_a_folder_that_cannot_be_made_refuses_and_removes_nothing(
    app: Flask, old_entries: None, tmp_path: Path
) -> None:
    in_the_way = tmp_path / "log-archives"
    in_the_way.write_text("a file where the archive folder's parent should be")
    folder = in_the_way / "2031"
    before = fingerprint(app)

    result = purge_logs(app, folder)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: The archive could not be written in {folder}: Not a directory. "
        "Nothing was removed.\n"
    )
    assert fingerprint(app) == before
    assert access_log_seqs(app) == [1, 2, 3]


def test_purge_logs_on_a_full_disk_refuses_leaves_no_file_and_works_with_space_again(
    app: Flask, old_entries: None, tmp_path: Path
) -> None:
    folder = tmp_path / "log-archives"
    folder.mkdir()
    before = fingerprint(app)

    with file_size_limit(256):  # less than the archive's header
        result = purge_logs(app, folder)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: The archive could not be written in {folder}: File too large. "
        "Nothing was removed.\n"
    )
    assert list(folder.iterdir()) == []
    assert fingerprint(app) == before

    again = purge_logs(app, folder)

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[:2] == [
        "Archived and removed 3 access-log entries (1–3) recorded before 2021-01-01.",
        f"Archive: {folder / 'access-log-1-3.archive'}",
    ]
    assert [path.name for path in folder.iterdir()] == ["access-log-1-3.archive"]
    assert access_log_seqs(app) == []
    assert grown(before, fingerprint(app)) == {"access_log": -3, "log_purges": 1}


# -- key trouble at start-up --------------------------------------------------------------------

#: What an intact key file is expected to look like (the parser's own words).
EXPECTED_DOCUMENT = '{"keys": [{"version": 1, "key": "<base64>", "status": "active"}]}'


def _private_file(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def _folder_in_place(instance: Path) -> None:
    (instance / "encryption_keys").mkdir(mode=0o700)


def _garbage(instance: Path) -> None:
    _private_file(instance / "encryption_keys", b"\x00\xff\xfe\x81 not a key \xc3")


def _other_keys(instance: Path) -> None:
    _private_file(instance / "encryption_keys", KeyRing.generate().dumps().encode())


def _no_file(instance: Path) -> None:
    pass


def _garbage_secret_key(instance: Path) -> None:
    _private_file(instance / "encryption_keys", TEST_KEYS.encode())
    (instance / "secret_key").unlink()
    _private_file(instance / "secret_key", b"\xff" * 64)


#: Key trouble (what the instance folder holds) and the refusal that names it; ``{folder}`` is
#: the instance folder. Unreadable for lack of permission is the folder case's path (an
#: OSError on reading); the tests run as root in CI, where mode 000 does not stop a read.
KEY_TROUBLE = {
    "key-file-is-a-folder": (
        _folder_in_place,
        "The key file {folder}/encryption_keys cannot be read: Is a directory. Restore the key "
        "file that belongs to this database, or set COORDINATOR_ENCRYPTION_KEYS.",
    ),
    "key-file-of-garbage": (
        _garbage,
        "Encryption keys unusable: {folder}/encryption_keys is not a valid key document "
        f"(JSONDecodeError); expected {EXPECTED_DOCUMENT}",
    ),
    "keys-of-another-database": (
        _other_keys,
        "The configured key version 1 does not match this database (its canary does not "
        "decrypt). Coordinator will not start with the wrong keys.",
    ),
    "key-file-missing": (
        _no_file,
        "No encryption keys: run `coordinator init` to create {folder}/encryption_keys, or set "
        "COORDINATOR_ENCRYPTION_KEYS. Coordinator never stores health data unencrypted.",
    ),
    "secret-key-file-of-garbage": (
        _garbage_secret_key,
        "The secret key file {folder}/secret_key cannot be read: it is not ASCII text. Delete "
        "it and run `coordinator init` to create a new one (everyone signed in is signed out).",
    ),
}


@pytest.fixture(scope="module")
def untouched_database(databases: DatabaseFactory) -> Iterator[str]:
    """One migrated database with its key canary, shared by the tests that only read it or
    refuse to start before they write anything."""
    url = databases.copy_of_template()
    yield url
    databases.drop(url)


@pytest.fixture(params=KEY_TROUBLE.keys())
def trouble(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """An instance folder with key trouble, and the refusal expected."""
    prepare, message = KEY_TROUBLE[request.param]
    instance = tmp_path / "troubled-instance"
    instance.mkdir(mode=0o700)
    _private_file(instance / "secret_key", secrets.token_hex(32).encode())
    prepare(instance)
    return instance, message.replace("{folder}", str(instance))


def test_the_app_refuses_to_start_with_key_trouble_and_names_it(
    trouble: tuple[Path, str], untouched_database: str
) -> None:
    instance, message = trouble

    with pytest.raises(ConfigurationError) as raised:
        make_app(untouched_database, instance, ENCRYPTION_KEYS="", SECRET_KEY="")

    assert str(raised.value) == message


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port already taken: should ``coordinator run`` start after all, it stops at once
    instead of serving for ever."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _command(instance: Path, database_url: str, *args: str) -> Result:
    environment = {
        "COORDINATOR_INSTANCE": str(instance),
        "DATABASE_URL": database_url,
        "COORDINATOR_SECRET_KEY": None,
        "COORDINATOR_ENCRYPTION_KEYS": None,
    }
    return CliRunner().invoke(main, list(args), env=environment)


def test_coordinator_run_refuses_to_start_with_key_trouble_and_names_it(
    trouble: tuple[Path, str], untouched_database: str, listening_port: int
) -> None:
    instance, message = trouble

    result = _command(instance, untouched_database, "run", "--port", str(listening_port))

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # a refusal, not a crash
    assert result.output.splitlines()[-1] == f"Error: {message}"
    assert "Traceback" not in result.output


def test_coordinator_init_refuses_key_trouble_it_cannot_mend(
    trouble: tuple[Path, str], request: pytest.FixtureRequest, untouched_database: str
) -> None:
    instance, message = trouble
    kind = request.node.callspec.params["trouble"]
    before = sorted(path.name for path in instance.iterdir())

    result = _command(instance, untouched_database, "init")

    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if kind == "key-file-missing":
        # The database holds data under keys now lost: new keys would not open it, so init
        # must not make any (before, it made a key ring and then refused to start on it).
        assert result.exit_code == 1
        assert result.output == (
            "Error: The database already holds encrypted data, but the key file "
            f"{instance}/encryption_keys is missing. Restore the key file that belongs to this "
            "database (or set COORDINATOR_ENCRYPTION_KEYS): new keys would not open its data.\n"
        )
        assert sorted(path.name for path in instance.iterdir()) == before
    else:
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == f"Error: {message}"
