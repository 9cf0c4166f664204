"""Optimistic locking: of two coordinators changing the same plan, mapping or treatment, the
second is refused and nothing of their change is written — whether the other saved before the
second opened the form (the lock the form carries is old) or while the second's request ran
(the lock is checked again when the change is written)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import text

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, ProviderType
from coordinator.extensions import db
from coordinator.patients import cases
from coordinator.patients.models import Patient
from coordinator.plans import mapping, service, treatments
from coordinator.plans.common import StaleEdit
from coordinator.plans.mapping import MappingInput
from coordinator.plans.models import (
    AgreementMethod,
    MeasureStatus,
    RehabPlan,
    Treatment,
    TreatmentKind,
    TreatmentProvider,
)
from coordinator.plans.service import Agreement, FollowUpInput
from coordinator.plans.treatments import TreatmentInput
from tests.conftest import UserRef, World
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.patients.support import TODAY, activate, register
from tests.plans.support import day, measure, plan_input, written

# -- Two coordinators, each request with its own session ----------------------------------


@dataclass(frozen=True)
class Office:
    """Coordinator A and a colleague in unit A, sharing Lars Lind's active case."""

    app: Flask
    world: World
    colleague: UserRef
    patient_id: int

    @contextmanager
    def request(self, user: UserRef) -> Iterator[tuple[Actor, Patient]]:
        """One request of ``user``: its own app context, so its own session and connection;
        committed when it ends (a refused one is rolled back, as the views do)."""
        with self.app.app_context():
            actor = actor_for(user, self.world.unit_a)
            patient = db.session.get(Patient, self.patient_id)
            assert patient is not None
            yield actor, patient
            db.session.commit()


@pytest.fixture
def office(frozen: time_machine.Traveller, app: Flask, world: World) -> Office:
    with app.app_context():
        unit = db.session.get(CareUnit, world.unit_a.id)
        colleague = UserRef.of(UserFactory(username="koord.a2", units=[unit]))
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = register(me, "Lind", "Lars")
        activate(me, patient)
        db.session.commit()
        return Office(app, world, colleague, patient.id)


def later(frozen: time_machine.Traveller) -> None:
    """A few minutes pass between requests."""
    frozen.shift(timedelta(minutes=5))


def plan_of(patient: Patient) -> RehabPlan:
    plan = service.plan_of(cases.current_case(patient))
    assert plan is not None
    return plan


def _agreed_with_a_draft(actor: Actor, patient: Patient) -> None:
    """Version 1 agreed (physiotherapy), version 2 drafted on it."""
    service.save(actor, patient, plan_input(measure("Physiotherapy", due_on=day(60))))
    service.agree(actor, patient, 1, Agreement(TODAY, AgreementMethod.MEETING, day(14)))
    plan = plan_of(patient)
    (physio,) = plan.latest.measures
    carried = measure("Physiotherapy", due_on=day(60), uid=physio.uid)
    service.save(actor, patient, plan_input(carried, measure("Work-place visit")), based_on=1)


#: What the second coordinator tries, with the lock their form carries (None: no form lock,
#: only the check when the change is written).
PlanChange = Callable[[Actor, Patient, int | None], object]


def _save_draft(actor: Actor, patient: Patient, lock: int | None) -> object:
    return service.save(actor, patient, plan_input(measure("Something else")), based_on=2,
                        expected_lock=lock)  # fmt: skip


def _agree(actor: Actor, patient: Patient, lock: int | None) -> object:
    agreement = Agreement(TODAY, AgreementMethod.PHONE, day(21))
    return service.agree(actor, patient, 2, agreement, expected_lock=lock)


def _follow_up(actor: Actor, patient: Patient, lock: int | None) -> object:
    entry = FollowUpInput(TODAY, "Sessions going well.", day(28))
    return service.follow_up(actor, patient, entry, expected_lock=lock)


def _progress(actor: Actor, patient: Patient, lock: int | None) -> object:
    (physio,) = plan_of(patient).current.measures
    return service.update_measure(actor, patient, physio.uid, MeasureStatus.ONGOING, None, lock)


PLAN_CHANGES: dict[str, PlanChange] = {
    "save-draft": _save_draft,
    "agree": _agree,
    "follow-up": _follow_up,
    "progress": _progress,
}


def plan_state(patient: Patient) -> tuple[object, ...]:
    """Everything the plan says, to compare before and after a refusal."""
    plan = plan_of(patient)
    return (
        plan.lock,
        plan.next_follow_up_on,
        plan.updated_by_id,
        [(v.number, v.agreed_on, v.agreement_method) for v in plan.versions],
        [[(m.uid, m.description, m.status, m.outcome) for m in v.measures] for v in plan.versions],
        len(service.follow_ups_of(plan)),
    )


# -- The form's lock is old -----------------------------------------------------------------


def test_of_two_coordinators_editing_the_same_draft_the_second_is_refused(
    frozen: time_machine.Traveller, office: Office
) -> None:
    me, colleague = office.world.coordinator_a, office.colleague
    with office.request(me) as (actor, patient):
        service.save(actor, patient, plan_input(measure("Physiotherapy")))
    later(frozen)
    with office.request(me) as (actor, patient):  # both open the plan form
        my_form = plan_of(patient).lock
    with office.request(colleague) as (actor, patient):
        their_form = plan_of(patient).lock
    assert my_form == their_form == 1
    later(frozen)
    with office.request(me) as (actor, patient):
        mine = plan_input(measure("Physiotherapy twice a week"))
        service.save(actor, patient, mine, based_on=1, expected_lock=my_form)
    later(frozen)

    with office.request(colleague) as (actor, patient):
        before = written()
        theirs = plan_input(measure("Work-place visit"))
        with pytest.raises(StaleEdit) as refused:
            service.save(actor, patient, theirs, based_on=1, expected_lock=their_form)
        db.session.rollback()
        assert written() == before

    assert (refused.value.status_code, str(refused.value)) == (
        409,
        "Someone else saved this a moment ago. What they saved is shown below and your changes "
        "are still in the form: check them against it and save again.",
    )
    with office.request(me) as (actor, patient):
        plan = plan_of(patient)
        assert (plan.lock, plan.updated_by_id) == (2, me.id)
        assert [m.description for m in plan.latest.measures] == ["Physiotherapy twice a week"]


@pytest.mark.parametrize("change", PLAN_CHANGES.values(), ids=PLAN_CHANGES.keys())
def test_every_change_to_a_plan_is_refused_on_an_old_lock(
    frozen: time_machine.Traveller, office: Office, change: PlanChange
) -> None:
    me, colleague = office.world.coordinator_a, office.colleague
    with office.request(me) as (actor, patient):
        _agreed_with_a_draft(actor, patient)
    later(frozen)
    with office.request(colleague) as (actor, patient):
        their_form = plan_of(patient).lock
    later(frozen)
    with office.request(me) as (actor, patient):  # meanwhile: progress on the measure in force
        (physio,) = plan_of(patient).current.measures
        service.update_measure(actor, patient, physio.uid, MeasureStatus.DONE, "Done.", their_form)
    later(frozen)
    with office.request(me) as (actor, patient):
        saved = plan_state(patient)

    with office.request(colleague) as (actor, patient):
        before = written()
        with pytest.raises(StaleEdit):
            change(actor, patient, their_form)
        db.session.rollback()
        assert written() == before

    with office.request(me) as (actor, patient):
        assert plan_state(patient) == saved


# -- Someone commits while the request runs ----------------------------------------------


def keep_what_was_read() -> None:
    """End the transaction but keep the rows loaded as they were read.

    A request holds what it read while another request commits; on SQLite one writer at a
    time means the other cannot commit while this session's transaction is open, so it is
    ended here — without expiring what was loaded, which is what this request goes on with.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def committed_meanwhile(table: str, row_id: int) -> None:
    """Another request's commit to the row, from a connection of its own: the lock moves."""
    with db.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET lock = lock + 1 WHERE id = :id"),  # noqa: S608
            {"id": row_id},
        )


@pytest.mark.parametrize("change", PLAN_CHANGES.values(), ids=PLAN_CHANGES.keys())
def test_a_plan_changed_while_the_request_runs_is_refused_when_written(
    frozen: time_machine.Traveller, me: Actor, change: PlanChange
) -> None:
    patient = register(me, "Lind", "Lars")
    activate(me, patient)
    _agreed_with_a_draft(me, patient)
    db.session.commit()
    later(frozen)
    plan = plan_of(patient)
    read, lock = plan_state(patient), plan.lock
    before = written()
    keep_what_was_read()
    committed_meanwhile("rehab_plans", plan.id)

    with pytest.raises(StaleEdit):
        change(me, patient, None)

    db.session.rollback()
    assert written() == before
    assert plan_state(patient) == (lock + 1, *read[1:])


def test_of_two_coordinators_editing_the_mapping_draft_the_second_is_refused(
    frozen: time_machine.Traveller, office: Office
) -> None:
    me, colleague = office.world.coordinator_a, office.colleague
    with office.request(me) as (actor, patient):
        mapping.save(actor, patient, MappingInput({"health": "Ont i ryggen."}), expected_lock=None)
    later(frozen)
    with office.request(me) as (actor, patient):
        my_form = mapping.latest_of(cases.current_case(patient)).lock  # type: ignore[union-attr]
    with office.request(colleague) as (actor, patient):
        their_form = mapping.latest_of(cases.current_case(patient)).lock  # type: ignore[union-attr]
    later(frozen)
    with office.request(me) as (actor, patient):
        mine = MappingInput({"health": "Ont i ryggen och nacken."})
        mapping.save(actor, patient, mine, expected_lock=my_form)
    later(frozen)

    with office.request(colleague) as (actor, patient):
        before = written()
        theirs = MappingInput({"health": "Mår bättre.", "own_goal": "Heltid."})
        with pytest.raises(StaleEdit):
            mapping.save(actor, patient, theirs, expected_lock=their_form)
        db.session.rollback()
        assert written() == before

    with office.request(me) as (actor, patient):
        saved = mapping.latest_of(cases.current_case(patient))
        assert saved is not None
        assert (saved.number, saved.lock, saved.health, saved.own_goal, saved.updated_by_id) == (
            1,
            2,
            "Ont i ryggen och nacken.",
            None,
            me.id,
        )


def test_a_mapping_draft_changed_while_the_request_runs_is_refused_when_written(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    patient = register(me, "Lind", "Lars")
    activate(me, patient)
    draft = mapping.save(me, patient, MappingInput({"health": "Ont."}), expected_lock=None)
    db.session.commit()
    later(frozen)
    assert mapping.latest_of(cases.current_case(patient)) is draft
    before = written()
    keep_what_was_read()
    committed_meanwhile("mappings", draft.id)

    with pytest.raises(StaleEdit):
        mapping.save(me, patient, MappingInput({"health": "Ont i ryggen."}), expected_lock=None)

    db.session.rollback()
    assert written() == before
    assert (draft.lock, draft.health) == (2, "Ont.")


# -- Treatments ----------------------------------------------------------------------------

KBT = TreatmentInput(TreatmentKind.KBT, TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC, day(-30))


def with_sessions(sessions: int) -> TreatmentInput:
    return TreatmentInput(KBT.kind, KBT.provider, KBT.provider_type, KBT.started_on, None, sessions)


def _treatment(patient: Patient, treatment_uid: uuid.UUID) -> Treatment:
    (treatment,) = [t for t in treatments.treatments_of(patient) if t.uid == treatment_uid]
    return treatment


def test_of_two_coordinators_changing_a_treatment_the_second_is_refused(
    frozen: time_machine.Traveller, office: Office
) -> None:
    me, colleague = office.world.coordinator_a, office.colleague
    with office.request(me) as (actor, patient):
        treatment_uid = treatments.record(actor, patient, with_sessions(3)).uid
    later(frozen)
    with office.request(me) as (actor, patient):
        my_form = treatments.open_treatment(actor, patient, treatment_uid).lock
    with office.request(colleague) as (actor, patient):
        their_form = treatments.open_treatment(actor, patient, treatment_uid).lock
    later(frozen)
    with office.request(me) as (actor, patient):
        treatment = _treatment(patient, treatment_uid)
        treatments.update(actor, patient, treatment, with_sessions(4), my_form)
    later(frozen)

    with office.request(colleague) as (actor, patient):
        treatment = _treatment(patient, treatment_uid)
        before = written()
        with pytest.raises(StaleEdit):
            treatments.update(actor, patient, treatment, with_sessions(5), their_form)
        db.session.rollback()
        assert written() == before

    with office.request(me) as (actor, patient):
        treatment = _treatment(patient, treatment_uid)
        assert (treatment.lock, treatment.sessions) == (2, 4)


def test_a_treatment_changed_while_the_request_runs_is_refused_when_written(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    patient = register(me, "Lind", "Lars")
    treatment = treatments.record(me, patient, with_sessions(3))
    db.session.commit()
    later(frozen)
    assert treatments.treatments_of(patient) == [treatment]
    before = written()
    keep_what_was_read()
    committed_meanwhile("treatments", treatment.id)

    with pytest.raises(StaleEdit):
        treatments.update(me, patient, treatment, with_sessions(4), None)

    db.session.rollback()
    assert written() == before
    assert (treatment.lock, treatment.sessions) == (2, 3)


def test_an_unchanged_lock_lets_the_change_through(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    """The lock the form carried is the stored one: saved, and the lock moves on."""
    patient = register(me, "Lind", "Lars")
    activate(me, patient)
    plan = service.save(me, patient, plan_input())
    treatment = treatments.record(me, patient, with_sessions(3))
    db.session.commit()
    later(frozen)

    service.save(me, patient, plan_input(measure("Other")), based_on=1, expected_lock=1)
    treatments.update(me, patient, treatment, with_sessions(4), 1)
    db.session.commit()

    assert (plan.lock, treatment.lock) == (2, 2)
