"""Twenty coordinators at once on one patient: no update is lost, and the journal stays one
unbroken chain holding exactly what was reported saved.

Each thread plays a coordinator making requests (all as coordinator A, in unit A): its own app
context (so its own session and connection), the patient loaded through the unit-scoped
service (logged as read), one transaction per request. A plan is edited as the pages do it:
the form is opened in one request, which reads the plan's lock, and sent in the next, which
saves with that lock; a refusal (``StaleEdit``) is rolled back whole and the coordinator
opens the form again. ``tests/journal/test_concurrency.py`` covers bare appends to the
chains; this adds the plan's lock and requests of every kind mixed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from threading import Barrier
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import func, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.contacts import directory
from coordinator.contacts import service as contacts
from coordinator.contacts.models import (
    Channel,
    ContactEvent,
    ContactKind,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import service as plans
from coordinator.plans.common import StaleEdit
from coordinator.plans.models import ResponsibleActor, ReturnGoal
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.patients.support import activate

T = TypeVar("T")

THREADS = 20
#: What a coordinator whose save was refused is told (outside a request: in English).
STALE = (
    "Someone else saved this a moment ago. What they saved is shown below and your changes "
    "are still in the form: check them against it and save again."
)


@dataclass(frozen=True)
class Office:
    """Coordinator A's unit, Tolvan Tolvansson in active coordination with a draft plan
    (version 1, lock 1), and Försäkringskassan in the directory."""

    app: Flask
    world: World
    patient_uid: uuid.UUID
    patient_id: int
    organisation_id: int

    def request(self, request_id: str, work: Callable[..., T], *args: Any, **kw: Any) -> T:
        """One request: load the patient (logged as read), call ``work(actor, patient, *args,
        **kw)``, commit."""
        actor = actor_for(self.world.coordinator_a, self.world.unit_a, request_id=request_id)
        patient = patients.get_patient(actor, self.patient_uid)
        result = work(actor, patient, *args, **kw)
        db.session.commit()
        return result


def _draft(description: str) -> plans.PlanInput:
    today = clock.today()
    return plans.PlanInput(
        goal=ReturnGoal.OWN_JOB, goal_degree=50, starts_on=today,
        target_on=today + timedelta(days=90),
        measures=[plans.MeasureInput(description, ResponsibleActor.CARE_UNIT)],
    )  # fmt: skip


def open_office(app: Flask, world: World) -> Office:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="setup")
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        activate(actor, patient)
        plans.save(actor, patient, _draft("Första utkastet"))
        fk = directory.create_organisation(
            actor,
            directory.OrganisationInput(OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan"),
        )
        db.session.commit()
        return Office(app, world, patient.uid, patient.id, fk.id)


# -- What each kind of coordinator does --------------------------------------------------------


@dataclass
class Edit:
    """One coordinator's editing of the draft: the lock the saved form carried, and the
    refusals before it."""

    thread: int
    saved_on_lock: int | None = None
    refusals: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        return f"Åtgärd från tråd {self.thread}"

    @property
    def attempts(self) -> int:
        return len(self.refusals) + (self.saved_on_lock is not None)


def open_form(actor: Actor, patient: Patient) -> tuple[int, int]:
    """What the plan form carries: the plan's lock and the version it shows (read before the
    request commits: a thread holds no transaction while it waits)."""
    plan = plans.for_editing(actor, patient)
    assert plan is not None
    return plan.lock, plan.latest.number


def edit_until_saved(office: Office, thread: int, opened: Barrier) -> Edit:
    """Open the plan form, send it; when refused, open it again. Everyone opens the form
    before anyone sends it the first time; after that they go at their own pace. Of the others,
    each saves at most once, so THREADS attempts always suffice."""
    edit = Edit(thread)
    with office.app.app_context():
        for attempt in range(THREADS):
            lock, number = office.request(f"form-{thread}-{attempt}", open_form)
            if attempt == 0:
                opened.wait(timeout=60)
            try:
                office.request(f"save-{thread}-{attempt}", plans.save, _draft(edit.description),
                               based_on=number, expected_lock=lock)  # fmt: skip
            except StaleEdit as refused:
                db.session.rollback()
                edit.refusals.append(str(refused))
                continue
            edit.saved_on_lock = lock
            break
    return edit


def write_notes(office: Office, thread: int, start: Barrier, count: int) -> None:
    with office.app.app_context():
        start.wait(timeout=60)
        for number in range(count):
            office.request(f"note-{thread}-{number}", journal.add_entry, EntryKind.NOTE,
                           f"Not {thread}.{number}", "Text.")  # fmt: skip


def log_contacts(office: Office, thread: int, start: Barrier, count: int) -> None:
    with office.app.app_context():
        start.wait(timeout=60)
        for number in range(count):
            entry = contacts.ContactInput(
                organisation=db.session.get(Organisation, office.organisation_id),
                occurred_on=clock.today(), channel=Channel.PHONE, kind=ContactKind.INFORMATION,
                initiated_by=Initiator.CARE, notes=f"Samtal {thread}.{number}",
            )  # fmt: skip
            office.request(f"contact-{thread}-{number}", contacts.log_contact, entry)


def read_journal(office: Office, thread: int, start: Barrier, count: int) -> None:
    with office.app.app_context():
        start.wait(timeout=60)
        for number in range(count):
            office.request(f"read-{thread}-{number}", journal.timeline)


# -- What the database must hold ---------------------------------------------------------------


def count(model: type) -> int:
    value: int = db.session.scalar(select(func.count()).select_from(model)) or 0
    return value


#: The requests the threads make, by the first word of their request id.
REQUESTS = ("form", "save", "note", "contact", "read")


def entries_of(kind: EntryKind) -> list[CaseJournalEntry]:
    query = select(CaseJournalEntry).where(CaseJournalEntry.kind == kind)
    return list(db.session.scalars(query.order_by(CaseJournalEntry.seq)))


def access_by_request() -> Counter[tuple[str, AccessAction, str]]:
    """The threads' access-log entries by request kind, action and object type."""
    rows = db.session.execute(
        select(AccessLogEntry.request_id, AccessLogEntry.action, AccessLogEntry.object_type)
    )
    return Counter(
        (request.split("-")[0], action, kind)
        for request, action, kind in rows
        if request.split("-")[0] in REQUESTS
    )


def assert_no_lost_update(office: Office, edits: list[Edit]) -> None:
    """Every editor saved once; each save was based on the state the one before it left; the
    draft holds the last save, and the journal shows every save, in the order they happened."""
    assert [e.saved_on_lock is not None for e in edits] == [True] * len(edits)
    in_order = sorted(edits, key=lambda e: e.saved_on_lock or 0)
    assert [e.saved_on_lock for e in in_order] == list(range(1, len(edits) + 1))
    # All opened the form on lock 1: one of them saved at once, every other one was refused.
    assert [len(e.refusals) > 0 for e in in_order] == [False] + [True] * (len(edits) - 1)
    assert {message for e in edits for message in e.refusals} <= {STALE}
    patient = db.session.get(Patient, office.patient_id)
    assert patient is not None
    plan = plans.plan_of(cases.current_case(patient))
    assert plan is not None
    assert (plan.lock, [v.number for v in plan.versions]) == (len(edits) + 1, [1])
    assert [m.description for m in plan.latest.measures] == [in_order[-1].description]
    drafted = entries_of(EntryKind.PLAN_CHANGED)
    assert [e.heading for e in drafted] == ["Planversion 1 utarbetad"] * len(edits)
    assert [
        f"{e.description} —" in entry.body for e, entry in zip(in_order, drafted, strict=True)
    ] == [True] * len(edits)
    assert [e.seq for e in drafted] == sorted(e.seq for e in drafted)
    changed = db.session.scalars(
        select(AccessLogEntry.request_id).where(
            AccessLogEntry.object_type == "plan", AccessLogEntry.action == AccessAction.CHANGE
        )
    ).all()
    # Only each editor's last, saved request left anything: a refused one left nothing.
    assert sorted(changed) == sorted(f"save-{e.thread}-{len(e.refusals)}" for e in edits)
    saves = db.session.scalars(
        select(AccessLogEntry.request_id).where(AccessLogEntry.request_id.like("save-%"))
    ).all()
    assert Counter(saves) == {f"save-{e.thread}-{len(e.refusals)}": 3 for e in edits}


def assert_chains(access: int, case: int) -> None:
    """Both chains hold exactly ``access`` and ``case`` entries, numbered without a gap, and
    verify end to end."""
    seqs = db.session.scalars(select(CaseJournalEntry.seq).order_by(CaseJournalEntry.seq)).all()
    assert seqs == list(range(1, case + 1))
    assert count(AccessLogEntry) == access
    db.session.rollback()
    assert [(v.chain.value, v.verified, v.broken) for v in journal.verify_all()] == [
        ("access", access, None),
        ("case", case, None),
    ]


# -- The tests ---------------------------------------------------------------------------------


def test_twenty_coordinators_saving_the_same_draft_lose_no_update(app: Flask, world: World) -> None:
    office = open_office(app, world)
    with app.app_context():
        before = (count(AccessLogEntry), count(CaseJournalEntry))
    start = Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(edit_until_saved, office, n, start) for n in range(THREADS)]
        edits = [future.result(timeout=300) for future in futures]

    attempts = sum(e.attempts for e in edits)
    with app.app_context():
        assert_no_lost_update(office, edits)
        assert access_by_request() == Counter({
            ("form", AccessAction.READ, "patient"): attempts,
            ("form", AccessAction.READ, "plan"): attempts,
            ("save", AccessAction.READ, "patient"): THREADS,
            ("save", AccessAction.CHANGE, "plan"): THREADS,
            ("save", AccessAction.CREATE, "journal_entry"): THREADS,
        })  # fmt: skip
        assert_chains(access=before[0] + 2 * attempts + 3 * THREADS, case=before[1] + THREADS)


def test_plans_notes_contacts_and_reads_at_once_keep_one_unbroken_chain(
    app: Flask, world: World
) -> None:
    """Five threads of each: editing the draft, signing notes, logging contacts, reading the
    journal — all on the same patient at the same time."""
    office = open_office(app, world)
    with app.app_context():
        before = (count(AccessLogEntry), count(CaseJournalEntry))
    start = Barrier(THREADS)
    notes, calls, reads = 4, 2, 4
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        editors = [pool.submit(edit_until_saved, office, n, start) for n in range(5)]
        others = [
            *(pool.submit(write_notes, office, n, start, notes) for n in range(5)),
            *(pool.submit(log_contacts, office, n, start, calls) for n in range(5)),
            *(pool.submit(read_journal, office, n, start, reads) for n in range(5)),
        ]
        edits = [future.result(timeout=300) for future in editors]
        for future in others:
            future.result(timeout=300)

    attempts = sum(e.attempts for e in edits)
    with app.app_context():
        assert_no_lost_update(office, edits)
        headings = [e.heading for e in entries_of(EntryKind.NOTE)]
        assert sorted(headings) == sorted(f"Not {t}.{n}" for t in range(5) for n in range(notes))
        said = sorted(c.notes or "" for c in db.session.scalars(select(ContactEvent)))
        assert said == sorted(f"Samtal {t}.{n}" for t in range(5) for n in range(calls))
        # Each contact has its one journal entry, which names what was said.
        bodies = [e.body for e in entries_of(EntryKind.CONTACT_LOGGED)]
        assert sorted(note for body in bodies for note in said if f"{note} " in body) == said
        assert access_by_request() == Counter({
            ("form", AccessAction.READ, "patient"): attempts,
            ("form", AccessAction.READ, "plan"): attempts,
            ("save", AccessAction.READ, "patient"): 5,
            ("save", AccessAction.CHANGE, "plan"): 5,
            ("save", AccessAction.CREATE, "journal_entry"): 5,
            ("note", AccessAction.READ, "patient"): 5 * notes,
            ("note", AccessAction.CREATE, "journal_entry"): 5 * notes,
            ("contact", AccessAction.READ, "patient"): 5 * calls,
            ("contact", AccessAction.CREATE, "journal_entry"): 5 * calls,
            ("contact", AccessAction.CREATE, "contact"): 5 * calls,
            ("read", AccessAction.READ, "patient"): 5 * reads,
            ("read", AccessAction.READ, "case_journal"): 5 * reads,
        })  # fmt: skip
        assert_chains(
            access=before[0] + 2 * attempts + 3 * 5 + 2 * 5 * notes + 3 * 5 * calls + 2 * 5 * reads,
            case=before[1] + 5 + 5 * notes + 5 * calls,
        )
