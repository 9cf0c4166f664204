"""The mapping (*kartläggning*): drafted with the patient, signed into the record when complete.

A draft is saved as often as needed; signing fixes it and writes its text to the case journal.
Editing a signed mapping starts a new version from its text, so every signed assessment stays
readable as it was signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.access import Actor
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.plans.common import (
    StaleEdit,
    case_for_planning,
    case_for_reading,
    check_lock,
    touch,
    write,
)
from coordinator.plans.models import MAPPING_SECTIONS, Mapping, ReturnBelief
from coordinator.validation import text

if TYPE_CHECKING:
    from coordinator.patients.models import CoordinationCase, Patient

#: Longest text accepted per section.
SECTION_MAX = 2000

SECTION_LABELS = {
    "work_situation": _l("Work situation"),
    "life_situation": _l("Life situation"),
    "health": _l("Health as the patient describes it"),
    "obstacles": _l("Obstacles to return to work"),
    "resources": _l("Resources for return to work"),
    "own_goal": _l("The patient's own goal"),
    "risk_factors": _l("Risk factors for long sick leave"),
}


class Incomplete(DomainError):
    default_message = _l(
        "Fill in every section and the patient's belief in return to work before signing "
        "(write “nothing to note” where that is the answer)."
    )


@dataclass
class MappingInput:
    """What the mapping form collects: text per section (see MAPPING_SECTIONS)."""

    sections: dict[str, str | None] = field(default_factory=dict)
    belief: ReturnBelief | None = None


def mappings_of(case: CoordinationCase) -> list[Mapping]:
    """The case's mapping versions, oldest first."""
    return list(
        db.session.scalars(
            select(Mapping).where(Mapping.case_id == case.id).order_by(Mapping.number)
        )
    )


def latest_of(case: CoordinationCase | None) -> Mapping | None:
    if case is None:
        return None
    return db.session.scalars(
        select(Mapping).where(Mapping.case_id == case.id).order_by(Mapping.number.desc()).limit(1)
    ).first()


def for_editing(actor: Actor, patient: Patient) -> Mapping | None:
    """The latest mapping of an active case as the edit form is filled from it (logged as
    read)."""
    latest = latest_of(case_for_planning(actor, patient))
    if latest is not None:
        journal.record_access(actor, patient, AccessAction.READ, "mapping", latest.uid.hex)
    return latest


def open_mapping(actor: Actor, patient: Patient, number: int) -> Mapping:
    """One version of the patient's mapping in the current case, logged as read."""
    case = case_for_reading(patient)
    mapping = db.session.scalars(
        select(Mapping).where(Mapping.case_id == case.id, Mapping.number == number)
    ).first()
    if mapping is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "mapping", mapping.uid.hex)
    return mapping


def save(
    actor: Actor,
    patient: Patient,
    entry: MappingInput,
    *,
    expected_lock: int | None,
    based_on: int | None = None,
    sign: bool = False,
) -> Mapping:
    """Save the mapping's draft (a new version when the latest is signed), and sign it.

    ``based_on`` and ``expected_lock`` are the version number and lock the form was filled
    from (0 and 0: there was no mapping); a mapping changed or started by someone else since
    is refused as stale.
    """
    case = case_for_planning(actor, patient)
    values = {name: text(entry.sections.get(name), name, SECTION_MAX) for name in MAPPING_SECTIONS}
    if sign and (entry.belief is None or any(value is None for value in values.values())):
        raise Incomplete()
    latest = latest_of(case)
    if based_on is not None and based_on != (latest.number if latest else 0):
        raise StaleEdit()
    if latest is not None:
        check_lock(latest, expected_lock)
    elif expected_lock:
        raise StaleEdit()
    if latest is None or latest.is_signed:
        mapping = _new_version(actor, patient, case, (latest.number if latest else 0) + 1)
        created = True
    else:
        mapping, created = latest, False
    for name, value in values.items():
        setattr(mapping, name, value)
    mapping.return_belief = entry.belief.value if entry.belief else None
    touch(mapping, actor)
    if sign:
        mapping.signed_by_id = actor.user.id
        mapping.signed_at = clock.now()
    write(add=mapping if created else None)
    action = AccessAction.CREATE if created else AccessAction.CHANGE
    journal.record_access(actor, patient, action, "mapping", mapping.uid.hex)
    if sign:
        _journal_signed(actor, patient, mapping)
    return mapping


def _new_version(actor: Actor, patient: Patient, case: CoordinationCase, number: int) -> Mapping:
    mapping = Mapping(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        case_id=case.id,
        number=number,
        created_by_id=actor.user.id,
        created_at=clock.now(),
        updated_by_id=actor.user.id,
    )
    return mapping


def _journal_signed(actor: Actor, patient: Patient, mapping: Mapping) -> None:
    with in_record_language():
        lines = [f"{SECTION_LABELS[name]}: {getattr(mapping, name)}" for name in MAPPING_SECTIONS]
        belief = mapping.belief
        lines.append(str(_l("Belief in return to work: %(belief)s",
                            belief=belief.label if belief else "–")))  # fmt: skip
        journal.add_entry(
            actor,
            patient,
            EntryKind.PLAN_CHANGED,
            str(_l("Mapping signed (version %(n)d)", n=mapping.number)),
            "\n".join(lines),
        )
