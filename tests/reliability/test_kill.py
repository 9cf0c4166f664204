"""SIGKILL in the middle of writing: nothing committed is lost, nothing half-written shows,
both journal chains verify, and the app starts and goes on writing.

A child process (``tests/reliability/workers.py``) writes one request-sized transaction after
another — saving and agreeing plan versions, logging contacts, signing notes and reading the
journal — and prints a line after each commit. Each test kills it twice: first at a chosen
statement inside a transaction (the worker holds there, so the kill lands inside it every
time), then a short, seeded random delay after a few commits (anywhere: between statements,
inside COMMIT, between transactions). Afterwards the database must hold exactly operations
0 … n-1, each one whole, where n is what the worker reported committed — or one more, when the
kill came after a COMMIT but before its line was written.

On SQLite the killed writer held the database's write lock (WAL mode) with its changes
uncommitted; on PostgreSQL it held row locks — the journal heads, the plan — in an open
transaction that the server must roll back when the connection dies.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select

from coordinator.contacts import directory
from coordinator.contacts import service as contacts
from coordinator.contacts.models import ContactEvent, OrganisationType
from coordinator.crypto import runtime
from coordinator.crypto.envelope import key_version
from coordinator.crypto.fields import REGISTRY
from coordinator.crypto.keys import KeyRing, KeyStatus
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import service as plans
from tests.conftest import TEST_KEYS, World, make_app
from tests.crypto.support import actor_for, running, versions_in_database
from tests.helpers import sign_in
from tests.patients.support import activate, register
from tests.reliability.workers import Target, run_operation

ROOT = Path(__file__).resolve().parents[2]
#: The ``coordinator`` command of this virtual environment.
COORDINATOR = Path(sys.executable).parent / "coordinator"
#: A child still running after this long is killed (so nothing hangs CI) and the test fails.
CHILD_TIMEOUT = 120

READ = AccessAction.READ
CREATE = AccessAction.CREATE
CHANGE = AccessAction.CHANGE


# -- Running and killing a child ---------------------------------------------------------------


@dataclass
class Killed:
    """What a killed worker printed: the operations it reported committed, where it held."""

    committed: list[tuple[int, str]] = field(default_factory=list)
    held: str | None = None
    lines: list[str] = field(default_factory=list)

    def take(self, line: str) -> None:
        self.lines.append(line)
        if line.startswith("committed "):
            _, k, token = line.split(" ", 2)
            self.committed.append((int(k), token))
        elif line.startswith("holding "):
            self.held = line


def run_until_killed(
    env: dict[str, str], *args: str, after_commits: int | None = None, delay: float = 0.0
) -> Killed:
    """Start a worker with ``args``; SIGKILL it once it holds, or ``delay`` seconds after it
    reported ``after_commits`` commits. Every line it printed is read, also those that were
    still in the pipe when it died."""
    command = [sys.executable, "-m", "tests.reliability.workers", *args]
    killed = Killed()
    with subprocess.Popen(  # noqa: S603 (our own worker, fixed arguments)
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as child:
        assert child.stdout is not None
        watchdog = threading.Timer(CHILD_TIMEOUT, child.kill)
        watchdog.start()
        try:
            for line in child.stdout:
                killed.take(line.rstrip("\n"))
                if killed.held or len(killed.committed) == after_commits:
                    time.sleep(delay)
                    break
            child.kill()
            for line in child.stdout:
                killed.take(line.rstrip("\n"))
        finally:
            watchdog.cancel()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "\n".join(killed.lines)
    return killed


def coordinator(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(COORDINATOR), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip


@pytest.fixture(scope="session")
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the children keep compiled modules: the first compiles the package, the others
    start from the cache (never in the repository, whatever PYTHONDONTWRITEBYTECODE says)."""
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def child_env(database_url: str, tmp_path: Path, bytecode_cache: Path) -> dict[str, str]:
    """The environment a child reads: this test's database, the test keys, its own instance."""
    instance = tmp_path / "child-instance"
    instance.mkdir(mode=0o700)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("COORDINATOR_") and name != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        COORDINATOR_INSTANCE=str(instance),
        DATABASE_URL=database_url,
        COORDINATOR_SECRET_KEY=secrets.token_hex(32),
        COORDINATOR_ENCRYPTION_KEYS=TEST_KEYS,
        PYTHONPYCACHEPREFIX=str(bytecode_cache),
    )
    return env


# -- What the operations leave behind ----------------------------------------------------------

#: An access-log entry of an operation: what was done to which kind of object.
Access = tuple[AccessAction, str]
#: A case journal entry of an operation: its kind, heading, and a text its body contains.
Entry = tuple[EntryKind, str, str]


def plan_effects(k: int) -> tuple[list[Access], list[Entry]]:
    version = k // 3 + 1
    if k % 3 == 2:
        heading = f"Planversion {version} godkänd av patienten"
        return [(READ, "patient"), (CHANGE, "plan"), (CREATE, "journal_entry")], [
            (EntryKind.PLAN_CHANGED, heading, "")
        ]
    if k == 0:
        return [(READ, "patient"), (CREATE, "plan"), (CREATE, "journal_entry")], [
            (EntryKind.PLAN_CREATED, "Plan skapad (version 1, utkast)", "Åtgärd 0")
        ]
    return [(READ, "patient"), (CHANGE, "plan"), (CREATE, "journal_entry")], [
        (EntryKind.PLAN_CHANGED, f"Planversion {version} utarbetad", f"Åtgärd {k}")
    ]


def contact_effects(k: int) -> tuple[list[Access], list[Entry]]:
    heading = "Kontakt med Försäkringskassan: Information"
    return [(READ, "patient"), (CREATE, "journal_entry"), (CREATE, "contact")], [
        (EntryKind.CONTACT_LOGGED, heading, f"Samtal {k}")
    ]


def journal_effects(k: int) -> tuple[list[Access], list[Entry]]:
    if k % 2 == 1:
        return [(READ, "patient"), (READ, "case_journal")], []
    return [(READ, "patient"), (CREATE, "journal_entry")], [
        (EntryKind.NOTE, f"Anteckning {k}", f"Text {k}.")
    ]


EFFECTS: dict[str, Callable[[int], tuple[list[Access], list[Entry]]]] = {
    "plan": plan_effects,
    "contact": contact_effects,
    "journal": journal_effects,
}


def plan_versions(n: int) -> list[tuple[int, bool, list[str]]]:
    """The plan's versions after plan operations 0 … n-1: number, agreed, measures."""
    versions: list[tuple[int, bool, list[str]]] = []
    for k in range(n):
        if k % 3 == 0:
            versions.append((k // 3 + 1, False, [f"Åtgärd {k}"]))
        elif k % 3 == 1:
            versions[-1] = (versions[-1][0], False, [f"Åtgärd {k}"])
        else:
            versions[-1] = (versions[-1][0], True, versions[-1][2])
    return versions


@dataclass(frozen=True)
class Scene:
    """The patient the workers write about, and the journals as they were before."""

    target: Target
    patient_id: int
    access_before: int
    case_before: int


def set_scene(world: World) -> Scene:
    """Tolvan Tolvansson in active coordination, Försäkringskassan in the directory."""
    actor = actor_for(world.coordinator_a, world.unit_a, request_id="scene")
    patient = db.session.get(Patient, world.patient_a.id)
    assert patient is not None
    activate(actor, patient)
    fk = directory.create_organisation(
        actor, directory.OrganisationInput(OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    )
    db.session.commit()
    target = Target(world.coordinator_a.id, world.unit_a.id, patient.uid, fk.id)
    return Scene(target, patient.id, _last(AccessLogEntry), _last(CaseJournalEntry))


def _last(model: Any) -> int:
    value: int = db.session.scalar(select(func.max(model.seq))) or 0
    db.session.rollback()
    return value


def committed_operations(scene: Scene, operation: str) -> int:
    """How many operations the database holds — and that it holds exactly operations 0 … n-1,
    each whole: its access-log entries, its journal entries (each with the access-log entry
    of its writing, in the same transaction), and what it changed. Returns n."""
    access: dict[int, list[tuple[Access, str | None]]] = defaultdict(list)
    for request, action, object_type, object_id in db.session.execute(
        select(AccessLogEntry.request_id, AccessLogEntry.action, AccessLogEntry.object_type,
               AccessLogEntry.object_id)
        .where(AccessLogEntry.seq > scene.access_before,
               AccessLogEntry.request_id.like("worker:%"))
        .order_by(AccessLogEntry.seq)
    ):  # fmt: skip
        access[int(request.removeprefix("worker:"))].append(((action, object_type), object_id))
    n = len(access)
    assert sorted(access) == list(range(n)), "the operations committed are not 0 … n-1"
    effects = [EFFECTS[operation](k) for k in range(n)]
    assert {k: [a for a, _ in access[k]] for k in range(n)} == {
        k: expected for k, (expected, _) in enumerate(effects)
    }
    entries = db.session.scalars(
        select(CaseJournalEntry)
        .where(CaseJournalEntry.seq > scene.case_before)
        .order_by(CaseJournalEntry.seq)
    ).all()
    expected_entries = [(k, entry) for k, (_, made) in enumerate(effects) for entry in made]
    assert [(e.kind, e.heading) for e in entries] == [(kind, h) for _, (kind, h, _) in
                                                      expected_entries]  # fmt: skip
    for entry, (k, (_, _, text)) in zip(entries, expected_entries, strict=True):
        assert text in entry.body
        logged = [
            i for (action, kind), i in access[k] if (action, kind) == (CREATE, "journal_entry")
        ]
        assert logged == [str(entry.seq)], f"the entry {entry.seq} was not logged in its request"
    CHECKS[operation](scene, n, access)
    db.session.rollback()
    return n


def _check_plan(scene: Scene, n: int, access: Any) -> None:
    patient = db.session.get(Patient, scene.patient_id)
    assert patient is not None
    plan = plans.plan_of(cases.current_case(patient))
    if n == 0:
        assert plan is None
        return
    assert plan is not None
    assert plan.lock == n  # created at 1, every later step moved it once
    assert [
        (v.number, v.agreed_on is not None, [m.description for m in v.measures])
        for v in plan.versions
    ] == plan_versions(n)


def _check_contacts(scene: Scene, n: int, access: Any) -> None:
    contacts = db.session.scalars(
        select(ContactEvent).where(ContactEvent.patient_id == scene.patient_id)
        .order_by(ContactEvent.id)
    ).all()  # fmt: skip
    assert [c.notes for c in contacts] == [f"Samtal {k}" for k in range(n)]
    for k, contact in enumerate(contacts):
        assert [i for (a, kind), i in access[k] if kind == "contact"] == [contact.uid.hex]


def _check_notes(scene: Scene, n: int, access: Any) -> None:
    """Nothing beyond the generic checks: a note is its journal entry."""


CHECKS: dict[str, Callable[[Scene, int, Any], None]] = {
    "plan": _check_plan,
    "contact": _check_contacts,
    "journal": _check_notes,
}


def assert_reported_are_there(scene: Scene, operation: str, killed: Killed) -> None:
    """What the worker said it committed names rows that exist (contacts, notes)."""
    for k, token in killed.committed:
        if operation == "contact":
            contact = db.session.scalars(
                select(ContactEvent).where(ContactEvent.uid == uuid.UUID(token))
            ).one()
            assert contact.notes == f"Samtal {k}"
        elif token.startswith("note:"):
            entry = db.session.get(CaseJournalEntry, int(token.removeprefix("note:")))
            assert entry is not None
            assert entry.heading == f"Anteckning {k}"
    db.session.rollback()


def assert_chains_intact() -> None:
    """Both chains verify end to end, over every entry in the database."""
    counts = {
        "access": db.session.scalar(select(func.count()).select_from(AccessLogEntry)),
        "case": db.session.scalar(select(func.count()).select_from(CaseJournalEntry)),
    }
    db.session.rollback()
    assert [(v.chain.value, v.verified, v.broken) for v in journal.verify_all()] == [
        ("access", counts["access"], None),
        ("case", counts["case"], None),
    ]


def assert_app_serves(app: Flask, world: World) -> None:
    """A coordinator signs in and opens the patient's page."""
    client = app.test_client()
    assert sign_in(client, world.coordinator_a.username).status_code == 302
    page = client.get(f"/patients/{world.patient_a.uid}")
    assert page.status_code == 200
    assert "Tolvansson" in page.text


# -- Plans, contacts, the journal and the access log -------------------------------------------


@dataclass(frozen=True)
class Kill:
    #: The operation killed inside, and the statement after which the worker holds.
    hold_at: int
    hold_after: str
    #: Commits of the second worker before the randomly timed kill.
    then_commits: int


KILLS = {
    # The plan row has moved on (draft edited, lock moved); no journal entry yet.
    "plan": Kill(4, "UPDATE rehab_plans", 4),
    # The contact is written; its journal entry and access-log entry are not.
    "contact": Kill(3, "INSERT INTO contact_events", 3),
    # The note is in the case chain (its head moved too); its access-log entry is not.
    "journal": Kill(4, "INSERT INTO case_journal", 6),
}


@pytest.mark.parametrize("operation", KILLS)
def test_a_writer_killed_mid_transaction_loses_nothing_committed_and_shows_nothing_half_written(
    app: Flask,
    world: World,
    child_env: dict[str, str],
    database_url: str,
    tmp_path: Path,
    operation: str,
) -> None:
    kill = KILLS[operation]
    with app.app_context():
        scene = set_scene(world)
    target = scene.target
    args = [
        operation, "--user", str(target.user_id), "--unit", str(target.unit_id),
        "--patient", target.patient_uid.hex, "--organisation", str(target.organisation_id),
    ]  # fmt: skip

    held = run_until_killed(
        child_env, *args, "--hold-at", str(kill.hold_at), "--hold-after", kill.hold_after
    )
    assert held.held == f"holding {kill.hold_at} after {kill.hold_after.upper()}", held.lines
    assert [k for k, _ in held.committed] == list(range(kill.hold_at))
    with app.app_context():
        assert committed_operations(scene, operation) == kill.hold_at
        assert_reported_are_there(scene, operation, held)
        assert_chains_intact()

    delay = random.Random(f"kill {operation}").uniform(0.0, 0.02)
    loose = run_until_killed(
        child_env, *args, "--start", str(kill.hold_at), after_commits=kill.then_commits,
        delay=delay,
    )  # fmt: skip
    reported = kill.hold_at + len(loose.committed)
    assert [k for k, _ in loose.committed] == list(range(kill.hold_at, reported))
    assert len(loose.committed) >= kill.then_commits
    with app.app_context():
        n = committed_operations(scene, operation)
        assert n in (reported, reported + 1)
        assert_reported_are_there(scene, operation, loose)
        assert_chains_intact()

    restarted = make_app(database_url, tmp_path / "restarted")
    with running(restarted):
        assert_app_serves(restarted, world)
        for k in (n, n + 1):
            run_operation(operation, target, k)
            db.session.commit()
        assert committed_operations(scene, operation) == n + 2
        assert_chains_intact()


# -- Key rotation --------------------------------------------------------------------------------


def plaintexts() -> dict[tuple[str, Any, str], Any]:
    """Every encrypted value in the database, decrypted through the models, by table,
    primary key and column."""
    values = {}
    for model, fields in REGISTRY.items():
        table = model.__tablename__  # type: ignore[attr-defined]
        rows: list[Any] = list(db.session.scalars(select(model)))
        for row in rows:
            key = inspect(row).identity
            for encrypted in fields:
                values[table, key, encrypted.name] = getattr(row, encrypted.name)
    db.session.rollback()
    return values


def rows_under(version: int) -> dict[str, int]:
    """Per table, the rows with at least one value sealed with ``version``."""
    rows = {}
    for model, fields in REGISTRY.items():
        table = model.__table__  # type: ignore[attr-defined]
        columns = [table.c[f.name] for f in fields]
        rows[table.name] = sum(
            any(value is not None and key_version(value) == version for value in row)
            for row in db.session.execute(select(*columns))
        )
    db.session.rollback()
    return rows


@pytest.fixture
def keyed_instance(tmp_path: Path) -> Path:
    """An instance folder whose key file holds the test key ring (the one the database fits)."""
    instance = tmp_path / "file-keyed"
    instance.mkdir(mode=0o700)
    runtime.save(KeyRing.parse(TEST_KEYS, source="test"), instance)
    return instance


@pytest.fixture
def file_keyed_app(database_url: str, keyed_instance: Path, world: World) -> Iterator[Flask]:
    app = make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _fill(scene: Scene, world: World) -> None:
    """Plans (two versions agreed), contacts, notes and reads, and a few more patients."""
    for operation, count in (("plan", 6), ("contact", 4), ("journal", 10)):
        for k in range(count):
            run_operation(operation, scene.target, k)
            db.session.commit()
    actor = actor_for(world.coordinator_a, world.unit_a, request_id="fill")
    for number in range(12):
        register(actor, f"Efternamn {number}", f"Förnamn {number}")
    db.session.commit()


#: Rows re-encrypted per committed batch, and where in the case journal the worker is killed:
#: after the 8th row, inside the third batch (rows 7–9), two batches committed before it.
BATCH = 3
KILLED_AFTER = 8


def test_a_key_rotation_killed_inside_a_batch_keeps_everything_readable_and_is_finished(
    file_keyed_app: Flask,
    keyed_instance: Path,
    world: World,
    child_env: dict[str, str],
    database_url: str,
) -> None:
    with file_keyed_app.app_context():
        scene = set_scene(world)
        _fill(scene, world)
        written = plaintexts()
        values = versions_in_database()
    assert set(values) == {1}
    env = {**child_env, "COORDINATOR_INSTANCE": str(keyed_instance)}
    del env["COORDINATOR_ENCRYPTION_KEYS"]

    killed = run_until_killed(
        env, "rotate", "--batch-size", str(BATCH), "--hold-after", "UPDATE case_journal",
        "--hold-count", str(KILLED_AFTER),
    )  # fmt: skip
    assert killed.held == "holding rotation after UPDATE CASE_JOURNAL", killed.lines
    batches = [line for line in killed.lines if line.startswith("batch case_journal ")]
    entries = len([key for key in written if key[0] == "case_journal" and key[2] == "heading"])
    assert batches == [f"batch case_journal {n}/{entries}" for n in (BATCH, 2 * BATCH)]

    keys = KeyRing.parse((keyed_instance / "encryption_keys").read_text(), source="test")
    assert (keys.versions, keys.current, keys.active_versions) == ((1, 2), 2, (2, 1))
    midway = make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")
    with running(midway):
        _assert_half_rotated(killed, entries, sum(values.values()))
        assert plaintexts() == written
        _read_through_the_services(scene, world)
        assert_chains_intact()
        assert_app_serves(midway, world)
        left_under_v1 = rows_under(1)

    resumed = coordinator(env, "rotate-keys", "--batch-size", str(BATCH))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert [line for line in resumed.stdout.splitlines() if not line.startswith("  ")] == [
        "resuming the rotation to key version 2",
        "re-encrypting:",
        *(f"re-encrypted {left_under_v1[t]} rows in {t}" for t in sorted(left_under_v1)),
        "retired key version(s) 1",
    ]
    keys = KeyRing.parse((keyed_instance / "encryption_keys").read_text(), source="test")
    assert (keys.active_versions, keys.master(1).status) == ((2,), KeyStatus.RETIRED)
    with running(make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")):
        assert versions_in_database() == Counter({2: sum(values.values())})
        assert plaintexts() == written
        counts = [_count(AccessLogEntry), _count(CaseJournalEntry)]

    verified = coordinator(env, "verify-journal")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines() == [
        f"access: {counts[0]} entries verified, chain intact",
        f"case: {counts[1]} entries verified, chain intact",
    ]
    finished = make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")
    with running(finished):
        assert_app_serves(finished, world)
        run_operation("journal", scene.target, 10)
        db.session.commit()
        assert_chains_intact()


def _assert_half_rotated(killed: Killed, entries: int, values: int) -> None:
    """The tables the worker finished (it said so batch by batch) are all under version 2,
    those it had not reached all under version 1; in the case journal two batches moved and
    the batch in progress left nothing."""
    under_v1, under_v2 = rows_under(1), rows_under(2)
    reached = {line.split()[1] for line in killed.lines if line.startswith("batch ")}
    done = sorted(reached - {"case_journal"})
    assert "consents" in done  # activation recorded the patient's consent
    assert [t for t in done if under_v1[t]] == []
    assert [t for t in under_v2 if t not in reached and under_v2[t]] == []
    assert (under_v2["case_journal"], under_v1["case_journal"]) == (
        2 * BATCH,
        entries - 2 * BATCH,
    )
    mixed = versions_in_database()
    assert (set(mixed), sum(mixed.values())) == ({1, 2}, values)


def _count(model: Any) -> int:
    value: int = db.session.scalar(select(func.count()).select_from(model)) or 0
    db.session.rollback()
    return value


def _read_through_the_services(scene: Scene, world: World) -> None:
    """Mid-rotation, the services read the patient's rows, sealed under either version."""
    actor = actor_for(world.coordinator_a, world.unit_a, request_id="midway")
    patient = patients.get_patient(actor, scene.target.patient_uid)
    assert (patient.first_name, patient.last_name) == ("Tolvan", "Tolvansson")
    plan = plans.open_plan(actor, patient)
    assert [(v.number, v.agreed_on is not None) for v in plan.versions] == [(1, True), (2, True)]
    assert [m.description for m in plan.current.measures] == ["Åtgärd 4"]
    headings = [entry.heading for entry in journal.timeline(actor, patient)]
    assert headings[:9] == [
        *(f"Anteckning {k}" for k in (8, 6, 4, 2, 0)),
        *["Kontakt med Försäkringskassan: Information"] * 4,
    ]
    logged = contacts.timeline(actor, patient).contacts
    assert [item.contact.notes for item in logged] == [f"Samtal {k}" for k in (3, 2, 1, 0)]
    db.session.commit()
