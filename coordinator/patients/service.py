"""Patients of the current care unit: the one scoped way to load them, and every read logged.

Every function takes the acting user and works only inside the actor's current unit. A patient
of another unit is "not found" (404), never "forbidden": its existence is not revealed.
"""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from coordinator.access import Actor
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients.identity import InvalidIdentityNumber, parse_identity_number
from coordinator.patients.models import Patient


class InvalidPersonnummer(DomainError):
    default_message = _l("Write the personnummer with 10 or 12 digits, e.g. 19121212-1212.")


def _in_unit(actor: Actor) -> Select[Patient]:
    """Patients of the actor's current unit: the filter every patient query starts from."""
    if actor.unit is None:
        raise NotFound()
    return select(Patient).where(Patient.unit_id == actor.unit.id)


def list_patients(actor: Actor) -> list[Patient]:
    """The unit's patients, sorted by name; each one shown is logged as read."""
    patients = sorted(db.session.scalars(_in_unit(actor)).all(), key=_sort_key)
    journal.record_accesses(actor, patients, AccessAction.READ)
    return patients


def _sort_key(patient: Patient) -> tuple[str, str]:
    return (patient.last_name.casefold(), patient.first_name.casefold())


def get_patient(actor: Actor, patient_uid: uuid.UUID) -> Patient:
    """One patient of the actor's unit, logged as read; NotFound otherwise."""
    patient = db.session.scalars(_in_unit(actor).where(Patient.uid == patient_uid)).first()
    if patient is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "patient", patient.uid.hex)
    return patient


def find_by_personnummer(actor: Actor, personnummer: str) -> Patient | None:
    """Exact search by personnummer: one indexed query on the blind index, never a scan."""
    try:
        condition = Patient.personnummer.equals(personnummer)
    except ValueError as error:
        raise InvalidPersonnummer() from error
    patient = db.session.scalars(_in_unit(actor).where(condition)).first()
    if patient is not None:
        journal.record_access(actor, patient, AccessAction.SEARCH, "patient", patient.uid.hex)
    return patient


def register_patient(actor: Actor, personnummer: str, first_name: str, last_name: str) -> Patient:
    """Register a patient in the actor's unit (the full form arrives with the patients issue)."""
    if actor.unit is None:
        raise NotFound()
    try:
        number = parse_identity_number(personnummer)
    except InvalidIdentityNumber as error:
        raise InvalidPersonnummer(
            _l("That is not a valid personnummer or samordningsnummer; check the digits.")
        ) from error
    patient = Patient(unit_id=actor.unit.id)
    patient.personnummer = number.normalised
    patient.first_name = first_name.strip()
    patient.last_name = last_name.strip()
    db.session.add(patient)
    db.session.flush()
    journal.record_access(actor, patient, AccessAction.CREATE, "patient", patient.uid.hex)
    return patient
