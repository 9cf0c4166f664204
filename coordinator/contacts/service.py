"""The contact log: every contact with an external actor about a patient, consent-gated.

* :func:`log_contact` — a contact as it happened; a disclosure in it goes through the consent
  service's gate (one call), and the contact is a case journal entry;
* :func:`timeline` — the patient's contacts, newest first, each with its reimbursement verdict
  (logged as a read);
* :func:`reimbursement` — whether a contact counts under the state agreement, and why;
* :func:`set_employer` — the patient's employer in the directory, and their manager there.

The patient is always loaded through :mod:`coordinator.patients.service` first (unit scoping);
contacts are only ever reached through their patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from coordinator import clock
from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.consents.models import Consent
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
from coordinator.errors import InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients import cases
from coordinator.patients.models import Patient
from coordinator.patients.permissions import require_coordinator
from coordinator.patients.service import in_unit
from coordinator.plans.common import case_for_recording
from coordinator.plans.models import Measure, PlanVersion, RehabPlan, Treatment
from coordinator.validation import past_day, text

NOTES_MAX = 2000
NEXT_STEP_MAX = 500
#: How far ahead a next step may be set.
NEXT_STEP_HORIZON = timedelta(days=366)
#: A contact "now" may be a few minutes ahead of the server's clock.
CLOCK_SLACK = timedelta(minutes=5)

#: Prefix of the log form's fields for a contact person added with the contact.
NEW_PERSON = "new_person_"
#: The actors whose contacts the state agreement reimburses (seed 002: employer and AF).
REIMBURSED_TYPES = (OrganisationType.EMPLOYER, OrganisationType.EMPLOYMENT_SERVICE)


@dataclass
class ContactInput:
    """What the log-a-contact form collects."""

    organisation: Organisation | None
    occurred_on: date
    occurred_time: time | None = None
    channel: Channel = Channel.PHONE
    kind: ContactKind = ContactKind.INFORMATION
    initiated_by: Initiator = Initiator.CARE
    person: ContactPerson | None = None
    #: A person not yet in the directory, added at the organisation with the contact.
    new_person: directory.PersonInput | None = None
    notes: str | None = None
    #: Information about the patient was disclosed, and in short what.
    is_disclosure: bool = False
    disclosed: str | None = None
    measure_uid: uuid.UUID | None = None
    next_step: str | None = None
    next_step_on: date | None = None


# -- Rules of a contact ----------------------------------------------------------------------


def _check_actor(patient: Patient, organisation: Organisation, kind: ContactKind) -> None:
    if organisation.type is OrganisationType.EMPLOYER and not patient.employment.has_employer:
        raise InvalidField(
            "organisation",
            _l("The patient is %(employment)s and has no employer to contact; contacts about "
               "work go through Arbetsförmedlingen.",
               employment=patient.employment.label.lower()),
        )  # fmt: skip
    if kind is ContactKind.RECONCILIATION_MEETING and (
        organisation.type is not OrganisationType.SOCIAL_INSURANCE
    ):
        raise InvalidField(
            "kind", _l("A reconciliation meeting is held with Försäkringskassan; choose it.")
        )
    if (
        kind is ContactKind.THREE_PARTY_MEETING
        and organisation.type is not OrganisationType.EMPLOYER
    ):
        raise InvalidField(
            "kind", _l("A three-party meeting is held with the employer; choose the employer.")
        )


def _occurred_at(entry: ContactInput, now: datetime) -> datetime:
    today = now.astimezone(clock.LOCAL_ZONE).date()
    past_day(entry.occurred_on, "occurred_on", today)
    moment = datetime.combine(entry.occurred_on, entry.occurred_time or time(12, 0),
                              clock.LOCAL_ZONE)  # fmt: skip
    if entry.occurred_time is None and entry.occurred_on == today:
        moment = min(moment, now)  # no time given today: "earlier today", not noon ahead
    if moment > now + CLOCK_SLACK:
        raise InvalidField("occurred_time", _l("A logged contact has happened: the time is later "
                                               "than now."))  # fmt: skip
    return moment


def _measure(patient: Patient, measure_uid: uuid.UUID | None) -> Measure | None:
    if measure_uid is None:
        return None
    measure = db.session.scalars(
        select(Measure)
        .join(PlanVersion, Measure.version_id == PlanVersion.id)
        .join(RehabPlan, PlanVersion.plan_id == RehabPlan.id)
        .where(RehabPlan.patient_id == patient.id, Measure.uid == measure_uid)
    ).first()
    if measure is None:
        raise InvalidField("measure", _l("Choose one of the measures in the patient's plan."))
    return measure


def _disclosed(entry: ContactInput) -> str | None:
    disclosed = text(entry.disclosed, "disclosed", consents.SUMMARY_MAX)
    if entry.is_disclosure and disclosed is None:
        raise InvalidField("disclosed", _l("Say in short what was disclosed."))
    if not entry.is_disclosure and disclosed is not None:
        raise InvalidField(
            "is_disclosure", _l("Tick that information was disclosed, or empty what was disclosed.")
        )
    return disclosed


def _next_step(entry: ContactInput) -> tuple[str | None, date | None]:
    step = text(entry.next_step, "next_step", NEXT_STEP_MAX)
    on = entry.next_step_on
    if on is not None:
        if step is None:
            raise InvalidField("next_step", _l("Say what the next step is."))
        if on < entry.occurred_on:
            raise InvalidField("next_step_on", _l("The next step cannot come before the contact."))
        if on > clock.today() + NEXT_STEP_HORIZON:
            raise InvalidField("next_step_on", _l("At most a year ahead."))
    return step, on


def _check_person(organisation: Organisation, entry: ContactInput) -> None:
    if entry.person is not None and entry.person.organisation_id != organisation.id:
        raise InvalidField(
            "person",
            _l("%(person)s is not a contact person at %(organisation)s; choose one of its "
               "people.", person=entry.person.name, organisation=organisation.name),
        )  # fmt: skip
    if entry.new_person is not None:
        directory.validated_person(entry.new_person, prefix=NEW_PERSON)


# -- Logging a contact -----------------------------------------------------------------------


def log_contact(actor: Actor, patient: Patient, entry: ContactInput) -> ContactEvent:
    """Log a contact about ``patient``. Every check runs before anything is written; a
    disclosure without the matching consent on the contact's day is then refused by the
    consent gate (which logs the denied attempt) and nothing else is kept."""
    case = case_for_recording(actor, patient)
    organisation = entry.organisation
    if organisation is None:
        raise InvalidField("organisation", _l("Choose who the contact was with."))
    _check_actor(patient, organisation, entry.kind)
    occurred_at = _occurred_at(entry, clock.now())
    notes = text(entry.notes, "notes", NOTES_MAX)
    disclosed = _disclosed(entry)
    consent_kind = organisation.type.consent_kind
    if disclosed is not None and consent_kind is None:
        raise InvalidField(
            "disclosed",
            _l("Nothing about the patient may be disclosed to an organisation of the kind "
               "Other: no consent can cover it. Correct the organisation's kind in the "
               "directory if it is, say, an employer."),
        )  # fmt: skip
    measure = _measure(patient, entry.measure_uid)
    step, step_on = _next_step(entry)
    _check_person(organisation, entry)
    disclosure = None
    if disclosed is not None and consent_kind is not None:
        disclosure = consents.disclose(
            actor, patient, consents.Recipient(consent_kind, organisation.name),
            entry.occurred_on, disclosed, attempt="contact", in_journal=False,
        )  # fmt: skip
    person = entry.person
    if person is None and entry.new_person is not None:
        person = directory.add_person(actor, organisation, entry.new_person, prefix=NEW_PERSON)
    contact = ContactEvent(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        case_id=case.id,
        organisation_id=organisation.id,
        contact_person_id=person.id if person else None,
        occurred_at=occurred_at,
        channel=entry.channel,
        kind=entry.kind,
        initiated_by=entry.initiated_by,
        disclosure_id=disclosure.id if disclosure else None,
        measure_id=measure.id if measure else None,
        next_step_on=step_on,
        recorded_by_id=actor.user.id,
        recorded_at=clock.now(),
    )
    contact.notes = notes
    contact.next_step = step
    db.session.add(contact)
    db.session.flush()
    _journal_contact(actor, patient, contact, organisation, person, disclosed)
    journal.record_access(actor, patient, AccessAction.CREATE, "contact", contact.uid.hex)
    return contact


def _journal_contact(
    actor: Actor,
    patient: Patient,
    contact: ContactEvent,
    organisation: Organisation,
    person: ContactPerson | None,
    disclosed: str | None,
) -> None:
    local = contact.occurred_at.astimezone(clock.LOCAL_ZONE)
    journal.record_event(
        actor,
        patient,
        EntryKind.CONTACT_LOGGED,
        _l("Contact with %(organisation)s: %(kind)s", organisation=organisation.name,
           kind=contact.kind.lazy_label),
        _l("%(channel)s on %(when)s, initiated by %(who)s.", channel=contact.channel.lazy_label,
           when=local.strftime("%Y-%m-%d %H:%M"), who=_lower(contact.initiated_by.lazy_label)),
        _l("Contact person: %(name)s.", name=person.name) if person else "",
        contact.notes or "",
        _l("Disclosed about the patient: %(summary)s", summary=disclosed) if disclosed else
        _l("Nothing about the patient was disclosed."),
        _l("Next step: %(step)s (%(date)s).", step=contact.next_step,
           date=contact.next_step_on.isoformat()) if contact.next_step and contact.next_step_on
        else _l("Next step: %(step)s.", step=contact.next_step) if contact.next_step else "",
    )  # fmt: skip


def _lower(label: object) -> LazyString:
    """A label put mid-sentence, lower-cased when the entry is rendered in its language."""
    return LazyString(lambda: str(label).lower())


# -- Reimbursement under the state agreement ---------------------------------------------------


class Condition(StrEnum):
    """The reimbursement rule's conditions (the quarterly report counts failures by them)."""

    ACTOR = "actor"
    INITIATED_BY_CARE = "initiated_by_care"
    CONSENT = "consent"
    TREATMENT = "treatment"


@dataclass(frozen=True)
class Criterion:
    """One condition of the reimbursement rule, met or not, in words for the user."""

    condition: Condition
    is_met: bool
    text: str


@dataclass(frozen=True)
class Reimbursement:
    """The facts the rule judges a contact by; the words for each condition are made only
    when shown (a quarterly report judges thousands of contacts and shows few)."""

    organisation_type: OrganisationType
    initiated_by: Initiator
    #: The consent decision for the organisation on the contact's day; None when no consent
    #: can cover an organisation of its type.
    decision: consents.Decision | None
    #: A treatment under the agreement is recorded in the contact's case.
    treated: bool

    @property
    def met(self) -> dict[Condition, bool]:
        return {
            Condition.ACTOR: self.organisation_type in REIMBURSED_TYPES,
            Condition.INITIATED_BY_CARE: self.initiated_by is Initiator.CARE,
            Condition.CONSENT: self.decision is not None and self.decision.allowed,
            Condition.TREATMENT: self.treated,
        }

    @property
    def counts(self) -> bool:
        return all(self.met.values())

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(self._criterion(condition, ok) for condition, ok in self.met.items())

    @property
    def failed(self) -> list[Criterion]:
        return [self._criterion(condition, False)
                for condition, ok in self.met.items() if not ok]  # fmt: skip

    def _criterion(self, condition: Condition, is_met: bool) -> Criterion:
        return Criterion(condition, is_met, str(self._text(condition, is_met)))

    def _text(self, condition: Condition, is_met: bool) -> object:
        if condition is Condition.ACTOR:
            return _l("With an employer or Arbetsförmedlingen.") if is_met else _l(
                "Only contacts with an employer or Arbetsförmedlingen count; this was %(type)s.",
                type=self.organisation_type.label)  # fmt: skip
        if condition is Condition.INITIATED_BY_CARE:
            return _l("Initiated by the care unit.") if is_met else _l(
                "Initiated by %(who)s; only contacts the care unit initiated count.",
                who=self.initiated_by.label.lower())  # fmt: skip
        if condition is Condition.CONSENT:
            if is_met:
                return _l("With the patient's consent.")
            if self.decision is None:
                return _l("No consent can cover a contact of this kind.")
            return _l("No consent: %(why)s", why=self.decision.message)
        if is_met:
            return _l("The case has a treatment under the agreement.")
        return _l("No treatment under the agreement is recorded in the case.")


def judge(
    organisation_type: OrganisationType,
    organisation_name: str,
    initiated_by: Initiator,
    day: date,
    is_treated: bool,
    records: Iterable[Consent],
) -> Reimbursement:
    """The rule on plain facts (the quarterly report reads contacts as columns)."""
    consent_kind = organisation_type.consent_kind
    decision = (
        consents.decide(records, consents.Recipient(consent_kind, organisation_name), day)
        if consent_kind is not None
        else None
    )
    return Reimbursement(organisation_type, initiated_by, decision, is_treated)


def reimbursement(
    contact: ContactEvent, records: Iterable[Consent], treated_cases: set[int]
) -> Reimbursement:
    """Whether ``contact`` counts as reimbursable under the state agreement (seed 002: a
    contact with the employer or Arbetsförmedlingen, initiated by care, with the patient's
    consent, for a patient treated under the agreement), with each condition explained.

    ``records`` are the patient's consent records, ``treated_cases`` the ids of their cases
    with a treatment under the agreement. Computed, never stored: a consent withdrawn with an
    earlier date later on changes the answer, as it should.
    """
    organisation = contact.organisation
    return judge(
        organisation.type,
        organisation.name,
        contact.initiated_by,
        clock.local_day(contact.occurred_at),
        contact.case_id in treated_cases,
        records,
    )


def treated_cases(patient: Patient) -> set[int]:
    """The patient's cases with a treatment under the agreement."""
    return set(
        db.session.scalars(select(Treatment.case_id).where(Treatment.patient_id == patient.id))
    )


# -- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedContact:
    contact: ContactEvent
    reimbursement: Reimbursement


@dataclass(frozen=True)
class Timeline:
    contacts: list[LoggedContact]
    #: How many contacts each kind of actor had (the filter's counts; all of them).
    by_type: dict[OrganisationType, int] = field(default_factory=dict)


def contacts_of(patient: Patient) -> list[ContactEvent]:
    """The patient's contacts, newest first."""
    return list(
        db.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.patient_id == patient.id)
            .order_by(ContactEvent.occurred_at.desc(), ContactEvent.id.desc())
        )
    )


def timeline(
    actor: Actor,
    patient: Patient,
    only: OrganisationType | None = None,
    limit: int | None = None,
) -> Timeline:
    """The patient's contacts (of one kind of actor, or all), newest first, each with its
    reimbursement verdict; logged as a read of the contacts."""
    every = contacts_of(patient)
    journal.record_access(actor, patient, AccessAction.READ, "contacts")
    by_type: dict[OrganisationType, int] = {}
    for contact in every:
        by_type[contact.organisation.type] = by_type.get(contact.organisation.type, 0) + 1
    shown = [c for c in every if only is None or c.organisation.type is only][:limit]
    records = consents.records_of(patient) if shown else []
    treated = treated_cases(patient) if shown else set()
    return Timeline([LoggedContact(c, reimbursement(c, records, treated)) for c in shown], by_type)


def open_contact(actor: Actor, patient: Patient, contact_uid: uuid.UUID) -> LoggedContact:
    """One of the patient's contacts, logged as read (404 for any other)."""
    contact = db.session.scalars(
        select(ContactEvent).where(
            ContactEvent.patient_id == patient.id, ContactEvent.uid == contact_uid
        )
    ).first()
    if contact is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "contact", contact.uid.hex)
    verdict = reimbursement(contact, consents.records_of(patient), treated_cases(patient))
    return LoggedContact(contact, verdict)


def measures_for_contacts(actor: Actor, patient: Patient) -> list[Measure]:
    """The measures a new contact can serve: the pending ones of the patient's latest plan
    version (the draft being worked on, or the version in force); logged as a read of the plan
    when there are any to show."""
    case = cases.current_case(patient)
    if case is None:
        return []
    version = db.session.scalars(
        select(PlanVersion)
        .join(RehabPlan, PlanVersion.plan_id == RehabPlan.id)
        .where(RehabPlan.case_id == case.id)
        .order_by(PlanVersion.number.desc())
    ).first()
    if version is None:
        return []
    pending = [measure for measure in version.measures if measure.status.is_pending]
    if pending:
        journal.record_access(actor, patient, AccessAction.READ, "plan")
    return pending


def organisations_for_contacts(patient: Patient) -> list[Organisation]:
    """What the log form offers first: the patient's employer (if they can have one), the
    organisations already contacted about them, and every agency — by kind, then name.
    Other employers are found through the directory."""
    seen = set(
        db.session.scalars(
            select(ContactEvent.organisation_id).where(ContactEvent.patient_id == patient.id)
        )
    )
    if patient.employer_id is not None and patient.employment.has_employer:
        seen.add(patient.employer_id)
    statement = (
        select(Organisation)
        .where(Organisation.id.in_(seen) | Organisation.type.not_in([OrganisationType.EMPLOYER]))
        .options(selectinload(Organisation.persons))
    )
    found = list(db.session.scalars(statement))
    if not patient.employment.has_employer:
        found = [o for o in found if o.type is not OrganisationType.EMPLOYER]
    order = list(OrganisationType)
    return sorted(found, key=lambda o: (order.index(o.type), o.name_key))


# -- The patient's employer ----------------------------------------------------------------------


def set_employer(
    actor: Actor,
    patient: Patient,
    organisation: Organisation | None,
    manager: ContactPerson | None = None,
) -> bool:
    """Link the patient to their employer in the directory (None: no employer), and to their
    manager there. Returns whether anything changed."""
    require_coordinator(actor)
    if organisation is not None:
        if not patient.employment.has_employer:
            raise InvalidField(
                "organisation",
                _l("The patient is %(employment)s and has no employer; change their employment "
                   "first if that is wrong.", employment=patient.employment.label.lower()),
            )  # fmt: skip
        if organisation.type is not OrganisationType.EMPLOYER:
            raise InvalidField(
                "organisation", _l("%(name)s is not an employer in the directory.",
                                   name=organisation.name),
            )  # fmt: skip
    if manager is not None and (organisation is None or manager.organisation_id != organisation.id):
        raise InvalidField("manager", _l("Choose the manager among the employer's people."))
    new = (organisation.id if organisation else None, manager.id if manager else None)
    if new == (patient.employer_id, patient.employer_manager_id):
        return False
    patient.employer_id, patient.employer_manager_id = new
    db.session.flush()
    db.session.refresh(patient, ["employer", "employer_manager"])
    journal.record_event(
        actor,
        patient,
        EntryKind.PATIENT_UPDATED,
        _l("Employer changed"),
        _l("Employer: %(name)s.", name=organisation.name) if organisation else
        _l("No employer recorded."),
        _l("Manager: %(name)s.", name=manager.name) if manager else "",
    )  # fmt: skip
    journal.record_access(actor, patient, AccessAction.CHANGE, "patient", patient.uid.hex)
    return True


def patients_employed_at(actor: Actor, organisation: Organisation) -> Sequence[Patient]:
    """The patients of the actor's unit whose employer it is, by name (each logged as read);
    none for an organisation that is not an employer."""
    if organisation.type is not OrganisationType.EMPLOYER:
        return []
    patients = sorted(
        db.session.scalars(in_unit(actor).where(Patient.employer_id == organisation.id)),
        key=lambda p: (p.last_name.casefold(), p.first_name.casefold()),
    )
    journal.record_accesses(actor, patients, AccessAction.READ, "employer")
    return patients


def contacts_with(actor: Actor, organisation: Organisation, limit: int = 50) -> list[ContactEvent]:
    """The latest contacts with ``organisation`` about patients of the actor's unit (each
    patient logged as read)."""
    unit_patients = in_unit(actor).with_only_columns(Patient.id)
    found = list(
        db.session.scalars(
            select(ContactEvent)
            .where(
                ContactEvent.organisation_id == organisation.id,
                ContactEvent.patient_id.in_(unit_patients),
            )
            .order_by(ContactEvent.occurred_at.desc(), ContactEvent.id.desc())
            .limit(limit)
            .options(selectinload(ContactEvent.patient))
        )
    )
    patients = {c.patient_id: c.patient for c in found}
    journal.record_accesses(actor, list(patients.values()), AccessAction.READ, "contacts")
    return found
