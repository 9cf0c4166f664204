"""What the access-log follow-up costs in a large region (issue 9): sample checks, the log
search, the patient log extract, chain verification with recorded progress, and the purge of
old entries, among 100 000 patients and an access log of 1 000 000 entries.

    make bench-logreview                             # full sizes, temporary SQLite file
    .venv/bin/python benchmarks/logreview.py --patients 10000 --entries 100000 --runs 3
    .venv/bin/python benchmarks/logreview.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres

The region and the access log are ``reports.py``'s, built by its ``build``: 100 000 patients
in 50 units (one of 2 000) with their cases, certificates, treatments, contacts and consents,
a manager of all 50 units, and 1 000 000 access-log entries spread over the last year,
appended through ``chain.append`` (a real hash chain). Measured, each run in a new
application context, after warm-ups (3; 1 for the verifications):

1. ``checks.draw`` with every criterion for the last full month, for the 2 000-patient unit and
   for all 50 units (the function, rolled back afterwards), and the page ``POST
   /log/checks/new`` for the one unit (each run stores a check, as a manager's would);
2. ``POST /log/search``, the first page: the one unit over the last year; the same filtered by
   one user (the unit's busiest); by the personnummer of the unit's most-logged patient; all
   50 units over the last full month;
3. ``POST /log/extracts/`` with the personnummer of the region's most-logged patient, and the
   extract's PDF, ``GET /log/extracts/<uid>.pdf``;
4. ``chainstatus.start`` + ``carry_out`` (progress committed to the run's row after every
   batch) against a plain ``journal.service.verify_all()`` and one given a progress callback
   that does nothing, run in turn on the same log: what recording progress costs;
5. last, once (it deletes): ``retention.purge`` of the oldest half of the log — verifying the
   entries to go, writing the encrypted archive, reading it back, deleting — as if it were six
   years later (the function takes "today" as an argument, so the clock is not moved), then
   the kept chain verified from its new base.

Pages go through Flask's test client after a real sign-in of the manager, with the forms'
CSRF token (the search and the extract are posted: a personnummer never goes in a URL). No
target is stated in the issue: pages (and the draws behind them) are held against 2 s, the
reports' target for the quarterly report; one over it is profiled with cProfile (before the
purge), and its slowest SQL statements are shown with the database's plan for each. The
database is a fresh one made for the run; the instance folder is never touched. All data is
fictitious. See ``docs/performance.md`` for measured figures.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from types import ModuleType
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import BIG_UNIT, PATIENTS, SMALL_UNIT, UNITS, StatementCounter, short, signed_in
from flask import Flask, current_app
from flask.testing import FlaskClient
from protection import in_fresh_app, machine_info, migrate_schema, progress
from reports import (
    ENTRIES,
    LOG_DAYS,
    Measured,
    Probe,
    Region,
    build,
    choose_unit,
    finish,
    measure,
    print_table,
    profile,
    run_once,
)
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal import retention
from coordinator.journal import service as journal
from coordinator.journal.models import AccessLogEntry
from coordinator.logreview import chainstatus, checks
from coordinator.logreview.criteria import Rules
from coordinator.logreview.forms import last_month
from coordinator.logreview.models import Criterion, LogCheck
from coordinator.patients.models import Patient

#: No target in the issue: a page is held against the reports' quarterly target.
PAGE_YARDSTICK_MS = 2_000.0
RUNS = 5
WARM_UPS = 3
#: A verification reads the whole log: one warm-up fills the caches.
VERIFY_WARM_UPS = 1
#: The purge runs as if it were this many years later (retention is at least 5).
YEARS_AHEAD = 6

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_COUNT = re.compile(r'id="log-count">([^<]*)<')
_EXTRACT_COUNT = re.compile(r"<dd data-count>(\d+)<")
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


# -- what the measures need from the region ----------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    """Who and what the measures search for, read from the built region."""

    #: The busiest user of the 2 000-patient unit.
    user_id: int
    user_entries: int
    #: The most-logged patient of that unit (the search) and of the region (the extract):
    #: (personnummer, uid, entries).
    unit_patient: tuple[str, uuid.UUID, int]
    region_patient: tuple[str, uuid.UUID, int]
    entries: int


def busiest_patient(unit_id: int | None) -> tuple[str, uuid.UUID, int]:
    """The patient with the most access-log entries, in ``unit_id`` or anywhere."""
    count = func.count().label("entries")
    query = (
        select(AccessLogEntry.patient_id, count)
        .join(Patient, Patient.id == AccessLogEntry.patient_id)
        .group_by(AccessLogEntry.patient_id)
        .order_by(count.desc(), AccessLogEntry.patient_id)
        .limit(1)
    )
    if unit_id is not None:
        query = query.where(Patient.unit_id == unit_id)
    patient_id, entries = db.session.execute(query).one()
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.personnummer is None:
        raise RuntimeError(f"patient {patient_id} has no personnummer")
    return patient.personnummer, patient.uid, entries


def subjects(region: Region) -> Subjects:
    count = func.count().label("entries")
    user_id, user_entries = db.session.execute(
        select(AccessLogEntry.user_id, count)
        .where(AccessLogEntry.unit_id == region.big_unit)
        .group_by(AccessLogEntry.user_id)
        .order_by(count.desc(), AccessLogEntry.user_id)
        .limit(1)
    ).one()
    found = Subjects(
        user_id=user_id,
        user_entries=user_entries,
        unit_patient=busiest_patient(region.big_unit),
        region_patient=busiest_patient(None),
        entries=db.session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0,
    )
    db.session.remove()
    return found


def csrf_token(client: FlaskClient) -> str:
    """The session's CSRF token, from the search form (tokens do not expire in this app:
    ``WTF_CSRF_TIME_LIMIT`` is None)."""
    token = _TOKEN.search(client.get("/log/search").text)
    if token is None:
        raise RuntimeError("no CSRF token on the search page")
    return token.group(1)


# -- describing what a run did -----------------------------------------------------------------


def describe_check(check: LogCheck) -> str:
    matched = ", ".join(f"{c.value} {n:,}" for c, n in checks.matched_counts(check))
    return f"{len(check.items)} sampled of {check.population:,} entries in scope ({matched})"


def describe_drawn(_response: Any) -> str:
    latest = db.session.scalars(select(LogCheck).order_by(LogCheck.id.desc()).limit(1)).one()
    return f"redirected to check {latest.id}: {describe_check(latest)}"


def describe_search(response: Any) -> str:
    count = _COUNT.search(response.text)
    digits = re.sub(r"\D", "", count.group(1)) if count else ""
    total = f"{int(digits):,}" if digits else "?"
    rows = response.text.count("<tr data-seq=")
    return f"{total} entries found, {rows} shown; {len(response.text) / 1024:,.0f} KiB"


def describe_extract(response: Any) -> str:
    count = _EXTRACT_COUNT.search(response.text)
    rows = response.text.count("<tr data-seq=")
    return f"{count.group(1) if count else '?'} accesses, {rows} rows shown"


def describe_pdf(response: Any) -> str:
    pages = len(_PDF_PAGE.findall(response.data))
    return f"{len(response.data) / 1024:,.0f} KiB, {pages} page(s)"


def describe_verification(results: list[Any]) -> str:
    verified = ", ".join(f"{result.chain.value} {result.verified:,}" for result in results)
    intact = all(result.broken is None for result in results)
    return f"verified {verified}; {'intact' if intact else 'BROKEN'}"


# -- the probes ---------------------------------------------------------------------------------


def manager_actor(region: Region) -> Actor:
    """The manager of every unit, working in the 2 000-patient unit (as signed in)."""
    user = db.session.scalars(select(User).where(User.username == region.manager)).one()
    unit = db.session.get(CareUnit, region.big_unit)
    return Actor(user=user, role=Role.MANAGER, unit=unit, request_id=uuid.uuid4().hex)


def probes(region: Region, found: Subjects, token: str) -> list[Probe]:
    today = clock.today()
    month_first, month_last = last_month(today)
    year = {"first": (today - timedelta(days=LOG_DAYS)).isoformat(), "last": today.isoformat()}
    month = {"first": month_first.isoformat(), "last": month_last.isoformat()}
    big, every = (region.big_unit,), tuple(region.units)
    one = f"1 unit, {BIG_UNIT:,} patients"
    units = f"{len(every)} units"

    def draw(chosen: list[CareUnit]) -> LogCheck:
        draft = checks.Draft(chosen, month_first, month_last, frozenset(Criterion))
        return checks.draw(manager_actor(region), draft, Rules.from_config(current_app.config))

    def search(**fields: Any) -> dict[str, Any]:
        """The search form for the one unit, unless ``fields`` name another."""
        return {"csrf_token": token, "unit": str(region.big_unit), **fields}

    drawn = {"csrf_token": token, "unit": str(region.big_unit),
             "criteria": [criterion.value for criterion in Criterion], **month}  # fmt: skip
    number, uid = found.region_patient[:2]
    return [
        Probe("checks.draw(), last month", one, PAGE_YARDSTICK_MS, call=draw, unit_ids=big,
              describe=describe_check),
        Probe("checks.draw(), last month", units, PAGE_YARDSTICK_MS, call=draw,
              unit_ids=every, describe=describe_check),
        Probe("POST /log/checks/new, last month", one, PAGE_YARDSTICK_MS,
              url="/log/checks/new", form=drawn, status=302, describe=describe_drawn),
        Probe("POST /log/search, last year", one, PAGE_YARDSTICK_MS, url="/log/search",
              form=search(**year), describe=describe_search),
        Probe("POST /log/search, last year, one user", one, PAGE_YARDSTICK_MS,
              url="/log/search", form=search(user=str(found.user_id), **year),
              describe=describe_search),
        Probe("POST /log/search, last year, one patient", one, PAGE_YARDSTICK_MS,
              url="/log/search", form=search(personnummer=found.unit_patient[0], **year),
              describe=describe_search),
        Probe("POST /log/search, last month", units, PAGE_YARDSTICK_MS, url="/log/search",
              form=search(unit="all", **month), describe=describe_search),
        Probe("POST /log/extracts/ (screen)", "1 patient, all units", PAGE_YARDSTICK_MS,
              url="/log/extracts/", form={"csrf_token": token, "personnummer": number},
              describe=describe_extract),
        Probe("GET /log/extracts/<uid>.pdf", "1 patient, all units", PAGE_YARDSTICK_MS,
              url=f"/log/extracts/{uid}.pdf", describe=describe_pdf),
    ]  # fmt: skip


# -- verification with and without recorded progress -------------------------------------------


def verification_probes(started_ms: list[float]) -> tuple[Probe, ...]:
    """Plain ``verify_all``; the same with a progress callback that does nothing (the cost of
    counting the rows as they pass); and a recorded run, whose ``start`` (which counts the
    entries to check) is timed into ``started_ms`` as well."""

    def recorded(_units: list[CareUnit]) -> list[Any]:
        begun = time.perf_counter()
        run = chainstatus.start(None)
        started_ms.append((time.perf_counter() - begun) * 1e3)
        outcome = chainstatus.carry_out(run.id)
        return outcome.results

    def ignored(_chain: Any, _done: int) -> None:
        return None

    everything = "both chains"
    return (
        Probe("journal.service.verify_all()", everything, None,
              call=lambda _units: journal.verify_all(), describe=describe_verification),
        Probe("verify_all(progress=no-op)", everything, None,
              call=lambda _units: journal.verify_all(progress=ignored),
              describe=describe_verification),
        Probe("chainstatus.start() + carry_out()", everything, None, call=recorded,
              describe=describe_verification),
    )  # fmt: skip


def measure_alternately(
    app: Flask,
    client: FlaskClient,
    counter: StatementCounter,
    probes: tuple[Probe, ...],
    runs: int,
) -> list[Measured]:
    """Each probe in turn, ``runs`` times round, so that the machine's drift falls on all
    alike."""
    timings: list[list[float]] = [[] for _ in probes]
    cpu: list[list[float]] = [[] for _ in probes]
    counts: list[list[int]] = [[] for _ in probes]
    found = ["" for _ in probes]
    for number in range(VERIFY_WARM_UPS + runs):
        for index, probe in enumerate(probes):
            progress(f"  {probe.label}, run {number + 1} of {VERIFY_WARM_UPS + runs}")
            context, work = run_once(app, client, probe)
            with counter.counting() as sent:
                started, started_cpu = time.perf_counter(), time.process_time()
                outcome = work()
                elapsed = (time.perf_counter() - started) * 1e3
                elapsed_cpu = (time.process_time() - started_cpu) * 1e3
            found[index] = probe.describe(outcome)
            finish(context)
            if number >= VERIFY_WARM_UPS:
                timings[index].append(elapsed)
                cpu[index].append(elapsed_cpu)
                counts[index].append(len(sent))
    return [
        Measured(probe, timings[index], cpu[index], counts[index], found[index])
        for index, probe in enumerate(probes)
    ]


# -- where a slow measure spends its time -------------------------------------------------------


class StatementTimer:
    """Times each SQL statement from its execution to its first row (on PostgreSQL, psycopg
    fetches the whole result in that time too)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.timed: list[tuple[float, str, Any]] = []

    def _before(self, conn: Any, _cursor: Any, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        begun = conn.info["bench_started"].pop()
        self.timed.append(((time.perf_counter() - begun) * 1e3, statement, parameters))

    @contextmanager
    def timing(self) -> Iterator[list[tuple[float, str, Any]]]:
        self.timed = []
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        try:
            yield self.timed
        finally:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)


def slowest_statements(
    app: Flask, client: FlaskClient, engine: Engine, probe: Probe, top: int = 3
) -> str:
    """One more run of ``probe``: its slowest statements, with the database's plan for each."""
    context, work = run_once(app, client, probe)
    with StatementTimer(engine).timing() as timed:
        work()
    finish(context)
    total = sum(ms for ms, _, _ in timed)
    lines = [f"{len(timed)} statements, {total:,.0f} ms in the database; the slowest:"]
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        for ms, statement, parameters in sorted(timed, key=lambda t: -t[0])[:top]:
            lines.append(f"  {ms:8,.1f} ms  {short(statement, 150)}")
            if statement.lstrip().upper().startswith("SELECT"):
                plan = connection.exec_driver_sql(explain + statement, parameters).all()
                lines += [f"              {short(str(row[-1]), 140)}" for row in plan]
    return "\n".join(lines)


# -- the purge ----------------------------------------------------------------------------------

#: The purge's steps (functions of ``retention``), timed by wrapping them for its one run.
PURGE_STEPS = {
    "_checked": "verify the entries to go (seals, links)",
    "_write_archive": "write the archive (compress, encrypt, fsync)",
    "_check_written": "read the archive back and verify it",
    "_remove": "delete the entries, move the chain's base",
}


@contextmanager
def timed_steps(module: ModuleType, names: Mapping[str, str]) -> Iterator[dict[str, float]]:
    """Seconds spent in each of ``module``'s functions ``names`` while inside."""
    seconds: dict[str, float] = {}
    originals = {name: getattr(module, name) for name in names if hasattr(module, name)}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - begun

        return wrapper

    for name, function in originals.items():
        setattr(module, name, timed(name, function))
    try:
        yield seconds
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


@dataclass(frozen=True)
class Purged:
    removed: int
    before: date
    seconds: float
    steps: dict[str, float]
    archive_mib: float
    #: Reading the archive back once more on its own, and verifying the kept chain.
    archive_check_seconds: float
    archive_intact: bool
    kept: list[Any]
    kept_seconds: float

    @property
    def rate(self) -> float:
        return self.removed / self.seconds


def purge_half(app: Flask) -> Purged:
    """Purge the entries older than half the log's span, as if ``YEARS_AHEAD`` years later."""
    with app.app_context():
        today = clock.today()
        before = today - timedelta(days=LOG_DAYS // 2)
        later = date(today.year + YEARS_AHEAD, today.month, min(today.day, 28))
        with timed_steps(retention, PURGE_STEPS) as steps:
            begun = time.perf_counter()
            report = retention.purge(before, retention.default_archive_dir(), later)
            seconds = time.perf_counter() - begun
        db.session.remove()
    if report.archive is None:
        raise RuntimeError(f"nothing was older than {before}")
    with app.app_context():
        begun = time.perf_counter()
        archive = retention.verify_archive(report.archive)
        archive_seconds = time.perf_counter() - begun
        begun = time.perf_counter()
        kept = journal.verify_all()
        kept_seconds = time.perf_counter() - begun
        db.session.remove()
    return Purged(
        removed=report.removed, before=before, seconds=seconds, steps=steps,
        archive_mib=report.archive.stat().st_size / 2**20,
        archive_check_seconds=archive_seconds, archive_intact=archive.is_intact, kept=kept,
        kept_seconds=kept_seconds,
    )  # fmt: skip


# -- output -------------------------------------------------------------------------------------


def print_verifications(measured: list[Measured], started_ms: list[float]) -> None:
    plain, *others = measured
    print()
    print("Verification, alternating runs (medians):")
    for result in measured:
        print(f"  {result.probe.label:<36} {result.median / 1e3:8.2f} s   ({result.found})")
    for result in others:
        extra = result.median - plain.median
        print(f"  {result.probe.label} against verify_all(): {extra / 1e3:+.2f} s "
              f"({extra / plain.median:+.1%})")  # fmt: skip
    print(f"  of which start() (counting the entries): {statistics.median(started_ms):,.0f} ms")


def print_purge(purged: Purged) -> None:
    print()
    print(f"Purge of the entries recorded before {purged.before} (one run, as if "
          f"{YEARS_AHEAD} years later):")  # fmt: skip
    print(f"  {purged.removed:,} entries archived and removed in {purged.seconds:.1f} s: "
          f"{purged.rate:,.0f} entries/s; archive {purged.archive_mib:,.1f} MiB")  # fmt: skip
    accounted = 0.0
    for name, label in PURGE_STEPS.items():
        if name in purged.steps:
            accounted += purged.steps[name]
            share = purged.steps[name] / purged.seconds
            print(f"    {label:<48} {purged.steps[name]:7.1f} s  {share:6.1%}")
    print(f"    {'the rest (finding the span, commit)':<48} {purged.seconds - accounted:7.1f} s")
    print(f"  archive read back on its own: {purged.archive_check_seconds:.1f} s, "
          f"{'intact' if purged.archive_intact else 'BROKEN'}")  # fmt: skip
    print(f"  kept chain verified from its new base in {purged.kept_seconds:.1f} s: "
          f"{describe_verification(purged.kept)}")  # fmt: skip


# -- main ---------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the access-log follow-up (issue 9) in a large region."
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
        help=f"measured runs of each, after {WARM_UPS} warm-ups "
        f"({VERIFY_WARM_UPS} for the verifications; default {RUNS})",
    )
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is "
        "created on that server and dropped afterwards (default: a "
        "temporary SQLite file)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile every page and draw with cProfile, not only those over "
        f"{PAGE_YARDSTICK_MS:,.0f} ms",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fictitious data")
    arguments = parser.parse_args(argv)
    if min(arguments.patients, arguments.runs, arguments.entries) < 1:
        parser.error("sizes must be positive")
    if arguments.patients < BIG_UNIT + SMALL_UNIT + UNITS - 2:
        parser.error(f"--patients must be at least {BIG_UNIT + SMALL_UNIT + UNITS - 2}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(arguments.seed)  # noqa: S311
    return in_fresh_app(arguments.database_url, lambda app: run(app, arguments, rng))


def run(app: Flask, arguments: argparse.Namespace, rng: random.Random) -> int:
    begun = time.perf_counter()
    with app.app_context():
        progress(f"migrating a fresh {db.engine.dialect.name} database")
        migrate_schema()
        info = machine_info(db.engine)
        region = build(arguments, rng)
        found = subjects(region)
        engine = db.engine
    counter = StatementCounter(engine)
    client = signed_in(app, region.manager, region.password)
    choose_unit(client, region.big_unit)
    load_before = os.getloadavg()[0]
    results = []
    for probe in probes(region, found, csrf_token(client)):
        progress(f"measuring {probe.label} ({probe.scope}), {arguments.runs} runs")
        result = measure(app, client, counter, probe, arguments.runs, WARM_UPS)
        results.append(result)
        progress(f"  median {result.median:,.1f} ms; {result.found}")
    started_ms: list[float] = []
    progress(f"verifying the chains, {arguments.runs} runs of each, alternately")
    verifications = measure_alternately(app, client, counter, verification_probes(started_ms),
                                        arguments.runs)  # fmt: skip
    load_after = os.getloadavg()[0]
    over = [r for r in results if r.is_met is False]
    explained = []
    # Before the purge: it halves the log the measures read.
    for result in results if arguments.profile else over:
        progress(f"profiling {result.probe.label} (cProfile, {arguments.runs} runs)")
        explained.append((result, slowest_statements(app, client, engine, result.probe),
                          profile(app, client, result.probe, arguments.runs)))  # fmt: skip
    progress("purging the oldest half of the access log")
    purged = purge_half(app)

    print()
    print("Coordinator access-log follow-up benchmark (issue 9)")
    for name, value in info:
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Measured:':<15} {arguments.runs} runs after {WARM_UPS} warm-ups "
          f"({VERIFY_WARM_UPS} for the verifications); today {clock.today()}")  # fmt: skip
    print(f"  {'Load average:':<15} {load_before:.2f} before measuring, {load_after:.2f} after")
    print(f"  {'Access log:':<15} {found.entries:,} entries before measuring")
    print(f"  {'Searched:':<15} user {found.user_id} ({found.user_entries:,} entries in the unit);"
          f" the unit's patient with {found.unit_patient[2]} entries; the region's with "
          f"{found.region_patient[2]}")  # fmt: skip
    print("  Build:")
    for name, seconds in region.steps.items():
        print(f"    {name + ':':<55} {seconds:8.1f} s")
    print_table([*results, *verifications])
    print_verifications(verifications, started_ms)
    print_purge(purged)
    for result, statements, profiled in explained:
        print(f"\n{result.probe.label} ({result.probe.scope}): {statements}")
        print(f"\ncProfile of {arguments.runs} runs of {result.probe.label} "
              f"({result.probe.scope}; the profiler slows everything down):")  # fmt: skip
        print(profiled.rstrip())
    if over:
        print(f"Over {PAGE_YARDSTICK_MS:,.0f} ms: {'; '.join(r.probe.label for r in over)}")
    else:
        print(f"Every page and draw within {PAGE_YARDSTICK_MS:,.0f} ms.")
    print(
        f"Whole run: {(time.perf_counter() - begun) / 60:.1f} minutes "
        "(build, measures, profiles, purge)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
