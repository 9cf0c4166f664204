"""Builders for the contacts tests: organisations, people and contacts written through the
services, patients of a given employment, and what was written."""

from __future__ import annotations

import itertools
from datetime import time
from typing import Any

from sqlalchemy import func, select

from coordinator.access import Actor
from coordinator.consents.models import Disclosure
from coordinator.contacts import directory
from coordinator.contacts.models import (
    Channel,
    ContactEvent,
    ContactKind,
    ContactPerson,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.contacts.service import ContactInput
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry
from coordinator.patients import service as patients
from coordinator.patients.models import Employment, Patient
from tests.patients.support import TODAY, personnummer


def organisation(
    actor: Actor,
    type_: OrganisationType = OrganisationType.EMPLOYER,
    name: str = "ACME AB",
    **kw: Any,
) -> Organisation:
    """An organisation added to the directory by ``actor``."""
    return directory.create_organisation(actor, directory.OrganisationInput(type_, name, **kw))


def person(
    actor: Actor,
    at: Organisation,
    name: str = "Lena Ek",
    role: str | None = "HR",
    phone: str | None = "036-10 10 10",
    email: str | None = "lena.ek@acme.se",
) -> ContactPerson:
    """A contact person added at ``at`` by ``actor``."""
    return directory.add_person(actor, at, directory.PersonInput(name, role, phone, email))


def contact_input(organisation: Organisation | None, **kw: Any) -> ContactInput:
    """A phone call for information that care initiated, today at half past nine."""
    values: dict[str, Any] = {
        "occurred_on": TODAY, "occurred_time": time(9, 30), "channel": Channel.PHONE,
        "kind": ContactKind.INFORMATION, "initiated_by": Initiator.CARE,
    }  # fmt: skip
    values.update(kw)
    return ContactInput(organisation=organisation, **values)


_serials = itertools.count()


def register_as(
    actor: Actor, last_name: str, employment: Employment, first_name: str = "Test"
) -> Patient:
    """A patient registered by ``actor`` with ``employment`` (born 1975, a serial of their own)."""
    number = personnummer("19750315", 100 + next(_serials) % 900)
    details = patients.PatientDetails(first_name, last_name, employment=employment)
    return patients.register_patient(actor, number, details)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


#: Every table logging a contact may write to.
WRITTEN = (ContactEvent, Disclosure, CaseJournalEntry, ContactPerson, Organisation, AccessLogEntry)


def written() -> dict[str, int]:
    """How many rows each table logging a contact may write to has."""
    return {model.__tablename__: count(model) for model in WRITTEN}
