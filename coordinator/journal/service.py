"""The journal's one door: every feature records accesses and case events through here.

* :func:`record_access` / :func:`record_accesses` — an access-log entry per patient touched
  (a list page logs every patient it shows);
* :func:`add_entry` — a signed case journal entry (and the access-log entry for writing it);
* :func:`record_event` — an entry the system writes for an action, in the record's language;
* :func:`timeline` — a patient's case journal, newest first (logged as a read).

All of them append in the caller's transaction: the entry lands with the change it records,
or neither does. In a request, access-log entries are appended just before the commit
(:func:`coordinator.database.deferred`), so the log's chain head is locked only for the commit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.access import Actor
from coordinator.crypto import keys
from coordinator.database import deferred
from coordinator.errors import DomainError
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from coordinator.journal import chain
from coordinator.journal.models import (
    AccessAction,
    AccessLogEntry,
    CaseJournalEntry,
    Chain,
    EntryKind,
)
from coordinator.patients.models import Patient

#: Longest heading and body accepted for a case journal entry.
HEADING_MAX = 120
BODY_MAX = 20_000


class InvalidEntry(DomainError):
    default_message = _l("The journal entry is incomplete.")


def _access_entry(
    actor: Actor, patient: Patient, action: AccessAction, object_type: str, object_id: Any
) -> AccessLogEntry:
    return AccessLogEntry(
        at=clock.now(),
        user_id=actor.user.id,
        unit_id=actor.unit.id if actor.unit else None,
        role=actor.role,
        patient_id=patient.id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        request_id=actor.request_id or "-",
    )


#: Accesses that happened even if the request then fails: data was shown or handed out, or
#: an attempt was refused (the refusal is what fails the request).
#: They are appended after a rollback too; creations and changes rolled back did not happen.
_SURVIVE_ROLLBACK = frozenset(
    {
        AccessAction.READ,
        AccessAction.SEARCH,
        AccessAction.PRINT,
        AccessAction.EXPORT,
        AccessAction.DENIED,
    }
)


def record_access(
    actor: Actor,
    patient: Patient,
    action: AccessAction,
    object_type: str = "patient",
    object_id: Any = None,
) -> AccessLogEntry:
    """Log one access to ``patient``'s data."""
    entry = _access_entry(actor, patient, action, object_type, object_id)
    _append_accesses([entry])
    return entry


def record_accesses(
    actor: Actor, patients: Sequence[Patient], action: AccessAction, object_type: str = "patient"
) -> None:
    """Log an access to each of ``patients`` (one append for the lot)."""
    _append_accesses([_access_entry(actor, p, action, object_type, p.uid.hex) for p in patients])


def record_export(
    actor: Actor | None, patient_ids: Iterable[int], report: str, command: str = ""
) -> int:
    """Log an export of figures computed from ``patient_ids``' data: one EXPORT entry per
    patient (a small count can point someone out, so each counted patient's log shows it).
    Without an actor it is a system command, which names itself (``command``) instead of a
    user. Returns the number of entries."""
    now = clock.now()
    entries = [
        AccessLogEntry(
            at=now,
            user_id=actor.user.id if actor else None,
            unit_id=actor.unit.id if actor and actor.unit else None,
            role=actor.role if actor else None,
            patient_id=patient_id,
            action=AccessAction.EXPORT,
            object_type="report",
            object_id=report,
            request_id=(actor.request_id or "-") if actor else f"command:{command}",
        )
        for patient_id in sorted(set(patient_ids))
    ]
    if entries:
        _append_accesses(entries)
    return len(entries)


def _append_accesses(entries: list[AccessLogEntry]) -> None:
    """Append ``entries`` to the access log: at once outside a request; in a request, just
    before its commit, so that the chain head's lock is held for the commit alone and
    concurrent requests (several app instances on one database) do not queue on it while they
    render. The entries still land in the request's transaction, with what they record."""
    if has_request_context():
        deferred("access_log", _append_now, _append_surviving).extend(entries)
    else:
        _append_now(entries)


def _append_now(entries: list[AccessLogEntry]) -> None:
    chain.append(db.session, keys(), Chain.ACCESS, entries)  # nothing when there are none


def _append_surviving(entries: list[AccessLogEntry]) -> None:
    """After a rollback: the accesses that happened even though the request failed."""
    _append_now([entry for entry in entries if entry.action in _SURVIVE_ROLLBACK])


def add_entry(
    actor: Actor,
    patient: Patient,
    kind: EntryKind,
    heading: str,
    body: str,
    *,
    corrects: CaseJournalEntry | None = None,
) -> CaseJournalEntry:
    """Sign a new case journal entry on ``patient``'s case."""
    heading, body = heading.strip(), body.strip()
    if not heading or not body:
        raise InvalidEntry(_l("A journal entry needs a heading and a text."))
    if len(heading) > HEADING_MAX or len(body) > BODY_MAX:
        raise InvalidEntry(_l("The heading or the text is too long."))
    if corrects is not None and corrects.patient_id != patient.id:
        raise InvalidEntry(_l("A correction must belong to the same patient."))
    keyring = keys()
    entry = CaseJournalEntry(
        at=clock.now(),
        author_id=actor.user.id,
        unit_id=actor.unit.id if actor.unit else None,
        role=actor.role,
        patient_id=patient.id,
        kind=EntryKind.CORRECTION if corrects is not None else kind,
        corrects_seq=corrects.seq if corrects is not None else None,
        content_digest=chain.content_digest(keyring, keyring.current, heading, body),
    )
    entry.heading = heading
    entry.body = body
    chain.append(db.session, keyring, Chain.CASE, [entry])
    record_access(actor, patient, AccessAction.CREATE, "journal_entry", entry.seq)
    return entry


def record_event(
    actor: Actor, patient: Patient, kind: EntryKind, heading: object, *body: object
) -> CaseJournalEntry:
    """A journal entry the system writes for an action (status change, certificate, decision).

    Its text — translatable messages, joined by spaces — is rendered in the installation's
    language, not the acting user's: the record reads the same for everyone who opens it.
    """
    with in_record_language():
        text = " ".join(str(part) for part in body if part)
        return add_entry(actor, patient, kind, _shortened(str(heading)), text)


def _shortened(heading: str) -> str:
    """A heading the system writes, cut to fit: it may quote a name as long as the heading's
    limit (an organisation's), and the record must still be written."""
    return heading if len(heading) <= HEADING_MAX else heading[: HEADING_MAX - 1].rstrip() + "…"


def entry_of(patient: Patient, seq: int) -> CaseJournalEntry:
    """One of ``patient``'s entries (the one a correction points to)."""
    # A number past 64 bits names no entry, and the database driver would refuse to send it.
    entry = db.session.get(CaseJournalEntry, seq) if 0 < seq < 2**63 else None
    if entry is None or entry.patient_id != patient.id:
        raise InvalidEntry(_l("The entry to correct was not found on this patient."))
    return entry


def timeline(actor: Actor, patient: Patient) -> list[CaseJournalEntry]:
    """The patient's case journal, newest first."""
    entries = db.session.scalars(
        select(CaseJournalEntry)
        .where(CaseJournalEntry.patient_id == patient.id)
        .order_by(CaseJournalEntry.seq.desc())
    ).all()
    record_access(actor, patient, AccessAction.READ, "case_journal")
    return list(entries)


def verify_all(
    progress: Callable[[Chain, int], None] | None = None,
) -> list[chain.Verification]:
    """Verify both chains on a read-only snapshot (on SQLite, writers are not held up).

    ``progress``, if given, is called with the chain and its entries checked so far after
    every batch."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(read_only=True)
        results = []
        for which in Chain:
            report = None if progress is None else functools.partial(progress, which)
            results.append(chain.verify(connection, keys(), which, progress=report))
        return results
