"""What the protection core costs: field encryption, blind-index lookup, journal append and
journal verification, each measured against its unprotected baseline in one run.

    make bench-protection                            # full sizes, temporary SQLite file
    .venv/bin/python benchmarks/protection.py --quick
    .venv/bin/python benchmarks/protection.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres

Everything goes through the real code: the app factory, the migrations, ``seal`` /
``open_sealed``, the ``Encrypted`` descriptors, ``Patient.personnummer.equals``,
``journal.service.record_access(es)``, ``chain.append`` and ``journal.service.verify_all``.
The database is always a fresh one made for the run (a file in a temporary folder, or a new
PostgreSQL database on the given server that is dropped afterwards); the instance folder is
never touched. All data is fictitious. See ``docs/performance.md`` for measured figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import cryptography
import sqlalchemy
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Index, String, Table, create_engine, event, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from coordinator import clock, create_app
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.config import database_url as normalise_url
from coordinator.crypto.envelope import open_sealed, seal
from coordinator.crypto.fields import Encrypted
from coordinator.crypto.keys import KeyRing
from coordinator.crypto.runtime import keys, write_canary
from coordinator.database import UTCDateTime
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, Chain, ChainHead
from coordinator.patients.identity import normalise_personnummer
from coordinator.patients.models import Patient
from coordinator.patients.service import find_by_personnummer

# -- targets (from the issue) ---------------------------------------------------------------

LOOKUP_TARGET_MS = 5.0
APPEND_TARGET_PER_S = 2_000
VERIFY_TARGET_PER_S = 200_000

# -- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    patients: int
    entries: int
    lookups: int
    scans: int
    appends: int
    batches: int
    batch_size: int
    verify_runs: int
    crypto_number: int
    crypto_repeat: int


FULL = Sizes(
    patients=100_000,
    entries=1_000_000,
    lookups=200,
    scans=5,
    appends=5_000,
    batches=20,
    batch_size=1_000,
    verify_runs=3,
    crypto_number=20_000,
    crypto_repeat=9,
)
QUICK = Sizes(
    patients=2_000,
    entries=20_000,
    lookups=50,
    scans=3,
    appends=300,
    batches=5,
    batch_size=1_000,
    verify_runs=2,
    crypto_number=2_000,
    crypto_repeat=5,
)

#: Entries per transaction when building the chain up to ``--entries``.
BUILD_BATCH = 10_000

# -- fictitious data ------------------------------------------------------------------------

#: A typical case note: 200 characters of Swedish (with å, ä, ö), fictitious.
NOTE = (
    "Samtal med patienten om återgång i arbete. Hon beskriver fortsatt trötthet efter lunch "
    "men klarar nu halvtid. Överenskommet: kontakt med arbetsgivaren vecka 12 och uppföljning "
    "hos arbetsterapeut i maj."
)[:200].ljust(200, ".")

FIRST_NAMES = (
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Kerstin", "Per",
    "Åsa", "Björn", "Ingrid", "Göran", "Sofia", "Mikael", "Elin", "Örjan", "Linnéa", "Nils",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Hansson", "Bengtsson",
    "Jönsson", "Lindberg", "Magnusson", "Lindström", "Öberg", "Åkesson", "Sjögren", "Ek",
)  # fmt: skip


def luhn_digit(nine_digits: str) -> int:
    """The personnummer check digit (Luhn over YYMMDDNNN)."""
    total = 0
    for position, char in enumerate(nine_digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def personnummer_numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct, well-formed, fictitious 12-digit numbers (YYYYMMDDNNNC)."""
    first, last = date(1930, 1, 1).toordinal(), date(2020, 12, 31).toordinal()
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        birth = date.fromordinal(rng.randint(first, last))
        serial = f"{rng.randint(1, 999):03d}"  # no personnummer has the serial 000
        check = luhn_digit(f"{birth:%y%m%d}{serial}")
        numbers[f"{birth:%Y%m%d}{serial}{check}"] = None
    return list(numbers)


# -- output ---------------------------------------------------------------------------------

_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """A progress line on standard error (the results go to standard output)."""
    elapsed = time.perf_counter() - _STARTED
    print(f"[{elapsed:7.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    section: str
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str, **kwargs: str) -> None:
        self.results.append(Result(*args, **kwargs))

    def print(self) -> None:
        headers = ("Measure", "Protected", "Baseline", "Ratio", "Target", "Met")
        rows = [(r.measure, r.value, r.baseline, r.ratio, r.target, r.met) for r in self.results]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        line = "  ".join("-" * w for w in widths)
        section = None
        print()
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print(line)
        for result, row in zip(self.results, rows, strict=True):
            if result.section != section:
                section = result.section
                print(f"{section}")
            cells = [
                row[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
            ]
            print("  ".join(cells).rstrip())
        print(line)
        for note in self.notes:
            print(note)


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def fmt_us(value: float) -> str:
    return f"{value:,.2f} µs"


def fmt_ms(value: float) -> str:
    return f"{value:,.3f} ms" if value < 10 else f"{value:,.1f} ms"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}/s"


def fmt_ratio(value: float) -> str:
    return f"×{value:,.1f}" if value < 100 else f"×{value:,.0f}"


# -- machine --------------------------------------------------------------------------------


def machine_info(engine: Engine) -> list[tuple[str, str]]:
    cpu, flags = "unknown", set[str]()
    try:
        for entry in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            name, _, value = entry.partition(":")
            if name.strip() == "model name" and cpu == "unknown":
                cpu = value.strip()
            elif name.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        cpu = platform.processor() or "unknown"
    memory = "unknown"
    try:
        for entry in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if entry.startswith("MemTotal:"):
                memory = f"{int(entry.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    info = [
        ("CPU", f"{cpu} ({os.cpu_count()} logical CPUs, AES-NI: {met('aes' in flags)})"),
        ("Memory", memory),
        ("System", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite library", sqlite3.sqlite_version),
        ("SQLAlchemy", sqlalchemy.__version__),
        ("cryptography", f"{cryptography.__version__} ({openssl_backend.openssl_version_text()})"),
    ]
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            server, fsync, commit = (
                connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            )
            where = f"{engine.url.host}:{engine.url.port}"
            info.append(
                (
                    "Database",
                    f"PostgreSQL {server} ({where}; fsync={fsync}, synchronous_commit={commit})",
                )
            )
        else:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            info.append(("Database", f"SQLite file (journal_mode={mode}, synchronous={sync})"))
    return info


# -- database and app -----------------------------------------------------------------------


@contextmanager
def fresh_database(configured: str | None, workdir: Path) -> Iterator[str]:
    """A new, empty database for this run; a PostgreSQL one is dropped afterwards."""
    if not configured:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    url = make_url(normalise_url(configured, workdir))
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise SystemExit("--database-url: an SQLite URL must name a file")
        if Path(url.database).exists():
            raise SystemExit(f"{url.database} exists: give a path for a new database file")
        yield url.render_as_string(hide_password=False)
        return
    if url.get_backend_name() != "postgresql":
        raise SystemExit("--database-url: SQLite or PostgreSQL only")
    name = f"coordinator_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        progress(f"created PostgreSQL database {name}")
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            progress(f"dropped PostgreSQL database {name}")
    finally:
        admin.dispose()


def in_fresh_app(database_url: str | None, work: Callable[[Flask], int]) -> int:
    """Run ``work`` with an app on a fresh database and instance folder, both gone afterwards
    (the request benchmarks: their test client speaks plain HTTP, so the session cookie is not
    marked Secure)."""
    with tempfile.TemporaryDirectory(prefix="coordinator-bench-") as folder:
        workdir = Path(folder)
        with fresh_database(database_url, workdir) as url:
            app = build_app(url, workdir / "instance")
            app.config["SESSION_COOKIE_SECURE"] = False
            try:
                return work(app)
            finally:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()


def build_app(database_url: str, instance: Path) -> Flask:
    """The app as production builds it (cheap password hashing: no one signs in here)."""
    return create_app(
        {
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "ENCRYPTION_KEYS": KeyRing.generate().dumps(),
            "PASSWORD_HASH_PROFILE": "CHEAPEST",
        }
    )


def migrate_schema() -> None:
    upgrade()
    write_canary()
    db.session.commit()


@dataclass
class World:
    unit: CareUnit
    user: User
    numbers: list[str]
    #: (id, uid hex) of every patient, for building access-log entries.
    patient_keys: list[tuple[int, str]]
    #: The first 1 000 patients, loaded and then detached, as a request would hold them.
    patients: list[Patient]

    def actor(self) -> Actor:
        return Actor(user=self.user, role=Role.COORDINATOR, unit=self.unit, request_id=_rid())


def _rid() -> str:
    return uuid.uuid4().hex


def create_people() -> tuple[CareUnit, User]:
    unit = CareUnit(
        name="Vårdcentralen Mätpunkten",
        kind=UnitKind.HEALTH_CENTRE,
        provider_type=ProviderType.PUBLIC,
        is_active=True,
    )
    user = User(
        username="bench.koordinator",
        full_name="Bänk Koordinatorsson",
        title="Arbetsterapeut",
        role=Role.COORDINATOR,
        # Not a hash of anything: no password verifies, so this user can never sign in.
        password_hash="!",  # noqa: S106
        units=[unit],
    )
    db.session.add_all([unit, user])
    db.session.commit()
    return unit, user


def insert_patients(unit_id: int, numbers: Sequence[str], rng: random.Random) -> None:
    """Core-insert the patients with values sealed by the real ``Encrypted`` fields."""
    table: Table = Patient.__table__  # type: ignore[assignment]
    pnr, first, last = Patient.personnummer, Patient.first_name, Patient.last_name
    version = keys().current
    chunk = 5_000
    for start in range(0, len(numbers), chunk):
        rows = []
        for number in numbers[start : start + chunk]:
            uid = uuid.uuid4()
            row = uid.hex
            given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            rows.append(
                {
                    "uid": uid,
                    "unit_id": unit_id,
                    "personnummer": pnr.encrypt(row, number),
                    "personnummer_bidx": pnr.blind_index(number, version),
                    "first_name": first.encrypt(row, given),
                    "last_name": last.encrypt(row, family),
                    "last_name_bidx": last.blind_index(family, version),
                    "created_at": clock.now(),
                }
            )
        db.session.execute(insert(table), rows)
        db.session.commit()
        done = start + len(rows)
        if done == len(numbers) or done % 20_000 == 0:
            progress(f"  patients inserted: {done:,}/{len(numbers):,}")


def build_world(sizes: Sizes, rng: random.Random) -> World:
    unit, user = create_people()
    progress(f"generating {sizes.patients:,} fictitious personnummer")
    numbers = personnummer_numbers(sizes.patients, rng)
    started = time.perf_counter()
    insert_patients(unit.id, numbers, rng)
    elapsed = time.perf_counter() - started
    progress(f"  {sizes.patients / elapsed:,.0f} patients/s (3 seals + 2 blind indexes each)")
    patient_keys = [
        (pid, uid.hex) for pid, uid in db.session.execute(select(Patient.id, Patient.uid))
    ]
    patients = list(db.session.scalars(select(Patient).order_by(Patient.id).limit(1_000)))
    unit, user = db.session.get_one(CareUnit, unit.id), db.session.get_one(User, user.id)
    # The ORM reads the stored values back through the descriptor: a check that the bulk
    # insert sealed them exactly as the app would.
    by_number = dict.fromkeys(numbers[: len(patients)])
    for patient in patients:
        if patient.personnummer not in by_number:
            raise RuntimeError("a patient's personnummer did not decrypt to what was inserted")
    db.session.remove()  # detached, with every column loaded: what a request holds
    return World(unit, user, numbers, patient_keys, patients)


# -- 1. field encryption --------------------------------------------------------------------


def per_op_us(operation: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean time of one call, in microseconds."""
    runs = timeit.repeat(operation, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def bench_fields(report: Report, sizes: Sizes) -> None:
    progress("1. field encryption: seal/open_sealed vs. plain encode/decode")
    bench_field(report, sizes, "200-character Swedish note", "case_journal", "body", NOTE, None)
    bench_field(
        report,
        sizes,
        "personnummer as typed (19121212-1212)",
        "patients",
        "personnummer",
        "19121212-1212",
        Patient.personnummer,
    )


def bench_field(
    report: Report,
    sizes: Sizes,
    label: str,
    table: str,
    column: str,
    value: str,
    indexed: Encrypted[str] | None,
) -> None:
    keyring = keys()
    row = uuid.uuid4().hex
    n, r = sizes.crypto_number, sizes.crypto_repeat
    data = value.encode("utf-8")
    sealed = seal(keyring, table, column, row, data)

    def plain() -> str:
        return value.encode("utf-8").decode("utf-8")

    def encrypt() -> bytes:
        return seal(keyring, table, column, row, data)

    def decrypt() -> bytes:
        return open_sealed(keyring, table, column, row, sealed)

    def both() -> str:
        stored = seal(keyring, table, column, row, value.encode("utf-8"))
        return open_sealed(keyring, table, column, row, stored).decode("utf-8")

    if both() != value:
        raise RuntimeError("seal/open_sealed did not round-trip")
    plain_us = per_op_us(plain, n, r)
    encrypt_us = per_op_us(encrypt, n, r)
    decrypt_us = per_op_us(decrypt, n, r)
    both_us = per_op_us(both, n, r)
    section = f"1. Field encryption — {label} ({len(data)} B → {len(sealed)} B stored)"
    report.add(section, "seal (encrypt) per value", fmt_us(encrypt_us))
    report.add(section, "open_sealed (decrypt) per value", fmt_us(decrypt_us))
    report.add(
        section,
        "encrypt+decrypt vs. encode+decode",
        fmt_us(both_us),
        fmt_us(plain_us),
        fmt_ratio(both_us / plain_us),
    )
    if indexed is not None:
        field_ = indexed

        def blind_index() -> bytes:
            return field_.blind_index(value, keyring.current)

        index_us = per_op_us(blind_index, n, r)
        report.add(section, "blind index (normalise + HMAC-SHA256)", fmt_us(index_us))
    progress(f"  {label}: {both_us:.2f} µs vs {plain_us:.3f} µs")


# -- 2. lookup by personnummer --------------------------------------------------------------


def explain_lookup(number: str, unit_id: int) -> str:
    """The database's plan for the real lookup statement (captured as it is executed)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        captured.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        db.session.scalars(
            select(Patient).where(Patient.unit_id == unit_id, Patient.personnummer.equals(number))
        ).first()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in captured if "FROM patients" in s)
    prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    plan = db.session.connection().exec_driver_sql(prefix + statement, parameters).all()
    db.session.remove()
    steps = (re.sub(r"\s*\(cost=[^)]*\)", "", str(line[-1])).strip(" ->") for line in plan)
    return " | ".join(
        re.sub(r"'\\x[0-9a-f]+'::bytea", "<blind index>", step)
        for step in steps
        if any(word in step for word in ("Scan", "Cond", "Filter", "SEARCH", "SCAN"))
    )


def bench_lookup(report: Report, world: World, sizes: Sizes, rng: random.Random) -> None:
    progress(f"2. lookup by personnummer among {len(world.numbers):,} patients")
    unit_id = world.unit.id
    section = f"2. Patient lookup by personnummer ({len(world.numbers):,} patients)"
    targets = rng.sample(world.numbers, min(sizes.lookups, len(world.numbers)))

    def lookups(numbers: Sequence[str]) -> list[float]:
        timings = []
        for number in numbers:
            db.session.remove()  # every lookup in a new session, as every request is
            started = time.perf_counter()
            condition = Patient.personnummer.equals(number)
            patient = db.session.scalars(
                select(Patient).where(Patient.unit_id == unit_id, condition)
            ).first()
            found = None if patient is None else patient.personnummer
            timings.append(time.perf_counter() - started)
            if found != number:
                raise RuntimeError("the blind-index lookup did not find the patient")
        db.session.remove()
        return timings

    if db.engine.dialect.name == "postgresql":
        # Right after a bulk load the planner has no statistics yet (autovacuum analyses the
        # table within a minute or so): show what that costs, then measure the steady state.
        plan = explain_lookup(world.numbers[0], unit_id)
        cold_ms = statistics.median(lookups(targets[:20])) * 1e3
        report.notes.append(f"Lookup plan before ANALYZE: {plan}")
        progress(f"  before ANALYZE: median {cold_ms:.3f} ms; plan: {plan}")
        db.session.execute(text("ANALYZE patients"))
        db.session.commit()
        report.add(section, "  blind index lookup before ANALYZE (median of 20)", fmt_ms(cold_ms))
    plan = explain_lookup(world.numbers[0], unit_id)
    report.notes.append(f"Lookup plan: {plan}")
    progress(f"  plan: {plan}")
    timings = lookups(targets)
    lookup_ms = statistics.median(timings) * 1e3
    progress(f"  blind index: median {lookup_ms:.3f} ms over {len(timings)} lookups")

    service_timings = []
    for number in targets[: max(1, len(targets) // 4)]:
        db.session.remove()
        started = time.perf_counter()
        patient = find_by_personnummer(world.actor(), number)
        db.session.commit()
        service_timings.append(time.perf_counter() - started)
        if patient is None:
            raise RuntimeError("find_by_personnummer did not find the patient")
    db.session.remove()
    service_ms = statistics.median(service_timings) * 1e3

    pnr = Patient.personnummer
    sealed_column = Patient.__table__.c.personnummer

    def scan(wanted: str) -> bool:
        rows = db.session.execute(
            select(Patient.uid, sealed_column).where(Patient.unit_id == unit_id)
        ).all()
        return any(pnr.decrypt(uid.hex, sealed) == wanted for uid, sealed in rows)

    hit_timings: list[float] = []
    miss_timings: list[float] = []
    for attempt in range(sizes.scans):
        for wanted, timings_list, expected in (
            (normalise_personnummer(rng.choice(world.numbers)), hit_timings, True),
            ("190001010000", miss_timings, False),  # never generated: a full scan
        ):
            db.session.remove()
            started = time.perf_counter()
            outcome = scan(wanted)
            timings_list.append(time.perf_counter() - started)
            if outcome is not expected:
                raise RuntimeError("the decrypt-and-scan baseline gave a wrong answer")
        progress(f"  decrypt-and-scan run {attempt + 1}/{sizes.scans}: {hit_timings[-1]:.2f} s")
    db.session.remove()
    hit_ms = statistics.median(hit_timings) * 1e3
    miss_ms = statistics.median(miss_timings) * 1e3

    report.add(
        section,
        f"blind index lookup + decrypt (median of {len(timings)})",
        fmt_ms(lookup_ms),
        fmt_ms(hit_ms),
        fmt_ratio(hit_ms / lookup_ms),
        f"≤ {LOOKUP_TARGET_MS:g} ms",
        met(lookup_ms <= LOOKUP_TARGET_MS),
    )
    report.add(
        section,
        "  baseline: decrypt-and-scan until found (random hit)",
        fmt_ms(hit_ms),
    )
    report.add(
        section,
        "  decrypt-and-scan, number absent (full scan)",
        fmt_ms(miss_ms),
        "",
        fmt_ratio(miss_ms / lookup_ms),
    )
    report.add(
        section,
        f"find_by_personnummer + access log + commit (median of {len(service_timings)})",
        fmt_ms(service_ms),
    )


# -- 3. journal append ----------------------------------------------------------------------


def chain_length() -> int:
    seq = db.session.scalar(select(ChainHead.seq).where(ChainHead.chain == Chain.ACCESS))
    db.session.remove()
    return int(seq or 0)


class _PlainBase(DeclarativeBase):
    """A metadata of its own: the baseline table is never part of the app's schema."""


class PlainLogEntry(_PlainBase):
    """Baseline: the access log's columns and indexes without the chain (no sequence number
    from the head row, no ``prev_hash``/``hash``, no seal) and without foreign keys."""

    __tablename__ = "bench_plain_log"
    __table_args__ = (
        Index("ix_bench_plain_log_patient_id_at", "patient_id", "at"),
        Index("ix_bench_plain_log_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None]
    unit_id: Mapped[int | None]
    role: Mapped[str | None] = mapped_column(String(32))
    patient_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))


def _plain_entry(actor: Actor, patient: Patient) -> PlainLogEntry:
    return PlainLogEntry(
        at=clock.now(),
        user_id=actor.user.id,
        unit_id=actor.unit.id if actor.unit else None,
        role=actor.role.value,
        patient_id=patient.id,
        action=AccessAction.READ.value,
        object_type="patient",
        object_id=patient.uid.hex,
        request_id=actor.request_id,
    )


def single_transactions(count: int, append: Callable[[int], None]) -> tuple[float, float]:
    """Entries per second and median latency (ms) of ``count`` one-entry transactions."""
    timings = []
    started = time.perf_counter()
    for i in range(count):
        begun = time.perf_counter()
        append(i)
        db.session.commit()
        timings.append(time.perf_counter() - begun)
        if (i + 1) % max(1, count // 5) == 0:
            progress(f"  {i + 1:,}/{count:,}")
    rate = count / (time.perf_counter() - started)
    db.session.remove()
    return rate, statistics.median(timings) * 1e3


def batched_transactions(batches: int, append: Callable[[], int]) -> float:
    """Entries per second of ``batches`` transactions of many entries each."""
    entries = 0
    started = time.perf_counter()
    for _ in range(batches):
        entries += append()
        db.session.commit()
    rate = entries / (time.perf_counter() - started)
    db.session.remove()
    return rate


def bench_append(report: Report, world: World, sizes: Sizes) -> None:
    section = "3. Access-log append (hash chain, SQLite write lock / PostgreSQL row lock)"
    patients = world.patients
    size = min(sizes.batch_size, len(patients))
    _PlainBase.metadata.create_all(db.engine)

    def chained(i: int) -> None:
        patient = patients[i % len(patients)]
        journal.record_access(world.actor(), patient, AccessAction.READ, "patient", patient.uid.hex)

    def plain(i: int) -> None:
        db.session.add(_plain_entry(world.actor(), patients[i % len(patients)]))

    def chained_batch() -> int:
        journal.record_accesses(world.actor(), patients[:size], AccessAction.READ)
        return size

    def plain_batch() -> int:
        actor = world.actor()
        db.session.add_all([_plain_entry(actor, patient) for patient in patients[:size]])
        return size

    progress(f"3. journal append: {sizes.appends:,} single-entry transactions (record_access)")
    single_rate, single_ms = single_transactions(sizes.appends, chained)
    progress(f"  baseline: {sizes.appends:,} single-row transactions into an unchained table")
    plain_rate, plain_ms = single_transactions(sizes.appends, plain)
    progress(f"  {sizes.batches} transactions of {size:,} entries (record_accesses), and baseline")
    batch_rate = batched_transactions(sizes.batches, chained_batch)
    plain_batch_rate = batched_transactions(sizes.batches, plain_batch)

    report.add(
        section,
        "record_access, one entry per committed transaction",
        fmt_rate(single_rate),
        fmt_rate(plain_rate),
        fmt_ratio(plain_rate / single_rate),
        f"≥ {APPEND_TARGET_PER_S:,}/s",
        met(single_rate >= APPEND_TARGET_PER_S),
    )
    report.add(
        section,
        "  latency per transaction (median)",
        fmt_ms(single_ms),
        fmt_ms(plain_ms),
        fmt_ratio(single_ms / plain_ms),
    )
    report.add(
        section,
        f"record_accesses, {size:,} entries per transaction",
        fmt_rate(batch_rate),
        fmt_rate(plain_batch_rate),
        fmt_ratio(plain_batch_rate / batch_rate),
    )
    progress(
        f"  single: {single_rate:,.0f}/s (plain {plain_rate:,.0f}/s), batched: {batch_rate:,.0f}/s"
    )


# -- 4. verification ------------------------------------------------------------------------


def build_chain(world: World, target: int, rng: random.Random) -> float | None:
    """Append access-log entries through ``chain.append`` until the chain holds ``target``."""
    have = chain_length()
    missing = target - have
    if missing <= 0:
        return None
    progress(f"4. building the access log from {have:,} to {target:,} entries")
    actions = list(AccessAction)
    keyring = keys()
    started = time.perf_counter()
    done = 0
    while done < missing:
        count = min(BUILD_BATCH, missing - done)
        request = _rid()
        entries = []
        for i in range(count):
            if i % 25 == 0:
                request = _rid()  # a page logs several patients under one request
            patient_id, patient_uid = rng.choice(world.patient_keys)
            entries.append(
                AccessLogEntry(
                    at=clock.now(),
                    user_id=world.user.id,
                    unit_id=world.unit.id,
                    role=Role.COORDINATOR,
                    patient_id=patient_id,
                    action=rng.choice(actions),
                    object_type="patient",
                    object_id=patient_uid,
                    request_id=request,
                )
            )
        chain.append(db.session, keyring, Chain.ACCESS, entries)
        db.session.commit()
        db.session.expunge_all()
        done += count
        if done == missing or done % 100_000 < BUILD_BATCH:
            rate = done / (time.perf_counter() - started)
            progress(f"  {have + done:,}/{target:,} ({rate:,.0f} entries/s)")
    db.session.remove()
    return missing / (time.perf_counter() - started)


def read_rows_typed() -> int:
    """Baseline: the same columns, in the same order, through SQLAlchemy, without checking."""
    table = AccessLogEntry.__table__
    columns = [table.c[name] for name in chain.ACCESS_FIELDS]
    count = 0
    with db.engine.connect() as connection:
        connection = connection.execution_options(read_only=True, yield_per=20_000)
        for _ in connection.execute(
            select(*columns, table.c.prev_hash, table.c.hash).order_by(table.c.seq)
        ):
            count += 1
    return count


def read_rows_raw() -> int:
    """Baseline: the same rows straight from the driver, no result processing at all."""
    names = ", ".join((*chain.ACCESS_FIELDS, "prev_hash", "hash"))
    count = 0
    with db.engine.connect() as connection:
        connection = connection.execution_options(read_only=True, yield_per=20_000)
        for _ in connection.exec_driver_sql(f"SELECT {names} FROM access_log ORDER BY seq"):  # noqa: S608 (fixed column names)
            count += 1
    return count


def timed(operation: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    outcome = operation()
    return time.perf_counter() - started, outcome


def bench_verify(
    report: Report, world: World, sizes: Sizes, rng: random.Random, *, profile: bool
) -> None:
    build_rate = build_chain(world, sizes.entries, rng)
    total = chain_length()
    section = f"4. Journal verification ({total:,} access-log entries)"
    progress(f"4. verifying {total:,} entries, {sizes.verify_runs} runs")
    durations = []
    for attempt in range(sizes.verify_runs):
        seconds, results = timed(journal.verify_all)
        broken = [r for r in results if not r.is_intact]
        verified = sum(r.verified for r in results)
        if broken or verified != total:
            raise RuntimeError(f"the chain did not verify: {broken or verified}")
        durations.append(seconds)
        progress(f"  run {attempt + 1}: {seconds:.2f} s ({total / seconds:,.0f} entries/s)")
    verify_s = statistics.median(durations)
    verify_rate = total / verify_s

    progress("  baselines: reading the same rows without checking them")
    typed_s = statistics.median(timed(read_rows_typed)[0] for _ in range(sizes.verify_runs))
    raw_s = statistics.median(timed(read_rows_raw)[0] for _ in range(sizes.verify_runs))

    report.add(
        section,
        f"verify_all (median of {len(durations)}; {verify_s:.2f} s)",
        fmt_rate(verify_rate),
        "",
        "",
        f"≥ {VERIFY_TARGET_PER_S:,}/s",
        met(verify_rate >= VERIFY_TARGET_PER_S),
    )
    report.add(
        section,
        "  baseline: read the rows via SQLAlchemy (typed, unchecked)",
        fmt_rate(total / typed_s),
        "",
        f"{verify_s / typed_s:,.1f}× the time",
    )
    report.add(
        section,
        "  baseline: read the rows from the driver (raw)",
        fmt_rate(total / raw_s),
        "",
        f"{verify_s / raw_s:,.1f}× the time",
    )
    if build_rate is not None:
        report.add(
            section,
            f"building it: chain.append, {BUILD_BATCH:,} per transaction",
            fmt_rate(build_rate),
        )

    if profile or verify_rate < VERIFY_TARGET_PER_S:
        progress("  profiling verify_all (cProfile)")
        profiler = cProfile.Profile()
        profiler.enable()
        journal.verify_all()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(18)
        report.notes.append("cProfile of verify_all, by own time (profiling slows it down):")
        report.notes.append(out.getvalue().split("\n", 2)[-1].rstrip())


# -- main -----------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(
        description="Benchmark the protection core against unprotected baselines."
    )
    parser.add_argument("--patients", type=int, help="patients to insert (default 100000)")
    parser.add_argument(
        "--entries", type=int, help="access-log entries to verify (default 1000000)"
    )
    parser.add_argument("--appends", type=int, help="single-entry transactions (default 5000)")
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is created on that "
        "server and dropped afterwards (default: a temporary SQLite file)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--profile", action="store_true", help="always profile verification")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fictitious data")
    arguments = parser.parse_args(argv)
    sizes = QUICK if arguments.quick else FULL
    overrides = {
        name: value
        for name in ("patients", "entries", "appends")
        if (value := getattr(arguments, name)) is not None
    }
    if any(value < 1 for value in overrides.values()):
        parser.error("sizes must be positive")
    return arguments, Sizes(**{**sizes.__dict__, **overrides})


def main(argv: Sequence[str] | None = None) -> int:
    arguments, sizes = parse_arguments(argv)
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(arguments.seed)  # noqa: S311
    with tempfile.TemporaryDirectory(prefix="coordinator-bench-") as folder:
        workdir = Path(folder)
        with fresh_database(arguments.database_url, workdir) as url:
            app = build_app(url, workdir / "instance")
            try:
                with app.app_context():
                    return run(app, sizes, rng, profile=arguments.profile)
            finally:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()


def run(app: Flask, sizes: Sizes, rng: random.Random, *, profile: bool) -> int:
    progress(f"migrating a fresh {db.engine.dialect.name} database")
    migrate_schema()
    info = machine_info(db.engine)
    report = Report()
    bench_fields(report, sizes)
    world = build_world(sizes, rng)
    bench_lookup(report, world, sizes, rng)
    bench_append(report, world, sizes)
    bench_verify(report, world, sizes, rng, profile=profile)
    count = db.session.scalar(select(func.count()).select_from(Patient))
    db.session.remove()

    print()
    print("Coordinator protection benchmark")
    for name, value in info:
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Sizes:':<15} {count:,} patients, {chain_length():,} access-log entries")
    report.print()
    missed = [r.measure.strip() for r in report.results if r.met == "NO"]
    if missed:
        print(f"Targets missed: {'; '.join(missed)}")
    else:
        print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
