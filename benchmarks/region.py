"""The whole product at region scale (issue 11): generate a region — 100 000 patients in 50
care units, 300 coordinators, 400 000 certificates, 1 000 000 case-journal entries and the
access-log entries they imply — then time each everyday operation against baselines measured
in the same run, and print one table.

    make bench                                       # full sizes, temporary SQLite file
    .venv/bin/python benchmarks/region.py --quick    # small sizes, under a minute
    .venv/bin/python benchmarks/region.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres

The generator reuses the other benchmarks' builders: each patient's row, sick-leave summary
and coordination case from ``caseload.patient_and_case``, the coordination consents of the
active cases from ``caseload.consent_columns``, the manager of all units from
``reports.create_manager``. Certificates are cut from each patient's summary so that the two
agree (the latest certificate carries the summary's diagnosis, degree, end and registration
time), as many as asked for in all. The case journal is generated in time order: a "case
opened" entry when the patient was registered, then notes, certificates registered, plans and
contacts at random times since; every entry's heading and body are sealed by the model's
``Encrypted`` descriptors, its content digest is ``chain.content_digest``, and both chains are
sealed entry by entry with ``chain.seal`` under the real key ring — each journal entry with the
access-log entry its creation implies (``CREATE journal_entry``, as ``journal.add_entry``
logs it), so ``verify-journal`` walks two intact chains. Pool processes build the rows and seal
the values; the main process seals the chains and hands the rows, already in the form
SQLAlchemy stores them, to the driver's ``executemany`` (a sample is read back through the ORM
and compared, and verify-journal checks every chain entry).

Measured through Flask's test client after a real sign-in (routing, session, services,
templates, the access-log append, the commit): sign-in (the POST, with the production argon2
parameters), the caseload page of a 2 000-patient unit, a patient page with hundreds of journal
entries, search by personnummer, adding a note, logging a contact, the statistics page and the
quarterly report as the manager; then ``journal.service.verify_all`` (what ``verify-journal``
runs) and ``crypto.rotation.rotate`` stopped after a number of rows. Baselines: a bare Flask app
(no auth, journal or encryption) rendering the same caseload table from a plaintext table in the
same database, and decrypt-and-scan for a personnummer. Statements per request are counted at
a small and a large size. Exit status 0 when everything ran (a missed target is a "no" in the
table), 1 when something went wrong (a request answered unexpectedly, a chain not intact, the
search not finding its patient). All data is fictitious; the instance folder is never touched.
See ``docs/performance.md`` for measured figures.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import random
import re
import secrets
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    DIAGNOSES,
    Measured,
    Probe,
    StatementCounter,
    at_work_hours,
    consent_columns,
    measure,
    patient_and_case,
    rows_shown,
    short,
    signed_in,
    unit_sizes,
    weighted,
)
from flask import Flask, current_app, render_template_string, url_for
from flask.testing import FlaskClient
from load import contact_form, describe
from protection import (
    FIRST_NAMES,
    LAST_NAMES,
    fmt_ms,
    in_fresh_app,
    machine_info,
    migrate_schema,
    personnummer_numbers,
    progress,
)
from reports import (
    DOCTOR_WEIGHTS,
    OTHER_DIAGNOSES,
    QUARTER,
    YEAR,
    PatientRow,
    choose_unit,
    create_manager,
    sealed,
    source,
    split,
    unit_doctors,
)
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
    text,
    update,
)

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth import passwords
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.config import Config
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.contacts import directory
from coordinator.contacts.models import OrganisationType
from coordinator.crypto import rotation, runtime
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal import service as journal
from coordinator.journal.models import (
    AccessAction,
    CaseJournalEntry,
    Chain,
    ChainHead,
    EntryKind,
)
from coordinator.patients.diagnoses import lookup
from coordinator.patients.models import CaseStatus, Certificate, CoordinationCase, Patient
from coordinator.patients.sickleave import DEGREES
from coordinator.reports.quarterly import quarter_bounds

# -- targets (from the issue) ---------------------------------------------------------------

#: Caseload page at most this many times the bare framework's time for the same table.
CASELOAD_RATIO = 2.0
#: Lookup by personnummer at least this many times faster than decrypt-and-scan.
LOOKUP_SPEEDUP = 100.0
#: The whole data set on SQLite (the issue's "≤ 2 minutes").
GENERATOR_BUDGET_S = 120.0

# -- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    patients: int
    units: int
    coordinators: int
    certificates: int
    entries: int
    big_unit: int
    small_unit: int
    #: Journal entries of the patient whose page is measured (another has exactly one).
    heavy: int
    runs: int
    verify_runs: int
    scans: int
    rotate_rows: int


FULL = Sizes(
    patients=100_000, units=50, coordinators=300, certificates=400_000, entries=1_000_000,
    big_unit=2_000, small_unit=10, heavy=500, runs=30, verify_runs=2, scans=3,
    rotate_rows=20_000,
)  # fmt: skip
QUICK = Sizes(
    patients=5_000, units=50, coordinators=300, certificates=20_000, entries=50_000,
    big_unit=500, small_unit=10, heavy=200, runs=5, verify_runs=1, scans=2, rotate_rows=2_000,
)  # fmt: skip
WARM_UPS = 3
#: Rows per insert statement and transaction; journal entries per worker task.
BATCH = 5_000
CHUNK = 10_000
MANAGER_COUNT = 1

# -- fictitious journal text ----------------------------------------------------------------

#: Kinds of later journal entries (the first is always "case opened") and how common.
LATER_KINDS = {
    EntryKind.NOTE: 55, EntryKind.CERTIFICATE_ADDED: 15, EntryKind.CASE_UPDATED: 8,
    EntryKind.CONTACT_LOGGED: 10, EntryKind.PLAN_CHANGED: 4, EntryKind.PLAN_CREATED: 2,
    EntryKind.CONSENT_RECORDED: 4, EntryKind.SCREENING_DECIDED: 2,
}  # fmt: skip
HEADINGS = {
    EntryKind.CASE_OPENED: ("Ärende öppnat",),
    EntryKind.NOTE: ("Telefonkontakt", "Besök", "Uppföljning", "Samtal med patienten",
                     "Avstämning med läkare"),
    EntryKind.CERTIFICATE_ADDED: ("Intyg registrerat",),
    EntryKind.CASE_UPDATED: ("Ärendet ändrat",),
    EntryKind.CONTACT_LOGGED: ("Kontakt med arbetsgivaren", "Kontakt med Försäkringskassan"),
    EntryKind.PLAN_CHANGED: ("Plan ändrad",),
    EntryKind.PLAN_CREATED: ("Plan upprättad",),
    EntryKind.CONSENT_RECORDED: ("Samtycke registrerat",),
    EntryKind.SCREENING_DECIDED: ("Bedömning: erbjuds koordinering",),
}  # fmt: skip
SENTENCES = (
    "Patienten beskriver fortsatt trötthet efter lunch men klarar nu halvtid.",
    "Överenskommet att kontakta arbetsgivaren om anpassade arbetsuppgifter.",
    "Uppföljning hos arbetsterapeut bokad om två veckor.",
    "Läkaren förlänger sjukskrivningen med oförändrad omfattning.",
    "Patienten har påbörjat KBT och upplever viss förbättring av sömnen.",
    "Försäkringskassans handläggare informerad efter patientens samtycke.",
    "Ingen förändring sedan förra kontakten; planen står fast.",
    "Diskuterat återgång i arbete med stegvis ökad tid från nästa månad.",
)


def entry_text(kind: EntryKind, rng: random.Random) -> tuple[str, str]:
    heading = rng.choice(HEADINGS[kind])
    body = " ".join(rng.sample(SENTENCES, rng.randint(1, 4)))
    return heading, body


# -- the generator: people ------------------------------------------------------------------


@dataclass
class Region:
    unit_ids: list[int]
    #: Coordinator ids and usernames by unit id.
    coordinators: dict[int, list[int]]
    usernames: dict[int, list[str]]
    password: str
    manager: str
    patients: list[PatientRow] = field(default_factory=list)
    #: The measured patients: many journal entries, exactly one (both in the big unit).
    heavy: PatientRow | None = None
    light: PatientRow | None = None
    #: Seconds per generator step, in order.
    steps: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def big_unit(self) -> int:
        return self.unit_ids[0]

    @property
    def small_unit(self) -> int:
        return self.unit_ids[1]


def create_people(sizes: Sizes, rng: random.Random) -> Region:
    """The units, their coordinators (spread evenly, at least one per unit), a manager of all
    units and an administrator, all with one password hashed with the production parameters."""
    password = secrets.token_urlsafe(16)
    hashed = passwords.hash_password(password)
    units = [
        CareUnit(name=f"Vårdcentralen Region {number:02d}", kind=UnitKind.HEALTH_CENTRE,
                 provider_type=ProviderType.PUBLIC, is_active=True)
        for number in range(1, sizes.units + 1)
    ]  # fmt: skip
    users = []
    for index in range(sizes.coordinators):
        unit = units[index % len(units)]
        users.append(
            User(
                username=f"koord.{index + 1:03d}",
                full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                title="Arbetsterapeut",
                role=Role.COORDINATOR,
                password_hash=hashed,
                units=[unit],
            )
        )
    users.append(
        User(username="admin.region", full_name="Admin Regionsson", title="Systemförvaltare",
             role=Role.ADMIN, password_hash=hashed, units=[])
    )  # fmt: skip
    db.session.add_all([*units, *users])
    db.session.commit()
    unit_ids = [unit.id for unit in units]
    coordinators: dict[int, list[int]] = {unit_id: [] for unit_id in unit_ids}
    usernames: dict[int, list[str]] = {unit_id: [] for unit_id in unit_ids}
    for user in users[: sizes.coordinators]:
        coordinators[user.units[0].id].append(user.id)
        usernames[user.units[0].id].append(user.username)
    db.session.remove()
    manager = create_manager(unit_ids, password, rng)
    return Region(unit_ids, coordinators, usernames, password, manager)


def pieces_per_patient(patients: Sequence[PatientRow], target: int) -> list[int]:
    """How many certificates to cut each sick-listed patient's current sick leave into, so
    that all of them (plus one for each earlier case) come to ``target``: in proportion to the
    sick leave's length, at least one, and none shorter than a week."""
    days = [0 if p.start is None or p.end is None else (p.end - p.start).days + 1
            for p in patients]  # fmt: skip
    listed = [i for i, d in enumerate(days) if d]
    pieces = [0] * len(patients)
    for i in listed:
        pieces[i] = 1
    fixed = len(listed) + sum(1 for i in listed if patients[i].previous_end is not None)
    extra = max(0, target - fixed)
    total_days = sum(days) or 1
    shares = []
    for i in listed:
        room = max(1, days[i] // 7) - 1
        exact = extra * days[i] / total_days
        whole = min(room, int(exact))
        pieces[i] += whole
        shares.append((exact - whole if whole < room else -1.0, i))
    left = extra - sum(pieces[i] - 1 for i in listed)
    for _, i in sorted(shares, reverse=True):  # largest remainders first, then any room left
        if left <= 0:
            break
        if pieces[i] < max(1, days[i] // 7):
            pieces[i] += 1
            left -= 1
    return pieces


def certificates_of(
    patient: PatientRow,
    pieces: int,
    doctors: list[str],
    creator: int,
    rng: random.Random,
    now: datetime,
) -> list[dict[str, Any]]:
    """The ``pieces`` back-to-back certificates of the current sick leave (degrees stepping
    down to the summary's, the last one the summary's diagnosis and registration time), and
    one for the earlier case of a recurrent patient; sealed by the model's descriptors."""
    if patient.start is None or patient.end is None or patient.degree is None or not pieces:
        return []
    usual = rng.choices(doctors, weights=DOCTOR_WEIGHTS)[0]
    periods = split(rng, patient.start, patient.end, pieces)
    degrees = [patient.degree] * len(periods)
    for i in range(len(periods) - 2, -1, -1):
        if rng.random() < 0.3:
            degrees[i] = rng.choice([d for d in DEGREES if d >= degrees[i + 1]])
        else:
            degrees[i] = degrees[i + 1]
    codes = [patient.diagnosis or "R53"] * len(periods)
    if len(periods) > 1 and rng.random() < 0.3:
        codes[0] = weighted(rng, OTHER_DIAGNOSES)
    last_added = patient.added_at or min(now, at_work_hours(periods[-1][0], rng))
    added = [min(last_added, at_work_hours(first + timedelta(days=rng.randint(0, 3)), rng))
             for first, _ in periods[:-1]] + [last_added]  # fmt: skip
    if patient.previous_end is not None:
        first = patient.previous_end - timedelta(days=rng.randint(7, 90) - 1)
        periods.insert(0, (first, patient.previous_end))
        degrees.insert(0, rng.choice(DEGREES))
        codes.insert(0, weighted(rng, DIAGNOSES | OTHER_DIAGNOSES))
        added.insert(0, min(added[0], at_work_hours(first, rng)))
    rows = []
    for (first, last), degree, code, at in zip(periods, degrees, codes, added, strict=True):
        uid = uuid.uuid4()
        doctor = None if rng.random() < 0.03 else (
            usual if rng.random() < 0.8 else rng.choices(doctors, DOCTOR_WEIGHTS)[0]
        )  # fmt: skip
        rows.append(sealed(
            Certificate, uid.hex, uid=uid, patient_id=patient.id, start_on=first, end_on=last,
            degree=degree, diagnosis_code=code, doctor=doctor, source=source(rng),
            created_by_id=creator, created_at=at,
        ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class PatientTask:
    """A run of one unit's patients for a pool process to generate."""

    seed: int
    unit_id: int
    #: The id of the first patient (ids are given, so that the rows can be made elsewhere).
    first_id: int
    numbers: list[str]
    coordinators: list[int]
    doctors: list[str]
    certificates: int
    now: datetime
    today: date
    #: Whether the driver takes datetimes and UUIDs as they are (PostgreSQL).
    native: bool


@dataclass
class PatientRows:
    patients: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    certificates: list[dict[str, Any]]
    summaries: list[PatientRow]
    #: Each table's rows as the driver takes them: (table, columns, value tuples).
    stored: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = field(default_factory=list)


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
        return value.astimezone(UTC).strftime(_AT_TEXT)
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


def patient_rows(task: PatientTask) -> PatientRows:
    """Patients (``caseload.patient_and_case``), their cases, the coordination consents of the
    active cases (``caseload.consent_columns``) and their certificates."""
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(task.seed)  # noqa: S311
    version = runtime.keys().current
    made = PatientRows([], [], [], [], [])
    for patient_id, number in enumerate(task.numbers, start=task.first_id):
        values, case, leave = patient_and_case(
            task.unit_id, number, task.coordinators, rng, version, task.now, task.today
        )
        values["id"] = patient_id
        case |= {"patient_id": patient_id, "unit_id": task.unit_id}
        made.patients.append(values)
        made.cases.append(case)
        if case["status"] is CaseStatus.ACTIVE:
            made.consents.append(consent_columns(rng, case, task.coordinators, task.today))
        made.summaries.append(PatientRow(
            patient_id, values["uid"].hex, task.unit_id, values["sick_leave_start"],
            values["sick_leave_end"], values["sick_leave_degree"],
            values["previous_sick_leave_end"], values["certificate_added_at"],
            leave.diagnosis if leave is not None else None,
        ))  # fmt: skip
    pieces = pieces_per_patient(made.summaries, task.certificates)
    for patient, cut in zip(made.summaries, pieces, strict=True):
        creator = rng.choice(task.coordinators)
        made.certificates += certificates_of(patient, cut, task.doctors, creator, rng, task.now)
    made.stored = [
        stored_rows("patients", made.patients, task.native),
        stored_rows("coordination_cases", made.cases, task.native),
        stored_rows("consents", made.consents, task.native),
        stored_rows("certificates", made.certificates, task.native),
    ]
    made.patients, made.cases, made.consents, made.certificates = [], [], [], []
    return made


def patient_tasks(region: Region, sizes: Sizes, rng: random.Random) -> list[PatientTask]:
    """The region's patients in runs of up to ``BATCH``, unit by unit (the big unit first,
    then the small one, the rest evenly), each with its share of the certificates."""
    numbers = personnummer_numbers(sizes.patients, rng)
    per_unit = unit_sizes(sizes.patients, sizes.big_unit, sizes.small_unit, sizes.units)
    doctors = unit_doctors(region.unit_ids, rng)
    now, today = clock.now(), clock.today()
    tasks, offset = [], 0
    for unit_id, size in zip(region.unit_ids, per_unit, strict=True):
        for start in range(offset, offset + size, BATCH):
            chunk = numbers[start : min(start + BATCH, offset + size)]
            # The certificates in proportion to the patients, summing to exactly the target.
            share = (sizes.certificates * (start + len(chunk)) // sizes.patients
                     - sizes.certificates * start // sizes.patients)  # fmt: skip
            tasks.append(PatientTask(
                rng.randrange(2**32), unit_id, start + 1, chunk, region.coordinators[unit_id],
                doctors[unit_id], share, now, today, db.engine.dialect.name == "postgresql",
            ))  # fmt: skip
        offset += size
    return tasks


def insert_patients(
    region: Region, sizes: Sizes, workers: int, rng: random.Random
) -> dict[str, float]:
    """Generate the patients with everything that hangs on them in the pool, and insert the
    rows here (Core ``insert``, executemany), table by table; the seconds spent inserting
    each table are returned."""
    spent: dict[str, float] = {}
    keyring_text = str(current_app.config["ENCRYPTION_KEYS"])
    done = 0
    made_rows = pooled(patient_rows, patient_tasks(region, sizes, rng), workers, keyring_text)
    loaded = ("patients", "coordination_cases", "consents", "certificates")
    with (
        db.engine.connect() as connection,
        large_cache(connection),
        references_checked_afterwards(connection, loaded),
    ):
        for made in made_rows:
            done = _insert_made(connection, made, region, spent, done, sizes.patients)
    if db.engine.dialect.name == "postgresql":
        # The ids were given: move the sequence past them, as the app will insert more.
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('patients', 'id'), "
            "(SELECT max(id) FROM patients))"
        ))  # fmt: skip
        db.session.commit()
    return spent


def _insert_made(
    connection: Any,
    made: PatientRows,
    region: Region,
    spent: dict[str, float],
    done: int,
    total: int,
) -> int:
    """Insert one run of generated rows, table by table, in one transaction."""
    for name, columns, rows in made.stored:
        begun = time.perf_counter()
        if rows:
            bulk_insert(connection, name, columns, rows)
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - begun
        region.counts[name] = region.counts.get(name, 0) + len(rows)
    connection.commit()
    region.patients += made.summaries
    before, done = done, done + len(made.summaries)
    if done // 20_000 > before // 20_000 or done == total:
        progress(f"  patients: {done:,}/{total:,}; "
                 f"certificates: {region.counts['certificates']:,}")  # fmt: skip
    return done


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


# -- the generator: the case journal and the access log -------------------------------------


#: One journal entry to write: (time in µs since the epoch, patient id, unit id, author id,
#: the ``EntryKind``'s value) — a plain tuple: a million are made, sorted by time and sent to
#: the pool, and plain tuples are the cheapest to make, compare and pickle.
Planned = tuple[int, int, int, int, str]


def plan_journal(region: Region, sizes: Sizes, rng: random.Random) -> list[Planned]:
    """``sizes.entries`` entries in time order: each patient's case opened when registered,
    the rest spread over the patients (a skewed share each) at random times since; the heavy
    patient gets ``sizes.heavy`` in all and the light one exactly one."""
    registered = dict(db.session.execute(select(Patient.id, Patient.created_at)).all())
    cases = db.session.execute(
        select(CoordinationCase.patient_id, CoordinationCase.coordinator_id,
               CoordinationCase.status)
    ).all()  # fmt: skip
    db.session.remove()
    assigned = {patient_id: coordinator_id for patient_id, coordinator_id, _ in cases}
    active = {patient_id for patient_id, _, status in cases if status is CaseStatus.ACTIVE}
    patients = region.patients
    # The two measured patients alike but for their journals: active cases, sick-listed.
    alike = [p for p in patients if p.unit_id == region.big_unit and p.id in active
             and p.start is not None and p.previous_end is None]  # fmt: skip
    region.heavy, region.light = alike[0], alike[-1]
    fixed = {region.heavy.id: sizes.heavy, region.light.id: 1}
    others = [p for p in patients if p.id not in fixed]
    extra = max(0, sizes.entries - sum(fixed.values()) - len(others))
    weights = [rng.expovariate(1.0) for _ in others]
    counts = Counter(rng.choices(range(len(others)), weights=weights, k=extra))
    now_us = int(clock.now().timestamp() * 1e6)
    kinds = [kind.value for kind in LATER_KINDS]
    kind_weights, opened_kind = list(LATER_KINDS.values()), EntryKind.CASE_OPENED.value
    plan: list[Planned] = []
    for index, patient in enumerate([region.heavy, region.light, *others]):
        total = fixed.get(patient.id) or 1 + counts.get(index - 2, 0)
        opened = int(registered[patient.id].timestamp() * 1e6)
        staff = region.coordinators[patient.unit_id]
        usual = assigned.get(patient.id) or staff[0]
        plan.append((opened, patient.id, patient.unit_id, usual, opened_kind))
        later = rng.choices(kinds, kind_weights, k=total - 1)
        for kind in later:
            author = usual if rng.random() < 0.8 else rng.choice(staff)
            # Since registration, and not in the last hour (unless registered within it).
            at = rng.randint(opened + 1, max(opened + 1, now_us - 3_600_000_000))
            plan.append((at, patient.id, patient.unit_id, author, kind))
    plan.sort()
    return plan


_WORKER: dict[str, Any] = {}


def _start_worker(keyring_text: str) -> None:
    """A pool process: an app of its own holding only the key ring, so that the model's
    ``Encrypted`` descriptors seal as they do in the app."""
    app = Flask("region-worker")
    app.extensions[runtime.EXTENSION] = KeyRing.parse(keyring_text, source="benchmark")
    context = app.app_context()
    context.push()
    _WORKER["context"] = context


#: The canonical text of a timestamp (``chain.TIMESTAMP_FORMAT``), which is also what SQLite
#: stores for a ``UTCDateTime``.
_AT_TEXT = chain.TIMESTAMP_FORMAT


def seal_entries(task: tuple[int, bool, list[Planned]]) -> list[tuple[Any, ...]]:
    """Per planned entry: the uid and time as the database stores them, the uid and time as
    the chain's canonical text, the sealed heading and body, the content digest (and its
    canonical hex) and a request id for its access-log entry."""
    seed, native, planned = task
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(seed)  # noqa: S311
    keyring = runtime.keys()
    version = keyring.current
    heading_field, body_field = CaseJournalEntry.heading, CaseJournalEntry.body
    rows = []
    for entry in planned:
        uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        at_us, _, _, _, kind = entry
        at = datetime.fromtimestamp(at_us / 1e6, UTC)
        at_text = at.strftime(_AT_TEXT)
        heading, body = entry_text(EntryKind(kind), rng)
        digest = chain.content_digest(keyring, version, heading, body)
        row = uid.hex
        rows.append((
            uid if native else row, at if native else at_text, row, at_text,
            heading_field.encrypt(row, heading), body_field.encrypt(row, body),
            digest, digest.hex(), f"{rng.getrandbits(128):032x}",
        ))  # fmt: skip
    return rows


def sealed_chunks(
    plan: list[Planned], workers: int, native: bool, keyring_text: str, seed: int
) -> Iterator[tuple[int, list[Planned], list[tuple[Any, ...]]]]:
    """(first seq, planned, sealed columns) chunk by chunk, in order, made in the pool while
    the main process seals the chains and inserts. ``native``: the driver takes datetimes and
    UUIDs (PostgreSQL); else their stored text (SQLite)."""
    starts = range(0, len(plan), CHUNK)
    tasks = [(seed + start, native, plan[start : start + CHUNK]) for start in starts]
    sealed_rows = pooled(seal_entries, tasks, workers, keyring_text)
    for start, task, rows in zip(starts, tasks, sealed_rows, strict=True):
        yield start + 1, task[2], rows


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


CASE_COLUMNS = ("seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
                "heading", "body", "content_digest", "corrects_seq", "key_version", "prev_hash",
                "hash")  # fmt: skip
ACCESS_COLUMNS = ("seq", "at", "user_id", "unit_id", "role", "patient_id", "action",
                  "object_type", "object_id", "request_id", "key_version", "prev_hash",
                  "hash")  # fmt: skip


def insert_journal(
    region: Region, sizes: Sizes, workers: int, rng: random.Random
) -> dict[str, float]:
    """Both chains, entry by entry: the journal entry, then its ``CREATE journal_entry``
    access-log entry, each sealed with ``chain.seal`` on the previous entry's hash. The sealed
    values are given to ``chain.seal`` in their canonical text (the uid's hex, the time in
    ``TIMESTAMP_FORMAT``, enum values, the digest's hex), which ``chain.canonical`` turns into
    the same bytes as the typed values; ``verify-journal`` afterwards proves it."""
    started = time.perf_counter()
    plan = plan_journal(region, sizes, rng)
    progress(f"  planned {len(plan):,} entries in {time.perf_counter() - started:.1f} s")
    native = db.engine.dialect.name == "postgresql"
    keyring_text = str(current_app.config["ENCRYPTION_KEYS"])
    chunks = sealed_chunks(plan, workers, native, keyring_text, rng.randrange(2**32))
    db.session.remove()
    loaded = ("case_journal", "access_log")
    with (
        db.engine.connect() as connection,
        large_cache(connection),
        references_checked_afterwards(connection, loaded),
        indexes_built_afterwards(connection, loaded),
    ):
        seq, case_prev, access_prev, spent = _load_chains(connection, chunks, plan, started)
        indexed_at = time.perf_counter()
    spent["building their indexes"] = time.perf_counter() - indexed_at
    heads: Table = ChainHead.__table__  # type: ignore[assignment]
    for name, last in ((Chain.CASE, case_prev), (Chain.ACCESS, access_prev)):
        db.session.execute(update(heads).where(heads.c.chain == name).values(seq=seq, hash=last))
    db.session.commit()
    region.counts["journal entries"] = seq
    return spent


def _load_chains(connection: Any, chunks: Any, plan: list[Planned], started: float) -> Any:
    keyring = runtime.keys()
    version = keyring.current
    case_key, access_key = keyring.seal_key(version, "case"), keyring.seal_key(version, "access")
    case_prev = access_prev = chain.GENESIS
    role, create, kind_of = Role.COORDINATOR.value, AccessAction.CREATE.value, "journal_entry"
    seal = chain.seal
    seq = 0
    spent = dict.fromkeys(("waiting for the pool", "sealing the chains", "inserting case_journal",
                           "inserting access_log"), 0.0)  # fmt: skip
    clock_ = time.perf_counter
    chunks = iter(chunks)
    while True:
        begun = clock_()
        next_chunk = next(chunks, None)
        spent["waiting for the pool"] += clock_() - begun
        if next_chunk is None:
            break
        first, planned, rows = next_chunk
        begun = clock_()
        case_rows, access_rows = [], []
        for seq, entry, (uid, at, uid_hex, at_text, heading, body, digest, digest_hex,
                         request) in zip(range(first, first + len(planned)), planned, rows,
                                         strict=True):  # fmt: skip
            _, patient, unit, author, kind = entry
            case_hash = seal(case_key, (seq, uid_hex, at_text, author, unit, role, patient, kind,
                                        digest_hex, None, version), case_prev)  # fmt: skip
            case_rows.append((seq, uid, at, author, unit, role, patient, kind, heading, body,
                              digest, None, version, case_prev, case_hash))  # fmt: skip
            logged = str(seq)
            access_values = (seq, at_text, author, unit, role, patient, create, kind_of, logged,
                             request, version)  # fmt: skip
            access_hash = seal(access_key, access_values, access_prev)
            access_rows.append((seq, at, author, unit, role, patient, create, kind_of, logged,
                                request, version, access_prev, access_hash))  # fmt: skip
            case_prev, access_prev = case_hash, access_hash
        sealed_at = clock_()
        spent["sealing the chains"] += sealed_at - begun
        bulk_insert(connection, "case_journal", CASE_COLUMNS, case_rows)
        inserted_at = clock_()
        spent["inserting case_journal"] += inserted_at - sealed_at
        bulk_insert(connection, "access_log", ACCESS_COLUMNS, access_rows)
        connection.commit()
        spent["inserting access_log"] += clock_() - inserted_at
        if seq % 100_000 < CHUNK or seq == len(plan):
            rate = seq / (time.perf_counter() - started)
            progress(f"  journal and access log: {seq:,}/{len(plan):,} ({rate:,.0f} entries/s)")
    return seq, case_prev, access_prev, spent


def check_stored(region: Region, rng: random.Random, sample: int = 200) -> None:
    """Read a sample of the patients back through the ORM (the model's types and descriptors)
    and compare them with what was generated: proof that the rows given to the driver are
    stored as SQLAlchemy would have stored them."""
    chosen = rng.sample(region.patients, min(sample, len(region.patients)))
    for expected in chosen:
        patient = db.session.get_one(Patient, expected.id)
        found = (patient.uid.hex, patient.unit_id, patient.sick_leave_start,
                 patient.sick_leave_end, patient.sick_leave_degree,
                 patient.previous_sick_leave_end, patient.certificate_added_at,
                 patient.diagnosis)  # fmt: skip
        wanted = (expected.uid, expected.unit_id, expected.start, expected.end, expected.degree,
                  expected.previous_end, expected.added_at, expected.diagnosis)  # fmt: skip
        if found != wanted or len(patient.personnummer) != 12:
            raise Failed(f"patient {expected.id} does not read back as generated")
    db.session.remove()


# -- the generator: all of it ---------------------------------------------------------------


def outside_transaction(statement: str) -> None:
    """A statement PostgreSQL refuses inside a transaction block."""
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)


def build(sizes: Sizes, workers: int, rng: random.Random) -> Region:
    for code in (*DIAGNOSES, *OTHER_DIAGNOSES):
        lookup(code)  # each must be a code the certificate form accepts
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, work: Callable[[], Any]) -> Any:
        progress(f"generating: {name}")
        begun = time.perf_counter()
        outcome = work()
        steps[name] = time.perf_counter() - begun
        progress(f"  {name}: {steps[name]:.1f} s")
        return outcome

    region: Region = step("units, coordinators, manager, administrator",
                          lambda: create_people(sizes, rng))  # fmt: skip
    region.steps = steps
    spent = step(
        "patients, cases, coordination consents, certificates",
        lambda: insert_patients(region, sizes, workers, rng),
    )
    for name, seconds in spent.items():
        steps[f"  of which inserting {name}"] = seconds
    check_stored(region, rng)
    spent = step(
        "case journal + access log (both chains)",
        lambda: insert_journal(region, sizes, workers, rng),
    )
    for name, seconds in spent.items():
        steps[f"  of which {name}"] = seconds
    if db.engine.dialect.name == "postgresql":
        # Measure the steady state, not autovacuum analysing the new tables meanwhile.
        step("VACUUM ANALYZE", lambda: outside_transaction("VACUUM ANALYZE"))
    steps["total"] = time.perf_counter() - started
    return region


# -- baseline 1: the bare framework ---------------------------------------------------------

_PLAIN = MetaData()
PLAIN_CASELOAD = Table(
    "bench_plain_caseload",
    _PLAIN,
    Column("id", Integer, primary_key=True),
    Column("unit_id", Integer, index=True),
    Column("uid", String(36)),
    Column("last_name", String(100)),
    Column("first_name", String(100)),
    Column("personnummer", String(13)),
    Column("status", String(32)),
    Column("coordinator", String(200)),
    Column("sick_leave_days", SmallInteger),
    Column("sick_leave_degree", SmallInteger),
    Column("sick_leave_end", Date),
    Column("day_90_on", Date),
    Column("follow_up_on", Date),
)

BARE_TEMPLATE = """<!doctype html><title>Caseload</title>
<p id="caseload-count">{{ total }} patients</p>
<table class="list caseload"><thead><tr><th>Name</th><th>Personnummer</th><th>Status</th>
<th>Coordinator</th><th>Sick leave</th><th>Next milestone</th><th>Follow-up</th></tr></thead>
<tbody>
{% for row in rows %}
<tr>
<td><a href="{{ url_for('patient', uid=row.uid) }}">{{ row.last_name }}, {{ row.first_name }}</a></td>
<td>{{ row.personnummer[:8] }}-{{ row.personnummer[8:] }}</td><td>{{ row.status }}</td>
<td>{{ row.coordinator or "–" }}</td>
<td>{% if row.sick_leave_days %}Day {{ row.sick_leave_days }} · {{ row.sick_leave_degree }} %{% elif row.sick_leave_end %}Ended {{ row.sick_leave_end }}{% else %}–{% endif %}</td>
<td>{% if row.day_90_on %}Day 90: {{ row.day_90_on }}{% else %}–{% endif %}</td>
<td>{{ row.follow_up_on or "–" }}</td>
</tr>
{% endfor %}
</tbody></table>
"""  # noqa: E501


def fill_plain_caseload(unit_ids: Sequence[int]) -> int:
    """The measured units' patients as plaintext rows, what the caseload table shows."""
    _PLAIN.create_all(db.engine)
    rows = []
    query = (
        select(Patient, CoordinationCase)
        .join(CoordinationCase, CoordinationCase.patient_id == Patient.id)
        .where(Patient.unit_id.in_(unit_ids))
    )
    names = dict(db.session.execute(select(User.id, User.full_name)).all())
    for patient, case in db.session.execute(query):
        rows.append({
            "id": patient.id, "unit_id": patient.unit_id, "uid": str(patient.uid),
            "last_name": patient.last_name, "first_name": patient.first_name,
            "personnummer": patient.personnummer, "status": case.status.value,
            "coordinator": names.get(case.coordinator_id) if case.coordinator_id else None,
            "sick_leave_days": patient.sick_leave_days,
            "sick_leave_degree": patient.sick_leave_degree,
            "sick_leave_end": patient.sick_leave_end, "day_90_on": patient.day_90_on,
            "follow_up_on": case.follow_up_on,
        })  # fmt: skip
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(insert(PLAIN_CASELOAD), rows)
    return len(rows)


def bare_app(database_url: str, page_size: int) -> Flask:
    """The framework's ceiling: a route that counts and reads one page of the unit's plaintext
    rows, ordered by name, and renders them — no sign-in, journal or encryption."""
    app = Flask("bare")
    engine = create_engine(database_url)
    table = PLAIN_CASELOAD

    @app.get("/caseload/<int:unit_id>")
    def caseload(unit_id: int) -> str:
        with engine.connect() as connection:
            total = connection.scalar(
                select(func.count()).select_from(table).where(table.c.unit_id == unit_id)
            )
            rows = connection.execute(
                select(table)
                .where(table.c.unit_id == unit_id)
                .order_by(table.c.last_name, table.c.first_name, table.c.id)
                .limit(page_size)
            ).all()
        return render_template_string(BARE_TEMPLATE, rows=rows, total=total)

    @app.get("/patients/<uid>")
    def patient(uid: str) -> str:
        return uid

    app.extensions["bench.engine"] = engine
    with app.test_request_context():
        url_for("caseload", unit_id=1)
    return app


# -- baseline 2: decrypt-and-scan -----------------------------------------------------------


def decrypt_and_scan(number: str) -> int:
    """Find ``number`` without a blind index: open every patient's sealed personnummer and
    compare. Returns how many patients carry it."""
    keyring = runtime.keys()
    field_ = Patient.personnummer
    found = 0
    query = select(Patient.uid, Patient._personnummer_sealed)  # type: ignore[attr-defined]
    for uid, stored in db.session.execute(query.execution_options(yield_per=10_000)):
        if field_.decrypt(uid.hex, stored, keyring) == number:
            found += 1
    db.session.remove()
    return found


# -- measuring ------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Failed(RuntimeError):
    """Something did not work as it must: the run is not a valid measurement."""


def token_of(client: FlaskClient, url: str) -> str:
    found = _TOKEN.search(client.get(url).text)
    if found is None:
        raise Failed(f"no CSRF token on {url}")
    return found.group(1)


def timed_posts(
    label: str,
    unit: str,
    runs: int,
    counter: StatementCounter,
    prepare: Callable[[int], Callable[[], Any]],
    expect_location: Callable[[int], str],
) -> Measured:
    """Warm-ups, then ``runs`` posts, each expected to redirect to ``expect_location(i)``;
    ``prepare(i)`` does what is not measured (a new client, its form) and returns the post."""

    def once(i: int) -> None:
        post = prepare(i)
        with counter.counting() as sent:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = post()
            elapsed = (time.perf_counter() - started) * 1e3
            used = (time.process_time() - started_cpu) * 1e3
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.split("#")[0].endswith(expect_location(i)):
            said = describe(response.text) if response.status_code != 302 else ""
            raise Failed(f"{label}: answered {response.status_code} → {location!r}{said}")
        if i >= 0:
            timings.append(elapsed)
            cpu.append(used)
            counts.append(len(sent))

    timings: list[float] = []
    cpu: list[float] = []
    counts: list[int] = []
    for i in range(WARM_UPS):
        once(-1 - i)
    for i in range(runs):
        once(i)
    probe = Probe(label, "", math.inf, lambda _html: True)
    return Measured(probe, unit, timings, cpu, counts, 0, None)


def timed_calls(runs: int, work: Callable[[], Any]) -> tuple[list[float], Any]:
    timings, outcome = [], None
    for _ in range(runs):
        started = time.perf_counter()
        outcome = work()
        timings.append((time.perf_counter() - started) * 1e3)
    return timings, outcome


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Row:
    operation: str
    timings_ms: list[float]
    baseline: str = "—"
    baseline_ms: float | None = None
    #: "time" (ratio = this / baseline, lower is better) or "speedup" (baseline / this).
    ratio_kind: str = "time"
    target: str = "—"
    #: The target as a test of the ratio, if there is one.
    meets: Callable[[float], bool] | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.timings_ms)

    @property
    def ratio(self) -> float | None:
        if self.baseline_ms is None:
            return None
        if self.ratio_kind == "speedup":
            return self.baseline_ms / self.median
        return self.median / self.baseline_ms


@dataclass
class Subjects:
    """Who and what the measurements use."""

    big_user: str
    small_user: str
    heavy_uid: str
    light_uid: str
    #: A patient of the big unit to add notes and contacts to, and its personnummer.
    worked_uid: str
    worked_number: str
    organisation_uid: str
    sign_in_users: list[str]


def prepare_subjects(region: Region) -> Subjects:
    """The organisation (Försäkringskassan) and the patient's consent to contact it, through
    the services, as a coordinator of the big unit would record them."""
    if region.heavy is None or region.light is None:
        raise Failed("the journal plan chose no patients to measure")
    big_users = region.usernames[region.big_unit]
    user = db.session.scalars(select(User).where(User.username == big_users[0])).one()
    unit = db.session.get_one(CareUnit, region.big_unit)
    actor = Actor(user=user, role=Role.COORDINATOR, unit=unit, request_id="bench-setup")
    # Contacts are logged on an active case (a closed one refuses them).
    worked_id = db.session.scalars(
        select(CoordinationCase.patient_id)
        .where(
            CoordinationCase.unit_id == region.big_unit,
            CoordinationCase.status == CaseStatus.ACTIVE,
            CoordinationCase.patient_id.not_in([region.heavy.id, region.light.id]),
        )
        .order_by(CoordinationCase.patient_id)
        .limit(1)
    ).one()
    patient = db.session.get_one(Patient, worked_id)
    organisation = directory.create_organisation(
        actor,
        directory.OrganisationInput(OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan Region"),
    )
    consents.record(
        actor,
        patient,
        consents.ConsentInput(
            kind=ConsentKind.SOCIAL_INSURANCE, answer=ConsentAnswer.GIVEN,
            method=ConsentMethod.ORAL, given_on=clock.today(),
            purpose="Information om sjukskrivningen till Försäkringskassan.",
        ),
    )  # fmt: skip
    db.session.commit()
    subjects = Subjects(
        big_user=big_users[0],
        small_user=region.usernames[region.small_unit][0],
        heavy_uid=str(uuid.UUID(region.heavy.uid)),
        light_uid=str(uuid.UUID(region.light.uid)),
        worked_uid=str(patient.uid),
        worked_number=patient.personnummer,
        organisation_uid=organisation.uid.hex,
        sign_in_users=[
            name for unit_id in region.unit_ids[2:] for name in region.usernames[unit_id]
        ],
    )
    db.session.remove()
    return subjects


def page(label: str, url: str, expect: Callable[[str], bool]) -> Probe:
    return Probe(label, url, math.inf, expect)


def has_table(html: str) -> bool:
    return "<table" in html


@dataclass
class Compared:
    """Statements per request of one page at a small and a large size."""

    page: str
    small: str
    small_count: str
    large: str
    large_count: str
    #: The statements of one request at each size, when the counts differ.
    difference: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.small_count == self.large_count


def compared(page_name: str, small: Measured, small_label: str, large: Measured,
             large_label: str) -> Compared:  # fmt: skip
    result = Compared(page_name, small_label, small.statement_count, large_label,
                      large.statement_count)  # fmt: skip
    if not result.equal:
        for label, measured in ((small_label, small), (large_label, large)):
            result.difference.append(f"  {page_name}, {label}:")
            result.difference += [f"    {short(statement)}" for statement, _ in measured.listing]
    return result


def measure_requests(
    app: Flask, region: Region, sizes: Sizes, subjects: Subjects, counter: StatementCounter
) -> tuple[dict[str, Measured], list[Compared]]:
    """Every request-level operation, and the statement counts at two sizes."""
    runs, done = sizes.runs, {}
    few = min(3, runs)
    addresses = iter(range(1, 10_000))

    def sign_in(i: int) -> Callable[[], Any]:
        client = app.test_client()
        token = token_of(client, "/auth/login")
        username = subjects.sign_in_users[i % len(subjects.sign_in_users)]
        # One address per sign-in, as many coordinators signing in from their own machines:
        # the sign-in rate limit counts posts per client address.
        address = next(addresses)
        form = {"csrf_token": token, "username": username, "password": region.password}
        environ = {"REMOTE_ADDR": f"127.0.{address // 250}.{address % 250 + 1}"}
        return lambda: client.post("/auth/login", data=form, environ_base=environ)

    progress(f"measuring sign-in, {runs} runs")
    done["sign-in"] = timed_posts("sign-in", "", runs, counter, sign_in, lambda _i: "/")

    big = signed_in(app, subjects.big_user, region.password)
    small = signed_in(app, subjects.small_user, region.password)
    caseload = page("caseload", "/patients/?scope=unit", lambda html: rows_shown(html) > 0)
    progress(f"measuring the caseload page ({sizes.big_unit:,} patients), {runs} runs")
    done["caseload"] = measure(big, counter, caseload, "big", runs)
    caseload_small = measure(small, counter, caseload, "small", few)

    def patient_page(uid: str) -> Probe:
        return page("patient page", f"/patients/{uid}", lambda html: "csrf_token" in html)

    progress(f"measuring the patient page ({sizes.heavy} journal entries), {runs} runs")
    done["patient"] = measure(big, counter, patient_page(subjects.heavy_uid), "heavy", runs)
    patient_light = measure(big, counter, patient_page(subjects.light_uid), "light", few)

    worked = f"/patients/{subjects.worked_uid}"
    token = token_of(big, worked)
    number = f"{subjects.worked_number[:8]}-{subjects.worked_number[8:]}"
    search = {"csrf_token": token, "query": number}
    progress(f"measuring search by personnummer, {runs} runs")
    done["search"] = timed_posts(
        "search", "", runs, counter,
        lambda _i: lambda: big.post("/patients/search", data=search), lambda _i: worked,
    )  # fmt: skip

    def note(i: int) -> Callable[[], Any]:
        form = {
            "csrf_token": token,
            "heading": "Telefonkontakt",
            "corrects": "",
            "body": f"Uppföljning {i + 10}: patienten klarar halvtid, ny kontakt om en vecka.",
        }
        return lambda: big.post(f"{worked}/journal", data=form)

    progress(f"measuring adding a note, {runs} runs")
    done["note"] = timed_posts("note", "", runs, counter, note, lambda _i: worked)

    def contact(i: int) -> Callable[[], Any]:
        form = contact_form(token, subjects.organisation_uid, i + 10)
        return lambda: big.post(f"{worked}/contacts/new", data=form)

    progress(f"measuring logging a contact, {runs} runs")
    done["contact"] = timed_posts(
        "contact", "", runs, counter, contact, lambda _i: f"{worked}/contacts"
    )

    manager = signed_in(app, region.manager, region.password)
    choose_unit(manager, region.big_unit)
    first, last = quarter_bounds(YEAR, QUARTER)

    def statistics_of(unit: int) -> Probe:
        url = f"/reports/statistics?unit={unit}&start={first}&end={last}"
        return page("statistics", url, has_table)

    def quarterly_of(unit: int | str) -> Probe:
        return page("quarterly", f"/reports/quarterly?unit={unit}&year={YEAR}&quarter={QUARTER}",
                    has_table)  # fmt: skip

    progress(f"measuring the statistics page, {runs} runs")
    done["statistics"] = measure(manager, counter, statistics_of(region.big_unit), "big", runs)
    statistics_small = measure(manager, counter, statistics_of(region.small_unit), "small", few)
    progress(f"measuring the quarterly report ({len(region.unit_ids)} units), {runs} runs")
    done["quarterly"] = measure(manager, counter, quarterly_of("all"), "all", runs)
    quarterly_small = measure(manager, counter, quarterly_of(region.small_unit), "small", few)

    compared_ = [
        compared("caseload page", caseload_small, f"{sizes.small_unit:,} patients",
                 done["caseload"], f"{sizes.big_unit:,} patients"),
        compared("patient page", patient_light, "1 journal entry", done["patient"],
                 f"{sizes.heavy:,} journal entries"),
        compared("statistics page", statistics_small, f"unit of {sizes.small_unit:,} patients",
                 done["statistics"], f"unit of {sizes.big_unit:,} patients"),
        compared("quarterly report", quarterly_small, "1 unit", done["quarterly"],
                 f"{len(region.unit_ids)} units"),
    ]  # fmt: skip
    return done, compared_


def measure_bare(app: Flask, unit_id: int, runs: int) -> Measured:
    client = app.test_client()
    counter = StatementCounter(app.extensions["bench.engine"])
    probe = page("bare caseload", f"/caseload/{unit_id}", lambda html: rows_shown(html) > 0)
    return measure(client, counter, probe, "bare", runs)


def measure_scan(number: str, runs: int) -> list[float]:
    def scan() -> int:
        found = decrypt_and_scan(number)
        if found != 1:
            raise Failed(f"decrypt-and-scan found {found} patients with the number, not 1")
        return found

    return timed_calls(runs, scan)[0]


def verify_chains(runs: int) -> tuple[list[float], int]:
    """``verify_all`` (what ``coordinator verify-journal`` runs): both chains intact."""
    expected = sum(db.session.scalars(select(ChainHead.seq)))
    db.session.remove()

    def verify() -> int:
        results = journal.verify_all()
        db.session.remove()
        broken = [r for r in results if not r.is_intact]
        verified = sum(r.verified for r in results)
        if broken or verified != expected:
            raise Failed(f"verify-journal: {broken or f'{verified:,} of {expected:,} verified'}")
        return verified

    timings, verified = timed_calls(runs, verify)
    return timings, verified


class _Enough(Exception):
    """Stops the rotation after the rows to be timed."""


def rotate_sample(app: Flask, limit: int) -> tuple[float, dict[str, int]]:
    """``rotation.rotate`` to a new key version, stopped after ``limit`` rows: the rotation
    commits each batch and resumes where it stopped, so stopping it is a supported state. The
    keys come from the configuration, as in production with COORDINATOR_ENCRYPTION_KEYS: the
    new version is added to the running app's key ring first, as a restart with it would."""
    with app.app_context():
        app.extensions[runtime.EXTENSION] = runtime.keys().with_new_version()
        done: dict[str, int] = {}

        def progress_(table: str, rows: int, _total: int) -> None:
            done[table] = rows
            if sum(done.values()) >= limit:
                raise _Enough

        started = time.perf_counter()
        with contextlib.suppress(_Enough):
            rotation.rotate(batch_size=500, progress=progress_)
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds, done


# -- output ---------------------------------------------------------------------------------


def fmt_s(ms: float) -> str:
    return f"{ms / 1e3:,.2f} s"


def table_rows(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    lines = []
    for row in rows:
        seconds = row.median >= 10_000
        show = fmt_s if seconds else fmt_ms
        ratio = row.ratio
        if ratio is None:
            ratio_text = "—"
        elif row.ratio_kind == "speedup":
            ratio_text = f"{ratio:,.0f}× faster"
        else:
            ratio_text = f"{ratio:,.2f}×"
        met_text = "—" if row.meets is None or ratio is None else (
            "yes" if row.meets(ratio) else "no"
        )  # fmt: skip
        baseline_ms = "—" if row.baseline_ms is None else show(row.baseline_ms)
        lines.append((row.operation, show(row.median), show(p95(row.timings_ms)), row.baseline,
                      baseline_ms, ratio_text, row.target, met_text))  # fmt: skip
    return lines


def print_table(headers: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    """A Markdown table (readable as it is, and pasted into docs/performance.md)."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


# -- main -----------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(
        description="Generate a region and time the product's everyday operations in it "
        "against baselines measured in the same run."
    )
    for name, help_ in (
        ("patients", "patients in all units"),
        ("units", "care units"),
        ("coordinators", "coordinators, spread over the units"),
        ("certificates", "sick-leave certificates in all"),
        ("entries", "case-journal entries (each with its access-log entry)"),
        ("big-unit", "patients of the measured unit"),
        ("small-unit", "patients of the unit statement counts are compared with"),
        ("heavy", "journal entries of the measured patient"),
        ("runs", f"measured requests per operation, after {WARM_UPS} warm-ups"),
        ("verify-runs", "runs of verify-journal"),
        ("scans", "runs of the decrypt-and-scan baseline"),
        ("rotate-rows", "rows re-encrypted by the timed key rotation before it is stopped"),
    ):
        default = getattr(FULL, name.replace("-", "_"))
        parser.add_argument(f"--{name}", type=int, help=f"{help_} (default {default:,})")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes sealing the case journal (default: 2, or 1 on one core)",
    )
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is created on that "
        "server and dropped afterwards (default: a temporary SQLite file)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fictitious data")
    arguments = parser.parse_args(argv)
    chosen = QUICK if arguments.quick else FULL
    overrides = {
        name: value
        for name in Sizes.__dataclass_fields__
        if (value := getattr(arguments, name)) is not None
    }
    sizes = replace(chosen, **overrides)
    if min(getattr(sizes, name) for name in Sizes.__dataclass_fields__) < 1:
        parser.error("sizes must be positive")
    if sizes.units < 3 or sizes.coordinators < sizes.units:
        parser.error("at least 3 units and a coordinator for each")
    if sizes.patients < sizes.big_unit + sizes.small_unit + sizes.units - 2:
        parser.error("--patients must leave at least one patient for every other unit")
    if sizes.heavy + sizes.patients - 1 > sizes.entries:
        parser.error("--entries must give every patient one entry and the heavy one --heavy")
    if quarter_bounds(YEAR, QUARTER)[1] >= clock.today():
        parser.error(f"{YEAR} Q{QUARTER} is not over yet")
    return arguments, sizes


def main(argv: Sequence[str] | None = None) -> int:
    arguments, sizes = parse_arguments(argv)
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(arguments.seed)  # noqa: S311
    try:
        return in_fresh_app(
            arguments.database_url, lambda app: run(app, sizes, arguments.workers, rng)
        )
    except Failed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1


def run(app: Flask, sizes: Sizes, workers: int, rng: random.Random) -> int:
    # Sign-in is measured with the production argon2 parameters (the stored hashes carry them).
    app.config["PASSWORD_HASH_PROFILE"] = Config.PASSWORD_HASH_PROFILE
    passwords.init_app(app)
    with app.app_context():
        progress(f"migrating a fresh {db.engine.dialect.name} database")
        migrate_schema()
        info = machine_info(db.engine)
        database_url = db.engine.url.render_as_string(hide_password=False)
        region = build(sizes, workers, rng)
        progress(f"generated in {region.steps['total']:.1f} s")
        progress("baseline: plaintext caseload rows for the bare app")
        plain = fill_plain_caseload([region.big_unit, region.small_unit])
        subjects = prepare_subjects(region)
        engine = db.engine
    counter = StatementCounter(engine)
    load_before = os.getloadavg()[0]
    bare = bare_app(database_url, app.config["CASELOAD_PAGE_SIZE"])
    progress(f"measuring the bare baseline, {sizes.runs} runs")
    bare_measured = measure_bare(bare, region.big_unit, sizes.runs)
    done, compared = measure_requests(app, region, sizes, subjects, counter)
    with app.app_context():
        progress(f"baseline: decrypt-and-scan of {sizes.patients:,} numbers, {sizes.scans} runs")
        scans = measure_scan(subjects.worked_number, sizes.scans)
        progress(f"verify-journal, {sizes.verify_runs} runs")
        verify_ms, verified = verify_chains(sizes.verify_runs)
    progress(f"key rotation, stopped after {sizes.rotate_rows:,} rows")
    rotate_s, rotated = rotate_sample(app, sizes.rotate_rows)
    load_after = os.getloadavg()[0]
    bare.extensions["bench.engine"].dispose()

    bare_ms = bare_measured.median
    bare_label = "bare Flask table"

    def vs_bare(label: str, key: str, **extra: Any) -> Row:
        return Row(label, done[key].timings_ms, bare_label, bare_ms, **extra)

    rows_done = sum(rotated.values())
    rows = [
        vs_bare("sign-in (POST, argon2id)", "sign-in"),
        vs_bare(f"caseload page ({sizes.big_unit:,} patients)", "caseload",
                target=f"≤ {CASELOAD_RATIO:g}×", meets=lambda r: r <= CASELOAD_RATIO),
        vs_bare(f"patient page ({sizes.heavy:,} journal entries)", "patient"),
        Row("search by personnummer (POST → 302)", done["search"].timings_ms,
            "decrypt-and-scan", statistics.median(scans), ratio_kind="speedup",
            target=f"≥ {LOOKUP_SPEEDUP:g}× faster", meets=lambda r: r >= LOOKUP_SPEEDUP),
        vs_bare("add note (POST → 302)", "note"),
        vs_bare("log contact (POST → 302)", "contact"),
        vs_bare(f"statistics page ({sizes.big_unit:,} patients)", "statistics"),
        vs_bare(f"quarterly report ({sizes.units} units)", "quarterly"),
        Row(f"verify-journal ({verified:,} entries: "
            f"{verified / (statistics.median(verify_ms) / 1e3):,.0f}/s)", verify_ms),
        Row(f"key rotation ({rows_done:,} rows: {rows_done / rotate_s:,.0f} rows/s)",
            [rotate_s * 1e3]),
    ]  # fmt: skip

    print()
    print(f"Coordinator at region scale (issue 11), {clock.today().isoformat()}")
    for name, value in info:
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Cores:':<15} {os.cpu_count()}")
    print(f"  {'Load average:':<15} {load_before:.2f} before measuring, {load_after:.2f} after")
    print(f"  {'Runs:':<15} {sizes.runs} per request after {WARM_UPS} warm-ups; "
          f"verify-journal {sizes.verify_runs}; decrypt-and-scan {sizes.scans}")  # fmt: skip
    print(f"  {'Baselines:':<15} bare Flask table {fmt_ms(bare_ms)} "
          f"({bare_measured.statement_count} statements, {plain:,} plaintext rows); "
          f"decrypt-and-scan {fmt_ms(statistics.median(scans))}")  # fmt: skip
    print()
    headers = ("Operation", "Median", "p95", "Baseline", "Baseline median", "Ratio", "Target",
               "Met")  # fmt: skip
    print_table(headers, table_rows(rows))
    print()
    print("SQL statements per request, small and large:")
    print()
    lines = [(c.page, f"{c.small_count} ({c.small})", f"{c.large_count} ({c.large})",
              "yes" if c.equal else "no") for c in compared]  # fmt: skip
    print_table(("Page", "Small", "Large", "Equal"), lines)
    for c in compared:
        if c.difference:
            print()
            print("\n".join(c.difference))
    print()
    print(f"Statements of the measured posts: sign-in {done['sign-in'].statement_count}, "
          f"search {done['search'].statement_count}, note {done['note'].statement_count}, "
          f"contact {done['contact'].statement_count}")  # fmt: skip
    print(
        f"Key rotation: {', '.join(f'{t} {n:,}' for t, n in rotated.items())} rows in "
        f"{rotate_s:.2f} s (rotate() stopped there; it resumes on the next run)"
    )
    print()
    print("Generator:")
    print()
    counts = {**region.counts}
    steps = [(name, f"{seconds:.1f} s") for name, seconds in region.steps.items()]
    print_table(("Step", "Time"), steps)
    print()
    print(f"  Generated: {counts.get('patients', 0):,} patients, {sizes.units} units, "
          f"{sizes.coordinators} coordinators, {counts.get('certificates', 0):,} certificates, "
          f"{counts.get('journal entries', 0):,} case-journal entries and as many access-log "
          f"entries; {workers} worker process(es)")  # fmt: skip
    total = region.steps["total"]
    within = "yes" if total <= GENERATOR_BUDGET_S else "no"
    print(f"  Within {GENERATOR_BUDGET_S:.0f} s: {within}")
    equal = all(c.equal for c in compared)
    missed = [r.operation for r in rows if r.meets is not None and r.ratio is not None
              and not r.meets(r.ratio)]  # fmt: skip
    if not equal:
        missed.append("constant statement count")
    print("Targets missed: " + "; ".join(missed) if missed else "All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
