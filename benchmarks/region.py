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
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    DIAGNOSES,
    Measured,
    StatementCounter,
)
from flask import Flask
from protection import (
    fmt_ms,
    in_fresh_app,
    machine_info,
    migrate_schema,
    progress,
)
from region_baselines import bare_app, fill_plain_caseload, measure_bare, measure_scan
from region_bulk import Failed
from region_journal import insert_journal
from region_measure import (
    WARM_UPS,
    Compared,
    measure_requests,
    prepare_subjects,
    rotate_sample,
    verify_chains,
)
from region_people import FULL, QUICK, Region, Sizes, check_stored, create_people, insert_patients
from region_table import Row, print_table, table_rows
from reports import (
    OTHER_DIAGNOSES,
    QUARTER,
    YEAR,
)

from coordinator import clock
from coordinator.auth import passwords
from coordinator.config import Config
from coordinator.extensions import db
from coordinator.patients.diagnoses import lookup
from coordinator.reports.quarterly import quarter_bounds

# -- targets (from the issue) ---------------------------------------------------------------

#: Caseload page at most this many times the bare framework's time for the same table.
CASELOAD_RATIO = 2.0
#: Lookup by personnummer at least this many times faster than decrypt-and-scan.
LOOKUP_SPEEDUP = 100.0
#: The whole data set on SQLite (the issue's "≤ 2 minutes").
GENERATOR_BUDGET_S = 120.0
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


# -- main -----------------------------------------------------------------------------------


def argument_parser() -> argparse.ArgumentParser:
    """The command's options: one per size (its default the full size), and how to run."""
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
    return parser


def parse_arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Sizes]:
    """The options, and the sizes they choose: ``--quick`` or the full sizes, with any size
    given overriding; sizes that cannot make the measured region are refused."""
    parser = argument_parser()
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


@dataclass
class Results:
    """What one run measured, gathered by ``run`` for the report (which only prints)."""

    sizes: Sizes
    workers: int
    region: Region
    #: The machine and database, as ``protection.machine_info`` describes them.
    info: list[tuple[str, str]]
    #: The one-minute load average before and after measuring (a busy machine shows here).
    load: tuple[float, float]
    bare: Measured
    #: Plaintext rows the bare app reads from.
    plain: int
    done: dict[str, Measured]
    compared: list[Compared]
    scans: list[float]
    verify_ms: list[float]
    verified: int
    rotate_s: float
    rotated: dict[str, int]


def run(app: Flask, sizes: Sizes, workers: int, rng: random.Random) -> int:
    """Generate the region, measure everything in it, print the report."""
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
    report(Results(
        sizes, workers, region, info, (load_before, load_after), bare_measured, plain, done,
        compared, scans, verify_ms, verified, rotate_s, rotated,
    ))  # fmt: skip
    return 0


def table_of(results: Results) -> list[Row]:
    """The main table's rows: each operation against its baseline and target."""
    sizes, done, scans = results.sizes, results.done, results.scans
    bare_ms = results.bare.median
    bare_label = "bare Flask table"

    def vs_bare(label: str, key: str, **extra: Any) -> Row:
        return Row(label, done[key].timings_ms, bare_label, bare_ms, **extra)

    verified, verify_ms = results.verified, results.verify_ms
    rotate_s = results.rotate_s
    rows_done = sum(results.rotated.values())
    return [
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


def report(results: Results) -> None:
    """The whole printout: the machine, the main table, the statement counts, the generator."""
    rows = table_of(results)
    print_header(results)
    print()
    headers = ("Operation", "Median", "p95", "Baseline", "Baseline median", "Ratio", "Target",
               "Met")  # fmt: skip
    print_table(headers, table_rows(rows))
    print()
    print_statements(results)
    print()
    print_generator(results)
    equal = all(c.equal for c in results.compared)
    missed = [r.operation for r in rows if r.meets is not None and r.ratio is not None
              and not r.meets(r.ratio)]  # fmt: skip
    if not equal:
        missed.append("constant statement count")
    print("Targets missed: " + "; ".join(missed) if missed else "All targets met.")


def print_header(results: Results) -> None:
    """Where and how the run was made: the figures mean little without the machine's load."""
    sizes, scans = results.sizes, results.scans
    load_before, load_after = results.load
    print()
    print(f"Coordinator at region scale (issue 11), {clock.today().isoformat()}")
    for name, value in results.info:
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Cores:':<15} {os.cpu_count()}")
    print(f"  {'Load average:':<15} {load_before:.2f} before measuring, {load_after:.2f} after")
    print(f"  {'Runs:':<15} {sizes.runs} per request after {WARM_UPS} warm-ups; "
          f"verify-journal {sizes.verify_runs}; decrypt-and-scan {sizes.scans}")  # fmt: skip
    print(f"  {'Baselines:':<15} bare Flask table {fmt_ms(results.bare.median)} "
          f"({results.bare.statement_count} statements, {results.plain:,} plaintext rows); "
          f"decrypt-and-scan {fmt_ms(statistics.median(scans))}")  # fmt: skip


def print_statements(results: Results) -> None:
    """Statements per request at two sizes (with the statements themselves where they differ),
    the measured posts' counts, and what the stopped key rotation did."""
    compared, done = results.compared, results.done
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
        f"Key rotation: {', '.join(f'{t} {n:,}' for t, n in results.rotated.items())} rows in "
        f"{results.rotate_s:.2f} s (rotate() stopped there; it resumes on the next run)"
    )


def print_generator(results: Results) -> None:
    """The generator's steps, what it made, and whether it kept to the issue's budget."""
    sizes, region = results.sizes, results.region
    print("Generator:")
    print()
    counts = {**region.counts}
    steps = [(name, f"{seconds:.1f} s") for name, seconds in region.steps.items()]
    print_table(("Step", "Time"), steps)
    print()
    print(f"  Generated: {counts.get('patients', 0):,} patients, {sizes.units} units, "
          f"{sizes.coordinators} coordinators, {counts.get('certificates', 0):,} certificates, "
          f"{counts.get('journal entries', 0):,} case-journal entries and as many access-log "
          f"entries; {results.workers} worker process(es)")  # fmt: skip
    total = region.steps["total"]
    within = "yes" if total <= GENERATOR_BUDGET_S else "no"
    print(f"  Within {GENERATOR_BUDGET_S:.0f} s: {within}")


if __name__ == "__main__":
    sys.exit(main())
