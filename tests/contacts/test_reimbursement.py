"""The reimbursement rule of the state agreement, every branch: a contact counts when it is
with an employer or Arbetsförmedlingen, initiated by care, with the patient's consent on the
contact's day, in a case with a treatment under the agreement — each criterion shown with why.
The verdict is computed when read: a consent withdrawn later with an earlier date changes it.

Services speak the command line's language (English) outside a request; the texts below are
the source texts."""

from __future__ import annotations

from datetime import time

import pytest
from flask_babel import force_locale

from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentKind
from coordinator.contacts import service
from coordinator.contacts.models import ContactEvent, Initiator, Organisation, OrganisationType
from coordinator.contacts.service import Reimbursement
from coordinator.patients import cases
from coordinator.patients.models import CaseOutcome, Employment, Patient
from coordinator.plans import treatments
from coordinator.plans.models import TreatmentKind, TreatmentProvider
from coordinator.plans.treatments import TreatmentInput
from tests.consents.support import give, june, refuse
from tests.contacts.support import contact_input, organisation, register_as
from tests.patients.support import TODAY
from tests.plans.support import day

pytestmark = pytest.mark.usefixtures("frozen")

KBT = TreatmentInput(TreatmentKind.KBT, TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC,
                     started_on=day(-30))  # fmt: skip

MET = {
    "actor": "With an employer or Arbetsförmedlingen.",
    "care": "Initiated by the care unit.",
    "consent": "With the patient's consent.",
    "treatment": "The case has a treatment under the agreement.",
}


def verdict(actor: Actor, patient: Patient, contact: ContactEvent) -> Reimbursement:
    """The verdict as the contact's page reads it (records and treatments loaded now)."""
    return service.open_contact(actor, patient, contact.uid).reimbursement


def call(actor: Actor, patient: Patient, with_: Organisation, **kw: object) -> ContactEvent:
    """A call on 12 June at ten, initiated by care, unless ``kw`` says otherwise."""
    entry = contact_input(with_, **{"occurred_on": june(12), "occurred_time": time(10), **kw})
    return service.log_contact(actor, patient, entry)


@pytest.fixture
def treated(me: Actor, active_patient: Patient) -> Patient:
    """Lars Lind, in KBT under the agreement in his current case, consenting on 1 June to
    contacts with any employer."""
    treatments.record(me, active_patient, KBT)
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    return active_patient


def test_an_employer_call_care_made_with_consent_in_a_treated_case_counts(
    me: Actor, treated: Patient, employer: Organisation
) -> None:
    found = verdict(me, treated, call(me, treated, employer))

    assert found.counts is True
    assert [(c.is_met, c.text) for c in found.criteria] == [(True, text) for text in MET.values()]


def test_a_contact_with_the_municipality_does_not_count(me: Actor, treated: Patient) -> None:
    give(me, treated, ConsentKind.MUNICIPALITY, june(1))
    municipality = organisation(me, OrganisationType.MUNICIPALITY, "Jönköpings kommun")

    found = verdict(me, treated, call(me, treated, municipality))

    assert found.counts is False
    assert [c.is_met for c in found.criteria] == [False, True, True, True]
    assert found.criteria[0].text == (
        "Only contacts with an employer or Arbetsförmedlingen count; this was "
        "Municipality / social services."
    )


@pytest.mark.parametrize(
    "type_",
    [t for t in OrganisationType if t not in service.REIMBURSED_TYPES and t.consent_kind],
    ids=lambda t: t.value,
)
def test_only_employers_and_arbetsformedlingen_count(
    me: Actor, treated: Patient, type_: OrganisationType
) -> None:
    kind = type_.consent_kind
    assert kind is not None
    give(me, treated, kind, june(1))

    found = verdict(me, treated, call(me, treated, organisation(me, type_, "Mottagaren")))

    assert (found.counts, [c.is_met for c in found.criteria]) == (False, [False, True, True, True])


def test_a_contact_with_an_organisation_of_the_kind_other_can_have_no_consent(
    me: Actor, treated: Patient
) -> None:
    other = organisation(me, OrganisationType.OTHER, "Bostadsbolaget")

    found = verdict(me, treated, call(me, treated, other))

    assert [c.is_met for c in found.criteria] == [False, True, False, True]
    assert found.criteria[2].text == "No consent can cover a contact of this kind."


@pytest.mark.parametrize(
    ("initiator", "text"),
    [
        (Initiator.EXTERNAL, "Initiated by the external party; only contacts the care unit "
                             "initiated count."),
        (Initiator.PATIENT, "Initiated by the patient; only contacts the care unit initiated "
                            "count."),
    ],
    ids=["external", "patient"],
)  # fmt: skip
def test_a_contact_care_did_not_initiate_does_not_count(
    me: Actor, treated: Patient, employer: Organisation, initiator: Initiator, text: str
) -> None:
    found = verdict(me, treated, call(me, treated, employer, initiated_by=initiator))

    assert found.counts is False
    assert [c.is_met for c in found.criteria] == [True, False, True, True]
    assert found.criteria[1].text == text


def test_a_contact_without_consent_does_not_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    treatments.record(me, active_patient, KBT)

    found = verdict(me, active_patient, call(me, active_patient, employer))

    assert found.counts is False
    assert [c.is_met for c in found.criteria] == [True, True, False, True]
    assert found.criteria[2].text == (
        "No consent: The patient has given no consent for: Employer (ACME AB)."
    )


def test_a_consent_for_another_employer_does_not_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    treatments.record(me, active_patient, KBT)
    give(me, active_patient, ConsentKind.EMPLOYER, june(1), name="Other AB")

    found = verdict(me, active_patient, call(me, active_patient, employer))

    assert [c.is_met for c in found.criteria] == [True, True, False, True]
    assert found.criteria[2].text == (
        "No consent: The patient's consent for Employer covers only Other AB."
    )


def test_a_refused_consent_does_not_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    treatments.record(me, active_patient, KBT)
    refuse(me, active_patient, ConsentKind.EMPLOYER, june(1))

    found = verdict(me, active_patient, call(me, active_patient, employer))

    assert [c.is_met for c in found.criteria] == [True, True, False, True]
    assert found.criteria[2].text == (
        "No consent: The patient refused consent for Employer (ACME AB) on 2026-06-01."
    )


def test_a_consent_given_after_the_contact_does_not_make_it_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    treatments.record(me, active_patient, KBT)
    contact = call(me, active_patient, employer)
    give(me, active_patient, ConsentKind.EMPLOYER, june(13))

    found = verdict(me, active_patient, contact)

    assert [c.is_met for c in found.criteria] == [True, True, False, True]
    assert found.criteria[2].text == (
        "No consent: The consent for Employer (ACME AB) was given on 2026-06-13, after 2026-06-12."
    )


def test_a_consent_withdrawn_later_with_a_date_before_the_contact_stops_it_counting(
    me: Actor, treated: Patient, employer: Organisation
) -> None:
    contact = call(me, treated, employer)
    assert verdict(me, treated, contact).counts is True
    (consent,) = consents.records_of(treated, [ConsentKind.EMPLOYER])

    consents.withdraw(me, treated, consent, june(11), "Vill inte längre.")

    found = verdict(me, treated, contact)
    assert found.counts is False
    assert [c.is_met for c in found.criteria] == [True, True, False, True]
    assert found.criteria[2].text == (
        "No consent: The patient withdrew the consent for Employer (ACME AB) on 2026-06-11."
    )


def test_a_consent_withdrawn_after_the_contact_leaves_it_counting(
    me: Actor, treated: Patient, employer: Organisation
) -> None:
    contact = call(me, treated, employer)
    (consent,) = consents.records_of(treated, [ConsentKind.EMPLOYER])

    consents.withdraw(me, treated, consent, june(13), None)

    assert verdict(me, treated, contact).counts is True


def test_a_contact_in_a_case_without_treatment_does_not_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))

    found = verdict(me, active_patient, call(me, active_patient, employer))

    assert found.counts is False
    assert [c.is_met for c in found.criteria] == [True, True, True, False]
    assert found.criteria[3].text == "No treatment under the agreement is recorded in the case."


def test_a_treatment_recorded_after_the_contact_makes_it_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))
    contact = call(me, active_patient, employer)
    assert verdict(me, active_patient, contact).counts is False

    treatments.record(me, active_patient, KBT)

    assert verdict(me, active_patient, contact).counts is True


def test_a_treatment_in_an_earlier_case_does_not_count(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    treatments.record(me, active_patient, KBT)
    cases.close(me, active_patient, CaseOutcome.RETURNED_FULL_TIME, TODAY)
    cases.open_case(me, active_patient, me.user.id)
    give(me, active_patient, ConsentKind.EMPLOYER, june(1))

    contact = service.log_contact(me, active_patient, contact_input(employer))

    found = verdict(me, active_patient, contact)
    assert [c.is_met for c in found.criteria] == [True, True, True, False]
    second, first = cases.history(active_patient)
    assert (contact.case_id, service.treated_cases(active_patient)) == (second.id, {first.id})


def test_arbetsformedlingen_for_an_unemployed_patient_counts(me: Actor) -> None:
    patient = register_as(me, "Ek", Employment.UNEMPLOYED)
    treatments.record(me, patient, KBT)
    give(me, patient, ConsentKind.EMPLOYMENT_SERVICE, june(1))
    af = organisation(me, OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen",
                      org_number="202100-2114")  # fmt: skip

    found = verdict(me, patient, call(me, patient, af))

    assert found.counts is True
    assert [(c.is_met, c.text) for c in found.criteria] == [(True, text) for text in MET.values()]


def test_the_timeline_gives_each_contact_its_own_verdict(
    me: Actor, treated: Patient, employer: Organisation
) -> None:
    municipality = organisation(me, OrganisationType.MUNICIPALITY, "Jönköpings kommun")
    counted = call(me, treated, employer)
    external = call(me, treated, employer, occurred_time=time(11), initiated_by=Initiator.EXTERNAL)
    elsewhere = call(me, treated, municipality, occurred_time=time(12))

    timeline = service.timeline(me, treated)

    assert [(c.contact, c.reimbursement.counts) for c in timeline.contacts] == [
        (elsewhere, False),
        (external, False),
        (counted, True),
    ]
    assert timeline.by_type == {OrganisationType.EMPLOYER: 2, OrganisationType.MUNICIPALITY: 1}


def test_the_reasons_read_in_swedish_on_a_swedish_page(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    contact = call(me, active_patient, employer, initiated_by=Initiator.PATIENT)

    found = verdict(me, active_patient, contact)

    with force_locale("sv"):  # the words are made when shown, in the page's language
        texts = [c.text for c in found.criteria]
    assert texts == [
        "Med arbetsgivare eller Arbetsförmedlingen.",
        "Initierad av patienten; bara kontakter som vården initierat räknas.",
        "Inget samtycke: Patienten har inte lämnat något samtycke för: Arbetsgivare (ACME AB).",
        "Ingen behandling enligt överenskommelsen är registrerad i ärendet.",
    ]
