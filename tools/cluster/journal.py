"""Step d: journal notes and contacts appended to one patient from many threads at once,
through both instances and nginx. Each append extends a hash chain, so concurrent appends
are where a chain would fork; the database must hold exactly what was posted and
``coordinator verify-journal`` must find both chains intact."""

from __future__ import annotations

import http.client
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask
from load import Instance, command, contact_form, describe
from sqlalchemy import func, select

from coordinator.contacts.models import ContactEvent
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients.models import Patient

from .client import Browser, form_token
from .parameters import CONTACTS_PER_THREAD, NOTES_PER_THREAD, START_SECONDS, THREADS
from .report import Failed, Timings, check
from .startup import Cluster


@dataclass(eq=False)  # a thread must stay hashable
class Poster(threading.Thread):
    """One thread of step d: K notes and C contacts on the patient, after the start signal."""

    cluster: Cluster
    browser: Browser
    origin: str
    start_line: threading.Barrier
    number: int
    problems: list[str] = field(default_factory=list)
    posted: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__init__(name=f"poster-{self.number}", daemon=True)

    def run(self) -> None:
        uid, patient = self.cluster.patient_uid, f"/patients/{self.cluster.patient_uid}"
        try:
            token = form_token(self.browser.get(self.origin, patient), f"{self.name}: page")
        except (Failed, OSError, http.client.HTTPException) as error:
            self.problems.append(str(error))
            token = ""
        self.start_line.wait(timeout=START_SECONDS)
        if not token:
            return
        for index in range(NOTES_PER_THREAD):
            note = {"csrf_token": token, "heading": "Klustertest", "corrects": "",
                    "body": f"Anteckning {index + 1} från tråd {self.number}."}  # fmt: skip
            self.post("note", f"{patient}/journal", note, patient)
        organisation = self.cluster.seeded.organisation_uids[self.number % 2]
        for index in range(CONTACTS_PER_THREAD):
            contact = contact_form(token, organisation, index)
            self.post("contact", f"{patient}/contacts/new", contact, f"/patients/{uid}/contacts")

    def post(self, what: str, path: str, form: Mapping[str, str], redirect_to: str) -> None:
        """A post whose failure is kept, not raised: the thread goes on, the step reports all."""
        try:
            answer = self.browser.post(self.origin, path, form)
        except (OSError, http.client.HTTPException) as error:
            self.problems.append(f"{self.name} {what}: {type(error).__name__}: {error}")
            return
        if answer.redirected_to(redirect_to):
            self.posted[what] += 1
        else:
            self.problems.append(f"{self.name} {what} via {self.origin}: status {answer.status} "
                                 f"to {answer.location()!r}{describe(answer.body)}")  # fmt: skip


def chain_counts(app: Flask, uid: str) -> dict[str, int]:
    """What the database holds: the patient's notes, contact entries and contacts, and the
    length of each chain."""
    with app.app_context():
        patient_id = db.session.scalar(select(Patient.id).where(Patient.uid == uuid.UUID(uid)))
        kinds = dict(
            db.session.execute(
                select(CaseJournalEntry.kind, func.count())
                .where(CaseJournalEntry.patient_id == patient_id)
                .group_by(CaseJournalEntry.kind)
            ).all()
        )
        counts = {
            "notes": kinds.get(EntryKind.NOTE, 0),
            "contact entries": kinds.get(EntryKind.CONTACT_LOGGED, 0),
            "contacts": db.session.scalar(
                select(func.count()).where(ContactEvent.patient_id == patient_id)
            ) or 0,
            "contacts logged as accessed": db.session.scalar(
                select(func.count()).where(
                    AccessLogEntry.patient_id == patient_id,
                    AccessLogEntry.action == AccessAction.CREATE,
                    AccessLogEntry.object_type == "contact",
                )
            ) or 0,
            "case": db.session.scalar(select(func.count()).select_from(CaseJournalEntry)) or 0,
            "access": db.session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0,
        }  # fmt: skip
        db.session.remove()
        return counts


def post_at_once(cluster: Cluster, browser: Browser) -> None:
    """The threads, spread over A, B and nginx, all start posting at one signal, so that the
    appends truly overlap."""
    origins = [cluster.direct(cluster.a), cluster.direct(cluster.b), cluster.proxy.origin]
    start_line = threading.Barrier(THREADS)
    posters = [Poster(cluster, browser, origins[n % 3], start_line, n + 1) for n in range(THREADS)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join(timeout=START_SECONDS * 3)
    check(not any(p.is_alive() for p in posters), "step d: threads still posting after 180 s")
    problems = [problem for p in posters for problem in p.problems]
    check(not problems, "concurrent posts failed:\n  " + "\n  ".join(problems[:10]))


def concurrent_journal(
    cluster: Cluster, browser: Browser, app: Flask, instance: Instance, timings: Timings
) -> None:
    """Step d: every post stored exactly once, then both chains verified."""
    before = chain_counts(app, cluster.patient_uid)
    post_at_once(cluster, browser)
    notes, contacts = THREADS * NOTES_PER_THREAD, THREADS * CONTACTS_PER_THREAD
    after = chain_counts(app, cluster.patient_uid)
    grown = {"notes": notes, "contact entries": contacts, "contacts": contacts,
             "contacts logged as accessed": contacts, "case": notes + contacts}  # fmt: skip
    expected = {name: before[name] + grown.get(name, 0) for name in before if name != "access"}
    held = {name: after[name] for name in expected}
    check(held == expected and after["access"] > before["access"],
          f"after the concurrent posts the database holds {after}, expected {expected} and "
          f"more than {before['access']} access-log entries")  # fmt: skip
    timings.passed(
        "d. concurrent posts",
        f"{THREADS} threads at once (A, B and nginx) posted {notes} notes and "
        f"{contacts} contacts; all stored",
    )
    verify_journal(instance, after, timings)


def verify_journal(instance: Instance, held: Mapping[str, int], timings: Timings) -> None:
    """``coordinator verify-journal``, as the systemd timer runs it: both chains intact and
    as long as the database holds, so no entry was left out of them."""
    verify = command(instance, "verify-journal")
    output = (verify.stdout + verify.stderr).strip()
    lines = {
        f"access: {held['access']} entries verified, chain intact",
        f"case: {held['case']} entries verified, chain intact",
    }
    check(
        verify.returncode == 0 and lines <= set(verify.stdout.splitlines()),
        f"verify-journal exit {verify.returncode}, expected {sorted(lines)}:\n{output}",
    )
    timings.passed(
        "d. verify-journal",
        f"verify-journal: both chains intact, {held['access']} access-log entries "
        f"and {held['case']} case-journal entries, as the database holds",
    )
