"""Helpers for the journal tests: a short history to tamper with, and switching guards off."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.databases import is_postgres

#: The SQLite triggers migration 0002 creates, by table.
SQLITE_TRIGGERS = {
    "access_log": ("access_log_no_update", "access_log_no_delete"),
    "case_journal": ("case_journal_no_update", "case_journal_no_delete"),
    "journal_heads": ("journal_heads_no_delete", "journal_heads_forward_only"),
}

#: What the verification says for each kind of break.
ALTERED = "content does not match its seal (the entry was altered)"
MISSING = "entry missing: the sequence has a gap (an entry was deleted or renumbered)"
UNLINKED = "does not follow the entry before it (entries were deleted, inserted or reordered)"
CUT = "the chain ends before its recorded head (entries at the end were deleted)"


def without_guards(*tables: str) -> None:
    """Switch off the append-only triggers of ``tables``, as a database superuser could."""
    for table in tables:
        if is_postgres():
            db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        else:
            for trigger in SQLITE_TRIGGERS[table]:
                db.session.execute(text(f"DROP TRIGGER {trigger}"))
    db.session.commit()


def sql(statement: str, **parameters: object) -> None:
    """Run one statement with plain SQL and commit it."""
    db.session.execute(text(statement), parameters)
    db.session.commit()


@dataclass(frozen=True)
class History:
    """Three case journal entries (seq 1-3) and five access-log entries: CREATE 1-3, READ 4-5."""

    patient_id: int
    entries: tuple[tuple[str, str], ...]


NOTES = (
    ("Första kontakt", "Samtal om återgång i arbete."),
    ("Plan", "Arbetsträning tre dagar i veckan."),
    ("Kontakt med arbetsgivare", "Arbetsgivaren är positiv till anpassning."),
)


def write_history(world: World) -> History:
    actor = actor_for(world.coordinator_a, world.unit_a, request_id="history")
    patient = db.session.get(Patient, world.patient_a.id)
    assert patient is not None
    for heading, body in NOTES:
        journal.add_entry(actor, patient, EntryKind.NOTE, heading, body)
    journal.record_access(actor, patient, AccessAction.READ)
    journal.record_access(actor, patient, AccessAction.READ, "case_journal")
    db.session.commit()
    return History(patient.id, NOTES)
