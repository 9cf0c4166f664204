"""Treatments under the state agreements, recorded on the coordination case as they happen.

Reports to Försäkringskassan counted *completed* treatments; recording them where the
coordinator already works is what ends the under-reporting the regions described (seed 002).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.errors import InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.plans.common import (
    HORIZON,
    case_for_recording,
    check_lock,
    write,
)
from coordinator.plans.models import Treatment, TreatmentKind, TreatmentProvider
from coordinator.validation import past_day, text

if TYPE_CHECKING:
    from coordinator.patients.models import Patient

NOTE_MAX = 500
#: More sessions than any programme gives: a typing error.
SESSIONS_MAX = 200


@dataclass
class TreatmentInput:
    kind: TreatmentKind
    provider: TreatmentProvider
    provider_type: ProviderType
    started_on: date | None = None
    completed_on: date | None = None
    sessions: int | None = None
    note: str | None = None


def treatments_of(patient: Patient) -> list[Treatment]:
    """The patient's treatments in every case, newest first."""
    return list(
        db.session.scalars(
            select(Treatment)
            .where(Treatment.patient_id == patient.id)
            .order_by(Treatment.started_on.desc().nulls_first(), Treatment.id.desc())
        )
    )


def open_treatment(actor: Actor, patient: Patient, treatment_uid: uuid.UUID) -> Treatment:
    treatment = db.session.scalars(
        select(Treatment).where(Treatment.patient_id == patient.id, Treatment.uid == treatment_uid)
    ).first()
    if treatment is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "treatment", treatment.uid.hex)
    return treatment


def _validated(entry: TreatmentInput, today: date) -> TreatmentInput:
    if entry.provider is TreatmentProvider.PRIVATE_PROVIDER and (
        entry.provider_type is not ProviderType.PRIVATE
    ):
        raise InvalidField("provider_type", _l("A private provider is of the type private."))
    if entry.started_on is not None and entry.started_on > today + HORIZON:
        raise InvalidField("started_on", _l("At most two years ahead."))
    if entry.completed_on is not None:
        past_day(entry.completed_on, "completed_on", today)
        if entry.started_on is None:
            raise InvalidField("started_on", _l("Give the start date of a completed treatment."))
        if entry.completed_on < entry.started_on:
            raise InvalidField(
                "completed_on", _l("The treatment cannot be completed before it started.")
            )
    if entry.sessions is not None and not 0 <= entry.sessions <= SESSIONS_MAX:
        raise InvalidField("sessions", _l("Give a number from 0 to %(max)d.", max=SESSIONS_MAX))
    return TreatmentInput(
        kind=entry.kind,
        provider=entry.provider,
        provider_type=entry.provider_type,
        started_on=entry.started_on,
        completed_on=entry.completed_on,
        sessions=entry.sessions,
        note=text(entry.note, "note", NOTE_MAX),
    )


def _apply(treatment: Treatment, entry: TreatmentInput) -> None:
    treatment.kind = entry.kind.value
    treatment.provider = entry.provider
    treatment.provider_type = entry.provider_type
    treatment.started_on = entry.started_on
    treatment.completed_on = entry.completed_on
    treatment.sessions = entry.sessions
    treatment.note = entry.note
    treatment.updated_at = clock.now()


def record(actor: Actor, patient: Patient, entry: TreatmentInput) -> Treatment:
    """Register a treatment on the patient's open case."""
    case = case_for_recording(actor, patient)
    entry = _validated(entry, clock.today())
    treatment = Treatment(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        case_id=case.id,
        created_by_id=actor.user.id,
        created_at=clock.now(),
    )
    _apply(treatment, entry)
    db.session.add(treatment)
    db.session.flush()
    journal.record_access(actor, patient, AccessAction.CREATE, "treatment", treatment.uid.hex)
    _journal(actor, patient, treatment, _l("Treatment registered: %(kind)s",
                                           kind=entry.kind.lazy_label))  # fmt: skip
    return treatment


def update(
    actor: Actor,
    patient: Patient,
    treatment: Treatment,
    entry: TreatmentInput,
    expected_lock: int | None = None,
) -> Treatment:
    """Change a treatment (sessions given, completion); refused when changed meanwhile."""
    case_for_recording(actor, patient)
    if treatment.patient_id != patient.id:
        raise NotFound()
    check_lock(treatment, expected_lock)
    entry = _validated(entry, clock.today())
    _apply(treatment, entry)
    flag_modified(treatment, "updated_at")  # the lock moves on even if nothing else changed
    write()
    journal.record_access(actor, patient, AccessAction.CHANGE, "treatment", treatment.uid.hex)
    _journal(actor, patient, treatment, _l("Treatment changed: %(kind)s",
                                           kind=entry.kind.lazy_label))  # fmt: skip
    return treatment


def _journal(actor: Actor, patient: Patient, treatment: Treatment, heading: object) -> None:
    journal.record_event(
        actor,
        patient,
        EntryKind.PLAN_CHANGED,
        heading,
        _l("Provider: %(provider)s (%(type)s).", provider=treatment.provider.lazy_label,
           type=treatment.provider_type.lazy_label),
        _l("Started %(date)s.", date=treatment.started_on.isoformat())
        if treatment.started_on else "",
        _l("Completed %(date)s.", date=treatment.completed_on.isoformat())
        if treatment.completed_on else "",
        _l("Sessions: %(n)d.", n=treatment.sessions) if treatment.sessions is not None else "",
        treatment.note or "",
    )  # fmt: skip
