"""Logging a contact: a disclosure goes through the consent gate for every kind of recipient
(refused without the matching consent on the contact's day, the attempt logged and nothing
else), a contact without disclosure needs no consent, bad input is refused before anything is
written, a person met for the first time joins the directory, closed cases and managers are
refused, and a logged contact is history that neither the ORM nor the database lets change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from flask import Flask
from sqlalchemy import Table, select, text, update
from sqlalchemy.exc import DatabaseError

from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.consents.service import ConsentMissing, ConsentStatus
from coordinator.contacts import service
from coordinator.contacts.directory import PersonInput
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
from coordinator.database import AppendOnlyError
from coordinator.errors import Forbidden, InvalidField
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.patients.cases import CaseClosed
from coordinator.patients.models import CaseOutcome, Employment, Patient
from tests.conftest import World
from tests.consents.support import give, june, logged, refuse
from tests.contacts.support import (
    contact_input,
    count,
    organisation,
    person,
    register_as,
    written,
)
from tests.crypto.support import actor_for, stored
from tests.databases import is_postgres
from tests.patients.support import NOW, TODAY, activate, at, entries, last_access_seq, register
from tests.plans.support import agreed_plan

pytestmark = pytest.mark.usefixtures("frozen")

SUMMARY = "Att patienten är sjukskriven på halvtid och behöver kortare pass."

#: Every kind of organisation a disclosure can go to, with the consent it needs.
RECIPIENTS = [t for t in OrganisationType if t.consent_kind is not None]


def disclosing(organisation: Organisation, **kw: object) -> ContactInput:
    """A call today at half past nine in which ``SUMMARY`` was told."""
    return contact_input(organisation, is_disclosure=True, disclosed=SUMMARY, **kw)


def with_one_more_access_entry(counts: dict[str, int]) -> dict[str, int]:
    return {**counts, "access_log": counts["access_log"] + 1}


def test_every_kind_but_other_needs_its_own_consent() -> None:
    assert {t: t.consent_kind for t in OrganisationType} == {
        OrganisationType.EMPLOYER: ConsentKind.EMPLOYER,
        OrganisationType.SOCIAL_INSURANCE: ConsentKind.SOCIAL_INSURANCE,
        OrganisationType.EMPLOYMENT_SERVICE: ConsentKind.EMPLOYMENT_SERVICE,
        OrganisationType.MUNICIPALITY: ConsentKind.MUNICIPALITY,
        OrganisationType.OCCUPATIONAL_HEALTH: ConsentKind.OCCUPATIONAL_HEALTH,
        OrganisationType.CARE_PROVIDER: ConsentKind.CARE_PROVIDER,
        OrganisationType.OTHER: None,
    }


# -- The consent gate, for each kind of recipient ---------------------------------------------


@pytest.mark.parametrize("type_", RECIPIENTS, ids=[t.value for t in RECIPIENTS])
def test_a_disclosure_without_consent_is_refused_and_only_the_attempt_is_logged(
    me: Actor, active_patient: Patient, type_: OrganisationType
) -> None:
    recipient, kind = organisation(me, type_, "ACME AB"), type_.consent_kind
    assert kind is not None
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(recipient))

    decision = refused.value.decision
    assert (decision.status, decision.recipient, decision.on) == (
        ConsentStatus.NONE,
        consents.Recipient(kind, "ACME AB"),
        TODAY,
    )
    assert (refused.value.kind, refused.value.status_code) == (kind, 409)
    assert logged(mark) == [("denied", "contact", kind.value)]
    assert written() == with_one_more_access_entry(before)
    assert (count(ContactEvent), count(Disclosure)) == (0, 0)


@pytest.mark.parametrize("type_", RECIPIENTS, ids=[t.value for t in RECIPIENTS])
def test_a_disclosure_with_consent_given_on_the_contact_day_is_logged_with_it(
    me: Actor, active_patient: Patient, type_: OrganisationType
) -> None:
    recipient, kind = organisation(me, type_, "ACME AB"), type_.consent_kind
    assert kind is not None
    consent = give(me, active_patient, kind, june(12))
    journal_before, mark = len(entries(active_patient)), last_access_seq()

    contact = service.log_contact(
        me, active_patient, disclosing(recipient, occurred_on=june(12), occurred_time=time(14))
    )

    (disclosure,) = db.session.scalars(select(Disclosure)).all()
    assert contact.disclosure_id == disclosure.id
    assert (disclosure.consent_id, disclosure.recipient, disclosure.recipient_name) == (
        consent.id,
        type_.consent_kind,
        "ACME AB",
    )
    assert (disclosure.disclosed_on, disclosure.summary, disclosure.patient_id) == (
        june(12),
        SUMMARY,
        active_patient.id,
    )
    (entry,) = entries(active_patient)[journal_before:]
    assert entry.kind is EntryKind.CONTACT_LOGGED
    assert f"Lämnat ut om patienten: {SUMMARY}" in entry.body
    assert logged(mark) == [
        ("disclose", "disclosure", disclosure.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
        ("create", "contact", contact.uid.hex),
    ]


def test_an_employer_call_with_disclosure_is_written_in_full(
    me: Actor, active_patient: Patient, employer: Organisation, hr: ContactPerson
) -> None:
    consent = give(me, active_patient, ConsentKind.EMPLOYER, june(1), name="acme ab")
    journal_before = len(entries(active_patient))

    contact = service.log_contact(
        me,
        active_patient,
        disclosing(
            employer, occurred_on=june(12), occurred_time=time(14, 5), person=hr,
            notes="  Pratade om kortare pass. ", next_step=" Trepartssamtal ",
            next_step_on=june(18),
        ),
    )  # fmt: skip

    case = cases.current_case(active_patient)
    assert case is not None
    assert (contact.patient_id, contact.unit_id, contact.case_id) == (
        active_patient.id,
        active_patient.unit_id,
        case.id,
    )
    assert (contact.organisation_id, contact.contact_person_id, contact.occurred_at) == (
        employer.id,
        hr.id,
        at(june(12), 14, 5),
    )
    assert (contact.channel, contact.kind, contact.initiated_by) == (
        Channel.PHONE,
        ContactKind.INFORMATION,
        Initiator.CARE,
    )
    assert (contact.notes, contact.next_step, contact.next_step_on, contact.measure_id) == (
        "Pratade om kortare pass.",
        "Trepartssamtal",
        june(18),
        None,
    )
    assert (contact.recorded_by_id, contact.recorded_at, contact.is_disclosure) == (
        me.user.id,
        NOW,
        True,
    )
    assert contact.disclosure is not None
    assert contact.disclosure.consent_id == consent.id
    (entry,) = entries(active_patient)[journal_before:]
    assert (entry.kind, entry.heading) == (
        EntryKind.CONTACT_LOGGED,
        "Kontakt med ACME AB: Information",
    )
    assert entry.body == (
        "Telefon 2026-06-12 14:05, initierad av vårdenheten. Kontaktperson: Lena Ek. "
        f"Pratade om kortare pass. Lämnat ut om patienten: {SUMMARY} "
        "Nästa steg: Trepartssamtal (2026-06-18)."
    )
    assert entries(active_patient, EntryKind.DISCLOSURE) == []


def test_a_consent_naming_another_recipient_does_not_cover_the_organisation(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1), name="Other AB")
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(employer))

    assert refused.value.decision.status is ConsentStatus.WRONG_RECIPIENT
    assert str(refused.value) == "The patient's consent for Employer covers only Other AB."
    assert logged(mark) == [("denied", "contact", "employer")]
    assert written() == with_one_more_access_entry(before)


def test_a_withdrawn_consent_blocks_from_its_withdrawal_day(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    consent = give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    consents.withdraw(me, active_patient, consent, june(10), None)
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(employer, occurred_on=june(10)))

    assert refused.value.decision.status is ConsentStatus.WITHDRAWN
    assert str(refused.value) == (
        "The patient withdrew the consent for Employer (ACME AB) on 2026-06-10."
    )
    assert logged(mark) == [("denied", "contact", "employer")]
    assert written() == with_one_more_access_entry(before)
    # A call the day before the withdrawal was still covered.
    earlier = service.log_contact(me, active_patient, disclosing(employer, occurred_on=june(9)))
    assert earlier.disclosure is not None
    assert earlier.disclosure.consent_id == consent.id


def test_a_refusal_blocks(me: Actor, active_patient: Patient, employer: Organisation) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    refuse(me, active_patient, ConsentKind.EMPLOYER, june(5))
    before = written()

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(employer))

    assert refused.value.decision.status is ConsentStatus.REFUSED
    assert written() == with_one_more_access_entry(before)


def test_a_consent_given_after_the_contact_does_not_cover_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(13))
    before = written()

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(employer, occurred_on=june(12)))

    assert refused.value.decision.status is ConsentStatus.NOT_YET_GIVEN
    assert str(refused.value) == (
        "The consent for Employer (ACME AB) was given on 2026-06-13, after 2026-06-12."
    )
    assert written() == with_one_more_access_entry(before)


def test_a_consent_of_another_kind_does_not_cover(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.OCCUPATIONAL_HEALTH, june(1))

    with pytest.raises(ConsentMissing) as refused:
        service.log_contact(me, active_patient, disclosing(employer))

    assert refused.value.decision.status is ConsentStatus.NONE


# -- Contacts without a disclosure -------------------------------------------------------------


def test_a_contact_without_disclosure_needs_no_consent(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    journal_before, mark = len(entries(active_patient)), last_access_seq()

    contact = service.log_contact(
        me, active_patient,
        contact_input(employer, occurred_time=None, initiated_by=Initiator.EXTERNAL,
                      notes="Arbetsgivaren ringde och frågade hur det går."),
    )  # fmt: skip

    assert (contact.disclosure_id, contact.is_disclosure, contact.occurred_at) == (
        None,
        False,
        NOW,  # no time given today: now, not noon
    )
    assert count(Disclosure) == 0
    (entry,) = entries(active_patient)[journal_before:]
    assert entry.body == (
        "Telefon 2026-06-15 10:00, initierad av den externa parten. "
        "Arbetsgivaren ringde och frågade hur det går. Inget om patienten lämnades ut."
    )
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("create", "contact", contact.uid.hex),
    ]


@pytest.mark.parametrize(
    ("initiator", "words"),
    [
        (Initiator.CARE, "vårdenheten"),
        (Initiator.EXTERNAL, "den externa parten"),
        (Initiator.PATIENT, "patienten"),
    ],
)
def test_the_journal_says_who_initiated_the_contact_in_running_text(
    me: Actor, active_patient: Patient, employer: Organisation, initiator: Initiator, words: str
) -> None:
    service.log_contact(me, active_patient, contact_input(employer, initiated_by=initiator))

    (entry,) = entries(active_patient, EntryKind.CONTACT_LOGGED)
    assert entry.body.startswith(f"Telefon 2026-06-15 09:30, initierad av {words}. ")


def test_a_contact_without_time_on_an_earlier_day_is_put_at_noon(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    contact = service.log_contact(
        me, active_patient, contact_input(employer, occurred_on=june(12), occurred_time=None)
    )

    assert contact.occurred_at == at(june(12), 12)


def test_an_organisation_of_the_kind_other_may_be_contacted_but_told_nothing(
    me: Actor, active_patient: Patient
) -> None:
    neighbour = organisation(me, OrganisationType.OTHER, "Bostadsbolaget")
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.log_contact(me, active_patient, disclosing(neighbour))

    assert refused.value.field == "disclosed"
    assert written() == before  # not even a denied attempt: no consent could cover it
    contact = service.log_contact(me, active_patient, contact_input(neighbour))
    assert contact.disclosure_id is None


# -- Bad input: nothing written -----------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """Lars Lind's employer ACME AB (Lena Ek in HR), Försäkringskassan, an organisation of the
    kind "other", and another employer with a person of its own."""

    acme: Organisation
    lena: ContactPerson
    fk: Organisation
    other_kind: Organisation
    other_employer: Organisation
    stranger: ContactPerson


@pytest.fixture
def scene(me: Actor, employer: Organisation, hr: ContactPerson) -> Scene:
    other_employer = organisation(me, OrganisationType.EMPLOYER, "Other AB")
    return Scene(
        employer,
        hr,
        organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan"),
        organisation(me, OrganisationType.OTHER, "Bostadsbolaget"),
        other_employer,
        person(me, other_employer, "Sven Svensson", email=None),
    )


A_YEAR_BACK = TODAY - timedelta(days=366)
A_YEAR_AHEAD = TODAY + timedelta(days=366)

BAD_INPUT: dict[str, tuple[Callable[[Scene], ContactInput], str]] = {
    "no-organisation": (lambda s: contact_input(None), "organisation"),
    "day-in-the-future": (lambda s: contact_input(s.acme, occurred_on=june(16)), "occurred_on"),
    "time-later-than-now": (
        lambda s: contact_input(s.acme, occurred_time=time(10, 6)),
        "occurred_time",
    ),
    "more-than-a-year-back": (
        lambda s: contact_input(s.acme, occurred_on=A_YEAR_BACK - timedelta(days=1)),
        "occurred_on",
    ),
    "disclosure-without-text": (
        lambda s: contact_input(s.acme, is_disclosure=True, disclosed="  "),
        "disclosed",
    ),
    "text-without-disclosure": (
        lambda s: contact_input(s.acme, disclosed=SUMMARY),
        "is_disclosure",
    ),
    "disclosure-too-long": (
        lambda s: contact_input(s.acme, is_disclosure=True, disclosed="x" * 2001),
        "disclosed",
    ),
    "disclosure-to-other": (lambda s: disclosing(s.other_kind), "disclosed"),
    "person-of-another-organisation": (lambda s: disclosing(s.acme, person=s.stranger), "person"),
    "reconciliation-meeting-with-employer": (
        lambda s: contact_input(s.acme, kind=ContactKind.RECONCILIATION_MEETING),
        "kind",
    ),
    "three-party-meeting-with-fk": (
        lambda s: contact_input(s.fk, kind=ContactKind.THREE_PARTY_MEETING),
        "kind",
    ),
    "next-step-day-without-step": (
        lambda s: disclosing(s.acme, next_step_on=june(18)),
        "next_step",
    ),
    "next-step-before-the-contact": (
        lambda s: disclosing(
            s.acme, occurred_on=june(10), next_step="Ring HR", next_step_on=june(9)
        ),
        "next_step_on",
    ),
    "next-step-more-than-a-year-ahead": (
        lambda s: disclosing(
            s.acme, next_step="Ring HR", next_step_on=A_YEAR_AHEAD + timedelta(days=1)
        ),
        "next_step_on",
    ),
    "next-step-too-long": (lambda s: disclosing(s.acme, next_step="x" * 501), "next_step"),
    "notes-too-long": (lambda s: disclosing(s.acme, notes="x" * 2001), "notes"),
    "unknown-measure": (lambda s: disclosing(s.acme, measure_uid=uuid.uuid4()), "measure"),
    "new-person-without-name": (
        lambda s: disclosing(s.acme, new_person=PersonInput("  ")),
        "new_person_name",
    ),
    "new-person-bad-email": (
        lambda s: disclosing(s.acme, new_person=PersonInput("Per Berg", email="per@acme")),
        "new_person_email",
    ),
    "new-person-bad-phone": (
        lambda s: disclosing(s.acme, new_person=PersonInput("Per Berg", phone="ring växeln")),
        "new_person_phone",
    ),
}


@pytest.mark.parametrize(("make", "field"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_refused_and_nothing_is_written(
    me: Actor,
    active_patient: Patient,
    scene: Scene,
    make: Callable[[Scene], ContactInput],
    field: str,
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))  # the gate would let it through
    entry = make(scene)
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.log_contact(me, active_patient, entry)

    assert refused.value.field == field
    assert written() == before


def test_the_messages_say_what_to_do(me: Actor, active_patient: Patient, scene: Scene) -> None:
    messages = {}
    for key in ("no-organisation", "time-later-than-now", "person-of-another-organisation",
                "three-party-meeting-with-fk", "disclosure-to-other"):  # fmt: skip
        with pytest.raises(InvalidField) as refused:
            service.log_contact(me, active_patient, BAD_INPUT[key][0](scene))
        messages[key] = str(refused.value)

    assert messages == {
        "no-organisation": "Choose who the contact was with.",
        "time-later-than-now": "A logged contact has happened: the time is later than now.",
        "person-of-another-organisation": (
            "Sven Svensson is not a contact person at ACME AB; choose one of its people."
        ),
        "three-party-meeting-with-fk": (
            "A three-party meeting is held with the employer; choose the employer."
        ),
        "disclosure-to-other": (
            "Nothing about the patient may be disclosed to an organisation of the kind Other: "
            "no consent can cover it. Correct the organisation's kind in the directory if it "
            "is, say, an employer."
        ),
    }


def test_the_limits_themselves_are_accepted(
    me: Actor, active_patient: Patient, scene: Scene
) -> None:
    accepted = [
        contact_input(scene.acme, occurred_time=time(10, 5)),  # within the clock's slack
        contact_input(scene.acme, occurred_on=A_YEAR_BACK, next_step="Ring",
                      next_step_on=A_YEAR_BACK),
        contact_input(scene.acme, next_step="Ring", next_step_on=A_YEAR_AHEAD),
        contact_input(scene.acme, next_step="Ring igen nästa vecka"),
        contact_input(scene.fk, kind=ContactKind.RECONCILIATION_MEETING, channel=Channel.VIDEO),
        contact_input(scene.acme, kind=ContactKind.THREE_PARTY_MEETING, person=scene.lena),
    ]  # fmt: skip

    logged_contacts = [service.log_contact(me, active_patient, entry) for entry in accepted]

    assert [c.occurred_at for c in logged_contacts[:3]] == [
        at(TODAY, 10, 5),
        at(A_YEAR_BACK, 9, 30),
        at(TODAY, 9, 30),
    ]
    assert [(c.next_step, c.next_step_on) for c in logged_contacts[1:4]] == [
        ("Ring", A_YEAR_BACK),
        ("Ring", A_YEAR_AHEAD),
        ("Ring igen nästa vecka", None),
    ]
    assert count(ContactEvent) == 6


@pytest.mark.parametrize("employment", [Employment.UNEMPLOYED, Employment.SELF_EMPLOYED])
def test_a_patient_without_an_employer_has_no_employer_contacts(
    me: Actor, employer: Organisation, employment: Employment
) -> None:
    patient = register_as(me, "Ek", employment)
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.log_contact(me, patient, contact_input(employer))

    assert refused.value.field == "organisation"
    assert str(refused.value) == (
        f"The patient is {employment.label.lower()} and has no employer to contact; contacts "
        "about work go through Arbetsförmedlingen."
    )
    assert written() == before
    employment_service = organisation(me, OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen")
    assert service.log_contact(me, patient, contact_input(employment_service)).patient_id == (
        patient.id
    )


def test_a_patient_who_lost_their_job_has_no_employer_contacts_from_then_on(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    service.log_contact(me, active_patient, contact_input(employer))
    patients.update_patient(
        me, active_patient,
        patients.PatientDetails("Lars", "Lind", employment=Employment.UNEMPLOYED),
    )  # fmt: skip
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.log_contact(me, active_patient, contact_input(employer))

    assert refused.value.field == "organisation"
    assert written() == before


def test_a_contact_serves_a_measure_of_the_patients_own_plan_only(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    own = agreed_plan(me, active_patient).versions[0].measures[0]
    other_patient = register(me, "Berg", "Anna")
    activate(me, other_patient)
    theirs = agreed_plan(me, other_patient).versions[0].measures[0]
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.log_contact(me, active_patient, contact_input(employer, measure_uid=theirs.uid))

    assert (refused.value.field, str(refused.value)) == (
        "measure",
        "Choose one of the measures in the patient's plan.",
    )
    assert written() == before
    contact = service.log_contact(me, active_patient, contact_input(employer, measure_uid=own.uid))
    assert contact.measure_id == own.id


# -- A new contact person, given with the contact --------------------------------------------


def test_a_person_met_for_the_first_time_joins_the_directory(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    journal_before = len(entries(active_patient))

    contact = service.log_contact(
        me, active_patient,
        disclosing(employer, new_person=PersonInput(" Per Berg ", "Chef", "070-123 45 67",
                                                    "Per.Berg@ACME.se")),
    )  # fmt: skip
    db.session.commit()

    (per,) = employer.persons
    assert contact.contact_person_id == per.id
    assert (per.name, per.role, per.phone, per.email, per.created_by_id) == (
        "Per Berg",
        "Chef",
        "070-123 45 67",
        "Per.Berg@acme.se",
        me.user.id,
    )
    (entry,) = entries(active_patient)[journal_before:]
    assert "Kontaktperson: Per Berg." in entry.body
    (row,) = db.session.execute(text("SELECT name, role, phone, email FROM contact_persons")).all()
    raw = b"\x00".join(bytes(value) for value in row)
    for value in ("Per Berg", "Chef", "123 45 67", "ACME.se", "acme.se"):
        assert value.encode() not in raw, value


def test_a_refused_disclosure_adds_no_new_person(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    with pytest.raises(ConsentMissing):
        service.log_contact(
            me, active_patient, disclosing(employer, new_person=PersonInput("Per Berg"))
        )

    assert (count(ContactPerson), employer.persons) == (0, [])


# -- Who may log, and when ---------------------------------------------------------------------


def test_a_closed_case_takes_no_contacts(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    cases.close(me, active_patient, CaseOutcome.RETURNED_FULL_TIME, TODAY)
    before = written()

    with pytest.raises(CaseClosed):
        service.log_contact(me, active_patient, disclosing(employer))

    assert written() == before


def test_a_manager_cannot_log_a_contact(
    me: Actor, manager: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    before = written()

    with pytest.raises(Forbidden):
        service.log_contact(manager, active_patient, disclosing(employer))
    with pytest.raises(Forbidden):
        service.log_contact(manager, active_patient, contact_input(employer))

    assert written() == before


# -- A contact is history ------------------------------------------------------------------------


@pytest.fixture
def logged_contact(app: Flask, world: World, frozen: object) -> int:
    """An employer call with a disclosure, committed; its id."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = register(me, "Lind", "Lars")
        acme = organisation(me)
        give(me, patient, ConsentKind.EMPLOYER, june(1))
        contact = service.log_contact(
            me, patient, disclosing(acme, notes="Pratade om pass.", next_step="Ring",
                                    next_step_on=june(18)),
        )  # fmt: skip
        db.session.commit()
        return contact.id


ORM_CHANGES: dict[str, Callable[[ContactEvent], None]] = {
    "kind": lambda c: setattr(c, "kind", ContactKind.OTHER),
    "occurred_at": lambda c: setattr(c, "occurred_at", at(june(1))),
    "notes": lambda c: setattr(c, "notes", "Något annat."),
    "next_step_on": lambda c: setattr(c, "next_step_on", None),
}


@pytest.mark.parametrize("change", ORM_CHANGES.values(), ids=ORM_CHANGES)
def test_the_orm_refuses_to_change_a_contact(
    app: Flask, logged_contact: int, change: Callable[[ContactEvent], None]
) -> None:
    with app.app_context():
        contact = db.session.get(ContactEvent, logged_contact)
        assert contact is not None
        change(contact)

        with pytest.raises(AppendOnlyError, match=r"^ContactEvent records are never changed$"):
            db.session.flush()
        db.session.rollback()


def test_the_orm_refuses_to_delete_a_contact(app: Flask, logged_contact: int) -> None:
    with app.app_context():
        db.session.delete(db.session.get(ContactEvent, logged_contact))

        with pytest.raises(AppendOnlyError, match=r"^ContactEvent records are never deleted$"):
            db.session.commit()
        db.session.rollback()

        assert db.session.get(ContactEvent, logged_contact) is not None


REFUSED_SQL = {
    "kind": "UPDATE contact_events SET kind = 'other'",
    "day": "UPDATE contact_events SET occurred_at = '2026-06-01 10:00:00+00:00'",
    "initiative": "UPDATE contact_events SET initiated_by = 'external'",
    "disclosure": "UPDATE contact_events SET disclosure_id = NULL",
    "other-patient": "UPDATE contact_events SET patient_id = patient_id + 1",
    "next-step-day": "UPDATE contact_events SET next_step_on = NULL",
    "delete": "DELETE FROM contact_events",
}


def _rows() -> list[object]:
    return list(db.session.execute(text("SELECT * FROM contact_events ORDER BY id")).all())


@pytest.mark.parametrize("statement", REFUSED_SQL.values(), ids=REFUSED_SQL)
def test_the_database_refuses_to_rewrite_or_delete_a_contact(
    app: Flask, logged_contact: int, statement: str
) -> None:
    with app.app_context():
        before = _rows()
        db.session.rollback()

        with pytest.raises(DatabaseError) as refused:
            db.session.execute(text(statement))
        db.session.rollback()

        assert _rows() == before
    # The two engines word it differently (see the report): both name the table.
    assert "contact_events is" in str(refused.value)


def test_re_encrypting_a_sealed_column_of_a_contact_is_allowed(
    app: Flask, logged_contact: int
) -> None:
    """What key rotation does: new ciphertext of the same text, nothing else touched."""
    table = ContactEvent.__table__
    assert isinstance(table, Table)
    with app.app_context():
        contact = db.session.get(ContactEvent, logged_contact)
        assert contact is not None
        old = stored("contact_events", "notes", contact.id)
        sealed = ContactEvent.notes.encrypt(contact.uid.hex, "Pratade om pass.")
        db.session.rollback()

        db.session.execute(update(table).where(table.c.id == logged_contact).values(notes=sealed))
        db.session.commit()
        db.session.expire_all()

        again = db.session.get(ContactEvent, logged_contact)
        assert again is not None
        assert (stored("contact_events", "notes", again.id), again.notes) == (
            sealed,
            "Pratade om pass.",
        )
        assert sealed != old
        assert b"Ring" not in stored("contact_events", "next_step", again.id)


@pytest.mark.skipif(not is_postgres(), reason="SQLite has no TRUNCATE")
def test_postgres_refuses_to_truncate_the_contacts(app: Flask, logged_contact: int) -> None:
    with app.app_context(), pytest.raises(DatabaseError) as refused:
        db.session.execute(text("TRUNCATE contact_events CASCADE"))
    assert "contact_events is append-only" in str(refused.value)
