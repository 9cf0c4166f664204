"""How ``region.py`` measures the app: who the requests are made as, the timed requests
through Flask's test client after a real sign-in (with their statement counts at a small and a
large size), ``verify-journal`` and a key rotation stopped after a number of rows.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    Measured,
    Probe,
    StatementCounter,
    measure,
    rows_shown,
    short,
    signed_in,
)
from flask import Flask
from flask.testing import FlaskClient
from load import contact_form, describe
from protection import (
    progress,
)
from region_bulk import Failed
from region_people import Region, Sizes
from reports import (
    QUARTER,
    YEAR,
    choose_unit,
)
from sqlalchemy import (
    select,
)

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.contacts import directory
from coordinator.contacts.models import OrganisationType
from coordinator.crypto import rotation, runtime
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import (
    ChainHead,
)
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient
from coordinator.reports.quarterly import quarter_bounds

WARM_UPS = 3
# -- measuring ------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


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
    """Every request-level operation, and the statement counts at two sizes: the coordinator's
    work first, then the manager's reports, each as the person who does it in the app."""
    done: dict[str, Measured] = {}
    progress(f"measuring sign-in, {sizes.runs} runs")
    sign_in = sign_in_post(app, region.password, subjects.sign_in_users)
    done["sign-in"] = timed_posts("sign-in", "", sizes.runs, counter, sign_in, lambda _i: "/")
    big = signed_in(app, subjects.big_user, region.password)
    small = signed_in(app, subjects.small_user, region.password)
    compared_ = measure_coordinator_pages(big, small, sizes, subjects, counter, done)
    measure_coordinator_posts(big, sizes, subjects, counter, done)
    compared_ += measure_manager_pages(app, region, sizes, counter, done)
    return done, compared_


def sign_in_post(
    app: Flask, password: str, usernames: Sequence[str]
) -> Callable[[int], Callable[[], Any]]:
    """The ``prepare`` of the timed sign-ins: a new client and its form each time, so that
    every post is a real first sign-in."""
    addresses = iter(range(1, 10_000))

    def sign_in(i: int) -> Callable[[], Any]:
        client = app.test_client()
        token = token_of(client, "/auth/login")
        username = usernames[i % len(usernames)]
        # One address per sign-in, as many coordinators signing in from their own machines:
        # the sign-in rate limit counts posts per client address.
        address = next(addresses)
        form = {"csrf_token": token, "username": username, "password": password}
        environ = {"REMOTE_ADDR": f"127.0.{address // 250}.{address % 250 + 1}"}
        return lambda: client.post("/auth/login", data=form, environ_base=environ)

    return sign_in


def measure_coordinator_pages(
    big: FlaskClient,
    small: FlaskClient,
    sizes: Sizes,
    subjects: Subjects,
    counter: StatementCounter,
    done: dict[str, Measured],
) -> list[Compared]:
    """The caseload page (big unit against small) and the patient page (heavy journal against
    a single entry), into ``done``; their statement counts compared."""
    runs, few = sizes.runs, min(3, sizes.runs)
    caseload = page("caseload", "/patients/?scope=unit", lambda html: rows_shown(html) > 0)
    progress(f"measuring the caseload page ({sizes.big_unit:,} patients), {runs} runs")
    done["caseload"] = measure(big, counter, caseload, "big", runs)
    caseload_small = measure(small, counter, caseload, "small", few)

    def patient_page(uid: str) -> Probe:
        return page("patient page", f"/patients/{uid}", lambda html: "csrf_token" in html)

    progress(f"measuring the patient page ({sizes.heavy} journal entries), {runs} runs")
    done["patient"] = measure(big, counter, patient_page(subjects.heavy_uid), "heavy", runs)
    patient_light = measure(big, counter, patient_page(subjects.light_uid), "light", few)
    return [
        compared("caseload page", caseload_small, f"{sizes.small_unit:,} patients",
                 done["caseload"], f"{sizes.big_unit:,} patients"),
        compared("patient page", patient_light, "1 journal entry", done["patient"],
                 f"{sizes.heavy:,} journal entries"),
    ]  # fmt: skip


def measure_coordinator_posts(
    big: FlaskClient,
    sizes: Sizes,
    subjects: Subjects,
    counter: StatementCounter,
    done: dict[str, Measured],
) -> None:
    """Search by personnummer, adding a note and logging a contact on one patient of the big
    unit, into ``done``."""
    runs = sizes.runs
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


def measure_manager_pages(
    app: Flask, region: Region, sizes: Sizes, counter: StatementCounter, done: dict[str, Measured]
) -> list[Compared]:
    """The statistics page (big unit against small) and the quarterly report (all units
    against one) as the manager of all units, into ``done``; their statement counts compared."""
    runs, few = sizes.runs, min(3, sizes.runs)
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
    return [
        compared("statistics page", statistics_small, f"unit of {sizes.small_unit:,} patients",
                 done["statistics"], f"unit of {sizes.big_unit:,} patients"),
        compared("quarterly report", quarterly_small, "1 unit", done["quarterly"],
                 f"{len(region.unit_ids)} units"),
    ]  # fmt: skip


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
