"""Patients of the current care unit: the one scoped way to load them, and every read logged.

Every function takes the acting user and works only inside the actor's current unit. A patient
of another unit is "not found" (404), never "forbidden": its existence is not revealed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, select

from coordinator.access import Actor
from coordinator.errors import DomainError, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients import cases
from coordinator.patients.identity import (
    IdentityNumber,
    InvalidIdentityNumber,
    normalise_name,
    parse_identity_number,
)
from coordinator.patients.models import Employment, Gender, Patient
from coordinator.patients.permissions import require_coordinator


class InvalidPersonnummer(InvalidField):
    default_message = _l("Write the personnummer with 10 or 12 digits, e.g. 19121212-1212.")

    def __init__(self, message: object | None = None) -> None:
        super().__init__("personnummer", message)


class AlreadyRegistered(InvalidField):
    status_code = 409
    default_message = _l("A patient with this personnummer is already registered in this unit.")

    def __init__(self, patient: Patient) -> None:
        super().__init__("personnummer")
        self.patient = patient


def in_unit(actor: Actor) -> Select[Patient]:
    """Patients of the actor's current unit: the filter every patient query starts from."""
    if actor.unit is None or not actor.role.works_in_units:
        raise NotFound()
    return select(Patient).where(Patient.unit_id == actor.unit.id)


def get_patient(actor: Actor, patient_uid: uuid.UUID, *, log: bool = True) -> Patient:
    """One patient of the actor's unit, logged as read; NotFound otherwise.

    ``log=False`` is for callers that log a more specific access themselves.
    """
    patient = db.session.scalars(in_unit(actor).where(Patient.uid == patient_uid)).first()
    if patient is None:
        raise NotFound()
    if log:
        journal.record_access(actor, patient, AccessAction.READ, "patient", patient.uid.hex)
    return patient


def parse_personnummer(value: str) -> IdentityNumber:
    try:
        return parse_identity_number(value)
    except InvalidIdentityNumber as error:
        raise InvalidPersonnummer(
            _l("That is not a valid personnummer or samordningsnummer; check the digits.")
        ) from error


def find_by_personnummer(actor: Actor, personnummer: str) -> Patient | None:
    """Exact search by personnummer: one indexed query on the blind index, never a scan."""
    try:
        condition = Patient.personnummer.equals(personnummer)
    except ValueError as error:
        raise InvalidPersonnummer() from error
    patient = db.session.scalars(in_unit(actor).where(condition)).first()
    if patient is not None:
        journal.record_access(actor, patient, AccessAction.SEARCH, "patient", patient.uid.hex)
    return patient


def find_in_units(personnummer: str, unit_ids: Sequence[int]) -> Patient | None:
    """The patient with ``personnummer`` registered at one of ``unit_ids`` (the blind index;
    a malformed number or a wrong check digit is :class:`InvalidPersonnummer`). Logs nothing:
    the caller logs what it shows (the log follow-up's search and extract)."""
    number = parse_personnummer(personnummer)
    return db.session.scalars(
        select(Patient)
        .where(Patient.personnummer.equals(number.normalised), Patient.unit_id.in_(unit_ids))
        .order_by(Patient.id)
    ).first()


def _registered(actor: Actor, number: IdentityNumber) -> Patient | None:
    condition = Patient.personnummer.equals(number.normalised)
    return db.session.scalars(in_unit(actor).where(condition)).first()


def find_by_name(actor: Actor, query: str) -> list[Patient]:
    """Patients whose family name — or given and family name — is exactly ``query``.

    The family name is matched through its blind index; with several words, every split
    into given names + family name is tried and the given names compared after decrypting
    the few candidates. Patients with protected identity are never found by name: the
    result would tie the name to the record.
    """
    words = normalise_name(query).split()
    if not words:
        return []
    # Every split into given names + family name, looked up in one indexed query.
    splits = {" ".join(words[i:]): " ".join(words[:i]) for i in range(len(words))}
    candidates = db.session.scalars(
        in_unit(actor).where(
            Patient.last_name.index.in_(list(Patient.last_name.search_indexes(splits))),
            Patient.is_protected.is_(False),
        )
    ).all()
    patients = sorted(
        (
            patient
            for patient in candidates
            if normalise_name(patient.first_name).startswith(
                splits.get(normalise_name(patient.last_name), "\0")
            )
        ),
        key=lambda p: (p.last_name.casefold(), p.first_name),
    )
    journal.record_accesses(actor, patients, AccessAction.SEARCH)
    return patients


@dataclass
class PatientDetails:
    """What the registration form collects besides the number."""

    first_name: str
    last_name: str
    stated_gender: Gender | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    employment: Employment = Employment.EMPLOYED
    occupation: str | None = None
    is_protected: bool = False


def _apply(patient: Patient, details: PatientDetails) -> list[str]:
    """Write ``details`` onto ``patient``; return the names of the fields that changed."""
    # Checked before anything is written: an encrypted name cannot be set to nothing.
    for name in ("first_name", "last_name"):
        if not getattr(details, name).strip():
            raise InvalidField(name, _l("Enter the patient's given and family name."))
    changed = []
    for spec in fields(PatientDetails):
        value = getattr(details, spec.name)
        if type(value) is str:  # free text; an enum (a str too) stays the member it is
            value = value.strip() or None
        if spec.name == "stated_gender" and value is not None:
            value = Gender(value).value
        if getattr(patient, spec.name) != value:
            setattr(patient, spec.name, value)
            changed.append(spec.name)
    if patient.employer_id is not None and not patient.employment.has_employer:
        # Unemployed or self-employed now: there is no employer (and no manager) any more.
        patient.employer_id = patient.employer_manager_id = None
        changed.append("employer")
    return changed


def register_patient(
    actor: Actor, personnummer: str, details: PatientDetails, *, assign_to_actor: bool = True
) -> Patient:
    """Register a patient in the actor's unit and open their first case: the registering
    coordinator's, or unassigned (patients created by an import wait for someone to take them).
    """
    require_coordinator(actor)
    if actor.unit is None:
        raise NotFound()
    number = parse_personnummer(personnummer)
    existing = _registered(actor, number)
    if existing is not None:
        raise AlreadyRegistered(existing)
    patient = Patient(unit_id=actor.unit.id, employment=Employment.EMPLOYED, is_protected=False)
    patient.personnummer = number.normalised
    _apply(patient, details)
    db.session.add(patient)
    db.session.flush()
    journal.record_access(actor, patient, AccessAction.CREATE, "patient", patient.uid.hex)
    cases.open_case(actor, patient, actor.user.id if assign_to_actor else None)
    return patient


def update_patient(actor: Actor, patient: Patient, details: PatientDetails) -> list[str]:
    """Change a patient's details; the journal says which fields changed, not their values."""
    require_coordinator(actor)
    changed = _apply(patient, details)
    if changed:
        # Joined when the entry is rendered, in the record's language (not the user's).
        labels = LazyString(lambda: ", ".join(str(FIELD_LABELS[name]) for name in changed))
        journal.record_event(
            actor,
            patient,
            EntryKind.PATIENT_UPDATED,
            _l("Patient details changed"),
            _l("Changed: %(fields)s.", fields=labels),
        )
        journal.record_access(actor, patient, AccessAction.CHANGE, "patient", patient.uid.hex)
    return changed


def reveal_identity(actor: Actor, patient: Patient) -> None:
    """Log that a protected identity was deliberately shown (the caller then shows it)."""
    journal.record_access(actor, patient, AccessAction.READ, "protected_identity", patient.uid.hex)


def identity_of(patient: Patient) -> IdentityNumber:
    """What the stored number tells: birth date, age, legal sex."""
    try:
        return parse_identity_number(patient.personnummer)
    except InvalidIdentityNumber as error:  # stored numbers were validated on the way in
        raise DomainError(_l("The stored personnummer is not valid.")) from error


def gender_of(patient: Patient) -> Gender:
    """Stated gender if recorded, else the legal sex from the number."""
    if patient.stated_gender:
        return Gender(patient.stated_gender)
    return Gender.MAN if identity_of(patient).is_male else Gender.WOMAN


def gender_from(stated_gender: str | None, personnummer: str) -> Gender:
    """:func:`gender_of` from the two stored values, for statistics that open thousands of
    rows without loading patients (the stored number is valid and in its 12-digit form: the
    ninth digit of the ten, odd for men, is its eleventh)."""
    if stated_gender:
        return Gender(stated_gender)
    return Gender.MAN if int(personnummer[10]) % 2 else Gender.WOMAN


FIELD_LABELS = {
    "first_name": _l("Given name"),
    "last_name": _l("Family name"),
    "stated_gender": _l("Gender"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "address": _l("Address"),
    "employment": _l("Employment"),
    "occupation": _l("Occupation"),
    "employer": _l("Employer"),
    "is_protected": _l("Protected identity"),
}
