"""The coordinator command: a complete installation from nothing, and its administration."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, select

from coordinator import clock, create_app, demo, demo_caseload, demo_contacts
from coordinator.auth.service import authenticate
from coordinator.cli import main
from coordinator.consents import queries as consents_queries
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentKind
from coordinator.consents.service import ConsentStatus, Recipient
from coordinator.contacts.models import ContactEvent, ContactPerson
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry, EntryKind
from coordinator.patients.caseload import latest_case_join
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient
from coordinator.patients.screening import ScreeningRules, SickLeaveSummary, Signal, signals
from tests.databases import DatabaseFactory

DEMO_PASSWORD = "demo password for tests"


@pytest.fixture
def installation(
    tmp_path: Path, databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, str]]:
    """An empty instance folder and an empty database, chosen through the environment."""
    instance = tmp_path / "installation"
    url = databases.empty()
    monkeypatch.setenv("COORDINATOR_INSTANCE", str(instance))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("COORDINATOR_SECRET_KEY", raising=False)
    monkeypatch.delenv("COORDINATOR_DEMO_PASSWORD", raising=False)
    yield instance, url
    databases.drop(url)


def _run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_init_creates_the_instance_its_key_and_the_schema(
    installation: tuple[Path, str],
) -> None:
    instance, url = installation

    result = _run("init")

    assert result.exit_code == 0, result.output
    created = [f"created {instance}", "created secret_key", "created encryption_keys"]
    if url.startswith("sqlite"):
        created.append(f"created {Path(url.removeprefix('sqlite:///')).name}")
        assert stat.S_IMODE(Path(url.removeprefix("sqlite:///")).stat().st_mode) == 0o600
    assert result.output.splitlines() == [
        *created,
        "wrote the key canary for key version 1",
        f"instance ready: {instance}",
    ]
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    encryption_keys = KeyRing.parse((instance / "encryption_keys").read_text(), source="test")
    assert stat.S_IMODE((instance / "encryption_keys").stat().st_mode) == 0o600
    assert (encryption_keys.versions, encryption_keys.current) == ((1,), 1)
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"users", "care_units", "user_units", "login_throttles", "alembic_version",
            "encryption_canaries", "patients", "access_log", "case_journal"} <= tables  # fmt: skip


def test_init_twice_keeps_the_key_and_changes_nothing(installation: tuple[Path, str]) -> None:
    instance, _ = installation
    _run("init")
    key = (instance / "secret_key").read_text()
    encryption_keys = (instance / "encryption_keys").read_text()

    result = _run("init")

    assert result.output.splitlines() == [f"instance ready: {instance}"]
    assert (instance / "secret_key").read_text() == key
    assert (instance / "encryption_keys").read_text() == encryption_keys


def test_commands_before_init_explain_what_to_do(installation: tuple[Path, str]) -> None:
    result = CliRunner().invoke(main, ["demo-data"])

    assert result.exit_code != 0
    assert "No secret key: run `coordinator init`" in result.output


def test_create_unit_and_user_then_sign_in(installation: tuple[Path, str]) -> None:
    _run("init")

    unit = _run("create-unit", "Vårdcentralen Kullen", "--kind", "health_centre")
    user = _run(
        "create-user",
        "Kim",
        "--name",
        "Kim Karlsson",
        "--role",
        "coordinator",
        "--unit",
        "Vårdcentralen Kullen",
        "--password-stdin",
        input="a long enough password\n",
    )

    assert unit.output == "created care unit 1: Vårdcentralen Kullen\n"
    assert user.output == "created user 1: kim (coordinator)\n"
    app = create_app()
    with app.app_context():
        assert authenticate("kim", "a long enough password").full_name == "Kim Karlsson"
        db.session.remove()
        db.engine.dispose()


def test_create_user_refuses_an_unknown_unit_and_a_short_password(
    installation: tuple[Path, str],
) -> None:
    _run("init")

    unknown = CliRunner().invoke(
        main,
        [
            "create-user",
            "kim",
            "--name",
            "Kim",
            "--role",
            "coordinator",
            "--unit",
            "Finns Inte",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    short = CliRunner().invoke(
        main,
        ["create-user", "admin2", "--name", "Admin", "--role", "admin", "--password-stdin"],
        input="short\n",
    )

    assert unknown.exit_code == 1
    assert "no such care unit: Finns Inte" in unknown.output
    assert short.exit_code == 1
    assert "The password must be at least 12 characters." in short.output


def test_demo_data_is_loaded_once_with_a_password_printed_once(
    installation: tuple[Path, str],
) -> None:
    _run("init")

    first = _run("demo-data")
    second = _run("demo-data")

    lines = first.output.splitlines()
    assert lines[0] == "Demo sign-ins:"
    assert [line.split()[0] for line in lines[1:6]] == [
        "koordinator1",
        "koordinator2",
        "koordinator3",
        "chef1",
        "admin",
    ]
    assert lines[6].startswith("Password (shown once): ")
    password = lines[6].removeprefix("Password (shown once): ")
    assert len(password) >= 12
    assert second.output.startswith("Demo data is already loaded. Demo sign-ins:\n")
    assert password not in second.output


def test_demo_password_comes_from_the_environment_when_set(
    installation: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COORDINATOR_DEMO_PASSWORD", DEMO_PASSWORD)
    _run("init")

    result = _run("demo-data")

    assert result.output.splitlines()[-1] == ("Password: the value of COORDINATOR_DEMO_PASSWORD")
    assert DEMO_PASSWORD not in result.output
    app = create_app()
    with app.app_context():
        for username in ("koordinator1", "koordinator2", "koordinator3", "chef1", "admin"):
            assert authenticate(username, DEMO_PASSWORD).username == username
        chef = authenticate("chef1", DEMO_PASSWORD)
        assert [unit.name for unit in chef.units] == [
            "Hälsocentralen Provdalen (demo)",
            "Vårdcentralen Exempelby (demo)",
        ]
        db.session.remove()
        db.engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_serves_the_app_on_the_given_port(installation: tuple[Path, str]) -> None:
    _run("init")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
        [sys.executable, "-m", "coordinator.cli", "run", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        page = _get_when_up(f"http://127.0.0.1:{port}/auth/login", server)
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()

    assert "<h1>Logga in</h1>" in page
    assert f"Coordinator is running on http://127.0.0.1:{port}/" in output


def _get_when_up(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return response.read().decode()
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


#: What the demo's contacts say (coordinator/demo_contacts.py).
DEMO_CONTACT_NOTES = (
    "Pratade om möjliga anpassningar: kortare pass och färre tunga lyft.",
    "Avstämningsmöte med handläggare, patienten och arbetsgivaren.",
    "Gemensam planering inför arbetsträning.",
)
DEMO_NEXT_STEPS = ("Trepartssamtal på arbetsplatsen", "Boka möte om arbetsträning")
DEMO_DISCLOSED = "Att patienten är sjukskriven på halvtid och behöver anpassade arbetsuppgifter."


def test_a_raw_read_of_the_database_after_the_demo_reveals_no_patient_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The threat model's first promise: a stolen SQLite file (with its WAL) tells nothing."""
    instance = tmp_path / "stolen"
    monkeypatch.setenv("COORDINATOR_INSTANCE", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the embedded default, whatever CI runs
    monkeypatch.delenv("COORDINATOR_SECRET_KEY", raising=False)
    monkeypatch.delenv("COORDINATOR_ENCRYPTION_KEYS", raising=False)
    _run("init")
    assert _run("demo-data").exit_code == 0
    stories = [patient.story for patient in demo.PATIENTS]
    stories += [story for unit in demo_caseload.caseloads() for story in unit]
    app = create_app()
    with app.app_context():
        assert len(db.session.scalars(select(Patient)).all()) == len(stories) == 120
        # The demo's contacts say what the secrets below expect them to say.
        contacts = db.session.scalars(select(ContactEvent)).all()
        assert {c.notes for c in contacts} == set(DEMO_CONTACT_NOTES)
        assert {c.next_step for c in contacts} - {None} == set(DEMO_NEXT_STEPS)
        summaries = {c.disclosure.summary for c in contacts if c.disclosure is not None}
        assert summaries == {DEMO_DISCLOSED}
        assert {p.name for p in db.session.scalars(select(ContactPerson))} == set(
            demo_contacts.HR_NAMES
        )
        db.session.remove()
        db.engine.dispose()

    raw = b"".join(path.read_bytes() for path in instance.glob("coordinator.db*"))

    secrets_in_the_demo = [
        text
        for story in stories[: len(demo.PATIENTS)]
        for text in (story.details.first_name, *(part for note in story.notes for part in note))
    ]
    assert len(secrets_in_the_demo) == 4 + 5 * 2  # four hand-written patients, five notes
    for story in stories:
        number, details = story.personnummer, story.details
        secrets_in_the_demo += [
            number,
            number[2:],
            f"{number[2:8]}-{number[8:]}",
            details.last_name,
            f"{details.first_name} {details.last_name}",
            *(text for text in (details.address,) if text),
            story.doctor,
            story.reason,
            *(part for note in story.notes for part in note),
        ]
    # Employers' names are in the clear on purpose (the directory is searched by name, and
    # they are public); what was said to them, and who works there, is not.
    secrets_in_the_demo += [
        *DEMO_CONTACT_NOTES, *DEMO_NEXT_STEPS, DEMO_DISCLOSED, *demo_contacts.HR_NAMES,
    ]  # fmt: skip
    for text in secrets_in_the_demo:
        for encoding in ("utf-8", "utf-16-le"):
            assert text.encode(encoding) not in raw, text
        assert text.lower().encode() not in raw, text
    assert b"demo)" in raw  # the file is readable and holds the (non-secret) unit names


def test_the_demo_caseload_shows_every_state_a_coordinator_meets(
    installation: tuple[Path, str],
) -> None:
    _run("init")
    assert _run("demo-data").exit_code == 0

    app = create_app()
    with app.app_context():
        today = clock.today()
        rows = db.session.execute(
            select(Patient, CoordinationCase).join(CoordinationCase, latest_case_join())
        ).all()
        cases_per_patient = Counter(db.session.scalars(select(CoordinationCase.patient_id)))
        transfers = db.session.scalars(
            select(CaseJournalEntry).where(CaseJournalEntry.kind == EntryKind.CASE_TRANSFERRED)
        ).all()
        found_signals = {
            signal
            for patient, _ in rows
            for signal in signals(_sick_leave(patient), today, ScreeningRules())
        }
        records = consents_queries.records_by_patient(patient.id for patient, _ in rows)
        coordination = {
            patient.id: consents.decide(records.get(patient.id, []), COORDINATION, today).status
            for patient, case in rows
            if case.status is CaseStatus.ACTIVE
        }
        answers = Counter(
            (c.kind.value, c.answer.value, c.withdrawal is not None)
            for patient_records in records.values()
            for c in patient_records
            if c.kind is not ConsentKind.COORDINATION
        )
        db.session.remove()
        db.engine.dispose()

    units = sorted({patient.unit_id for patient, _ in rows})
    for unit in units:
        in_unit = [(patient, case) for patient, case in rows if patient.unit_id == unit]
        statuses = Counter(case.status.value for _, case in in_unit)
        assert statuses == {"new": 24, "offered": 11, "active": 16, "closed": 9}
        assert sum(case.coordinator_id is None for _, case in in_unit) == 9
        assert sum(patient.is_protected for patient, _ in in_unit) == 1
    follow_ups = sorted((case.follow_up_on - today).days for _, case in rows if case.follow_up_on)
    assert follow_ups.count(-1) == 4  # overdue since yesterday
    assert sum(0 <= days <= 7 for days in follow_ups) == 10  # due this week
    assert found_signals == set(Signal)
    assert {case.outcome.value for _, case in rows if case.outcome} == {
        "returned_full_time", "returned_part_time", "other_occupation", "studies",
        "handed_over", "declined",
    }  # fmt: skip
    assert list(cases_per_patient.values()).count(2) == 2  # a new sick leave opened a new case
    assert len(transfers) == 2  # between the two coordinators of the first unit
    employments = {patient.employment.value for patient, _ in rows}
    assert employments == {"employed", "unemployed", "self_employed", "student"}
    # Every active case has the coordination consent activation requires; the patients answered
    # the employer and Försäkringskassan questions in every way.
    assert set(coordination.values()) == {ConsentStatus.GIVEN}
    assert {key for key, count in answers.items() if count} == {
        ("employer", "given", False), ("employer", "given", True), ("employer", "refused", False),
        ("social_insurance", "given", False),
    }  # fmt: skip


COORDINATION = Recipient(ConsentKind.COORDINATION)


def _sick_leave(patient: Patient) -> SickLeaveSummary:
    return SickLeaveSummary(
        patient.sick_leave_start, patient.sick_leave_end, patient.sick_leave_days,
        patient.sick_leave_degree, patient.day_90_on, patient.day_180_on, patient.day_365_on,
        patient.previous_sick_leave_end, patient.diagnosis,
    )  # fmt: skip
