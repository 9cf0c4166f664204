"""A bounded load test: simulated coordinators working through gunicorn on loopback.

    make load                                        # SQLite, then PostgreSQL if DATABASE_URL
    .venv/bin/python benchmarks/load.py --seconds 20 --users 10
    .venv/bin/python benchmarks/load.py \\
        --database-url postgresql://postgres@127.0.0.1:54330/postgres --json load-pg.json

A fresh instance in a temporary folder (``coordinator init``), seeded in-process through the
services: care units of ten coordinators, each coordinator with their own patients (each
registered with a case assigned to them) and a directory with Försäkringskassan and
Arbetsförmedlingen. Then ``gunicorn`` serves the app with several worker processes on a free
loopback port, and one thread per coordinator signs in through the real form and, until the
time is up, works as a coordinator does: the caseload list, one of their patients from it, a
signed journal note on that patient, a logged phone call — with a short, seeded think time
between requests. Every request's latency and status is recorded; anything but the expected
status (200 for a page, a redirect to the expected page for a post) is an error, as is a
connection failure or a 30-second timeout.

Afterwards the server is stopped, the notes and contacts in the database are counted per
coordinator and compared with the posts the clients saw succeed (no lost writes), and
``coordinator verify-journal`` must find both hash chains intact. Exit status 1 on any error
or lost write, 2 when the run exceeded its hard time limit (3 × the work + 300 s), 130 when
interrupted; gunicorn is stopped and the database removed in every case.

The instance's ``config.py`` turns off the Secure mark of the session cookie (plain HTTP on
loopback, as ``coordinator run``) and chooses cheap argon2 parameters: everyone signs in before
the clock starts, and sign-ins are not what is measured. The database is a fresh one made for
the run (a SQLite file in the temporary folder, or a new PostgreSQL database on the given server
that is dropped afterwards). All data is fictitious. See ``docs/performance.md`` for measured
figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.cookiejar import CookieJar
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit

# The sibling benchmark's helpers: run as a script, this folder is on ``sys.path``.
from protection import (
    FIRST_NAMES,
    LAST_NAMES,
    fresh_database,
    machine_info,
    personnummer_numbers,
    progress,
)
from sqlalchemy import func, select

from coordinator import clock, create_app
from coordinator.access import Actor
from coordinator.admin import service as admin
from coordinator.auth.models import ProviderType, UnitKind
from coordinator.auth.roles import Role
from coordinator.contacts import directory
from coordinator.contacts.models import ContactEvent, OrganisationType
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry, EntryKind
from coordinator.patients import service as patients

# -- the workload ---------------------------------------------------------------------------

SECONDS = 60
USERS = 50
WORKERS = 4
COORDINATORS_PER_UNIT = 10
PATIENTS_PER_COORDINATOR = 20
#: Seconds a coordinator pauses before each request (uniform between the two).
THINK = (0.2, 0.5)
#: Seconds a request may take before it counts as an error.
REQUEST_TIMEOUT = 30
#: Seconds allowed for everything but the load itself (init, seeding, start, checks); the run
#: is stopped after three times the load's length plus this.
SETUP_SECONDS = 300
#: Seconds gunicorn may take to answer its first request.
START_SECONDS = 60

#: The requests of the sign-in before the work, and of the working loop, in order.
SIGN_IN = ("sign-in page", "sign-in")
WORK = ("list", "patient", "note", "contact")
OPERATIONS = (*SIGN_IN, *WORK)

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PATIENT_LINK = re.compile(r'href="/patients/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                          r'[0-9a-f]{12})"')  # fmt: skip
_ALERT = re.compile(r'role="alert">([^<]+)<')
_FIELD_ERROR = re.compile(r'class="error" id="([\w-]+)-error">([^<]+)<')


class Overrun(Exception):
    """The run took longer than its hard limit."""


# -- the instance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A fresh installation: its folder, database and keys, as environment variables."""

    folder: Path
    database_url: str
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    encryption_keys: str = field(default_factory=lambda: KeyRing.generate().dumps())

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "COORDINATOR_INSTANCE": str(self.folder),
            "DATABASE_URL": self.database_url,
            "COORDINATOR_SECRET_KEY": self.secret_key,
            "COORDINATOR_ENCRYPTION_KEYS": self.encryption_keys,
        }

    def app_settings(self) -> dict[str, Any]:
        return {
            "INSTANCE_PATH": str(self.folder),
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SECRET_KEY": self.secret_key,
            "ENCRYPTION_KEYS": self.encryption_keys,
        }


#: The instance's own settings (``instance/config.py``), read by the seeding and the server.
INSTANCE_CONFIG = """\
# Plain HTTP on loopback: a cookie marked Secure would never come back (as `coordinator run`).
SESSION_COOKIE_SECURE = False
# Cheap password hashes: signing in is not what is measured, and 50 production-strength
# argon2 hashes (64 MiB each) would only lengthen the setup and the start of the run.
PASSWORD_HASH_PROFILE = "CHEAPEST"
"""


def create_instance(instance: Instance) -> None:
    """``coordinator init``, then the instance's settings for a load run."""
    init = command(instance, "init")
    if init.returncode != 0:
        raise SystemExit(f"coordinator init failed:\n{init.stdout}{init.stderr}")
    (instance.folder / "config.py").write_text(INSTANCE_CONFIG, encoding="utf-8")


def command(instance: Instance, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``coordinator`` from this interpreter's environment on the instance."""
    program = Path(sys.executable).parent / "coordinator"
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(program), *arguments],
        env=instance.environment(),
        capture_output=True,
        text=True,
        timeout=SETUP_SECONDS,
        check=False,
    )


@dataclass
class Seeded:
    password: str
    #: Patient uids (as in URLs) of each coordinator, by username.
    caseloads: dict[str, list[str]]
    #: User id of each coordinator, by username.
    user_ids: dict[str, int]
    organisation_uids: list[str]


def seed(users: int, rng: random.Random) -> Seeded:
    """Units, coordinators, their patients and the agencies, all through the services."""
    password = secrets.token_urlsafe(18)
    numbers = iter(personnummer_numbers(users * PATIENTS_PER_COORDINATOR, rng))
    seeded = Seeded(password, {}, {}, [])
    units = [
        admin.create_unit(
            admin.UnitDetails(
                f"Vårdcentralen Lasttest {number:02d}", UnitKind.HEALTH_CENTRE, ProviderType.PUBLIC
            )
        )
        for number in range(1, math.ceil(users / COORDINATORS_PER_UNIT) + 1)
    ]
    for index in range(users):
        unit = units[index // COORDINATORS_PER_UNIT]
        username = f"last.koord{index + 1:02d}"
        details = admin.UserDetails(
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", "Arbetsterapeut",
            Role.COORDINATOR, [unit.id],
        )  # fmt: skip
        user = admin.create_user(username, password, details, must_change_password=False)
        actor = Actor(user=user, role=Role.COORDINATOR, unit=unit, request_id=secrets.token_hex(8))
        if index == 0:
            for kind, name in (
                (OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan, Lasttest"),
                (OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen, Lasttest"),
            ):
                entry = directory.OrganisationInput(kind, name)
                seeded.organisation_uids.append(directory.create_organisation(actor, entry).uid.hex)
        caseload = []
        for _ in range(PATIENTS_PER_COORDINATOR):
            details_ = patients.PatientDetails(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            caseload.append(str(patients.register_patient(actor, next(numbers), details_).uid))
        db.session.commit()
        seeded.caseloads[username] = caseload
        seeded.user_ids[username] = user.id
        if (index + 1) % 10 == 0 or index + 1 == users:
            progress(f"  seeded {index + 1}/{users} coordinators with their patients")
    return seeded


# -- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gunicorn(instance: Instance, workers: int, log: Path) -> Iterator[str]:
    """Serve the app with ``workers`` processes; always stopped (with its whole process group)."""
    port = free_port()
    program = Path(sys.executable).parent / "gunicorn"
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
            [str(program), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
             "--timeout", str(REQUEST_TIMEOUT * 2), "--graceful-timeout", "10",
             "coordinator:create_app()"],
            env=instance.environment(), stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(server, base, log)
        progress(f"gunicorn with {workers} workers answers on {base}")
        yield base
    finally:
        stop(server)


def wait_until_answering(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{base}/auth/login", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {START_SECONDS} s:\n{tail(log)}")


def stop_group(server: subprocess.Popen[Any]) -> None:
    """SIGTERM to the process group (graceful: requests in progress end, workers too), SIGKILL
    if it lingers or if this is interrupted: nothing may outlive the run."""
    try:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def stop(server: subprocess.Popen[bytes]) -> None:
    stop_group(server)
    progress(f"gunicorn stopped (status {server.returncode})")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# -- the simulated coordinators -------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    operation: str
    ms: float
    #: The HTTP status; 0 when no response came.
    status: int
    #: What was wrong, or None.
    problem: str | None


class _EveryResponse(urllib.request.HTTPErrorProcessor):
    """Hand back every response as it came: a redirect is a result here, not a step to take."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response


class Coordinator(threading.Thread):
    """One coordinator in a browser of their own (cookies), signing in, then working."""

    def __init__(
        self, base: str, username: str, password: str, patient_uids: Sequence[str],
        organisation_uids: Sequence[str], seed: int, schedule: Schedule,
    ) -> None:  # fmt: skip
        super().__init__(name=username, daemon=True)
        self.base, self.username, self.password = base, username, password
        self.patient_uids = frozenset(patient_uids)
        self.organisation_uids = organisation_uids
        # Think times only, never a secret: seeded so that runs are comparable.
        self.rng = random.Random(seed)  # noqa: S311
        self.schedule = schedule
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _EveryResponse()
        )
        self.samples: list[Sample] = []
        self.signed_in = False
        self.notes = self.contacts = 0

    def run(self) -> None:
        try:
            self.signed_in = self.sign_in()
        finally:
            self.schedule.everyone_signed_in.wait()  # the last one to arrive starts the clock
        while self.signed_in and self.work_once():
            pass

    def request(
        self, operation: str, path: str, form: Mapping[str, str] | None = None,
        redirect_to: str | None = None,
    ) -> str | None:  # fmt: skip
        """Send one request; return the page if it was the expected answer, else None."""
        data = urlencode(form).encode() if form is not None else None
        started = time.perf_counter()
        try:
            request = urllib.request.Request(self.base + path, data=data)  # noqa: S310
            with self.opener.open(request, timeout=REQUEST_TIMEOUT) as response:
                status, page = response.status, response.read().decode()
                location = response.headers.get("Location", "")
        except (OSError, http.client.HTTPException) as error:
            ms = (time.perf_counter() - started) * 1000
            self.samples.append(Sample(operation, ms, 0, f"{type(error).__name__}: {error}"))
            return None
        ms = (time.perf_counter() - started) * 1000
        problem = None
        if redirect_to is None and status != 200:
            problem = f"status {status}"
        elif redirect_to is not None and status != 302:
            problem = f"status {status}{describe(page)}"
        elif redirect_to is not None and urlsplit(location).path != redirect_to:
            problem = f"redirected to {urlsplit(location).path}"
        self.samples.append(Sample(operation, ms, status, problem))
        return page if problem is None else None

    def sign_in(self) -> bool:
        page = self.request("sign-in page", "/auth/login")
        token = TOKEN.search(page or "")
        if token is None:
            return False
        form = {"csrf_token": token[1], "username": self.username, "password": self.password,
                "next": ""}  # fmt: skip
        return self.request("sign-in", "/auth/login", form, redirect_to="/") is not None

    def think(self) -> bool:
        """Pause as a person does; False when the time is up before the next request."""
        pause = self.rng.uniform(*THINK)
        if time.monotonic() + pause >= self.schedule.deadline:
            return False
        time.sleep(pause)
        return True

    def work_once(self) -> bool:
        """List, open, note, contact; False when the time is up. After an error (recorded)
        the coordinator starts again from the list."""
        if not self.think():
            return False
        caseload = self.request("list", "/patients/")
        if caseload is None:
            return True
        listed = set(PATIENT_LINK.findall(caseload))
        if listed != self.patient_uids:
            self.flag(f"lists {len(listed)} patients, {len(listed & self.patient_uids)} of the "
                      f"own {len(self.patient_uids)}")  # fmt: skip
            return True
        uid = self.rng.choice(sorted(listed))
        if not self.think():
            return False
        page = self.request("patient", f"/patients/{uid}")
        if page is None:
            return True
        token = TOKEN.search(page)
        if token is None:
            self.flag("no CSRF token on the page")
            return True
        if not self.think():
            return False
        note = {"csrf_token": token[1], "heading": "Telefonkontakt", "corrects": "",
                "body": f"Lasttest: anteckning {self.notes + 1} av {self.username}."}  # fmt: skip
        if self.request("note", f"/patients/{uid}/journal", note, f"/patients/{uid}") is None:
            return True
        self.notes += 1
        if not self.think():
            return False
        contact = contact_form(token[1], self.rng.choice(self.organisation_uids), self.contacts)
        path = f"/patients/{uid}/contacts"
        if self.request("contact", f"{path}/new", contact, path) is not None:
            self.contacts += 1
        return True

    def flag(self, problem: str) -> None:
        """Mark the last request, answered as expected, as wrong after all: its page was."""
        self.samples[-1] = replace(self.samples[-1], problem=problem)


def contact_form(token: str, organisation_uid: str, done: int) -> dict[str, str]:
    """A phone call care made for information, now, nothing disclosed."""
    return {
        "csrf_token": token, "organisation": organisation_uid, "person": "",
        "new_person_name": "", "new_person_role": "", "new_person_phone": "",
        "occurred_on": clock.today().isoformat(), "occurred_time": "", "channel": "phone",
        "kind": "information", "initiated_by": "care",
        "notes": f"Lasttest: samtal {done + 1} om planeringen.", "disclosed": "", "measure": "",
        "next_step": "", "next_step_on": "",
    }  # fmt: skip


def describe(page: str) -> str:
    """The page's error messages, for a post that was answered with its form again."""
    messages = [*_ALERT.findall(page), *(f"{name}: {text}" for name, text in
                                         _FIELD_ERROR.findall(page))]  # fmt: skip
    return f" ({'; '.join(messages)})" if messages else ""


class Schedule:
    """The work starts when everyone has tried to sign in, and stops at the deadline."""

    def __init__(self, seconds: float, coordinators: int) -> None:
        self.seconds = seconds
        self.started = 0.0
        self.deadline = math.inf
        self.everyone_signed_in = threading.Barrier(coordinators, action=self.start)

    def start(self) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds
        progress(f"everyone has signed in; working {self.seconds:g} s")


@dataclass
class LoadRun:
    coordinators: list[Coordinator]
    #: Seconds from the first request to the start of the work, and of the work.
    sign_in_seconds: float
    work_seconds: float


def run_load(base: str, seeded: Seeded, seconds: float, seed: int) -> LoadRun:
    """Sign everyone in at once, then let them work ``seconds``."""
    shared = Schedule(seconds, len(seeded.caseloads))
    coordinators = [
        Coordinator(base, username, seeded.password, uids, seeded.organisation_uids,
                    seed * 1000 + index, shared)
        for index, (username, uids) in enumerate(seeded.caseloads.items())
    ]  # fmt: skip
    began = time.monotonic()
    for coordinator in coordinators:
        coordinator.start()
    for coordinator in coordinators:
        coordinator.join()
    return LoadRun(coordinators, shared.started - began, time.monotonic() - shared.started)


# -- the checks and the report --------------------------------------------------------------


def stored_writes(user_ids: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Notes and contacts in the database per coordinator (by username)."""
    notes: dict[int, int] = {
        author: count
        for author, count in db.session.execute(
            select(CaseJournalEntry.author_id, func.count())
            .where(CaseJournalEntry.kind == EntryKind.NOTE)
            .group_by(CaseJournalEntry.author_id)
        )
    }
    contacts: dict[int, int] = {
        author: count
        for author, count in db.session.execute(
            select(ContactEvent.recorded_by_id, func.count()).group_by(ContactEvent.recorded_by_id)
        )
    }
    return {name: (notes.get(uid, 0), contacts.get(uid, 0)) for name, uid in user_ids.items()}


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (the value below which ``share`` of the samples lie)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def figures(samples: Sequence[Sample], work_seconds: float) -> list[dict[str, Any]]:
    """Per operation, and for the work as a whole: requests, errors, latency, throughput.
    Latencies are of every request, a failed one too (a timeout counts its 30 s)."""
    groups = {
        operation: [s for s in samples if s.operation == operation] for operation in OPERATIONS
    }
    groups["all work"] = [s for s in samples if s.operation in WORK]
    rows = []
    for name, group in groups.items():
        latencies = [s.ms for s in group]
        rows.append({
            "operation": name,
            "requests": len(group),
            "errors": sum(s.problem is not None for s in group),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
            "max_ms": round(max(latencies), 1) if latencies else None,
            "per_second": (
                None if name in SIGN_IN else round(len(group) / work_seconds, 2)
            ),
        })  # fmt: skip
    return rows


def print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f}"

    headers = ("Operation", "Requests", "Errors", "p50 ms", "p95 ms", "max ms", "per s")
    cells = [
        (row["operation"], f"{row['requests']:,}", str(row["errors"]), ms(row["p50_ms"]),
         ms(row["p95_ms"]), ms(row["max_ms"]),
         "–" if row["per_second"] is None else f"{row['per_second']:.1f}")
        for row in rows
    ]  # fmt: skip
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(headers, widths, strict=True))))  # fmt: skip
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip


def compare_writes(
    coordinators: Sequence[Coordinator], stored: Mapping[str, tuple[int, int]]
) -> tuple[list[str], list[str]]:
    """Coordinators with fewer notes or contacts stored than their posts that succeeded (lost
    writes), and with more (a post the client counted as failed, a timeout, was saved)."""
    lost, extra = [], []
    for c in coordinators:
        notes, contacts = stored[c.username]
        line = (f"{c.username}: {c.notes} notes and {c.contacts} contacts posted, "
                f"{notes} and {contacts} stored")  # fmt: skip
        if notes < c.notes or contacts < c.contacts:
            lost.append(line)
        elif (notes, contacts) != (c.notes, c.contacts):
            extra.append(line)
    return lost, extra


# -- the run --------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load-test the app through gunicorn.")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of the work")
    parser.add_argument("--users", type=int, default=USERS, help="simulated coordinators")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--database-url",
        help="SQLite or PostgreSQL URL; for PostgreSQL a fresh database is created on that "
        "server and dropped afterwards (default: a SQLite file in the temporary instance)",
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file as JSON")
    parser.add_argument("--seed", type=int, default=2026, help="seed of data and think times")
    arguments = parser.parse_args(argv)
    if arguments.seconds <= 0 or arguments.users < 1 or arguments.workers < 1:
        parser.error("--seconds, --users and --workers must be positive")
    return arguments


def _overrun(_signal: int, _frame: FrameType | None) -> None:
    raise Overrun()


def _terminated(_signal: int, _frame: FrameType | None) -> None:
    # As Ctrl-C does: unwind, so that gunicorn is stopped and the database dropped.
    raise KeyboardInterrupt()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    limit = math.ceil(3 * arguments.seconds) + SETUP_SECONDS
    signal.signal(signal.SIGALRM, _overrun)
    signal.signal(signal.SIGTERM, _terminated)
    signal.alarm(limit)
    try:
        with tempfile.TemporaryDirectory(prefix="coordinator-load-") as folder:
            workdir = Path(folder)
            with fresh_database(arguments.database_url, workdir) as url:
                return run(arguments, Instance(workdir / "instance", url), workdir)
    except Overrun:
        print(f"The run took longer than its limit of {limit} s and was stopped.")
        return 2
    except KeyboardInterrupt:
        print("Interrupted: the server was stopped and the database removed.")
        return 130
    finally:
        signal.alarm(0)


def run(arguments: argparse.Namespace, instance: Instance, workdir: Path) -> int:
    begun = time.monotonic()
    create_instance(instance)
    app = create_app(instance.app_settings())
    # Seeded data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(arguments.seed)  # noqa: S311
    with app.app_context():
        info = dict(machine_info(db.engine))
        progress(f"seeding {arguments.users} coordinators on {db.engine.dialect.name}")
        seeded = seed(arguments.users, rng)
        db.session.remove()
        db.engine.dispose()
    with gunicorn(instance, arguments.workers, workdir / "gunicorn.log") as base:
        load = run_load(base, seeded, arguments.seconds, arguments.seed)
    with app.app_context():
        stored = stored_writes(seeded.user_ids)
        db.session.remove()
        db.engine.dispose()
    verify = command(instance, "verify-journal")
    results = summarise(arguments, info, load, stored, verify)
    results["wall_seconds"] = round(time.monotonic() - begun, 1)
    report(results, verify)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if (
        results["errors"]
        or results["lost_writes"]
        or results["not_signed_in"]
        or not results["journal_verified"]
    ):
        print(f"FAILED. The end of gunicorn's log:\n{tail(workdir / 'gunicorn.log')}")
        return 1
    print("Passed: no errors, no lost writes, both journal chains intact.")
    return 0


def summarise(
    arguments: argparse.Namespace,
    machine: dict[str, str],
    load: LoadRun,
    stored: Mapping[str, tuple[int, int]],
    verify: subprocess.CompletedProcess[str],
) -> dict[str, Any]:
    """The run's figures and verdicts (what the report prints and ``--json`` writes)."""
    coordinators = load.coordinators
    samples = [sample for c in coordinators for sample in c.samples]
    lost, extra = compare_writes(coordinators, stored)
    return {
        "database": machine["Database"],
        "users": arguments.users,
        "workers": arguments.workers,
        "seconds": arguments.seconds,
        "sign_in_seconds": round(load.sign_in_seconds, 1),
        "work_seconds": round(load.work_seconds, 1),
        "machine": machine,
        "operations": figures(samples, load.work_seconds),
        "errors": sum(s.problem is not None for s in samples),
        "error_kinds": Counter(
            f"{s.operation}: {s.problem}" for s in samples if s.problem is not None
        ).most_common(10),
        "not_signed_in": [c.username for c in coordinators if not c.signed_in],
        "notes_posted": sum(c.notes for c in coordinators),
        "notes_stored": sum(notes for notes, _ in stored.values()),
        "contacts_posted": sum(c.contacts for c in coordinators),
        "contacts_stored": sum(contacts for _, contacts in stored.values()),
        "lost_writes": lost,
        "saved_despite_error": extra,
        "journal_verified": verify.returncode == 0,
    }


def report(results: Mapping[str, Any], verify: subprocess.CompletedProcess[str]) -> None:
    print()
    print("Coordinator load test")
    for name, value in results["machine"].items():
        print(f"  {name + ':':<15} {value}")
    print(f"  {'Load:':<15} {results['users']} coordinators, {results['workers']} gunicorn "
          f"workers, {results['work_seconds']} s of work after {results['sign_in_seconds']} s "
          f"of sign-ins")  # fmt: skip
    print()
    print_table(results["operations"])
    print()
    print(f"Errors: {results['errors']}")
    for problem, count in results["error_kinds"]:
        print(f"  {count} × {problem}")
    if results["not_signed_in"]:
        print(f"Not signed in: {', '.join(results['not_signed_in'])}")
    print(
        f"Notes: {results['notes_posted']} posted, {results['notes_stored']} stored; "
        f"contacts: {results['contacts_posted']} posted, {results['contacts_stored']} stored"
    )
    print(f"Lost writes: {len(results['lost_writes'])} coordinators")
    for line in results["lost_writes"]:
        print(f"  {line}")
    for line in results["saved_despite_error"]:
        print(f"  saved although the post failed: {line}")
    print(f"verify-journal (exit {verify.returncode}):")
    for line in (verify.stdout + verify.stderr).strip().splitlines():
        print(f"  {line}")
    print(f"Wall time: {results['wall_seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
