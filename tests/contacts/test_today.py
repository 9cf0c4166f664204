"""Today's contacts group: next steps agreed with external actors that are due within a week
or overdue, until a later contact with the same organisation about the same patient settles
them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from coordinator.access import Actor
from coordinator.contacts import service
from coordinator.contacts.models import Organisation, OrganisationType
from coordinator.extensions import db
from coordinator.patients import today
from coordinator.patients.models import Patient
from coordinator.patients.screening import ScreeningRules
from tests.conftest import World
from tests.consents.support import june
from tests.contacts.support import contact_input, organisation
from tests.crypto.support import actor_for
from tests.patients.support import NOW, register

pytestmark = pytest.mark.usefixtures("frozen")

GROUP = "contact-next-steps"


def next_steps(actor: Actor) -> list[tuple[str, str]] | None:
    """The group's lines as (family name, note); None when the group is not shown."""
    for group in today.queue(actor, NOW, ScreeningRules()):
        if group.key == GROUP:
            assert group.title == "Next steps with external actors"
            return [(patient.last_name, note) for patient, note in group.shown]
    return None


def call(
    actor: Actor,
    patient: Patient,
    with_: Organisation,
    on: date,
    step_on: date | None = None,
    at: time = time(9, 30),
) -> None:
    """A call on ``on``, with a next step due ``step_on`` if given."""
    step = "Ring tillbaka om anpassningar" if step_on else None
    entry = contact_input(with_, occurred_on=on, occurred_time=at, next_step=step,
                          next_step_on=step_on)  # fmt: skip
    service.log_contact(actor, patient, entry)


def test_a_next_step_due_within_a_week_is_shown(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    call(me, active_patient, employer, june(15), step_on=june(18))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-18")]


@pytest.mark.parametrize(
    ("due", "shown"),
    [(june(15), True), (june(22), True), (june(23), False), (date(2026, 7, 15), False)],
    ids=["today", "in-seven-days", "in-eight-days", "next-month"],
)
def test_only_next_steps_due_within_seven_days_are_shown(
    me: Actor, active_patient: Patient, employer: Organisation, due: date, shown: bool
) -> None:
    call(me, active_patient, employer, june(15), step_on=due)

    expected = [("Lind", f"ACME AB, {due.isoformat()}")] if shown else None
    assert next_steps(me) == expected


def test_an_overdue_next_step_stays_until_settled(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    call(me, active_patient, employer, june(1), step_on=june(5))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-05")]


def test_a_contact_without_a_next_step_day_is_not_shown(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    service.log_contact(me, active_patient, contact_input(employer, next_step="Hör av sig"))

    assert next_steps(me) is None


def test_a_later_contact_with_the_same_organisation_settles_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    call(me, active_patient, employer, june(10), step_on=june(16))
    call(me, active_patient, employer, june(12))

    assert next_steps(me) is None


def test_a_later_contact_with_its_own_next_step_replaces_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    call(me, active_patient, employer, june(10), step_on=june(12))
    call(me, active_patient, employer, june(12), step_on=june(19))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-19")]


def test_a_contact_earlier_the_same_day_does_not_settle_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    call(me, active_patient, employer, june(12), step_on=june(16), at=time(14))
    call(me, active_patient, employer, june(12), at=time(9))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-16")]


def test_a_contact_with_another_organisation_does_not_settle_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    fk = organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    call(me, active_patient, employer, june(10), step_on=june(16))
    call(me, active_patient, fk, june(12))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-16")]


def test_a_contact_with_the_organisation_about_another_patient_does_not_settle_it(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    colleague = register(me, "Andersson", "Anna")
    call(me, active_patient, employer, june(10), step_on=june(16))
    call(me, colleague, employer, june(12))

    assert next_steps(me) == [("Lind", "ACME AB, 2026-06-16")]


def test_next_steps_are_listed_earliest_first(
    me: Actor, active_patient: Patient, employer: Organisation
) -> None:
    fk = organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    colleague = register(me, "Andersson", "Anna")
    call(me, active_patient, employer, june(15), step_on=june(20))
    call(me, colleague, fk, june(15), step_on=june(17))
    call(me, active_patient, fk, june(14), step_on=june(19))

    assert next_steps(me) == [
        ("Andersson", "Försäkringskassan, 2026-06-17"),
        ("Lind", "Försäkringskassan, 2026-06-19"),
        ("Lind", "ACME AB, 2026-06-20"),
    ]


def test_only_the_coordinators_own_queue_is_shown(
    me: Actor, world: World, active_patient: Patient, employer: Organisation
) -> None:
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    theirs = register(other_unit, "Öberg", "Olle")
    call(other_unit, theirs, employer, june(15), step_on=june(16))
    unassigned = register(me, "Berg", "Bo", assign_to_actor=False)
    call(me, unassigned, employer, june(15), step_on=june(17))

    assert next_steps(me) == [("Berg", "ACME AB, 2026-06-17")]  # the unit's unassigned case
    assert next_steps(other_unit) == [("Öberg", "ACME AB, 2026-06-16")]


_SECTION = re.compile(r'<section class="card" id="([\w-]+)">(.*?)</section>', re.DOTALL)
_PATIENT_LINK = re.compile(r'href="/patients/([0-9a-f-]{36})"')


def test_the_today_page_shows_the_next_steps(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = register(me, "Lind", "Lars")
        call(me, patient, organisation(me), june(15), step_on=june(18))
        uid = str(patient.uid)
        db.session.commit()
    client = signed_in_client(world.coordinator_a)

    response = client.get("/")

    assert response.status_code == 200
    sections = dict(_SECTION.findall(response.text))
    assert _PATIENT_LINK.findall(sections[GROUP]) == [uid]
    assert "Nästa steg med externa aktörer" in sections[GROUP]
    assert "ACME AB, 2026-06-18" in sections[GROUP]
