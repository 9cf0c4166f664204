"""What the managers' reports cost in a large region: the sick-leave statistics of a unit of
2 000 patients and the quarterly report across 50 units, among 100 000 patients and an access
log of 1 000 000 entries (issue 8), measured as function calls and as whole requests of a
signed-in manager.

    make bench-reports                               # full sizes, temporary SQLite file
    .venv/bin/python benchmarks/reports.py --patients 10000 --entries 100000 --runs 5
    .venv/bin/python benchmarks/reports.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres

The region is ``caseload.py``'s: its builder inserts the units, coordinators, patients (with
the sick-leave summary columns), one coordination case each and the coordination consents of
the active cases (its personnummer generator is given one that skips the serial 000, which no
valid number has). That builder writes no certificates, and the reports read the certificates,
treatments, contacts and consents themselves, so this script adds them, bulk-inserted through
SQLAlchemy Core with every encrypted value sealed by the model's ``Encrypted`` descriptor (and
the blind indexes the app computes), not through the services:

- *certificates*, 1–3 for every sick-listed patient, cut from the patient's summary so that the
  two agree: the latest certificate carries the summary's diagnosis, degree, end and
  registration time; earlier ones the same or a higher degree and now and then another
  diagnosis (ICD-10 chapters V, IX, X, XI, XIII, XIV, XV, XVIII, XIX, XXI, XXII, II, VI); a
  recurrent patient also has one certificate of the earlier case. Each unit has 20 doctors, a
  few of whom write most certificates; a few certificates name none;
- ``activated_at`` (migration 0007) on the active cases, and on the closed ones that were
  active (the migration's rule), some days after the screening decision;
- a directory of 300 employers (with one or two contact persons each), Arbetsförmedlingen,
  Försäkringskassan and five occupational health services;
- for each quarter from a year before the measured one up to today, *treatments* for 3 % of
  the patients (active cases): most completed in the quarter, KBT sometimes with fewer than 10
  sessions, some without a completion date, some completed earlier and recorded late, some
  completed in the next quarter; and *contacts* for 5 % of the patients, 1–3 each, with the
  patient's employer, Arbetsförmedlingen, Försäkringskassan or occupational health, mostly
  initiated by care. The other quarters are there so that the report picks its quarter out of
  a history, as it would in production;
- *consents* for those contacts: most patients gave the employer's (or Arbetsförmedlingen's,
  ...) consent before the first contact, some only after it, a few refused, some consents end
  or are withdrawn; and a few patients have a stated gender;
- the *access log*: 1 000 000 entries appended through ``journal.chain.append`` (as
  ``protection.py`` builds its chain), so the chain's seals, links and head are the real
  ones: list pages logging 10–50 patients of a unit, single-patient pages logging 1–4 entries
  of different kinds, spread over the last year.

Measured, after 3 warm-ups, each run in a new application context and session: the two
functions, and the two pages through Flask's test client after a real sign-in of a manager of
all 50 units (routing, the session, the services, the templates, any access-log append and
the commit). A page that does not exist yet (404) is reported as such and not measured. The
database is a fresh one made for the run (as in ``protection.py``); the instance folder is
never touched. All data is fictitious. See ``docs/performance.md`` for measured figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import random
import re
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    BATCH,
    BIG_UNIT,
    DIAGNOSES,
    PATIENTS,
    SMALL_UNIT,
    UNITS,
    WARM_UPS,
    StatementCounter,
    at_work_hours,
    build_region,
    signed_in,
    weighted,
)
from flask import Flask
from flask.testing import FlaskClient
from protection import (
    FIRST_NAMES,
    LAST_NAMES,
    fmt_ms,
    in_fresh_app,
    luhn_digit,
    machine_info,
    met,
    migrate_schema,
    progress,
)
from sqlalchemy import Table, bindparam, func, insert, select, update

from coordinator import clock
from coordinator.auth.models import CareUnit, ProviderType, User
from coordinator.auth.passwords import hash_password
from coordinator.auth.roles import Role
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentMethod,
    ConsentWithdrawal,
)
from coordinator.contacts.directory import name_key, org_number
from coordinator.contacts.models import (
    Channel,
    ContactEvent,
    ContactKind,
    ContactPerson,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.crypto.fields import REGISTRY
from coordinator.crypto.runtime import keys
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal.models import AccessAction, AccessLogEntry, Chain
from coordinator.patients.diagnoses import lookup
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    Certificate,
    CertificateSource,
    CoordinationCase,
    Patient,
    ScreeningDecision,
)
from coordinator.patients.sickleave import DEGREES
from coordinator.plans.models import Treatment, TreatmentKind, TreatmentProvider
from coordinator.reports.models import UnitPopulation
from coordinator.reports.quarterly import quarter_bounds, quarterly_report
from coordinator.reports.statistics import sick_leave_statistics

# -- targets (from the issue) ---------------------------------------------------------------

STATISTICS_TARGET_MS = 200.0
QUARTERLY_TARGET_MS = 2_000.0

# -- sizes ----------------------------------------------------------------------------------

ENTRIES = 1_000_000
RUNS = 10
#: The quarter the issue names.
YEAR, QUARTER = 2026, 3
#: Access-log entries per transaction while building the chain (as ``protection.py``).
LOG_BATCH = 10_000

# -- fictitious data ------------------------------------------------------------------------

#: Diagnoses of earlier certificates and earlier sick-leave cases besides ``DIAGNOSES``:
#: first assessments (fatigue, acute stress, burnout) and other chapters.
OTHER_DIAGNOSES = {
    "R53": 5, "Z73.0": 5, "F43.0": 5, "F41.1": 5, "F32.0": 3, "M51.1": 3, "M17.1": 3,
    "M75.1": 3, "G43.9": 2, "I10": 1, "K58.9": 1, "C50.9": 2, "U09.9": 2, "O26.9": 2,
    "N92.0": 1, "S62.5": 2,
}  # fmt: skip
#: Share of earlier certificates of a case with another diagnosis than the latest.
CHANGED_DIAGNOSIS = 0.3
#: Certificates of the current case: how many, by weight (a case under four weeks has one).
CERTIFICATES = {1: 30, 2: 40, 3: 30}
DOCTORS_PER_UNIT = 20
#: Share of certificates by the patient's usual doctor, and without any doctor.
SAME_DOCTOR = 0.8
NO_DOCTOR = 0.03
IMPORTED = 0.2
STATED_GENDER = 0.005

#: Per quarter, the share of patients with a treatment recorded and with contacts logged.
TREATED = 0.03
CONTACTED = 0.05
#: Quarters of history before the measured one (the later ones, up to today, are added too).
QUARTERS_BEFORE = 3
TREATMENT_KINDS = {
    TreatmentKind.KBT: 30, TreatmentKind.IKBT: 8, TreatmentKind.IPT: 4, TreatmentKind.PDT: 4,
    TreatmentKind.EMDR: 3, TreatmentKind.OTHER_PSYCHOLOGICAL: 6, TreatmentKind.MMR1: 10,
    TreatmentKind.MMR2: 6, TreatmentKind.BEHAVIOURAL_MEDICINE: 8,
    TreatmentKind.PHYSIOTHERAPY_TRAINING: 14, TreatmentKind.OTHER_PAIN: 7,
}  # fmt: skip
PROVIDERS = {
    (TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC): 55,
    (TreatmentProvider.OTHER_UNIT, ProviderType.PUBLIC): 20,
    (TreatmentProvider.PRIVATE_PROVIDER, ProviderType.PRIVATE): 25,
}
#: When a treatment of a quarter was completed, by weight: in it, not yet, in the quarter
#: before (recorded late), after it.
TREATMENT_TIMING = {"completed": 70, "ongoing": 10, "late": 8, "after": 12}
#: Share of KBT treatments with fewer sessions than the agreement's minimum (10).
KBT_SHORT = 0.25
TREATMENT_NOTES = (
    "Psykolog på vårdcentralen.", "Gruppbehandling, 8 deltagare.",
    "Privat mottagning enligt vårdval.", "Fysioterapeut, träning två gånger i veckan.",
)  # fmt: skip

EMPLOYER_PLACES = (
    "Mätstads", "Norrby", "Södra Dalens", "Åsens", "Bergviks", "Lindö", "Ekbackens", "Sjöviks",
    "Hagaby", "Östra Strands", "Björkå", "Granvalla", "Älvsby", "Karlsdals", "Forsby",
    "Vretens", "Tallmo", "Rönnebergs", "Lövsta", "Skogsbo", "Nyköpings", "Ängby", "Kvarnby",
    "Solhaga", "Fjällsta",
)  # fmt: skip
EMPLOYER_TRADES = (
    "Bygg AB", "Mekaniska Verkstad AB", "Åkeri AB", "Redovisning AB", "Omsorg AB", "Livs AB",
    "Tryckeri AB", "Städ & Fastighet AB", "IT-konsult AB", "Elektriska AB", "Skog AB",
    "Måleri AB",
)  # fmt: skip
#: Share of contacted patients with an employer in the directory (the others are unemployed
#: or self-employed: their contacts are with Arbetsförmedlingen and Försäkringskassan).
EMPLOYED = 0.85
CONTACTS_PER_PATIENT = {1: 50, 2: 30, 3: 20}
#: Who a contact is with, for an employed patient and for one without an employer.
CONTACT_WITH = {
    OrganisationType.EMPLOYER: 60, OrganisationType.EMPLOYMENT_SERVICE: 12,
    OrganisationType.SOCIAL_INSURANCE: 22, OrganisationType.OCCUPATIONAL_HEALTH: 6,
}  # fmt: skip
CONTACT_WITHOUT_EMPLOYER = {
    OrganisationType.EMPLOYMENT_SERVICE: 60, OrganisationType.SOCIAL_INSURANCE: 40,
}  # fmt: skip
INITIATORS = {Initiator.CARE: 65, Initiator.EXTERNAL: 25, Initiator.PATIENT: 10}
CHANNELS = {Channel.PHONE: 50, Channel.MEETING: 18, Channel.VIDEO: 15, Channel.EMAIL: 10,
            Channel.WORKPLACE_VISIT: 5, Channel.LETTER: 2}  # fmt: skip
CONTACT_KINDS = {
    OrganisationType.EMPLOYER: {ContactKind.PLANNING: 35, ContactKind.THREE_PARTY_MEETING: 25,
                                ContactKind.INFORMATION: 20, ContactKind.FOLLOW_UP: 20},
    OrganisationType.SOCIAL_INSURANCE: {ContactKind.RECONCILIATION_MEETING: 50,
                                        ContactKind.INFORMATION: 35, ContactKind.OTHER: 15},
}  # fmt: skip
OTHER_CONTACT_KINDS = {ContactKind.INFORMATION: 40, ContactKind.PLANNING: 35,
                       ContactKind.FOLLOW_UP: 25}  # fmt: skip
CONTACT_NOTES = (
    "Pratade om anpassningar: kortare pass och färre tunga lyft.",
    "Avstämning av planen för återgång, nästa möte om tre veckor.",
    "Informerade om rehabiliteringskedjan och vad vården kan bidra med.",
    "Arbetsgivaren erbjuder arbetsträning på halvtid från nästa månad.",
)  # fmt: skip
NEXT_STEP = 0.3
#: Consents of contacted patients for each recipient they were contacted about, by weight:
#: given before the first contact, given only after it, refused.
CONSENT_TIMING = {"before": 85, "after": 10, "refused": 5}
#: Of given consents: the share with an end date, named for one recipient, later withdrawn.
CONSENT_ENDS = 0.15
CONSENT_NAMED = 0.2
WITHDRAWN = 0.03
METHODS = {ConsentMethod.ORAL: 60, ConsentMethod.WRITTEN: 30, ConsentMethod.DIGITAL: 10}

#: The access log: share of requests that are list pages, and what a single-patient request
#: logs (action, object type, whether the object is the patient itself), by weight.
LIST_PAGES = 0.1
LOG_DAYS = 365
SINGLE_ACCESSES = {
    (AccessAction.READ, "patient", True): 40, (AccessAction.READ, "journal", True): 15,
    (AccessAction.READ, "certificate", False): 8, (AccessAction.READ, "consent", False): 6,
    (AccessAction.READ, "plan", False): 6, (AccessAction.CREATE, "journal_entry", False): 6,
    (AccessAction.CHANGE, "case", False): 4, (AccessAction.CREATE, "contact", False): 3,
    (AccessAction.CREATE, "treatment", False): 1, (AccessAction.PRINT, "plan", False): 2,
    (AccessAction.DISCLOSE, "employer", False): 1, (AccessAction.SEARCH, "patient", True): 6,
    (AccessAction.DENIED, "contact", False): 1, (AccessAction.EXPORT, "report", False): 1,
}  # fmt: skip


def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def sealed(model: Any, row: str, **values: Any) -> dict[str, Any]:
    """A row of ``model``'s table: ``values`` with each encrypted field sealed by the model's
    descriptor for the row identity ``row`` (the uid's hex), as assigning it would."""
    fields = {field.name: field for field in REGISTRY[model]}
    return {
        name: fields[name].encrypt(row, value) if name in fields and value is not None else value
        for name, value in values.items()
    }


def insert_rows(table: Table, rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """Core-insert ``rows`` in batches, one transaction each; the new ids if asked for."""
    ids: list[int] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        if returning:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids += db.session.scalars(statement, chunk).all()
        else:
            db.session.execute(insert(table), chunk)
        db.session.commit()
    return ids


def table_of(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


# -- what the region builder left, read back -----------------------------------------------


@dataclass(frozen=True)
class PatientRow:
    id: int
    uid: str
    unit_id: int
    start: date | None
    end: date | None
    degree: int | None
    previous_end: date | None
    added_at: datetime | None
    diagnosis: str | None


@dataclass(frozen=True)
class ActiveCase:
    id: int
    patient_id: int
    unit_id: int
    coordinator_id: int | None
    activated_on: date


@dataclass
class Region:
    units: list[int]
    big_unit: int
    password: str
    manager: str
    #: Coordinator ids by unit.
    coordinators: dict[int, list[int]]
    patients: list[PatientRow]
    active: list[ActiveCase] = field(default_factory=list)
    #: Seconds per build step, in order.
    steps: dict[str, float] = field(default_factory=dict)

    def coordinator(self, rng: random.Random, unit_id: int, preferred: int | None) -> int:
        return preferred if preferred is not None else rng.choice(self.coordinators[unit_id])


def read_patients() -> list[PatientRow]:
    """Every patient's summary columns, the diagnosis decrypted."""
    keyring = keys()
    rows = db.session.execute(
        select(
            Patient.id, Patient.uid, Patient.unit_id, Patient.sick_leave_start,
            Patient.sick_leave_end, Patient.sick_leave_degree, Patient.previous_sick_leave_end,
            Patient.certificate_added_at, Patient._diagnosis_sealed,  # type: ignore[attr-defined]
        ).order_by(Patient.id)
    )  # fmt: skip
    found = []
    for pid, uid, unit_id, start, end, degree, previous, added, diagnosis in rows:
        code = Patient.diagnosis.decrypt(uid.hex, diagnosis, keyring) if diagnosis else None
        found.append(PatientRow(pid, uid.hex, unit_id, start, end, degree, previous, added, code))
    db.session.remove()
    return found


def coordinators_by_unit() -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    coordinators = select(User).where(User.role == Role.COORDINATOR).order_by(User.id)
    for user in db.session.scalars(coordinators):
        for unit in user.units:
            found[unit.id].append(user.id)
    db.session.remove()
    return dict(found)


# -- manager, populations, stated genders ---------------------------------------------------


def create_manager(unit_ids: Sequence[int], password: str, rng: random.Random) -> str:
    """A manager of every unit (the quarterly report's "all units"), and the population of
    most units' areas (the per-1000 rate)."""
    units = list(
        db.session.scalars(select(CareUnit).where(CareUnit.id.in_(unit_ids)).order_by(CareUnit.id))
    )
    manager = User(
        username="chef.alla",
        full_name="Chef Allaenheter",
        title="Verksamhetschef",
        role=Role.MANAGER,
        password_hash=hash_password(password),
        units=units,
    )
    db.session.add(manager)
    db.session.flush()
    for unit in units:
        if rng.random() < 0.9:
            db.session.add(UnitPopulation(unit_id=unit.id, population=rng.randint(9_000, 26_000),
                                          set_by_id=manager.id, set_at=clock.now()))  # fmt: skip
    db.session.commit()
    username = manager.username
    db.session.remove()
    return username


def state_genders(patients: Sequence[PatientRow], rng: random.Random) -> int:
    """A few patients state a gender other than the legal sex their number encodes."""
    chosen = [p for p in patients if rng.random() < STATED_GENDER]
    table = table_of(Patient)
    statement = update(table).where(table.c.id == bindparam("b_id"))
    rows = [{"b_id": p.id, "stated_gender": Patient.stated_gender.encrypt(p.uid, "other")}
            for p in chosen]  # fmt: skip
    if rows:
        db.session.execute(statement, rows)
        db.session.commit()
    return len(rows)


# -- certificates ---------------------------------------------------------------------------


def unit_doctors(unit_ids: Sequence[int], rng: random.Random) -> dict[int, list[str]]:
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return {unit_id: rng.sample(names, DOCTORS_PER_UNIT) for unit_id in unit_ids}


#: A few doctors write most certificates.
DOCTOR_WEIGHTS = [1 / (rank + 1) for rank in range(DOCTORS_PER_UNIT)]


def split(rng: random.Random, start: date, end: date, pieces: int) -> list[tuple[date, date]]:
    """``start``–``end`` cut into ``pieces`` back-to-back periods of at least a week."""
    days = (end - start).days + 1
    cuts = [0]
    for piece in range(1, pieces):
        even = round(days * piece / pieces)
        cuts.append(
            max(cuts[-1] + 7, even + rng.randint(-days // (4 * pieces), days // (4 * pieces)))
        )
    cuts.append(days)
    return [
        (start + timedelta(days=a), start + timedelta(days=b - 1))
        for a, b in itertools.pairwise(cuts)
    ]


def source(rng: random.Random) -> CertificateSource:
    return CertificateSource.IMPORT if rng.random() < IMPORTED else CertificateSource.MANUAL


def certificate_rows(
    patient: PatientRow, doctors: list[str], creator: int, rng: random.Random, now: datetime
) -> list[dict[str, Any]]:
    """The certificates behind ``patient``'s summary columns (none without sick leave)."""
    if patient.start is None or patient.end is None or patient.degree is None:
        return []
    usual = rng.choices(doctors, weights=DOCTOR_WEIGHTS)[0]
    days = (patient.end - patient.start).days + 1
    most = 2 if patient.previous_end is not None else 3
    pieces = 1 if days < 28 else min(most, weighted(rng, CERTIFICATES), days // 14)
    periods = split(rng, patient.start, patient.end, pieces)
    # Degrees step down towards the summary's (the degree on the case's last day).
    degrees = [patient.degree]
    for _ in periods[:-1]:
        higher = [d for d in DEGREES if d >= degrees[0]]
        degrees.insert(0, degrees[0] if rng.random() < 0.5 else rng.choice(higher))
    codes = [
        patient.diagnosis if rng.random() >= CHANGED_DIAGNOSIS else weighted(rng, OTHER_DIAGNOSES)
        for _ in periods[:-1]
    ] + [patient.diagnosis]
    added = [min(now, at_work_hours(first + timedelta(days=rng.randint(0, 5)), rng))
             for first, _ in periods]  # fmt: skip
    added[-1] = patient.added_at or added[-1]
    added = [min(at, added[-1]) for at in added]
    if patient.previous_end is not None:
        last = patient.previous_end
        first = last - timedelta(days=rng.randint(7, 90) - 1)
        periods.insert(0, (first, last))
        degrees.insert(0, rng.choice(DEGREES))
        codes.insert(0, weighted(rng, DIAGNOSES | OTHER_DIAGNOSES))
        added.insert(
            0, min(added[0], at_work_hours(first + timedelta(days=rng.randint(0, 5)), rng))
        )
    rows = []
    for (first, last), degree, code, at in zip(periods, degrees, codes, added, strict=True):
        uid = uuid.uuid4()
        doctor = None if rng.random() < NO_DOCTOR else (
            usual if rng.random() < SAME_DOCTOR else rng.choices(doctors, DOCTOR_WEIGHTS)[0]
        )  # fmt: skip
        rows.append(sealed(
            Certificate, uid.hex, uid=uid, patient_id=patient.id, start_on=first, end_on=last,
            degree=degree, diagnosis_code=code or "R53", doctor=doctor,
            source=source(rng),
            created_by_id=creator, created_at=at,
        ))  # fmt: skip
    return rows


def insert_certificates(region: Region, rng: random.Random) -> int:
    doctors = unit_doctors(region.units, rng)
    now = clock.now()
    rows: list[dict[str, Any]] = []
    count = 0
    for number, patient in enumerate(region.patients, start=1):
        creator = rng.choice(region.coordinators[patient.unit_id])
        rows += certificate_rows(patient, doctors[patient.unit_id], creator, rng, now)
        if len(rows) >= 20_000 or number == len(region.patients):
            insert_rows(table_of(Certificate), rows)
            count += len(rows)
            rows = []
            progress(f"  certificates inserted: {count:,} ({number:,} patients)")
    return count


# -- cases: when coordination began ---------------------------------------------------------


def activate_cases(region: Region, rng: random.Random) -> int:
    """Set ``activated_at`` (migration 0007) on the cases that became active: a few days after
    the screening decision for active cases; the decision's time for the closed ones, as the
    migration does for cases older than it."""
    table = table_of(CoordinationCase)
    rows = db.session.execute(
        select(table.c.id, table.c.patient_id, table.c.unit_id, table.c.coordinator_id,
               table.c.status, table.c.screened_at, table.c.screening_decision, table.c.outcome)
        .order_by(table.c.id)  # the same draws on every engine
    ).all()  # fmt: skip
    now = clock.now()
    updates = []
    for case_id, patient_id, unit_id, coordinator_id, status, screened, decision, outcome in rows:
        if decision is not ScreeningDecision.OFFER or screened is None:
            continue
        if status is CaseStatus.ACTIVE:
            at = min(
                now, screened + timedelta(days=rng.randint(0, 10), minutes=rng.randint(0, 300))
            )
            activated = at.astimezone(clock.LOCAL_ZONE).date()
            region.active.append(
                ActiveCase(case_id, patient_id, unit_id, coordinator_id, activated)
            )
        elif status is CaseStatus.CLOSED and outcome is not CaseOutcome.DECLINED:
            at = screened
        else:
            continue
        updates.append({"b_id": case_id, "activated_at": at})
    statement = update(table).where(table.c.id == bindparam("b_id"))
    for start in range(0, len(updates), BATCH):
        db.session.execute(statement, updates[start : start + BATCH])
        db.session.commit()
    return len(updates)


# -- the directory --------------------------------------------------------------------------


@dataclass
class Directory:
    #: (id, name, contact person ids) by type; the first ten employers are the largest.
    organisations: dict[OrganisationType, list[tuple[int, str, list[int]]]]

    def pick(self, type_: OrganisationType, rng: random.Random) -> tuple[int, str, list[int]]:
        return rng.choice(self.organisations[type_])


def organisation_number(rng: random.Random, taken: set[str]) -> str:
    """A fictitious, valid organisation number of a limited company (556…)."""
    while True:
        nine = f"556{rng.randint(0, 999_999):06d}"
        number = org_number(f"{nine[:6]}-{nine[6:]}{luhn_digit(nine)}")
        if number is not None and number not in taken:
            taken.add(number)
            return number


def insert_directory(region: Region, rng: random.Random) -> Directory:
    """300 employers, the two agencies and five occupational health services, with persons."""
    creator = region.coordinators[region.units[0]][0]
    now = clock.now()
    version = keys().current
    taken: set[str] = set()
    wanted: list[tuple[OrganisationType, str, str | None]] = [
        (OrganisationType.EMPLOYER, f"{place} {trade}", None)
        for place in EMPLOYER_PLACES
        for trade in EMPLOYER_TRADES
    ]
    wanted += [
        (OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen", "202100-2114"),
        (OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan", "202100-5521"),
        *((OrganisationType.OCCUPATIONAL_HEALTH, f"{place} Företagshälsa AB", None)
          for place in EMPLOYER_PLACES[:5]),
    ]  # fmt: skip
    table = table_of(Organisation)
    rows = []
    for type_, name, number in wanted:
        uid = uuid.uuid4()
        number = number or organisation_number(rng, taken)
        rows.append(sealed(
            Organisation, uid.hex, uid=uid, type=type_, name=name, name_key=name_key(name),
            org_number=number, org_number_bidx=Organisation.org_number.blind_index(number, version),
            address=f"Box {rng.randint(1, 999)}\n{rng.randint(100, 999)} 42 Mätstad",
            phone=f"0{rng.randint(10, 99)}-{rng.randint(100000, 999999)}", notes=None,
            created_by_id=creator, created_at=now, updated_at=now, lock=1,
        ))  # fmt: skip
    ids = insert_rows(table, rows, returning=True)
    persons_table = table_of(ContactPerson)
    persons, owners = [], []
    for organisation_id, (type_, _, _) in zip(ids, wanted, strict=True):
        employer = type_ is OrganisationType.EMPLOYER
        for _ in range(rng.randint(1, 2) if employer else 8):
            uid = uuid.uuid4()
            role = rng.choice(("HR", "Chef")) if employer else "Handläggare"
            persons.append(sealed(
                ContactPerson, uid.hex, uid=uid, organisation_id=organisation_id,
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", role=role,
                phone=f"070-{rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                email=None, left_on=None, created_by_id=creator, created_at=now, lock=1,
            ))  # fmt: skip
            owners.append(organisation_id)
    person_ids = insert_rows(persons_table, persons, returning=True)
    by_owner: dict[int, list[int]] = defaultdict(list)
    for owner, person_id in zip(owners, person_ids, strict=True):
        by_owner[owner].append(person_id)
    organisations: dict[OrganisationType, list[tuple[int, str, list[int]]]] = defaultdict(list)
    for organisation_id, (type_, name, _) in zip(ids, wanted, strict=True):
        organisations[type_].append((organisation_id, name, by_owner[organisation_id]))
    return Directory(dict(organisations))


# -- treatments, contacts and consents per quarter ------------------------------------------


def quarters(today: date) -> list[tuple[date, date, float]]:
    """The measured quarter, ``QUARTERS_BEFORE`` before it and the later ones up to today:
    (first day, last day or today, the share of the quarter that has passed)."""
    year, quarter = YEAR, QUARTER
    for _ in range(QUARTERS_BEFORE):
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    found = []
    while True:
        first, last = quarter_bounds(year, quarter)
        if first > today:
            return found
        passed = ((min(last, today) - first).days + 1) / ((last - first).days + 1)
        found.append((first, min(last, today), passed))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def treatment_row(
    case: ActiveCase, creator: int, first: date, last: date, today: date, rng: random.Random
) -> dict[str, Any]:
    """A treatment recorded in the quarter ``first``–``last``, as ``TREATMENT_TIMING`` says."""
    kind = weighted(rng, TREATMENT_KINDS)
    provider, provider_type = weighted(rng, PROVIDERS)
    duration = timedelta(days=rng.randint(28, 140))
    timing = weighted(rng, TREATMENT_TIMING)
    completed: date | None
    if timing == "completed":
        completed = day_between(rng, first, last)
        started = completed - duration
        recorded = day_between(rng, started, completed)
    elif timing == "late":
        completed = day_between(rng, first - timedelta(days=91), first - timedelta(days=1))
        started = completed - duration
        recorded = day_between(rng, first, last)
    else:  # started in the quarter, completed later (if by today) or not yet
        started = day_between(rng, first, last)
        completed = started + duration if timing == "after" else None
        if completed is not None and completed > today:
            completed = None
        recorded = day_between(rng, started, min(started + timedelta(days=7), last))
    if kind is TreatmentKind.KBT:
        sessions: int | None = (
            rng.randint(3, 9) if rng.random() < KBT_SHORT else rng.randint(10, 16)
        )
    else:
        sessions = None if rng.random() < 0.3 else rng.randint(4, 20)
    now = clock.now()
    created = min(now, at_work_hours(recorded, rng))
    updated = (
        created if completed is None else max(created, min(now, at_work_hours(completed, rng)))
    )
    uid = uuid.uuid4()
    note = rng.choice(TREATMENT_NOTES) if rng.random() < 0.4 else None
    return sealed(
        Treatment, uid.hex, uid=uid, patient_id=case.patient_id, unit_id=case.unit_id,
        case_id=case.id, kind=kind.value, provider=provider, provider_type=provider_type,
        started_on=started, completed_on=completed, sessions=sessions, note=note,
        created_by_id=creator, created_at=created, updated_at=updated,
        lock=1 if updated == created else 2,
    )  # fmt: skip


@dataclass
class ContactPlan:
    """What the contacts of one patient need: their days by recipient type."""

    case: ActiveCase
    days: dict[OrganisationType, list[date]] = field(default_factory=lambda: defaultdict(list))


def contact_row(
    case: ActiveCase,
    organisation: tuple[int, str, list[int]],
    type_: OrganisationType,
    day: date,
    recorder: int,
    rng: random.Random,
) -> dict[str, Any]:
    now = clock.now()
    occurred = min(now, at_work_hours(day, rng))
    organisation_id, _, persons = organisation
    person = rng.choice(persons) if persons and rng.random() < 0.6 else None
    kind = weighted(rng, CONTACT_KINDS.get(type_, OTHER_CONTACT_KINDS))
    step = rng.random() < NEXT_STEP
    uid = uuid.uuid4()
    return sealed(
        ContactEvent, uid.hex, uid=uid, patient_id=case.patient_id,
        unit_id=case.unit_id, case_id=case.id, organisation_id=organisation_id,
        contact_person_id=person, occurred_at=occurred, channel=weighted(rng, CHANNELS),
        kind=kind, initiated_by=weighted(rng, INITIATORS),
        notes=rng.choice(CONTACT_NOTES) if rng.random() < 0.8 else None, disclosure_id=None,
        measure_id=None, next_step="Ringa upp efter nästa läkarbesök." if step else None,
        next_step_on=day + timedelta(days=rng.randint(7, 30)) if step else None,
        recorded_by_id=recorder,
        recorded_at=min(now, occurred + timedelta(hours=rng.randint(0, 48))),
    )  # fmt: skip


def consent_rows(
    plan: ContactPlan,
    employer_name: str | None,
    recorder: int,
    today: date,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """The consents for the recipients a patient's contacts were with (the coordination
    consent of an active case is the region builder's)."""
    rows = []
    for type_, days in plan.days.items():
        kind = type_.consent_kind
        if kind is None:
            continue
        first_contact = min(days)
        timing = weighted(rng, CONSENT_TIMING)
        if timing == "after":
            given_on = min(today, first_contact + timedelta(days=rng.randint(1, 20)))
        else:
            given_on = max(
                plan.case.activated_on, first_contact - timedelta(days=rng.randint(0, 20))
            )
        uid = uuid.uuid4()
        method = weighted(rng, METHODS)
        reference = f"Dok-{rng.randint(10_000, 99_999)}"
        ends = given_on + timedelta(days=rng.randint(90, 365))
        named = kind is ConsentKind.EMPLOYER and employer_name and rng.random() < CONSENT_NAMED
        rows.append(sealed(
            Consent, uid.hex, uid=uid, patient_id=plan.case.patient_id,
            unit_id=plan.case.unit_id, kind=kind,
            answer=ConsentAnswer.REFUSED if timing == "refused" else ConsentAnswer.GIVEN,
            recipient_name=employer_name if named else None, purpose=kind.default_purpose,
            method=method,
            form_reference=reference if method is ConsentMethod.WRITTEN else None,
            given_on=given_on,
            valid_until=ends if rng.random() < CONSENT_ENDS else None,
            note=None, recorded_by_id=recorder,
            recorded_at=min(clock.now(), at_work_hours(given_on, rng)),
        ))  # fmt: skip
    return rows


@dataclass
class Activity:
    treatments: int = 0
    contacts: int = 0
    consents: int = 0
    withdrawals: int = 0
    employers_linked: int = 0


def insert_activity(region: Region, directory: Directory, rng: random.Random) -> Activity:
    """Treatments and contacts in every quarter of ``quarters``, then the consents."""
    today = clock.today()
    activity = Activity()
    employer_of: dict[int, tuple[int, str, list[int]] | None] = {}
    plans: dict[int, ContactPlan] = {}
    employers = directory.organisations[OrganisationType.EMPLOYER]
    # Large employers (the first few) employ more of the patients.
    employer_weights = [8 if number < 10 else 1 for number in range(len(employers))]
    for first, last, share in quarters(today):
        eligible = [
            case for case in region.active if case.activated_on <= last - timedelta(days=14)
        ]
        treated = rng.sample(
            eligible, min(len(eligible), round(TREATED * len(region.patients) * share))
        )
        rows = [
            treatment_row(case, region.coordinator(rng, case.unit_id, case.coordinator_id),
                          first, last, today, rng)
            for case in treated
        ]  # fmt: skip
        insert_rows(table_of(Treatment), rows)
        activity.treatments += len(rows)
        contacted = rng.sample(
            eligible, min(len(eligible), round(CONTACTED * len(region.patients) * share))
        )
        rows = []
        for case in contacted:
            if case.patient_id not in employer_of:
                employed = rng.random() < EMPLOYED
                employer_of[case.patient_id] = (
                    rng.choices(employers, employer_weights)[0] if employed else None
                )
            employer = employer_of[case.patient_id]
            plan = plans.setdefault(case.patient_id, ContactPlan(case))
            for _ in range(weighted(rng, CONTACTS_PER_PATIENT)):
                type_ = weighted(rng, CONTACT_WITH if employer else CONTACT_WITHOUT_EMPLOYER)
                organisation = (
                    employer
                    if employer is not None and type_ is OrganisationType.EMPLOYER
                    else directory.pick(type_, rng)
                )
                day = day_between(rng, max(first, case.activated_on), last)
                plan.days[type_].append(day)
                recorder = region.coordinator(rng, case.unit_id, case.coordinator_id)
                rows.append(contact_row(case, organisation, type_, day, recorder, rng))
        insert_rows(table_of(ContactEvent), rows)
        activity.contacts += len(rows)
        progress(f"  {first:%Y-%m-%d}–{last:%Y-%m-%d}: {len(treated):,} treatments, "
                 f"{len(rows):,} contacts of {len(contacted):,} patients")  # fmt: skip
    consents = []
    for patient_id, plan in plans.items():
        employer = employer_of.get(patient_id)
        recorder = region.coordinator(rng, plan.case.unit_id, plan.case.coordinator_id)
        consents += consent_rows(plan, employer[1] if employer else None, recorder, today, rng)
    consent_ids = insert_rows(table_of(Consent), consents, returning=True)
    activity.consents = len(consents)
    withdrawals = []
    for consent_id, consent in zip(consent_ids, consents, strict=True):
        if consent["answer"] is ConsentAnswer.GIVEN and rng.random() < WITHDRAWN:
            withdrawn = day_between(rng, consent["given_on"], today)
            uid = uuid.uuid4()
            withdrawals.append({
                "uid": uid, "consent_id": consent_id, "withdrawn_on": withdrawn, "note": None,
                "recorded_by_id": consent["recorded_by_id"],
                "recorded_at": min(clock.now(), at_work_hours(withdrawn, rng)),
            })  # fmt: skip
    insert_rows(table_of(ConsentWithdrawal), withdrawals)
    activity.withdrawals = len(withdrawals)
    activity.employers_linked = link_employers(employer_of)
    return activity


def link_employers(employer_of: dict[int, tuple[int, str, list[int]] | None]) -> int:
    """The contacted patients' employers as directory links (as ``set_employer`` keeps them)."""
    table = table_of(Patient)
    statement = update(table).where(table.c.id == bindparam("b_id"))
    rows = [{"b_id": patient_id, "employer_id": employer[0],
             "employer_manager_id": employer[2][0] if employer[2] else None}
            for patient_id, employer in employer_of.items() if employer is not None]  # fmt: skip
    for start in range(0, len(rows), BATCH):
        db.session.execute(statement, rows[start : start + BATCH])
        db.session.commit()
    return len(rows)


# -- the access log -------------------------------------------------------------------------


def build_access_log(region: Region, target: int, rng: random.Random) -> float:
    """Append ``target`` entries through ``chain.append``, oldest first; entries per second."""
    if target < 1:
        return 0.0
    by_unit: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for patient in region.patients:
        by_unit[patient.unit_id].append((patient.id, patient.uid))
    units = list(by_unit)
    sizes = [len(by_unit[unit]) for unit in units]
    accesses, access_weights = list(SINGLE_ACCESSES), list(SINGLE_ACCESSES.values())
    keyring = keys()
    now = clock.now()
    first = now - timedelta(days=LOG_DAYS)
    step = (now - first - timedelta(hours=1)) / target
    started = time.perf_counter()
    done = 0
    while done < target:
        count = min(LOG_BATCH, target - done)
        entries: list[AccessLogEntry] = []
        while len(entries) < count:
            unit = rng.choices(units, sizes)[0]
            user = rng.choice(region.coordinators[unit])
            request = uuid.uuid4().hex
            at = first + step * (done + len(entries))
            if rng.random() < LIST_PAGES:
                shown = rng.sample(by_unit[unit], min(rng.randint(10, 50), len(by_unit[unit])))
                logged = [(pid, AccessAction.READ, "patient", uid) for pid, uid in shown]
            else:
                pid, uid = rng.choice(by_unit[unit])
                done_here = rng.choices(accesses, access_weights, k=rng.randint(1, 4))
                logged = [
                    (pid, action, kind, uid if itself else uuid.uuid4().hex)
                    for action, kind, itself in done_here
                ]
            for pid, action, kind, object_id in logged[: count - len(entries)]:
                entries.append(AccessLogEntry(
                    at=at, user_id=user, unit_id=unit, role=Role.COORDINATOR, patient_id=pid,
                    action=action, object_type=kind, object_id=object_id, request_id=request,
                ))  # fmt: skip
        chain.append(db.session, keyring, Chain.ACCESS, entries)
        db.session.commit()
        db.session.expunge_all()
        done += count
        if done == target or done % 100_000 < LOG_BATCH:
            rate = done / (time.perf_counter() - started)
            progress(f"  access log: {done:,}/{target:,} ({rate:,.0f}/s)")
    db.session.remove()
    return target / (time.perf_counter() - started)


# -- building it all ------------------------------------------------------------------------


def build(arguments: argparse.Namespace, rng: random.Random) -> Region:
    for code in (*DIAGNOSES, *OTHER_DIAGNOSES):
        lookup(code)  # each must be a code the certificate form accepts
    steps: dict[str, float] = {}
    started = time.perf_counter()
    built = build_region(arguments.patients, BIG_UNIT, SMALL_UNIT, rng)
    steps["patients, cases, coordination consents (caseload.py)"] = time.perf_counter() - started
    unit_ids = list(db.session.scalars(select(CareUnit.id).order_by(CareUnit.id)))
    db.session.remove()
    region = Region(
        units=unit_ids,
        big_unit=unit_ids[0],
        password=built.password,
        manager=create_manager(unit_ids, built.password, rng),
        coordinators=coordinators_by_unit(),
        patients=read_patients(),
    )
    region.steps = steps

    def step(name: str, work: Callable[[], Any]) -> Any:
        progress(name)
        begun = time.perf_counter()
        outcome = work()
        steps[name] = time.perf_counter() - begun
        return outcome

    step("stated genders", lambda: state_genders(region.patients, rng))
    step("certificates", lambda: insert_certificates(region, rng))
    step("cases: activated_at", lambda: activate_cases(region, rng))
    directory = step("directory", lambda: insert_directory(region, rng))
    step("treatments, contacts, consents", lambda: insert_activity(region, directory, rng))
    step(f"access log ({arguments.entries:,} entries, chain.append)",
         lambda: build_access_log(region, arguments.entries, rng))  # fmt: skip
    if db.engine.dialect.name == "postgresql":
        # As caseload.py: measure the steady state, not autovacuum catching up.
        def vacuum() -> None:
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )

        step("VACUUM ANALYZE", vacuum)
    steps["total"] = time.perf_counter() - started
    return region


def volumes(region: Region) -> list[tuple[str, str]]:
    """What the database holds, table by table, and what the measured quarter holds."""
    first, last = quarter_bounds(YEAR, QUARTER)

    def count(model: Any, *where: Any, join: Any = None) -> str:
        query = select(func.count()).select_from(model)
        if join is not None:
            query = query.join(*join)
        return f"{db.session.scalar(query.where(*where)) or 0:,}"

    case, contact, quarter = CoordinationCase, ContactEvent, f"{YEAR} Q{QUARTER}"
    since = datetime.combine(first, datetime.min.time(), clock.LOCAL_ZONE)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), clock.LOCAL_ZONE)
    big = Patient.unit_id == region.big_unit
    in_big = (Patient, Patient.id == Certificate.patient_id)
    in_quarter = (contact.occurred_at >= since, contact.occurred_at < until)
    active, activated = case.status == CaseStatus.ACTIVE, case.activated_at.is_not(None)
    completed = Treatment.completed_on.between(first, last)
    found = [
        ("patients", f"{count(Patient)} ({count(Patient, big)} in the measured unit)"),
        ("certificates", f"{count(Certificate)} ({count(Certificate, big, join=in_big)} "
                         "in the measured unit)"),
        ("coordination cases", f"{count(case)}; active {count(case, active)}, "
                               f"with activated_at {count(case, activated)}"),
        ("treatments", f"{count(Treatment)}; completed in {quarter}: "
                       f"{count(Treatment, completed)}"),
        ("organisations", f"{count(Organisation)}; contact persons {count(ContactPerson)}"),
        ("contacts", f"{count(contact)}; in {quarter}: "
                     f"{count(contact, *in_quarter)}"),
        ("consents", f"{count(Consent)}; withdrawals {count(ConsentWithdrawal)}"),
        ("access log", f"{count(AccessLogEntry)} entries"),
    ]  # fmt: skip
    db.session.remove()
    return found


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    label: str
    scope: str
    #: None for a figure measured without a target of its own.
    target_ms: float | None
    #: A function call (given the units, in a new application context) or a URL.
    call: Callable[[list[CareUnit]], Any] | None = None
    unit_ids: tuple[int, ...] = ()
    url: str | None = None
    #: For a URL: the form to post to it (CSRF token included) instead of getting it, and
    #: the status a correct answer has.
    form: Mapping[str, Any] | None = None
    status: int = 200
    #: What the result says it counted (a check that the work measured was done).
    describe: Callable[[Any], str] = str


@dataclass
class Measured:
    probe: Probe
    timings_ms: list[float]
    cpu_ms: list[float]
    statements: list[int]
    found: str
    missing: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.timings_ms) if self.timings_ms else float("nan")

    @property
    def ratio(self) -> float:
        target = self.probe.target_ms
        return self.median / target if target else float("nan")

    @property
    def is_met(self) -> bool | None:
        target = self.probe.target_ms
        return None if target is None else self.median <= target

    @property
    def statement_count(self) -> str:
        counts = sorted(set(self.statements))
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def run_once(app: Flask, client: FlaskClient, probe: Probe) -> tuple[Any, Callable[[], Any]]:
    """What one run of ``probe`` does, ready to be timed: (context to enter, the work)."""
    url, form = probe.url, probe.form
    if url is not None:

        def get() -> Any:
            response = client.get(url) if form is None else client.post(url, data=dict(form))
            if response.status_code != probe.status:
                raise RuntimeError(f"{url} answered {response.status_code}")
            return response

        return None, get
    context = app.app_context()
    context.push()
    units = list(db.session.scalars(select(CareUnit).where(CareUnit.id.in_(probe.unit_ids))
                                    .order_by(CareUnit.name)))  # fmt: skip
    return context, lambda: probe.call(units)  # type: ignore[misc]


def finish(context: Any) -> None:
    if context is not None:
        db.session.remove()
        context.pop()


def measure(
    app: Flask,
    client: FlaskClient,
    counter: StatementCounter,
    probe: Probe,
    runs: int,
    warm_ups: int = WARM_UPS,
) -> Measured:
    if probe.url is not None and client.get(probe.url).status_code == 404:
        return Measured(probe, [], [], [], "no such page yet (404)", missing=True)
    for _ in range(warm_ups):
        context, work = run_once(app, client, probe)
        work()
        finish(context)
    timings, cpu, counts = [], [], []
    outcome = None
    for _ in range(runs):
        context, work = run_once(app, client, probe)
        with counter.counting() as sent:
            started, started_cpu = time.perf_counter(), time.process_time()
            outcome = work()
            timings.append((time.perf_counter() - started) * 1e3)
            cpu.append((time.process_time() - started_cpu) * 1e3)
        counts.append(len(sent))
        if probe.url is None:
            found = probe.describe(outcome)
        finish(context)
    if probe.url is not None:
        with app.app_context():  # a description may look in the database
            found = probe.describe(outcome)
    return Measured(probe, timings, cpu, counts, found)


def profile(app: Flask, client: FlaskClient, probe: Probe, runs: int) -> str:
    profiler = cProfile.Profile()
    for _ in range(runs):
        context, work = run_once(app, client, probe)
        profiler.enable()
        work()
        profiler.disable()
        finish(context)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


def choose_unit(client: FlaskClient, unit_id: int) -> None:
    """The manager works in many units: choose one, as the sign-in asks next."""
    page = client.get("/auth/unit")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on the unit page")
    response = client.post("/auth/unit", data={"csrf_token": token.group(1), "unit": unit_id})
    if response.status_code != 302:
        raise RuntimeError(f"choosing unit {unit_id} failed ({response.status_code})")


def describe_statistics(stats: Any) -> str:
    return f"{stats.total:,} sick-leave cases"


def describe_quarterly(report: Any) -> str:
    contacts = sum(row.reimbursable + row.not_reimbursable for row in report.contacts)
    reimbursable = sum(row.reimbursable for row in report.contacts)
    failed = {
        "no consent": sum(row.no_consent for row in report.contacts),
        "initiated externally": sum(row.initiated_externally for row in report.contacts),
        "no treatment": sum(row.no_treatment for row in report.contacts),
    }
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in failed.items())
    return (
        f"{report.treatments_total:,} treatments, {contacts:,} employer and AF contacts "
        f"({reimbursable:,} reimbursable; not: {reasons}), "
        f"{len(report.reconciliation):,} items to reconcile"
    )


def describe_page(expected: Callable[[], int]) -> Callable[[Any], str]:
    """The page's size, and whether it shows the total the function found (a number standing
    alone in the text: the statistics say it in a sentence, the report in its total row)."""

    def describe(response: Any) -> str:
        text, total = response.text, expected()
        shown = re.search(rf"(?<![\d.,]){total}(?![\d.,]\d)", text) is not None
        return f"{len(text) / 1024:,.0f} KiB; shows the total {total:,}: {met(shown)}"

    return describe


def probes(region: Region) -> list[Probe]:
    first, last = quarter_bounds(YEAR, QUARTER)
    big = (region.big_unit,)
    every = tuple(region.units)
    totals: dict[str, int] = {}

    def statistics_total() -> int:
        return totals.get("statistics", -1)

    def quarterly_total() -> int:
        return totals.get("quarterly", -1)

    def remember(key: str, value: int, text: str) -> str:
        totals[key] = value
        return text

    unit = f"1 unit, {BIG_UNIT:,} patients"
    units = f"{len(every)} units"
    return [
        Probe("sick_leave_statistics()", unit, STATISTICS_TARGET_MS,
              call=lambda u: sick_leave_statistics(u, first, last), unit_ids=big,
              describe=lambda s: remember("statistics", s.total, describe_statistics(s))),
        Probe("GET /reports/statistics", unit, STATISTICS_TARGET_MS,
              url=f"/reports/statistics?unit={region.big_unit}&start={first}&end={last}",
              describe=describe_page(statistics_total)),
        Probe("quarterly_report()", units, QUARTERLY_TARGET_MS,
              call=lambda u: quarterly_report(u, YEAR, QUARTER), unit_ids=every,
              describe=lambda r: remember("quarterly", r.treatments_total, describe_quarterly(r))),
        Probe("GET /reports/quarterly", units, QUARTERLY_TARGET_MS,
              url=f"/reports/quarterly?unit=all&year={YEAR}&quarter={QUARTER}",
              describe=describe_page(quarterly_total)),
        # The file, with its access-log entries: one per patient counted (no target of its
        # own in the issue).
        Probe("GET /reports/quarterly.csv", units, None,
              url=f"/reports/quarterly.csv?unit=all&year={YEAR}&quarter={QUARTER}",
              describe=describe_export),
    ]  # fmt: skip


def describe_export(response: Any) -> str:
    """The file's size and how many export entries one download appends to the access log."""
    logged = db.session.scalar(
        select(func.count())
        .select_from(AccessLogEntry)
        .where(AccessLogEntry.request_id == db.session.scalar(
            select(AccessLogEntry.request_id).order_by(AccessLogEntry.seq.desc()).limit(1)))
    )  # fmt: skip
    return f"{len(response.data) / 1024:,.0f} KiB; {logged:,} export entries in the access log"


# -- output ---------------------------------------------------------------------------------


def target_text(probe: Probe) -> str:
    return "—" if probe.target_ms is None else f"≤ {probe.target_ms:,g} ms"


def print_table(results: Sequence[Measured]) -> None:
    headers = ("Measure", "Scope", "Median", "Min–max", "CPU", "SQL", "Target", "Ratio", "Met")
    table = []
    for r in results:
        if r.missing:
            table.append(
                (
                    r.probe.label,
                    r.probe.scope,
                    "—",
                    "",
                    "",
                    "",
                    target_text(r.probe),
                    "",
                    "not measured",
                )
            )
            continue
        table.append((
            r.probe.label, r.probe.scope, fmt_ms(r.median),
            f"{fmt_ms(min(r.timings_ms))}–{fmt_ms(max(r.timings_ms))}",
            fmt_ms(statistics.median(r.cpu_ms)), r.statement_count,
            target_text(r.probe), "" if r.is_met is None else f"{r.ratio:.2f}",
            "(no target)" if r.is_met is None else met(r.is_met),
        ))  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print(line)
    for row in table:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        print("  ".join(cells).rstrip())
    print(line)
    for r in results:
        print(f"  {r.probe.label}: {r.found}")


# -- main -----------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the sick-leave statistics and the quarterly report in a large "
        "region."
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=PATIENTS,
        help=f"patients in all {UNITS} units (default {PATIENTS})",
    )
    parser.add_argument(
        "--entries", type=int, default=ENTRIES, help=f"access-log entries (default {ENTRIES})"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=RUNS,
        help=f"measured runs of each, after {WARM_UPS} warm-ups (default {RUNS})",
    )
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is created on that "
        "server and dropped afterwards (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile every measure with cProfile even if it meets its target",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fictitious data")
    arguments = parser.parse_args(argv)
    if min(arguments.patients, arguments.runs) < 1 or arguments.entries < 0:
        parser.error("sizes must be positive")
    if arguments.patients < BIG_UNIT + SMALL_UNIT + UNITS - 2:
        parser.error(f"--patients must be at least {BIG_UNIT + SMALL_UNIT + UNITS - 2}")
    if quarter_bounds(YEAR, QUARTER)[1] >= clock.today():
        parser.error(f"{YEAR} Q{QUARTER} is not over yet")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(arguments.seed)  # noqa: S311
    return in_fresh_app(arguments.database_url, lambda app: run(app, arguments, rng))


def run(app: Flask, arguments: argparse.Namespace, rng: random.Random) -> int:
    with app.app_context():
        progress(f"migrating a fresh {db.engine.dialect.name} database")
        migrate_schema()
        info = machine_info(db.engine)
        region = build(arguments, rng)
        held = volumes(region)
        engine = db.engine
    # Each run gets its own application context and session, as a request does.
    counter = StatementCounter(engine)
    client = signed_in(app, region.manager, region.password)
    choose_unit(client, region.big_unit)
    load_before = os.getloadavg()[0]
    results = []
    for probe in probes(region):
        progress(f"measuring {probe.label} ({probe.scope}), {arguments.runs} runs")
        result = measure(app, client, counter, probe, arguments.runs)
        results.append(result)
        if result.missing:
            progress(f"  {probe.url}: no such page yet (404), not measured")
        else:
            progress(f"  median {result.median:,.1f} ms; {result.found}")
    load_after = os.getloadavg()[0]

    print()
    print("Coordinator reports benchmark (issue 8)")
    for name, value in info:
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Measured:':<15} {YEAR} Q{QUARTER}; {arguments.runs} runs after {WARM_UPS} warm-ups")
    print(f"  {'Load average:':<15} {load_before:.2f} before measuring, {load_after:.2f} after")
    print("  Data:")
    for name, value in held:
        print(f"    {name + ':':<20} {value}")
    print("  Build:")
    for name, seconds in region.steps.items():
        print(f"    {name + ':':<55} {seconds:8.1f} s")
    print_table(results)

    measured = [r for r in results if not r.missing]
    missed = [r for r in measured if r.is_met is False]
    for result in measured if arguments.profile else missed:
        progress(f"profiling {result.probe.label} (cProfile, {arguments.runs} runs)")
        print(f"\ncProfile of {arguments.runs} runs of {result.probe.label} ({result.probe.scope};"
              " the profiler slows everything down):")  # fmt: skip
        print(profile(app, client, result.probe, arguments.runs).rstrip())
    absent = [r.probe.url for r in results if r.missing]
    if absent:
        print(f"Not measured (no such page yet): {'; '.join(map(str, absent))}")
    if missed:
        print(f"Targets missed: {'; '.join(r.probe.label for r in missed)}")
    else:
        print("All targets met." if not absent else "All measured targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
