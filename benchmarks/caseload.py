"""What the caseload list and the Today page cost in a large region: 100 000 patients in 50
care units, one unit with 2 000 of them, measured as whole requests of a signed-in coordinator.

    make bench-caseload                              # full sizes, temporary SQLite file
    .venv/bin/python benchmarks/caseload.py --patients 10000 --runs 10
    .venv/bin/python benchmarks/caseload.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres

The schema comes from the real migrations. The patients are bulk-inserted (registering 100 000
through the services, each with its access-log and case-journal entries, would take far longer
than the measurement) but with real values: names, personnummer and diagnosis are sealed by the
``Encrypted`` descriptors of the model, with the blind indexes the app computes, and the
sick-leave summary columns hold what ``certificates.refresh_summary`` would store for one
uninterrupted sick-leave case. Each patient has one coordination case. The requests go through
Flask's test client after a real sign-in: routing, the session, the services, the templates,
the access-log append and the commit, as in production. The database is a fresh one made for
the run (as in ``protection.py``); the instance folder is never touched. All data is
fictitious. See ``docs/performance.md`` for measured figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import random
import re
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

# The sibling benchmark's helpers: run as a script, this folder is on ``sys.path``.
from protection import (
    FIRST_NAMES,
    LAST_NAMES,
    fmt_ms,
    in_fresh_app,
    machine_info,
    met,
    migrate_schema,
    personnummer_numbers,
    progress,
)
from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.engine import Engine

from coordinator import clock
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.passwords import hash_password
from coordinator.auth.roles import Role
from coordinator.consents.models import Consent, ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.crypto.runtime import keys
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry
from coordinator.patients.diagnoses import lookup
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    CoordinationCase,
    Patient,
    ScreeningDecision,
)
from coordinator.patients.sickleave import DEGREES, MILESTONE_DAYS

# -- targets (from the issue) ---------------------------------------------------------------

CASELOAD_TARGET_MS = 50.0
TODAY_TARGET_MS = 100.0

# -- sizes ----------------------------------------------------------------------------------

UNITS = 50
PATIENTS = 100_000
BIG_UNIT = 2_000
#: The small unit the statement counts are compared with.
SMALL_UNIT = 40
RUNS = 30
WARM_UPS = 3
#: Rows per insert statement and per transaction.
BATCH = 2_000

# -- fictitious data ------------------------------------------------------------------------

#: Diagnoses of sick-leave certificates, roughly as common as in primary care: stress-related
#: and depressive disorders, back and muscle pain, a cold, a fractured lower leg.
DIAGNOSES = {"F43.2": 30, "F32.1": 15, "M54.5": 15, "M79.1": 10, "J06.9": 15, "S82.1": 15}
#: Sick-leave lengths in days: (shortest, longest) and weight.
LENGTHS = {(7, 14): 20, (15, 30): 25, (31, 90): 25, (91, 180): 15, (181, 365): 10, (366, 550): 5}
DEGREE_WEIGHTS = dict(zip(DEGREES, (10, 30, 10, 50), strict=True))
STATUSES = {CaseStatus.NEW: 25, CaseStatus.OFFERED: 15, CaseStatus.ACTIVE: 35,
            CaseStatus.CLOSED: 25}  # fmt: skip
#: Share of patients without any certificate (registered for another reason, or imported).
NO_SICK_LEAVE = 0.12
#: Share of sick-listed patients whose sick leave runs today.
ONGOING = 0.55
#: Share of sick-leave cases that follow an earlier one (recurrent sick leave).
RECURRENT = 0.15
#: Share of cases with a responsible coordinator.
ASSIGNED = 0.70
#: Share of open cases with a follow-up date.
FOLLOW_UP = 0.40
#: Share of active cases whose coordination consent ends within the next 14 days.
EXPIRING = 0.05
PROTECTED = 0.01
#: Sick-leave starts reach this far back.
HISTORY_DAYS = 400


def weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def at_work_hours(day: date, rng: random.Random) -> datetime:
    """A moment on ``day`` during office hours (UTC is close enough for fictitious data)."""
    moment = datetime.combine(day, clock_time(7), tzinfo=UTC)
    return moment + timedelta(minutes=rng.randint(0, 9 * 60))


#: The patient's sick-leave summary columns (empty without a certificate).
SUMMARY_COLUMNS = (
    "sick_leave_start", "sick_leave_end", "sick_leave_days", "sick_leave_degree", "day_90_on",
    "day_180_on", "day_365_on", "previous_sick_leave_end", "certificate_added_at",
)  # fmt: skip


@dataclass(frozen=True)
class SickLeave:
    """What ``certificates.refresh_summary`` stores for one uninterrupted sick-leave case."""

    start: date
    days: int
    degree: int
    diagnosis: str
    previous_end: date | None
    added_on: date

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def columns(self, now: datetime, rng: random.Random) -> dict[str, Any]:
        # Without gaps, covered day N falls on start + N - 1, reached or not (sickleave.py).
        day = {n: self.start + timedelta(days=n - 1) for n in MILESTONE_DAYS}
        return {
            "sick_leave_start": self.start,
            "sick_leave_end": self.end,
            "sick_leave_days": self.days,
            "sick_leave_degree": self.degree,
            "day_90_on": day[90],
            "day_180_on": day[180],
            "day_365_on": day[365],
            "previous_sick_leave_end": self.previous_end,
            "certificate_added_at": min(now, at_work_hours(self.added_on, rng)),
        }


def sick_leave(rng: random.Random, today: date) -> SickLeave | None:
    if rng.random() < NO_SICK_LEAVE:
        return None
    low, high = weighted(rng, LENGTHS)
    days = rng.randint(low, high)
    if rng.random() < ONGOING or days >= HISTORY_DAYS:
        started_ago = rng.randint(0, min(days, HISTORY_DAYS) - 1)  # today is within the case
    else:
        started_ago = rng.randint(days, HISTORY_DAYS)  # ended before today
    start = today - timedelta(days=started_ago)
    previous_end = None
    if rng.random() < RECURRENT:
        previous_end = start - timedelta(days=rng.randint(20, 500))
    # The latest certificate was registered within its case's first weeks (or today).
    added_on = min(today, start + timedelta(days=rng.randint(0, min(days - 1, 60))))
    return SickLeave(
        start=start,
        days=days,
        degree=weighted(rng, DEGREE_WEIGHTS),
        diagnosis=weighted(rng, DIAGNOSES),
        previous_end=previous_end,
        added_on=added_on,
    )


def case_columns(
    rng: random.Random,
    coordinators: Sequence[int],
    leave: SickLeave | None,
    registered: datetime,
    today: date,
) -> dict[str, Any]:
    """A coordination case as the case services would have left it."""
    status = weighted(rng, STATUSES)
    coordinator_id = rng.choice(coordinators) if rng.random() < ASSIGNED else None
    opened = registered if leave is None else max(registered, at_work_hours(leave.start, rng))
    columns: dict[str, Any] = {
        "uid": uuid.uuid4(),
        "coordinator_id": coordinator_id,
        "assigned_at": opened + timedelta(hours=rng.randint(0, 72)) if coordinator_id else None,
        "status": status,
        "opened_at": opened,
        "screening_decision": None,
        "screened_at": None,
        "follow_up_on": None,
        "closed_on": None,
        "outcome": None,
    }
    if status in (CaseStatus.OFFERED, CaseStatus.ACTIVE, CaseStatus.CLOSED):
        columns["screening_decision"] = ScreeningDecision.OFFER
        columns["screened_at"] = opened + timedelta(days=rng.randint(1, 10))
    if status is CaseStatus.CLOSED:
        ended = leave.end if leave is not None and leave.end < today else today
        columns["closed_on"] = ended
        columns["outcome"] = rng.choice(list(CaseOutcome))
    elif rng.random() < FOLLOW_UP:
        columns["follow_up_on"] = today + timedelta(days=rng.randint(-10, 30))
    return columns


def consent_columns(
    rng: random.Random, case: dict[str, Any], coordinators: Sequence[int], today: date
) -> dict[str, Any]:
    """The coordination consent an active case needs (activation requires one); one in
    ``EXPIRING`` ends within the Today page's notice period."""
    uid = uuid.uuid4()
    given_on = min(case["opened_at"].astimezone(clock.LOCAL_ZONE).date(), today)
    ends = today + timedelta(days=rng.randint(0, 13)) if rng.random() < EXPIRING else None
    return {
        "uid": uid,
        "patient_id": case["patient_id"],
        "unit_id": case["unit_id"],
        "kind": ConsentKind.COORDINATION,
        "answer": ConsentAnswer.GIVEN,
        "method": ConsentMethod.ORAL,
        "purpose": Consent.purpose.encrypt(uid.hex, "Koordineringsinsatser."),
        "given_on": given_on,
        "valid_until": ends,
        "recorded_by_id": case["coordinator_id"] or coordinators[0],
        "recorded_at": case["opened_at"],
    }


# -- building the region --------------------------------------------------------------------


@dataclass
class Region:
    big_unit: str
    small_unit: str
    #: Username of the coordinator measured in each unit.
    big_user: str
    small_user: str
    password: str
    patients: int
    build_seconds: float


def create_units_and_coordinators(count: int, password: str) -> tuple[list[CareUnit], list[User]]:
    """``count`` units, a coordinator in each, and a second coordinator in the first unit."""
    hashed = hash_password(password)
    units = [
        CareUnit(
            name=f"Vårdcentralen Mätpunkt {number:02d}",
            kind=UnitKind.HEALTH_CENTRE,
            provider_type=ProviderType.PUBLIC,
            is_active=True,
        )
        for number in range(1, count + 1)
    ]
    users = [
        User(
            username=f"koord.{number:02d}",
            full_name=f"Koordinator Nummer{number:02d}",
            title="Arbetsterapeut",
            role=Role.COORDINATOR,
            password_hash=hashed,
            units=[unit],
        )
        for number, unit in enumerate(units, start=1)
    ]
    users.append(
        User(
            username="koord.01b",
            full_name="Andra Koordinatorn",
            title="Sjuksköterska",
            role=Role.COORDINATOR,
            password_hash=hashed,
            units=[units[0]],
        )
    )
    db.session.add_all([*units, *users])
    db.session.commit()
    return units, users


def unit_sizes(patients: int, big: int, small: int, units: int) -> list[int]:
    """Patients per unit: the big unit, the small unit, the rest spread evenly."""
    rest = patients - big - small
    others = units - 2
    return [big, small, *(rest // others + (1 if i < rest % others else 0) for i in range(others))]


def patient_and_case(
    unit_id: int,
    number: str,
    coordinators: Sequence[int],
    rng: random.Random,
    version: int,
    now: datetime,
    today: date,
) -> tuple[dict[str, Any], dict[str, Any], SickLeave | None]:
    """One patient's row (values sealed by the real descriptors, with the blind indexes), the
    row of their coordination case (without ids) and their sick leave, if any."""
    pnr, first, last, diagnosis = (
        Patient.personnummer, Patient.first_name, Patient.last_name, Patient.diagnosis
    )  # fmt: skip
    uid = uuid.uuid4()
    row = uid.hex
    given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    leave = sick_leave(rng, today)
    registered = now - timedelta(days=rng.randint(0, 3 * 365), minutes=rng.randint(0, 600))
    if leave is not None:
        registered = min(registered, at_work_hours(leave.start, rng))
    values = {
        "uid": uid,
        "unit_id": unit_id,
        "personnummer": pnr.encrypt(row, number),
        "personnummer_bidx": pnr.blind_index(number, version),
        "first_name": first.encrypt(row, given),
        "last_name": last.encrypt(row, family),
        "last_name_bidx": last.blind_index(family, version),
        "is_protected": rng.random() < PROTECTED,
        "created_at": registered,
        "diagnosis": None,
        **dict.fromkeys(SUMMARY_COLUMNS),
    }
    if leave is not None:
        values |= leave.columns(now, rng)
        values["diagnosis"] = diagnosis.encrypt(row, leave.diagnosis)
    return values, case_columns(rng, coordinators, leave, registered, today), leave


def insert_unit(
    unit_id: int,
    coordinators: Sequence[int],
    numbers: Sequence[str],
    rng: random.Random,
    done: int,
    total: int,
) -> None:
    """Core-insert a unit's patients (values sealed by the real descriptors) and their cases."""
    patients: Table = Patient.__table__  # type: ignore[assignment]
    cases: Table = CoordinationCase.__table__  # type: ignore[assignment]
    consents: Table = Consent.__table__  # type: ignore[assignment]
    version = keys().current
    now, today = clock.now(), clock.today()
    for start in range(0, len(numbers), BATCH):
        patient_rows, case_rows = [], []
        for number in numbers[start : start + BATCH]:
            values, case, _ = patient_and_case(
                unit_id, number, coordinators, rng, version, now, today
            )
            patient_rows.append(values)
            case_rows.append(case)
        ids = db.session.scalars(
            insert(patients).returning(patients.c.id, sort_by_parameter_order=True),
            patient_rows,
        ).all()
        for patient_id, case in zip(ids, case_rows, strict=True):
            case |= {"patient_id": patient_id, "unit_id": unit_id}
        db.session.execute(insert(cases), case_rows)
        consent_rows = [consent_columns(rng, case, coordinators, today) for case in case_rows
                        if case["status"] is CaseStatus.ACTIVE]  # fmt: skip
        if consent_rows:
            db.session.execute(insert(consents), consent_rows)
        db.session.commit()
        inserted = done + start + len(patient_rows)
        if inserted % 10_000 < len(patient_rows) or inserted == total:
            progress(f"  patients and cases inserted: {inserted:,}/{total:,}")


def build_region(patients: int, big: int, small: int, rng: random.Random) -> Region:
    for code in DIAGNOSES:
        lookup(code)  # each must be a code the certificate form accepts
    started = time.perf_counter()
    password = secrets.token_urlsafe(16)
    units, users = create_units_and_coordinators(UNITS, password)
    coordinators: dict[int, list[int]] = {}
    for user in users:
        coordinators.setdefault(user.units[0].id, []).append(user.id)
    sizes = unit_sizes(patients, big, small, len(units))
    progress(f"generating {patients:,} fictitious personnummer")
    numbers = personnummer_numbers(patients, rng)
    progress(f"inserting {patients:,} patients in {len(units)} units, one case each")
    offset = 0
    for unit, size in zip(units, sizes, strict=True):
        chunk = numbers[offset : offset + size]
        insert_unit(unit.id, coordinators[unit.id], chunk, rng, offset, patients)
        offset += size
    if db.engine.dialect.name == "postgresql":
        # Autovacuum would vacuum and analyse the new tables within a minute or so, and would
        # compete for the CPU while we measure: do it now and measure the steady state.
        progress("VACUUM ANALYZE")
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
    seconds = time.perf_counter() - started
    progress(f"  built in {seconds:.1f} s ({patients / seconds:,.0f} patients/s)")
    region = Region(
        big_unit=units[0].name,
        small_unit=units[1].name,
        big_user=users[0].username,
        small_user=users[1].username,
        password=password,
        patients=patients,
        build_seconds=seconds,
    )
    db.session.expunge_all()
    return region


# -- measuring requests ---------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def signed_in(app: Flask, username: str, password: str) -> FlaskClient:
    """A test client signed in through the real sign-in form (no second factor enrolled)."""
    client = app.test_client()
    form = client.get("/auth/login")
    token = _TOKEN.search(form.text)
    if token is None:
        raise RuntimeError("no CSRF token on the sign-in page")
    response = client.post(
        "/auth/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    if response.status_code != 302 or response.headers["Location"] != "/":
        raise RuntimeError(f"sign-in as {username} failed ({response.status_code})")
    return client


class StatementCounter:
    """Counts the SQL statements sent to the database (``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: (statement, parameters) as sent.
        self.statements: list[tuple[str, Any]] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield self.statements
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)


@dataclass(frozen=True)
class Probe:
    label: str
    url: str
    target_ms: float
    #: What a correct page contains (a check that the request did the work measured).
    expect: Callable[[str], bool]


def rows_shown(html: str) -> int:
    """The patients listed on a caseload page."""
    table = html.split('<table class="list caseload">', 1)
    if len(table) < 2:
        return 0
    return table[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


_COUNT = re.compile(r'id="caseload-count">([^<]*)<')


def rows_matching(html: str) -> int | None:
    """The patients the filters matched (the count above the list), if it is a list."""
    found = _COUNT.search(html)
    return int(re.sub(r"\D", "", found.group(1)) or 0) if found else None


PROBES = (
    Probe("Caseload, by name (page 1)", "/patients/?scope=unit", CASELOAD_TARGET_MS,
          lambda html: rows_shown(html) > 0),
    Probe("Caseload, by length, descending", "/patients/?scope=unit&sort=length&descending=y",
          CASELOAD_TARGET_MS, lambda html: rows_shown(html) > 0),
    Probe("Caseload, signal sick-listed long (page 3)",
          "/patients/?scope=unit&signal=sick_listed_long&page=3", CASELOAD_TARGET_MS,
          lambda html: rows_shown(html) > 0),
    Probe("Today", "/", TODAY_TARGET_MS, lambda html: 'class="queue-items"' in html),
)  # fmt: skip


@dataclass
class Measured:
    probe: Probe
    unit: str
    timings_ms: list[float]
    #: CPU time of this process per request: the app's own work (and SQLite's, which runs
    #: in-process; not PostgreSQL's), much less disturbed by other load on the machine.
    cpu_ms: list[float]
    #: Statements per request, one count per measured run.
    statements: list[int]
    #: Patients shown on the page and matched by the filters (caseload pages only).
    rows: int
    matching: int | None
    #: The statements of the last run, with their parameters.
    listing: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.timings_ms)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.timings_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def statement_count(self) -> str:
        counts = sorted(set(self.statements))
        return str(counts[0]) if len(counts) == 1 else "–".join(map(str, (counts[0], counts[-1])))


def measure(
    client: FlaskClient, counter: StatementCounter, probe: Probe, unit: str, runs: int
) -> Measured:
    def get() -> str:
        response = client.get(probe.url)
        if response.status_code != 200 or not probe.expect(response.text):
            raise RuntimeError(f"{probe.url} did not render as expected ({response.status_code})")
        return response.text

    for _ in range(WARM_UPS):
        get()
    timings, cpu, counts = [], [], []
    listing: list[tuple[str, Any]] = []
    html = ""
    for _ in range(runs):
        with counter.counting() as statements:
            started, started_cpu = time.perf_counter(), time.process_time()
            html = get()
            timings.append((time.perf_counter() - started) * 1e3)
            cpu.append((time.process_time() - started_cpu) * 1e3)
        counts.append(len(statements))
        listing = list(statements)
    shown, matching = rows_shown(html), rows_matching(html)
    return Measured(probe, unit, timings, cpu, counts, shown, matching, listing)


def profile(client: FlaskClient, probe: Probe, runs: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        client.get(probe.url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# -- output ---------------------------------------------------------------------------------


def print_table(results: Sequence[Measured]) -> None:
    headers = ("Request", "Unit", "Rows", "Median", "p95", "CPU", "SQL", "Target", "Met")
    # Rows: shown / matching the filters (each one decrypted and screened by the request).
    table = [
        (
            r.probe.label,
            r.unit,
            "" if r.matching is None else f"{r.rows} / {r.matching:,}",
            fmt_ms(r.median),
            fmt_ms(r.p95),
            fmt_ms(r.cpu_median),
            r.statement_count,
            f"≤ {r.probe.target_ms:g} ms",
            met(r.median <= r.probe.target_ms),
        )
        for r in results
    ]
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


def plans(engine: Engine, listing: Sequence[tuple[str, Any]]) -> list[str]:
    """The database's plan for each statement that joins the coordination cases, in short."""
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    found = []
    with engine.connect() as connection:
        for statement, parameters in listing:
            if "JOIN coordination_cases" not in statement:
                continue
            plan = connection.exec_driver_sql(explain + statement, parameters).all()
            steps = (re.sub(r"\s*\(cost=[^)]*\)", "", str(line[-1])).strip(" ->") for line in plan)
            kept = [step for step in steps if re.search(r"Scan|Join|SEARCH|SCAN", step)]
            found.append(f"{short(statement, 60)}\n      " + "\n      ".join(kept))
    return found


def short(statement: str, length: int = 110) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= length else flat[: length - 3] + "..."


# -- main -----------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the caseload list and the Today page in a large region."
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=PATIENTS,
        help=f"patients in all {UNITS} units (default {PATIENTS})",
    )
    parser.add_argument(
        "--big-unit",
        type=int,
        default=BIG_UNIT,
        help=f"patients of the measured unit (default {BIG_UNIT})",
    )
    parser.add_argument(
        "--small-unit",
        type=int,
        default=SMALL_UNIT,
        help=f"patients of the unit compared with (default {SMALL_UNIT})",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=RUNS,
        help=f"measured requests per page, after {WARM_UPS} warm-ups (default {RUNS})",
    )
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is created on that "
        "server and dropped afterwards (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the slowest page with cProfile even if it meets its target",
    )
    parser.add_argument(
        "--statements", action="store_true", help="list the SQL statements of each request"
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fictitious data")
    arguments = parser.parse_args(argv)
    if min(arguments.patients, arguments.big_unit, arguments.small_unit, arguments.runs) < 1:
        parser.error("sizes must be positive")
    if arguments.patients < arguments.big_unit + arguments.small_unit + UNITS - 2:
        parser.error("--patients must leave at least one patient for every other unit")
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
        region = build_region(arguments.patients, arguments.big_unit, arguments.small_unit, rng)
        engine = db.engine
        db.session.remove()
    # Requests run outside this app context: each gets its own context and session, as in
    # production (inside one, the test client would reuse it and its identity map).
    counter = StatementCounter(engine)
    load_before = os.getloadavg()[0]
    results: list[Measured] = []
    clients: dict[str, FlaskClient] = {}
    for unit, username, size in (
        (region.big_unit, region.big_user, arguments.big_unit),
        (region.small_unit, region.small_user, arguments.small_unit),
    ):
        label = f"{size:,} patients"
        clients[label] = client = signed_in(app, username, region.password)
        for probe in PROBES:
            progress(f"measuring {probe.label} in {unit} ({label}), {arguments.runs} runs")
            result = measure(client, counter, probe, label, arguments.runs)
            results.append(result)
            progress(f"  median {result.median:.1f} ms, {result.statement_count} statements")

    load_after = os.getloadavg()[0]
    with app.app_context():
        logged = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
        db.session.remove()

    print()
    print("Coordinator caseload and Today benchmark")
    for name, value in info:
        print(f"  {name + ':':<15} {value}")
    print(
        f"  {'Sizes:':<15} {region.patients:,} patients in {UNITS} units; measured: "
        f"{arguments.big_unit:,} and {arguments.small_unit:,} patients; {arguments.runs} runs "
        f"after {WARM_UPS} warm-ups; page size {app.config['CASELOAD_PAGE_SIZE']}"
    )
    print(f"  {'Build:':<15} {region.build_seconds:.1f} s; access log after the run: {logged:,}")
    # Other work on the machine slows requests down: the 1-minute load around the measuring.
    print(f"  {'Load average:':<15} {load_before:.2f} before measuring, {load_after:.2f} after")
    print_table(results)

    big = [r for r in results if r.unit.startswith(f"{arguments.big_unit:,} ")]
    small = [r for r in results if r not in big]
    same = all(b.statements == s.statements for b, s in zip(big, small, strict=True))
    constant = all(len(set(r.statements)) == 1 for r in results)
    sizes = f"{arguments.big_unit:,} and {arguments.small_unit:,} patients"
    print(f"SQL statements per request constant over runs: {met(constant)}; "
          f"equal for {sizes}: {met(same)}")  # fmt: skip
    for result in (big[0], big[-1]):  # the list and Today: the queries that read the unit
        print(f"\nQuery plans, {result.probe.label} ({result.unit}):")
        for plan in plans(engine, result.listing):
            print(f"  {plan}")
    if arguments.statements:
        for result in results:
            print(f"\n{result.probe.label} ({result.unit}): {len(result.listing)} statements")
            for statement, _ in result.listing:
                print(f"  {short(statement)}")

    missed = [r for r in big if r.median > r.probe.target_ms]
    if missed or arguments.profile:
        slowest = max(big, key=lambda r: r.median / r.probe.target_ms)
        progress(f"profiling {slowest.probe.label} (cProfile, {arguments.runs} requests)")
        print(f"\ncProfile of {arguments.runs} requests of {slowest.probe.url} "
              f"({slowest.unit}; the profiler slows everything down):")  # fmt: skip
        print(profile(clients[slowest.unit], slowest.probe, arguments.runs).rstrip())
    if missed:
        print(f"Targets missed: {'; '.join(r.probe.label for r in missed)}")
    else:
        print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
