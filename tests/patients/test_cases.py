"""Coordination cases: opening, screening, activation, follow-up, transfer, closing; version
checks; and who may change or even see a patient."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.errors import Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import cases, service
from coordinator.patients.cases import CaseClosed, InvalidTransition, StaleEdit
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    CoordinationCase,
    Patient,
    ScreeningDecision,
)
from tests.conftest import World
from tests.crypto.support import actor_for, stored
from tests.databases import is_postgres
from tests.factories import UserFactory
from tests.patients.support import (
    NOW,
    TODAY,
    certify,
    consent_to_coordination,
    entries,
    register,
    rows_written,
)

pytestmark = pytest.mark.usefixtures("frozen")

REASON = "Kort sjukskrivning, åter i arbete nästa vecka."


@pytest.fixture
def patient(me: Actor) -> Patient:
    """A registered patient who has consented to coordination, as activation requires (the
    consent gate itself is tested in tests/consents)."""
    patient = register(me, "Lind", "Lars")
    consent_to_coordination(me, patient)
    return patient


@pytest.fixture
def colleague(world: World, context: None) -> Actor:
    """A second coordinator of unit A."""
    unit = db.session.get(CareUnit, world.unit_a.id)
    user = UserFactory(username="koord.a2", full_name="Karin Ekström", units=[unit])
    return actor_for(user, world.unit_a)


def case_of(patient: Patient) -> CoordinationCase:
    case = cases.current_case(patient)
    assert case is not None
    return case


#: Every change to a case, as (actor, patient, colleague's user id, expected version) → case.
CHANGES: dict[str, Callable[[Actor, Patient, int, int | None], Any]] = {
    "screening": lambda a, p, _, v: cases.decide_screening(
        a, p, ScreeningDecision.OFFER, REASON, v
    ),
    "activate": lambda a, p, _, v: cases.activate(a, p, v),
    "follow-up": lambda a, p, _, v: cases.set_follow_up(a, p, date(2026, 7, 1), v),
    "transfer": lambda a, p, colleague_id, v: cases.transfer(a, p, colleague_id, v),
    "close": lambda a, p, _, v: cases.close(a, p, CaseOutcome.MOVED, TODAY, v),
}


def test_registering_opens_a_new_case_in_the_registering_coordinators_hands(
    world: World, me: Actor, patient: Patient
) -> None:
    case = case_of(patient)

    assert (case.status, case.coordinator_id, case.assigned_at, case.opened_at) == (
        CaseStatus.NEW,
        me.user.id,
        NOW,
        NOW,
    )
    assert (case.unit_id, case.version) == (world.unit_a.id, 1)
    (opened,) = entries(patient, EntryKind.CASE_OPENED)
    assert me.user.full_name in opened.body


def test_an_imported_patient_waits_unassigned(me: Actor) -> None:
    patient = register(me, "Lind", "Lars", assign_to_actor=False)

    case = case_of(patient)
    assert (case.status, case.coordinator_id, case.assigned_at) == (CaseStatus.NEW, None, None)
    (opened,) = entries(patient, EntryKind.CASE_OPENED)
    assert me.user.full_name not in opened.body


def test_offering_coordination_on_an_unassigned_case_makes_it_the_offerers(
    world: World, me: Actor
) -> None:
    patient = service.get_patient(me, uuid.UUID(world.patient_a.uid))

    case = cases.decide_screening(me, patient, ScreeningDecision.OFFER, "Vill ha stöd.")

    assert (case.status, case.coordinator_id, case.assigned_at) == (
        CaseStatus.OFFERED,
        me.user.id,
        NOW,
    )
    assert (case.screening_decision, case.screened_at, case.version) == (
        ScreeningDecision.OFFER,
        NOW,
        2,
    )


def test_coordination_not_needed_leaves_the_case_new_with_the_reason_sealed(
    me: Actor, patient: Patient
) -> None:
    case = cases.decide_screening(me, patient, ScreeningDecision.NOT_NEEDED, f"  {REASON} ")
    db.session.commit()
    db.session.expire_all()

    assert (case.status, case.screening_decision, case.screening_reason) == (
        CaseStatus.NEW,
        ScreeningDecision.NOT_NEEDED,
        REASON,
    )
    assert b"arbete" not in stored("coordination_cases", "screening_reason", case.id)
    (decided,) = entries(patient, EntryKind.SCREENING_DECIDED)
    assert decided.body == REASON


def test_a_patient_who_declines_closes_the_case_today(me: Actor, patient: Patient) -> None:
    case = cases.decide_screening(me, patient, ScreeningDecision.DECLINED, "Vill inte.")

    assert (case.status, case.outcome, case.closed_on) == (
        CaseStatus.CLOSED,
        CaseOutcome.DECLINED,
        TODAY,
    )


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_a_screening_decision_needs_a_reason_of_at_most_1000_characters(
    me: Actor, patient: Patient, reason: str
) -> None:
    before = rows_written()

    with pytest.raises(InvalidField) as refused:
        cases.decide_screening(me, patient, ScreeningDecision.OFFER, reason)

    assert refused.value.field == "reason"
    case = case_of(patient)
    assert (case.status, case.screening_decision, case.version) == (CaseStatus.NEW, None, 1)
    assert rows_written() == before


def test_an_offered_case_becomes_active(me: Actor, patient: Patient) -> None:
    cases.decide_screening(me, patient, ScreeningDecision.OFFER, "Vill ha stöd.")

    case = cases.activate(me, patient)

    assert (case.status, case.coordinator_id, case.version) == (CaseStatus.ACTIVE, me.user.id, 3)
    assert [e.kind for e in entries(patient)] == [
        EntryKind.CASE_OPENED,
        EntryKind.CONSENT_RECORDED,
        EntryKind.SCREENING_DECIDED,
        EntryKind.CASE_UPDATED,
    ]


def test_an_active_case_cannot_be_screened_or_activated_again(me: Actor, patient: Patient) -> None:
    cases.activate(me, patient)
    before = rows_written()

    with pytest.raises(InvalidTransition):
        cases.decide_screening(me, patient, ScreeningDecision.NOT_NEEDED, REASON)
    with pytest.raises(InvalidTransition):
        cases.activate(me, patient)

    case = case_of(patient)
    assert (case.status, case.screening_decision, case.version) == (CaseStatus.ACTIVE, None, 2)
    assert rows_written() == before


@pytest.mark.parametrize(
    ("on", "accepted"),
    [
        (TODAY - timedelta(days=1), True),  # yesterday: a late evening's work
        (TODAY - timedelta(days=2), False),
        (date(2027, 7, 20), True),  # 400 days ahead
        (date(2027, 7, 21), False),
    ],
)
def test_a_follow_up_date_may_be_from_yesterday_to_400_days_ahead(
    me: Actor, patient: Patient, on: date, accepted: bool
) -> None:
    if accepted:
        assert cases.set_follow_up(me, patient, on).follow_up_on == on
    else:
        with pytest.raises(InvalidField) as refused:
            cases.set_follow_up(me, patient, on)
        assert refused.value.field == "follow_up_on"
        assert case_of(patient).follow_up_on is None


def test_a_follow_up_date_can_be_removed(me: Actor, patient: Patient) -> None:
    cases.set_follow_up(me, patient, date(2026, 7, 1))

    case = cases.set_follow_up(me, patient, None)

    assert (case.follow_up_on, case.version) == (None, 3)
    assert len(entries(patient, EntryKind.CASE_UPDATED)) == 2


def test_a_case_transferred_to_a_colleague_is_theirs_and_the_journal_names_both(
    me: Actor, colleague: Actor, patient: Patient
) -> None:
    case = cases.transfer(me, patient, colleague.user.id)

    assert (case.coordinator_id, case.assigned_at, case.status) == (
        colleague.user.id,
        NOW,
        CaseStatus.NEW,
    )
    (transferred,) = entries(patient, EntryKind.CASE_TRANSFERRED)
    assert me.user.full_name in transferred.body
    assert "Karin Ekström" in transferred.body


@pytest.mark.parametrize("to", ["coordinator_b", "manager", "coordinator_a", "inactive"])
def test_a_case_goes_only_to_another_active_coordinator_of_the_unit(
    world: World, me: Actor, patient: Patient, to: str
) -> None:
    if to == "inactive":
        unit = db.session.get(CareUnit, world.unit_a.id)
        user_id = UserFactory(is_active=False, units=[unit]).id
    else:
        user_id = getattr(world, to).id
    before = rows_written()

    with pytest.raises(InvalidField) as refused:
        cases.transfer(me, patient, user_id)

    assert refused.value.field == "coordinator"
    assert (case_of(patient).coordinator_id, case_of(patient).version) == (me.user.id, 1)
    assert rows_written() == before


def test_the_coordinators_a_case_can_go_to_are_the_units_active_ones_by_name(
    world: World, me: Actor, colleague: Actor
) -> None:
    unit = db.session.get(CareUnit, world.unit_a.id)
    UserFactory(is_active=False, units=[unit])

    assert cases.unit_coordinators(world.unit_a.id) == [colleague.user, me.user]


def test_a_case_closes_with_its_outcome_and_date(me: Actor, patient: Patient) -> None:
    case = cases.close(me, patient, CaseOutcome.RETURNED_PART_TIME, TODAY)

    assert (case.status, case.outcome, case.closed_on) == (
        CaseStatus.CLOSED,
        CaseOutcome.RETURNED_PART_TIME,
        TODAY,
    )
    assert entries(patient)[-1].kind is EntryKind.CASE_CLOSED


@pytest.mark.parametrize(
    "closed_on",
    [TODAY + timedelta(days=1), TODAY - timedelta(days=2)],  # the future; before it opened
)
def test_a_case_cannot_close_in_the_future_or_before_it_opened(
    me: Actor, patient: Patient, closed_on: date
) -> None:
    with pytest.raises(InvalidField) as refused:
        cases.close(me, patient, CaseOutcome.MOVED, closed_on)

    assert refused.value.field == "closed_on"
    assert case_of(patient).status is CaseStatus.NEW


@pytest.mark.parametrize("change", CHANGES)
def test_a_closed_case_refuses_every_change(
    me: Actor, colleague: Actor, patient: Patient, change: str
) -> None:
    cases.close(me, patient, CaseOutcome.RETURNED_FULL_TIME, TODAY)
    before = rows_written()

    with pytest.raises(CaseClosed):
        CHANGES[change](me, patient, colleague.user.id, None)

    assert rows_written() == before


def test_a_new_case_opens_only_once_the_previous_one_is_closed(
    me: Actor, colleague: Actor, patient: Patient
) -> None:
    with pytest.raises(InvalidTransition):
        cases.open_case(me, patient, me.user.id)
    first = cases.close(me, patient, CaseOutcome.RETURNED_FULL_TIME, TODAY)

    second = cases.open_case(me, patient, colleague.user.id)

    assert cases.history(patient) == [second, first]
    assert (second.status, second.coordinator_id) == (CaseStatus.NEW, colleague.user.id)
    assert cases.current_case(patient) is second


def test_a_change_based_on_the_current_version_goes_through(me: Actor, patient: Patient) -> None:
    case = cases.set_follow_up(me, patient, date(2026, 6, 20), expected_version=1)

    assert (case.follow_up_on, case.version) == (date(2026, 6, 20), 2)


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_based_on_an_outdated_version_is_refused_and_changes_nothing(
    me: Actor, colleague: Actor, patient: Patient, change: str
) -> None:
    cases.set_follow_up(me, patient, date(2026, 6, 20))  # someone else's change: version 2
    before = rows_written()

    with pytest.raises(StaleEdit):
        CHANGES[change](me, patient, colleague.user.id, 1)

    case = case_of(patient)
    assert (case.status, case.coordinator_id, case.follow_up_on, case.version) == (
        CaseStatus.NEW,
        me.user.id,
        date(2026, 6, 20),
        2,
    )
    assert rows_written() == before


@pytest.mark.skipif(
    not is_postgres(),
    reason="SQLite serialises writers (BEGIN IMMEDIATE): no commit can come in between",
)
def test_a_change_committed_by_someone_else_meanwhile_is_reported_as_a_stale_edit(
    me: Actor, patient: Patient
) -> None:
    db.session.commit()
    case = case_of(patient)  # this request has read the case (version 1) ...
    with db.engine.connect() as other:  # ... when another request changes it and commits
        other.execute(
            update(CoordinationCase.__table__)
            .where(CoordinationCase.__table__.c.id == case.id)
            .values(follow_up_on=date(2026, 6, 20), version=2)
        )
        other.commit()

    with pytest.raises(StaleEdit):
        cases.set_follow_up(me, patient, date(2026, 7, 1), expected_version=1)


def test_a_manager_cannot_register_patients_or_add_certificates(
    world: World, me: Actor, patient: Patient
) -> None:
    manager = actor_for(world.manager, world.unit_a)
    before = rows_written()

    with pytest.raises(Forbidden):
        register(manager, "Berg", "Bo")
    with pytest.raises(Forbidden):
        certify(manager, patient, date(2026, 6, 1), date(2026, 6, 30))

    assert rows_written() == before


@pytest.mark.parametrize("change", [name for name in CHANGES if name != "transfer"])
def test_a_manager_cannot_change_a_case(
    world: World, colleague: Actor, patient: Patient, change: str
) -> None:
    manager = actor_for(world.manager, world.unit_a)
    before = rows_written()

    with pytest.raises(Forbidden):
        CHANGES[change](manager, patient, colleague.user.id, None)

    assert rows_written() == before


def test_a_manager_can_hand_a_case_to_another_coordinator_of_the_unit(
    world: World, me: Actor, colleague: Actor, patient: Patient
) -> None:
    """Distributing the caseload is the manager's (the reports' caseload review)."""
    manager = actor_for(world.manager, world.unit_a)

    case = cases.transfer(manager, patient, colleague.user.id)

    assert case.coordinator_id == colleague.user.id
    assert case.assigned_at == NOW


def test_a_coordinator_of_another_unit_cannot_load_or_find_the_patient_and_nothing_is_logged(
    world: World, context: None
) -> None:
    other = actor_for(world.coordinator_b, world.unit_b)
    before = rows_written()

    with pytest.raises(NotFound):
        service.get_patient(other, uuid.UUID(world.patient_a.uid))

    assert service.find_by_personnummer(other, "19410708-6995") is None
    assert service.find_by_name(other, "Tolvan Tolvansson") == []
    assert rows_written() == before


def test_system_journal_entries_are_written_in_the_records_language_not_the_users(
    me: Actor, patient: Patient
) -> None:
    """Outside a request the interface language is English; the record is Swedish throughout,
    labels inside the sentences included."""
    cases.decide_screening(me, patient, ScreeningDecision.OFFER, REASON)
    service.update_patient(
        me, patient, service.PatientDetails("Lars", "Lind", phone="070-1740605", email="a@b.se")
    )
    cases.close(me, patient, CaseOutcome.MOVED, TODAY)

    written = [(e.heading, e.body) for e in entries(patient)][-3:]
    assert written == [
        ("Bedömning: Erbjud koordinering", REASON),
        ("Patientuppgifter ändrade", "Ändrat: Telefon, E-post."),
        ("Ärendet avslutat", "Utfall: Flyttat. Avslutat 2026-06-15."),
    ]
