"""The first part of ``region.py``'s generator: the sizes of the region, its units and staff
(through the ORM), and its patients with their cases, coordination consents and certificates
(generated in pool processes, bulk-loaded here through ``region_bulk``).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    DIAGNOSES,
    at_work_hours,
    consent_columns,
    patient_and_case,
    unit_sizes,
    weighted,
)
from flask import current_app
from protection import (
    FIRST_NAMES,
    LAST_NAMES,
    personnummer_numbers,
    progress,
)
from region_bulk import (
    Failed,
    bulk_insert,
    large_cache,
    pooled,
    references_checked_afterwards,
    stored_rows,
)
from reports import (
    DOCTOR_WEIGHTS,
    OTHER_DIAGNOSES,
    PatientRow,
    create_manager,
    sealed,
    source,
    split,
    unit_doctors,
)
from sqlalchemy import (
    text,
)

from coordinator import clock
from coordinator.auth import passwords
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.crypto import runtime
from coordinator.extensions import db
from coordinator.patients.models import CaseStatus, Certificate, Patient
from coordinator.patients.sickleave import DEGREES

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
#: Rows per insert statement and transaction.
BATCH = 5_000

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
