"""The patient's employer is a link to the directory (and to their manager there): set and
removed with a journal entry and a logged change, refused for what is not an employer, for
patients without one and for a manager of another organisation; lost when the patient becomes
unemployed or self-employed; and the employer's patients are listed only for the viewer's
unit, as are the contacts with it, each listing logged."""

from __future__ import annotations

import pytest

from coordinator.access import Actor
from coordinator.contacts import service
from coordinator.contacts.models import ContactPerson, Organisation, OrganisationType
from coordinator.errors import Forbidden, InvalidField
from coordinator.journal.models import EntryKind
from coordinator.patients import service as patients
from coordinator.patients.models import Employment, Patient
from tests.conftest import World
from tests.consents.support import june, logged
from tests.contacts.support import contact_input, organisation, person, register_as, written
from tests.crypto.support import actor_for
from tests.patients.support import entries, last_access_seq, register

pytestmark = pytest.mark.usefixtures("frozen")


def employer_of(patient: Patient) -> tuple[Organisation | None, ContactPerson | None]:
    return patient.employer, patient.employer_manager


def test_the_employer_and_the_manager_are_linked_journaled_and_logged(
    me: Actor, active_patient: Patient, employer: Organisation, boss: ContactPerson
) -> None:
    mark = last_access_seq()

    changed = service.set_employer(me, active_patient, employer, boss)

    assert changed is True
    assert (active_patient.employer_id, active_patient.employer_manager_id) == (
        employer.id,
        boss.id,
    )
    assert employer_of(active_patient) == (employer, boss)
    (entry,) = entries(active_patient, EntryKind.PATIENT_UPDATED)
    assert (entry.heading, entry.body) == (
        "Arbetsgivare ändrad",
        "Arbetsgivare: ACME AB. Chef: Per Berg.",
    )
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("change", "patient", active_patient.uid.hex),
    ]


def test_setting_the_same_employer_again_changes_nothing(
    me: Actor, active_patient: Patient, employer: Organisation, boss: ContactPerson
) -> None:
    service.set_employer(me, active_patient, employer, boss)
    before = written()

    assert service.set_employer(me, active_patient, employer, boss) is False
    assert written() == before


def test_the_employer_can_be_linked_without_a_manager_and_removed(
    me: Actor, active_patient: Patient, employer: Organisation, boss: ContactPerson
) -> None:
    service.set_employer(me, active_patient, employer, boss)

    assert service.set_employer(me, active_patient, employer) is True
    assert employer_of(active_patient) == (employer, None)
    assert service.set_employer(me, active_patient, None) is True
    assert employer_of(active_patient) == (None, None)
    assert [e.body for e in entries(active_patient, EntryKind.PATIENT_UPDATED)] == [
        "Arbetsgivare: ACME AB. Chef: Per Berg.",
        "Arbetsgivare: ACME AB.",
        "Ingen arbetsgivare registrerad.",
    ]


def test_an_organisation_that_is_not_an_employer_is_refused(
    me: Actor, active_patient: Patient
) -> None:
    fk = organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.set_employer(me, active_patient, fk)

    assert (refused.value.field, str(refused.value)) == (
        "organisation",
        "Försäkringskassan is not an employer in the directory.",
    )
    assert written() == before
    assert employer_of(active_patient) == (None, None)


@pytest.mark.parametrize("employment", [Employment.UNEMPLOYED, Employment.SELF_EMPLOYED])
def test_a_patient_without_an_employer_cannot_be_given_one(
    me: Actor, employer: Organisation, employment: Employment
) -> None:
    patient = register_as(me, "Ek", employment)
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.set_employer(me, patient, employer)

    assert (refused.value.field, str(refused.value)) == (
        "organisation",
        f"The patient is {employment.label.lower()} and has no employer; change their "
        "employment first if that is wrong.",
    )
    assert written() == before
    assert employer_of(patient) == (None, None)
    assert service.set_employer(me, patient, None) is False  # "no employer" is what they have


def test_a_manager_of_another_organisation_is_refused(
    me: Actor, active_patient: Patient, employer: Organisation, boss: ContactPerson
) -> None:
    service.set_employer(me, active_patient, employer, boss)
    elsewhere = person(me, organisation(me, name="Other AB"), "Sven Svensson", "Chef")
    before = written()

    for chosen in (employer, None):
        with pytest.raises(InvalidField) as refused:
            service.set_employer(me, active_patient, chosen, elsewhere)
        assert (refused.value.field, str(refused.value)) == (
            "manager",
            "Choose the manager among the employer's people.",
        )

    assert written() == before
    assert employer_of(active_patient) == (employer, boss)


def test_a_manager_cannot_change_the_employer(
    me: Actor, manager: Actor, active_patient: Patient, employer: Organisation
) -> None:
    before = written()

    with pytest.raises(Forbidden):
        service.set_employer(manager, active_patient, employer)

    assert written() == before
    assert employer_of(active_patient) == (None, None)


@pytest.mark.parametrize("employment", [Employment.UNEMPLOYED, Employment.SELF_EMPLOYED])
def test_becoming_unemployed_or_self_employed_ends_the_employer_link(
    me: Actor,
    active_patient: Patient,
    employer: Organisation,
    boss: ContactPerson,
    employment: Employment,
) -> None:
    service.set_employer(me, active_patient, employer, boss)
    mark = last_access_seq()

    changed = patients.update_patient(
        me, active_patient, patients.PatientDetails("Lars", "Lind", employment=employment)
    )

    assert changed == ["employment", "employer"]
    assert (active_patient.employer_id, active_patient.employer_manager_id) == (None, None)
    entry = entries(active_patient, EntryKind.PATIENT_UPDATED)[-1]
    assert (entry.heading, entry.body) == (
        "Patientuppgifter ändrade",
        "Ändrat: Sysselsättning, Arbetsgivare.",
    )
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("change", "patient", active_patient.uid.hex),
    ]


def test_other_changes_of_employment_keep_the_employer(
    me: Actor, active_patient: Patient, employer: Organisation, boss: ContactPerson
) -> None:
    service.set_employer(me, active_patient, employer, boss)

    changed = patients.update_patient(
        me, active_patient, patients.PatientDetails("Lars", "Lind", employment=Employment.STUDENT)
    )

    assert changed == ["employment"]
    assert employer_of(active_patient) == (employer, boss)


# -- The employer's patients ---------------------------------------------------------------------


def test_the_employers_patients_are_those_of_the_viewers_unit_each_logged(
    me: Actor, world: World, active_patient: Patient, employer: Organisation
) -> None:
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    theirs = register(other_unit, "Öberg", "Olle")
    service.set_employer(other_unit, theirs, employer)
    colleague = register(me, "Andersson", "Anna")
    service.set_employer(me, colleague, employer)
    service.set_employer(me, active_patient, employer)
    elsewhere = register(me, "Berg", "Bo")
    service.set_employer(me, elsewhere, organisation(me, name="Other AB"))
    mark = last_access_seq()

    shown = service.patients_employed_at(me, employer)

    assert shown == [colleague, active_patient]
    assert sorted(logged(mark)) == sorted(
        [("read", "employer", colleague.uid.hex), ("read", "employer", active_patient.uid.hex)]
    )
    mark = last_access_seq()
    assert service.patients_employed_at(other_unit, employer) == [theirs]
    assert logged(mark) == [("read", "employer", theirs.uid.hex)]


def test_a_manager_sees_the_employers_patients_of_the_unit_they_work_in(
    me: Actor, manager: Actor, active_patient: Patient, employer: Organisation
) -> None:
    service.set_employer(me, active_patient, employer)
    mark = last_access_seq()

    assert service.patients_employed_at(manager, employer) == [active_patient]
    assert logged(mark) == [("read", "employer", active_patient.uid.hex)]


def test_an_employer_without_patients_in_the_unit_lists_none_and_logs_nothing(
    me: Actor, employer: Organisation
) -> None:
    mark = last_access_seq()

    assert service.patients_employed_at(me, employer) == []
    assert logged(mark) == []


def test_the_organisations_contacts_are_those_about_the_viewers_unit_each_patient_logged(
    me: Actor, world: World, active_patient: Patient, employer: Organisation
) -> None:
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    theirs = register(other_unit, "Öberg", "Olle")
    about_theirs = service.log_contact(other_unit, theirs, contact_input(employer))
    colleague = register(me, "Andersson", "Anna")
    first = service.log_contact(me, active_patient, contact_input(employer, occurred_on=june(1)))
    second = service.log_contact(me, colleague, contact_input(employer, occurred_on=june(5)))
    third = service.log_contact(me, active_patient, contact_input(employer, occurred_on=june(9)))
    service.log_contact(me, active_patient, contact_input(organisation(me, name="Other AB")))
    mark = last_access_seq()

    shown = service.contacts_with(me, employer)

    assert shown == [third, second, first]
    assert sorted(logged(mark)) == sorted(
        [("read", "contacts", active_patient.uid.hex), ("read", "contacts", colleague.uid.hex)]
    )
    assert service.contacts_with(other_unit, employer) == [about_theirs]
    assert service.contacts_with(me, employer, limit=2) == [third, second]
