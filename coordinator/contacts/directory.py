"""The directory: organisations and their contact persons, shared by every unit.

Coordinators add and correct entries; managers read them. The directory holds no patient data
— who works where, and which contacts were had about whom, live on the patient — so reading it
is not an access to be logged. Its contact persons are personal data and encrypted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from organisationsnummer import organisationsnummer
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.roles import Role
from coordinator.contacts.models import (
    ContactPerson,
    Organisation,
    OrganisationType,
    normalise_org_number,
)
from coordinator.errors import DomainError, Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.patients.identity import normalise_name
from coordinator.validation import past_day, text

NAME_MAX = 200
ADDRESS_MAX = 400
PHONE_MAX = 40
NOTES_MAX = 1000
ROLE_MAX = 120
EMAIL_MAX = 254
#: How many organisations a search shows (the rest: narrow the search).
SEARCH_LIMIT = 50

_PHONE = re.compile(r"\+?[0-9(][0-9 ()\-]*")


@dataclass
class OrganisationInput:
    type: OrganisationType
    name: str
    org_number: str | None = None
    address: str | None = None
    phone: str | None = None
    notes: str | None = None


@dataclass
class PersonInput:
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None


class DuplicateOrganisation(InvalidField):
    """The directory already has an organisation of that name and number."""

    status_code = 409

    def __init__(self, existing: Organisation) -> None:
        super().__init__("name", _l("%(name)s is already in the directory.", name=existing.name))
        self.existing = existing


class StaleEntry(DomainError):
    status_code = 409
    default_message = _l(
        "Someone else changed this entry a moment ago. The page now shows their change; "
        "check it and try again."
    )


def require_editor(actor: Actor) -> None:
    """Coordinators keep the directory up to date; managers read it."""
    if actor.role is not Role.COORDINATOR:
        raise Forbidden(_l("Only coordinators change the directory."))


# -- Values ----------------------------------------------------------------------------------


def org_number(value: str | None) -> str | None:
    """A valid organisation number (a sole trader's personnummer included) in its standard
    form, e.g. ``202100-5521``; None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isascii():  # other scripts' digits would give another blind index
        raise InvalidField(
            "org_number",
            _l("That is not a valid organisation number; check the digits (e.g. 202100-5521)."),
        )
    try:
        number = organisationsnummer.Organisationsnummer(value)
    except organisationsnummer.OrganisationsnummerException as error:
        raise InvalidField(
            "org_number",
            _l("That is not a valid organisation number; check the digits (e.g. 202100-5521)."),
        ) from error
    return str(number.format(True))


def email(value: str | None, field_name: str = "email") -> str | None:
    """A well-formed e-mail address (not checked for delivery); None when empty."""
    value = text(value, field_name, EMAIL_MAX)
    if value is None:
        return None
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as error:
        raise InvalidField(field_name, _l("Enter a valid e-mail address.")) from error


def phone(value: str | None, field_name: str = "phone") -> str | None:
    """A phone number as written (digits, spaces, dashes, brackets, a leading +)."""
    value = text(value, field_name, PHONE_MAX)
    if value is None:
        return None
    if not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 5:
        raise InvalidField(field_name, _l("Enter a phone number, e.g. 036-10 10 10."))
    return value


def name_key(name: str) -> str:
    return normalise_name(name)


def _organisation(entry: OrganisationInput) -> OrganisationInput:
    if not isinstance(entry.type, OrganisationType):
        raise InvalidField("type", _l("Choose the kind of organisation."))
    return OrganisationInput(
        type=entry.type,
        name=text(entry.name, "name", NAME_MAX, required=_l("Enter the organisation's name."))
        or "",
        org_number=org_number(entry.org_number),
        address=text(entry.address, "address", ADDRESS_MAX),
        phone=phone(entry.phone),
        notes=text(entry.notes, "notes", NOTES_MAX),
    )


def validated_person(entry: PersonInput, prefix: str = "") -> PersonInput:
    """``entry`` checked and tidied; ``prefix`` names the form's fields."""
    return PersonInput(
        name=text(entry.name, f"{prefix}name", NAME_MAX, required=_l("Enter the person's name."))
        or "",
        role=text(entry.role, f"{prefix}role", ROLE_MAX),
        phone=phone(entry.phone, f"{prefix}phone"),
        email=email(entry.email, f"{prefix}email"),
    )


# -- Organisations ---------------------------------------------------------------------------


def get_organisation(organisation_uid: uuid.UUID) -> Organisation:
    organisation = db.session.scalars(
        select(Organisation)
        .where(Organisation.uid == organisation_uid)
        .options(selectinload(Organisation.persons))
    ).first()
    if organisation is None:
        raise NotFound()
    return organisation


def search(
    query: str = "", type_: OrganisationType | None = None, limit: int = SEARCH_LIMIT
) -> list[Organisation]:
    """Organisations whose name contains ``query`` (case-insensitive), or whose number is
    ``query``; by name. One more than ``limit`` is returned to tell "there are more"."""
    statement = select(Organisation)
    query = query.strip()
    if query and sum(c.isdigit() for c in query) >= 10:
        statement = statement.where(Organisation.org_number.equals(query))
    elif query:
        pattern = name_key(query).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        statement = statement.where(Organisation.name_key.like(f"%{pattern}%", escape="\\"))
    if type_ is not None:
        statement = statement.where(Organisation.type == type_)
    statement = statement.order_by(Organisation.name_key, Organisation.id).limit(limit + 1)
    return list(db.session.scalars(statement))


def _duplicate_of(entry: OrganisationInput, own_id: int | None = None) -> Organisation | None:
    """An organisation with the same name and the same number (or both without one)."""
    statement = select(Organisation).where(Organisation.name_key == name_key(entry.name))
    if own_id is not None:
        statement = statement.where(Organisation.id != own_id)
    for candidate in db.session.scalars(statement):
        # Compared as digits: the library writes a centenarian sole trader's number with "+".
        theirs, ours = candidate.org_number, entry.org_number
        if (theirs and normalise_org_number(theirs)) == (ours and normalise_org_number(ours)):
            return candidate
    return None


def create_organisation(actor: Actor, entry: OrganisationInput) -> Organisation:
    require_editor(actor)
    entry = _organisation(entry)
    existing = _duplicate_of(entry)
    if existing is not None:
        raise DuplicateOrganisation(existing)
    organisation = Organisation(created_by_id=actor.user.id)
    _apply(organisation, entry)
    db.session.add(organisation)
    db.session.flush()
    return organisation


def update_organisation(
    actor: Actor, organisation: Organisation, entry: OrganisationInput, expected_lock: int | None
) -> Organisation:
    require_editor(actor)
    entry = _organisation(entry)
    if expected_lock is not None and expected_lock != organisation.lock:
        raise StaleEntry()
    existing = _duplicate_of(entry, organisation.id)
    if existing is not None:
        raise DuplicateOrganisation(existing)
    _apply(organisation, entry)
    _write()
    return organisation


def _apply(organisation: Organisation, entry: OrganisationInput) -> None:
    organisation.type = entry.type
    organisation.name = entry.name
    organisation.name_key = name_key(entry.name)
    organisation.org_number = entry.org_number
    organisation.address = entry.address
    organisation.phone = entry.phone
    organisation.notes = entry.notes
    organisation.updated_at = clock.now()


def _write() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except StaleDataError as error:  # saved by someone else since it was read
        raise StaleEntry() from error


# -- Contact persons -------------------------------------------------------------------------


def person_of(organisation: Organisation, person_uid: uuid.UUID) -> ContactPerson:
    for person in organisation.persons:
        if person.uid == person_uid:
            return person
    raise NotFound()


def add_person(
    actor: Actor, organisation: Organisation, entry: PersonInput, prefix: str = ""
) -> ContactPerson:
    """A new contact person at ``organisation``; ``prefix`` names the form's fields."""
    require_editor(actor)
    entry = validated_person(entry, prefix)
    person = ContactPerson(organisation_id=organisation.id, created_by_id=actor.user.id)
    _apply_person(person, entry)
    db.session.add(person)
    db.session.flush()
    db.session.refresh(organisation, ["persons"])
    return person


def update_person(
    actor: Actor,
    person: ContactPerson,
    entry: PersonInput,
    left_on: date | None,
    expected_lock: int | None,
) -> ContactPerson:
    """Correct a person's details, or record that they have left (kept for old contacts)."""
    require_editor(actor)
    entry = validated_person(entry)
    if left_on is not None:
        past_day(left_on, "left_on", clock.today())
    if expected_lock is not None and expected_lock != person.lock:
        raise StaleEntry()
    _apply_person(person, entry)
    person.left_on = left_on
    _write()
    return person


def _apply_person(person: ContactPerson, entry: PersonInput) -> None:
    person.name = entry.name
    person.role = entry.role
    person.phone = entry.phone
    person.email = entry.email


def current_persons(organisation: Organisation) -> list[ContactPerson]:
    """Who can be contacted there now, by name."""
    return sorted(
        (person for person in organisation.persons if person.is_current),
        key=lambda person: normalise_name(person.name),
    )
