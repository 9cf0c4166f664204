"""The demo's directory and contacts, written through the services: each patient's employer
(with someone in HR), the national agencies, and for active cases a few contacts — an employer
call with a disclosure where the patient consented, a reconciliation meeting with
Försäkringskassan, an Arbetsförmedlingen contact for the unemployed — some with next steps due
this week (what the Today page then lists)."""

from __future__ import annotations

import random
from datetime import time, timedelta

from sqlalchemy import select

from coordinator import clock
from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.contacts import directory, service
from coordinator.contacts.models import (
    Channel,
    ContactKind,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.extensions import db
from coordinator.patients.models import Employment, Patient

#: The national agencies every coordinator contacts (their real organisation numbers).
AGENCIES = {
    OrganisationType.SOCIAL_INSURANCE: ("Försäkringskassan", "202100-5521"),
    OrganisationType.EMPLOYMENT_SERVICE: ("Arbetsförmedlingen", "202100-2114"),
}
HR_NAMES = ("Lena Personaldemo", "Mats HR-exempel", "Sara Chefdemo", "Karl Provchef")


def _find(type_: OrganisationType, name: str) -> Organisation | None:
    return db.session.scalars(
        select(Organisation).where(
            Organisation.type == type_, Organisation.name_key == directory.name_key(name)
        )
    ).first()


def organisation(actor: Actor, type_: OrganisationType, name: str) -> Organisation:
    """The directory's entry of that kind and name, added the first time it is needed."""
    found = _find(type_, name)
    if found is not None:
        return found
    number = AGENCIES[type_][1] if type_ in AGENCIES else None
    created = directory.create_organisation(
        actor, directory.OrganisationInput(type_, name, org_number=number)
    )
    if type_ is OrganisationType.EMPLOYER:
        rng = random.Random(name)  # noqa: S311 (fiction, not secrets)
        directory.add_person(actor, created, directory.PersonInput(
            rng.choice(HR_NAMES), "HR", f"070-174 06 {rng.randrange(5, 100):02d}",
        ))  # fmt: skip
    return created


def set_employer(actor: Actor, patient: Patient, name: str) -> None:
    employer = organisation(actor, OrganisationType.EMPLOYER, name)
    service.set_employer(actor, patient, employer, employer.persons[0])


def add(actor: Actor, patient: Patient, seed: str) -> None:
    """Contacts for an active case (after its consents, plan and treatments)."""
    rng = random.Random(seed + "contacts")  # noqa: S311 (fiction, not secrets)
    day = clock.today()
    if patient.employer is not None and rng.random() < 0.6:
        employer = patient.employer
        recipient = consents.Recipient(consents.ConsentKind.EMPLOYER, employer.name)
        # Consents are recorded today in the demo: a call today can disclose, an earlier not.
        called_on = day - timedelta(days=rng.choice((0, 0, 2, 5)))
        may_tell = consents.check(patient, recipient, called_on).allowed
        service.log_contact(actor, patient, service.ContactInput(
            employer, called_on, time(10, 15) if called_on < day else None, Channel.PHONE,
            ContactKind.PLANNING, Initiator.CARE, person=patient.employer_manager,
            notes="Pratade om möjliga anpassningar: kortare pass och färre tunga lyft.",
            is_disclosure=may_tell,
            disclosed="Att patienten är sjukskriven på halvtid och behöver anpassade "
            "arbetsuppgifter." if may_tell else None,
            next_step="Trepartssamtal på arbetsplatsen",
            next_step_on=day + timedelta(days=rng.randrange(0, 10)),
        ))  # fmt: skip
    agency = AGENCIES[OrganisationType.SOCIAL_INSURANCE][0]
    if rng.random() < 0.4:
        social_insurance = organisation(actor, OrganisationType.SOCIAL_INSURANCE, agency)
        service.log_contact(actor, patient, service.ContactInput(
            social_insurance, day - timedelta(days=rng.randrange(3, 20)), time(13, 0),
            Channel.VIDEO, ContactKind.RECONCILIATION_MEETING, Initiator.EXTERNAL,
            notes="Avstämningsmöte med handläggare, patienten och arbetsgivaren.",
        ))  # fmt: skip
    if patient.employment is Employment.UNEMPLOYED:
        name = AGENCIES[OrganisationType.EMPLOYMENT_SERVICE][0]
        employment_service = organisation(actor, OrganisationType.EMPLOYMENT_SERVICE, name)
        service.log_contact(actor, patient, service.ContactInput(
            employment_service, day - timedelta(days=rng.randrange(1, 10)), time(9, 30),
            Channel.PHONE, ContactKind.PLANNING, Initiator.CARE,
            notes="Gemensam planering inför arbetsträning.",
            next_step="Boka möte om arbetsträning", next_step_on=day + timedelta(days=5),
        ))  # fmt: skip
