"""The plan and its versions: a draft created and edited in place, agreed with the patient and
then fixed, a new version carrying the measures on; refused input writing nothing; follow-ups,
progress on measures, the consent warnings beside measures, and the database's history guards.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from coordinator.access import Actor
from coordinator.consents.models import ConsentKind
from coordinator.errors import DomainError, InvalidField
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients.models import Patient
from coordinator.plans import service
from coordinator.plans.models import (
    AgreementMethod,
    FollowUp,
    Measure,
    MeasureStatus,
    PlanVersion,
    ResponsibleActor,
    ReturnGoal,
)
from coordinator.plans.service import (
    Agreement,
    AlreadyAgreed,
    FollowUpInput,
    MeasureInvalid,
    NotInForce,
    SupersededVersion,
)
from tests.consents.support import give, logged
from tests.crypto.support import stored
from tests.patients.support import TODAY, at, entries, last_access_seq
from tests.plans.support import agreed_plan, count, day, measure, plan_input, written

VISIT = measure(
    "Work-place visit with the manager",
    ResponsibleActor.EMPLOYER,
    actor_name="ICA Maxi",
    starts_on=day(7),
    due_on=day(30),
)
PHYSIO = measure("Physiotherapy twice a week", ResponsibleActor.CARE_UNIT, due_on=day(60))
WALKS = measure("Daily walks", ResponsibleActor.PATIENT)

#: The content of a version with VISIT and PHYSIO, as the journal reads it.
DESCRIBED = (
    "Mål: Eget arbete, 100 % från 2026-06-15, senast 2026-09-13.\n"
    "• Work-place visit with the manager — Arbetsgivare (ICA Maxi), 2026-06-22 – 2026-07-15\n"
    "• Physiotherapy twice a week — Vårdenheten, 2026-08-14"
)


#: The agreement's default next follow-up: two weeks on.
IN_TWO_WEEKS = day(14)


def at_meeting(
    agreed_on: Any = TODAY, next_on: Any = IN_TWO_WEEKS, note: str | None = None
) -> Agreement:
    return Agreement(agreed_on, AgreementMethod.MEETING, next_on, note)


def later(frozen: time_machine.Traveller, days: int = 0, minutes: int = 5) -> None:
    """The next request comes later (the clock moves, as it does between requests)."""
    frozen.shift(timedelta(days=days, minutes=minutes))


def descriptions(version: PlanVersion) -> list[str]:
    return [m.description for m in version.measures]


def measure_rows(version: PlanVersion) -> list[tuple[object, ...]]:
    """What the database holds for a version's measures, read with plain SQL."""
    return [
        tuple(row)
        for row in db.session.execute(
            text(
                "SELECT id, uid, position, carried_from_id, description, actor, actor_name, "
                "starts_on, due_on, status, outcome FROM measures WHERE version_id = :id "
                "ORDER BY position"
            ),
            {"id": version.id},
        )
    ]


def version_row(version: PlanVersion) -> tuple[object, ...]:
    return tuple(
        db.session.execute(
            text("SELECT * FROM plan_versions WHERE id = :id"), {"id": version.id}
        ).one()
    )


# -- Creating and editing the draft --------------------------------------------------------


def test_creating_a_plan_makes_version_1_a_draft_and_journals_it(
    me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO))

    assert (plan.lock, plan.next_follow_up_on, plan.ended_on, plan.is_active) == (
        1,
        None,
        None,
        False,
    )
    assert (plan.patient_id, plan.unit_id, plan.created_by_id) == (
        active_patient.id,
        active_patient.unit_id,
        me.user.id,
    )
    (version,) = plan.versions
    assert (version.number, version.is_agreed, plan.draft, plan.in_force) == (
        1,
        False,
        version,
        None,
    )
    assert (version.goal, version.goal_degree, version.starts_on, version.target_on) == (
        ReturnGoal.OWN_JOB,
        100,
        TODAY,
        day(90),
    )
    assert [
        (m.position, m.description, m.actor, m.actor_name, m.starts_on, m.due_on, m.status)
        for m in version.measures
    ] == [
        (1, "Work-place visit with the manager", ResponsibleActor.EMPLOYER, "ICA Maxi", day(7),
         day(30), MeasureStatus.PLANNED),
        (2, "Physiotherapy twice a week", ResponsibleActor.CARE_UNIT, None, None, day(60),
         MeasureStatus.PLANNED),
    ]  # fmt: skip
    assert [m.carried_from_id for m in version.measures] == [None, None]
    (entry,) = entries(active_patient, EntryKind.PLAN_CREATED)
    assert (entry.heading, entry.body) == ("Plan skapad (version 1, utkast)", DESCRIBED)
    assert entries(active_patient, EntryKind.PLAN_CHANGED) == []


def test_creating_a_plan_is_logged_as_a_creation(me: Actor, active_patient: Patient) -> None:
    mark = last_access_seq()

    plan = service.save(me, active_patient, plan_input(VISIT))

    (created,) = entries(active_patient, EntryKind.PLAN_CREATED)
    assert logged(mark) == [
        ("create", "plan", plan.uid.hex),
        ("create", "journal_entry", str(created.seq)),
    ]


def test_editing_the_draft_is_logged_as_a_change(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT))
    later(frozen)
    mark = last_access_seq()

    service.save(me, active_patient, plan_input(PHYSIO), based_on=1, expected_lock=plan.lock)

    (changed,) = entries(active_patient, EntryKind.PLAN_CHANGED)
    assert logged(mark) == [
        ("change", "plan", plan.uid.hex),
        ("create", "journal_entry", str(changed.seq)),
    ]


def test_the_draft_is_edited_in_place_measures_kept_changed_added_and_removed_by_uid(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO))
    db.session.commit()
    (version,) = plan.versions
    visit, physio = version.measures
    later(frozen)

    service.save(
        me,
        active_patient,
        plan_input(
            WALKS,
            measure("Physiotherapy once a week", due_on=day(45), uid=physio.uid),
            goal_degree=50,
            goal_text="Back to the ward half-time.",
        ),
        based_on=1,
        expected_lock=plan.lock,
    )
    db.session.commit()

    db.session.expire_all()
    (again,) = plan.versions
    assert (again.id, again.number, again.is_agreed) == (version.id, 1, False)
    assert (again.goal_degree, again.goal_text) == (50, "Back to the ward half-time.")
    walks, kept = again.measures
    assert (kept.id, kept.uid, kept.position, kept.description, kept.due_on) == (
        physio.id,
        physio.uid,
        2,
        "Physiotherapy once a week",
        day(45),
    )
    assert (walks.position, walks.description, walks.actor) == (
        1,
        "Daily walks",
        ResponsibleActor.PATIENT,
    )
    assert walks.id not in (visit.id, physio.id)
    assert db.session.scalar(select(Measure).where(Measure.id == visit.id)) is None
    assert (count(PlanVersion), count(Measure), plan.lock) == (1, 2, 2)
    (entry,) = entries(active_patient, EntryKind.PLAN_CHANGED)
    assert (entry.heading, entry.body) == (
        "Planversion 1 utarbetad",
        "Mål: Eget arbete, 50 % från 2026-06-15, senast 2026-09-13.\n"
        "Back to the ward half-time.\n"
        "• Daily walks — Patienten\n"
        "• Physiotherapy once a week — Vårdenheten, 2026-07-30",
    )


# -- Agreement -----------------------------------------------------------------------------


def test_agreeing_fixes_the_version_and_sets_the_next_follow_up(
    me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO))
    mark = last_access_seq()

    version = service.agree(
        me, active_patient, 1, Agreement(TODAY, AgreementMethod.PHONE, day(14), " Känns bra. ")
    )

    assert (version.agreed_on, version.agreement_method, version.agreement_note) == (
        TODAY,
        AgreementMethod.PHONE,
        "Känns bra.",
    )
    assert version.agreed_recorded_by_id == me.user.id
    assert (plan.next_follow_up_on, plan.in_force, plan.draft, plan.is_active) == (
        day(14),
        version,
        None,
        True,
    )
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert (entry.heading, entry.body) == (
        "Planversion 1 godkänd av patienten",
        "Godkänd 2026-06-15 (Per telefon). Nästa uppföljning: 2026-06-29. "
        "Patientens ord: Känns bra.",
    )
    assert logged(mark) == [
        ("change", "plan", plan.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_an_agreement_without_the_patients_words_journals_the_day_and_the_next_follow_up(
    me: Actor, active_patient: Patient
) -> None:
    agreed_plan(me, active_patient)

    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert entry.body == "Godkänd 2026-06-15 (Vid möte). Nästa uppföljning: 2026-06-29."


def test_editing_an_agreed_plan_makes_version_2_carrying_the_measures_and_keeps_version_1(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO, goal_text="Back to work."))
    service.agree(me, active_patient, 1, at_meeting())
    db.session.commit()
    first = plan.version(1)
    assert first is not None
    visit, physio = first.measures
    first_row, first_measures = version_row(first), measure_rows(first)
    goal_bytes = stored("plan_versions", "goal_text", first.id)
    later(frozen, days=14)

    service.save(
        me,
        active_patient,
        plan_input(
            measure("Work-place visit with the manager", ResponsibleActor.EMPLOYER,
                    actor_name="ICA Maxi", starts_on=day(7), due_on=day(40), uid=visit.uid),
            WALKS,
            measure("Physiotherapy twice a week", due_on=day(60), uid=physio.uid,
                    status=MeasureStatus.ONGOING),
            goal_degree=50,
        ),
        based_on=1,
        expected_lock=plan.lock,
    )  # fmt: skip
    db.session.commit()

    db.session.expire_all()
    assert [v.number for v in plan.versions] == [1, 2]
    second = plan.version(2)
    assert second is not None
    assert (plan.draft, plan.in_force, plan.current, plan.next_follow_up_on) == (
        second,
        first,
        first,
        day(14),
    )
    assert (second.is_agreed, second.goal_degree, second.goal_text) == (False, 50, None)
    assert [(m.description, m.carried_from_id) for m in second.measures] == [
        ("Work-place visit with the manager", visit.id),
        ("Daily walks", None),
        ("Physiotherapy twice a week", physio.id),
    ]
    assert {m.uid for m in second.measures}.isdisjoint({visit.uid, physio.uid})
    assert (second.measures[0].due_on, second.measures[2].status) == (
        day(40),
        MeasureStatus.ONGOING,
    )
    # Version 1 reads as it was agreed, down to the stored bytes.
    assert (version_row(first), measure_rows(first)) == (first_row, first_measures)
    assert stored("plan_versions", "goal_text", first.id) == goal_bytes
    assert (first.goal_degree, first.goal_text, descriptions(first)) == (
        100,
        "Back to work.",
        ["Work-place visit with the manager", "Physiotherapy twice a week"],
    )
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert entry.heading == "Planversion 2 utarbetad"


def test_agreeing_version_2_puts_it_in_force_and_replaces_version_1(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, VISIT, PHYSIO)
    later(frozen, days=14)
    service.save(me, active_patient, plan_input(WALKS), based_on=1, expected_lock=plan.lock)
    later(frozen)

    second = service.agree(me, active_patient, 2, at_meeting(day(14), day(42)))

    first = plan.version(1)
    assert first is not None
    assert (plan.in_force, plan.current, plan.draft, plan.latest) == (second, second, None, second)
    assert (first.is_agreed, first.agreed_on, descriptions(first)) == (
        True,
        TODAY,
        ["Work-place visit with the manager", "Physiotherapy twice a week"],
    )
    assert (second.agreed_on, plan.next_follow_up_on) == (day(14), day(42))
    assert entries(active_patient, EntryKind.PLAN_CHANGED)[-1].heading == (
        "Planversion 2 godkänd av patienten"
    )


def test_a_form_filled_from_a_replaced_version_is_refused(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, VISIT)
    later(frozen)
    service.save(me, active_patient, plan_input(PHYSIO), based_on=1, expected_lock=plan.lock)
    db.session.commit()
    before = written()

    with pytest.raises(SupersededVersion) as refused:
        service.save(me, active_patient, plan_input(WALKS), based_on=1, expected_lock=plan.lock)

    assert refused.value.status_code == 409
    assert str(refused.value) == (
        "Version 1 has been replaced by version 2 and can no longer be changed. Open the current "
        "version to edit the plan."
    )
    db.session.rollback()
    assert written() == before
    assert descriptions(plan.latest) == ["Physiotherapy twice a week"]


def test_a_version_is_agreed_to_once(me: Actor, active_patient: Patient) -> None:
    agreed_plan(me, active_patient)
    before = written()

    with pytest.raises(AlreadyAgreed) as refused:
        service.agree(me, active_patient, 1, at_meeting(next_on=day(20)))

    assert (refused.value.status_code, str(refused.value)) == (
        409,
        "The patient agreed to version 1 on 2026-06-15.",
    )
    assert written() == before


def test_a_plan_without_measures_cannot_be_agreed(me: Actor, active_patient: Patient) -> None:
    plan = service.save(me, active_patient, plan_input(measures=[]))
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.agree(me, active_patient, 1, at_meeting())

    assert (refused.value.field, str(refused.value)) == (
        "agreed_on",
        "A plan needs at least one measure before the patient agrees to it.",
    )
    assert written() == before
    assert (plan.latest.is_agreed, plan.next_follow_up_on) == (False, None)


NEXT_FOLLOW_UPS = {
    "none": (None, "Set the next follow-up: a plan in force always has one."),
    "on-the-agreement-day": (TODAY, "The next follow-up must be ahead."),
    "before-the-agreement": (day(-1), "The next follow-up must be ahead."),
    "beyond-two-years": (day(731), "At most two years ahead."),
}


@pytest.mark.parametrize(("next_on", "message"), NEXT_FOLLOW_UPS.values(), ids=NEXT_FOLLOW_UPS)
def test_an_agreement_needs_a_next_follow_up_ahead(
    me: Actor, active_patient: Patient, next_on: Any, message: str
) -> None:
    plan = service.save(me, active_patient, plan_input())
    db.session.commit()
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.agree(me, active_patient, 1, at_meeting(next_on=next_on))

    assert (refused.value.field, str(refused.value)) == ("next_follow_up_on", message)
    db.session.rollback()
    assert written() == before
    assert (plan.latest.is_agreed, plan.next_follow_up_on) == (False, None)


def test_an_agreement_in_the_future_is_refused(me: Actor, active_patient: Patient) -> None:
    service.save(me, active_patient, plan_input())
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.agree(me, active_patient, 1, at_meeting(agreed_on=day(1), next_on=day(14)))

    assert refused.value.field == "agreed_on"
    assert written() == before


def test_a_refused_agreement_leaves_the_version_a_draft(me: Actor, active_patient: Patient) -> None:
    """The patient's words are checked too: too long, nothing of the agreement is kept."""
    plan = service.save(me, active_patient, plan_input())
    db.session.commit()
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.agree(me, active_patient, 1, at_meeting(note="Ja. " * 1001))

    assert refused.value.field == "note"
    version = plan.latest
    assert (version.agreed_on, version.agreement_method, plan.in_force) == (None, None, None)
    assert written() == before
    stored_agreement = db.session.execute(
        text("SELECT agreed_on, agreement_method FROM plan_versions WHERE id = :id"),
        {"id": version.id},
    ).one()
    assert tuple(stored_agreement) == (None, None)


# -- Refused input writes nothing ----------------------------------------------------------

BAD_PLANS: dict[str, tuple[dict[str, Any], str]] = {
    "target-before-start": ({"target_on": day(-1)}, "target_on"),
    "target-beyond-two-years": ({"target_on": day(731)}, "target_on"),
    "start-more-than-a-year-back": (
        {"starts_on": day(-367), "target_on": day(-300)},
        "starts_on",
    ),
    "degree-60": ({"goal_degree": 60}, "goal_degree"),
    "degree-0": ({"goal_degree": 0}, "goal_degree"),
    "goal-text-too-long": ({"goal_text": "x" * 1001}, "goal_text"),
}


@pytest.mark.parametrize(("changes", "field"), BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_a_bad_plan_is_refused_on_its_field_and_nothing_is_written(
    me: Actor, active_patient: Patient, changes: dict[str, Any], field: str
) -> None:
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.save(me, active_patient, plan_input(**changes))

    assert refused.value.field == field
    assert not isinstance(refused.value, MeasureInvalid)
    assert written() == before


BAD_MEASURES: dict[str, tuple[list[Any], int, str]] = {
    "due-after-the-target": ([measure(due_on=day(91))], 0, "due_on"),
    "due-before-the-plan": ([measure(due_on=day(-1))], 0, "due_on"),
    "due-before-it-starts": ([measure(starts_on=day(20), due_on=day(10))], 0, "due_on"),
    "starts-after-the-target": ([measure(starts_on=day(95))], 0, "starts_on"),
    "blank-description": ([measure("   ")], 0, "description"),
    "description-too-long": ([measure("x" * 501)], 0, "description"),
    "second-blank": ([measure(), measure("")], 1, "description"),
    "second-due-outside": ([measure(), measure(due_on=day(120))], 1, "due_on"),
    "actor-name-too-long": ([measure(actor_name="x" * 201)], 0, "actor_name"),
}


@pytest.mark.parametrize(
    ("measures", "index", "subfield"), BAD_MEASURES.values(), ids=BAD_MEASURES.keys()
)
def test_a_bad_measure_is_refused_by_its_row_and_field_and_nothing_is_written(
    me: Actor, active_patient: Patient, measures: list[Any], index: int, subfield: str
) -> None:
    before = written()

    with pytest.raises(MeasureInvalid) as refused:
        service.save(me, active_patient, plan_input(*measures))

    assert (refused.value.field, refused.value.index, refused.value.subfield) == (
        "measures",
        index,
        subfield,
    )
    assert str(refused.value).startswith(f"Measure {index + 1}: ")
    assert written() == before


def test_a_measure_outside_the_plan_names_the_plans_dates(
    me: Actor, active_patient: Patient
) -> None:
    with pytest.raises(MeasureInvalid) as refused:
        service.save(me, active_patient, plan_input(measure(due_on=day(91))))

    assert str(refused.value.detail) == "The date must be within the plan, 2026-06-15 – 2026-09-13."
    assert str(refused.value) == (
        "Measure 1: The date must be within the plan, 2026-06-15 – 2026-09-13."
    )


def test_a_refused_edit_leaves_the_draft_as_it_was(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO))
    db.session.commit()
    version = plan.latest
    rows, lock = measure_rows(version), plan.lock
    later(frozen)
    before = written()

    with pytest.raises(MeasureInvalid):
        service.save(
            me,
            active_patient,
            plan_input(WALKS, measure("", uid=version.measures[0].uid)),
            based_on=1,
            expected_lock=lock,
        )

    db.session.rollback()
    assert written() == before
    assert (measure_rows(version), plan.lock) == (rows, lock)


def test_more_than_thirty_measures_are_refused(me: Actor, active_patient: Patient) -> None:
    before = written()

    with pytest.raises(DomainError) as refused:
        service.save(me, active_patient, plan_input(*[measure(f"Step {n}") for n in range(31)]))

    assert str(refused.value) == "At most 30 measures."
    assert written() == before


# -- Follow-ups ----------------------------------------------------------------------------


def test_a_follow_up_is_recorded_and_sets_the_next_one(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, VISIT)
    db.session.commit()
    frozen.move_to(at(day(14)))
    mark = last_access_seq()

    record = service.follow_up(
        me, active_patient, FollowUpInput(day(14), " Works 25 % since Monday. ", day(42))
    )

    assert (record.plan_id, record.version_id, record.held_on, record.notes) == (
        plan.id,
        plan.latest.id,
        day(14),
        "Works 25 % since Monday.",
    )
    assert (record.next_on, record.ended_plan, record.recorded_by_id, record.recorded_at) == (
        day(42),
        False,
        me.user.id,
        at(day(14)),
    )
    assert (plan.next_follow_up_on, plan.ended_on, plan.is_active) == (day(42), None, True)
    assert service.follow_ups_of(plan) == [record]
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert (entry.heading, entry.body) == (
        "Planen följd upp",
        "Den 2026-06-29: Works 25 % since Monday. Nästa uppföljning: 2026-07-27.",
    )
    assert logged(mark) == [
        ("create", "plan_follow_up", record.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_follow_ups_are_listed_newest_first(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient)
    frozen.move_to(at(day(14)))
    first = service.follow_up(me, active_patient, FollowUpInput(day(14), "First.", day(28)))
    frozen.move_to(at(day(28)))
    second = service.follow_up(me, active_patient, FollowUpInput(day(28), "Second.", day(56)))

    assert service.follow_ups_of(plan) == [second, first]


def test_a_follow_up_needs_a_next_follow_up_unless_it_ends_the_plan(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient)
    db.session.commit()
    frozen.move_to(at(day(14)))
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.follow_up(me, active_patient, FollowUpInput(day(14), "Went well.", None))

    assert refused.value.field == "next_follow_up_on"
    db.session.rollback()
    assert written() == before
    assert plan.next_follow_up_on == day(14)


def test_ending_the_plan_at_a_follow_up(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient)
    frozen.move_to(at(day(14)))

    record = service.follow_up(
        me, active_patient, FollowUpInput(day(14), "Back full-time.", day(28), end_plan=True)
    )

    assert (record.ended_plan, record.next_on) == (True, None)
    assert (plan.ended_on, plan.next_follow_up_on, plan.is_active) == (day(14), None, False)
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert entry.body == "Den 2026-06-29: Back full-time. Planen avslutades."
    with pytest.raises(NotInForce) as refused:
        service.follow_up(me, active_patient, FollowUpInput(day(14), "Again.", day(28)))
    assert str(refused.value) == "The plan has ended."


def test_a_follow_up_before_the_agreement_is_refused(me: Actor, active_patient: Patient) -> None:
    agreed_plan(me, active_patient)
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.follow_up(me, active_patient, FollowUpInput(day(-1), "Earlier.", day(14)))

    assert (refused.value.field, str(refused.value)) == (
        "held_on",
        "The follow-up is before the plan was agreed.",
    )
    assert written() == before


def test_a_follow_up_in_the_future_or_without_notes_is_refused(
    me: Actor, active_patient: Patient
) -> None:
    agreed_plan(me, active_patient)
    before = written()

    with pytest.raises(InvalidField) as future:
        service.follow_up(me, active_patient, FollowUpInput(day(1), "Tomorrow.", day(14)))
    with pytest.raises(InvalidField) as empty:
        service.follow_up(me, active_patient, FollowUpInput(TODAY, "  ", day(14)))

    assert (future.value.field, empty.value.field) == ("held_on", "notes")
    assert written() == before


def test_a_plan_not_agreed_cannot_be_followed_up(me: Actor, active_patient: Patient) -> None:
    service.save(me, active_patient, plan_input())
    before = written()

    with pytest.raises(NotInForce) as refused:
        service.follow_up(me, active_patient, FollowUpInput(TODAY, "Nothing.", day(14)))

    assert (refused.value.status_code, str(refused.value)) == (
        409,
        "The plan has no version the patient has agreed to yet.",
    )
    assert written() == before
    assert count(FollowUp) == 0


# -- Progress on measures ------------------------------------------------------------------


def test_progress_on_a_measure_of_the_version_in_force(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, VISIT, PHYSIO)
    physio = plan.current.measures[1]
    later(frozen, days=3)
    mark = last_access_seq()

    updated = service.update_measure(
        me, active_patient, physio.uid, MeasureStatus.DONE, " Eight sessions, walks 5 km. "
    )

    assert updated is physio
    assert (physio.status, physio.outcome) == (MeasureStatus.DONE, "Eight sessions, walks 5 km.")
    assert plan.version(1) is plan.in_force
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert (entry.heading, entry.body) == (
        "Insats uppdaterad: Klar",
        "Physiotherapy twice a week Resultat: Eight sessions, walks 5 km.",
    )
    assert logged(mark) == [
        ("change", "measure", physio.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_progress_on_a_measure_of_a_replaced_version_is_refused(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, VISIT, PHYSIO)
    old_physio = plan.current.measures[1]
    later(frozen, days=14)
    service.save(
        me,
        active_patient,
        plan_input(measure("Physiotherapy", due_on=day(60), uid=old_physio.uid)),
        based_on=1,
        expected_lock=plan.lock,
    )
    service.agree(me, active_patient, 2, at_meeting(day(14), day(28)))
    db.session.commit()
    before = written()

    with pytest.raises(SupersededVersion) as refused:
        service.update_measure(me, active_patient, old_physio.uid, MeasureStatus.DONE, "Done.")

    assert str(refused.value).startswith("Version 1 has been replaced by version 2")
    db.session.rollback()
    assert written() == before
    assert (old_physio.status, old_physio.outcome) == (MeasureStatus.PLANNED, None)


def test_a_refused_outcome_leaves_the_measure_as_it_was(me: Actor, active_patient: Patient) -> None:
    plan = agreed_plan(me, active_patient, PHYSIO)
    physio = plan.current.measures[0]
    db.session.commit()
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.update_measure(me, active_patient, physio.uid, MeasureStatus.DONE, "x" * 1001)

    assert refused.value.field == "outcome"
    assert physio.status is MeasureStatus.PLANNED
    assert written() == before
    status = db.session.scalar(
        text("SELECT status FROM measures WHERE id = :id"), {"id": physio.id}
    )
    assert status == "planned"


# -- Consent warnings ----------------------------------------------------------------------


def test_a_measure_for_an_actor_without_consent_is_warned_about(
    me: Actor, active_patient: Patient
) -> None:
    plan = service.save(
        me,
        active_patient,
        plan_input(VISIT, PHYSIO, WALKS, measure("Meeting", ResponsibleActor.SOCIAL_INSURANCE)),
    )
    visit, physio, walks, meeting = plan.current.measures

    warnings = service.consent_warnings(active_patient, plan.current, TODAY)

    assert warnings == {
        visit.id: "The patient has given no consent for: Employer (ICA Maxi). The measure is "
        "planned, but nothing about the patient may be disclosed to Employer until the patient "
        "consents.",
        meeting.id: "The patient has given no consent for: Försäkringskassan. The measure is "
        "planned, but nothing about the patient may be disclosed to Försäkringskassan until the "
        "patient consents.",
    }
    assert physio.id not in warnings
    assert walks.id not in warnings


def test_the_warning_goes_once_the_employer_consent_is_recorded(
    me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT, PHYSIO, WALKS))

    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)

    assert service.consent_warnings(active_patient, plan.current, TODAY) == {}


def test_a_consent_for_another_employer_does_not_lift_the_warning(
    me: Actor, active_patient: Patient
) -> None:
    plan = service.save(me, active_patient, plan_input(VISIT))
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY, name="Coop")

    (warning,) = service.consent_warnings(active_patient, plan.current, TODAY).values()

    assert "nothing about the patient may be disclosed to Employer" in warning


# -- The database guards -------------------------------------------------------------------


def _refusal(table: str, statement: str, values: dict[str, Any]) -> str:
    db.session.rollback()
    with pytest.raises(DatabaseError) as refused:
        db.session.execute(text(statement), values)
    db.session.rollback()
    message = str(refused.value)
    assert any(words in message for words in (f"{table} is history", f"{table} is append-only")), (
        message
    )
    return message


GUARDED_VERSION_STATEMENTS = {
    "goal-degree": "UPDATE plan_versions SET goal_degree = 50 WHERE id = :id",
    "target": "UPDATE plan_versions SET target_on = '2027-01-01' WHERE id = :id",
    "un-agree": "UPDATE plan_versions SET agreed_on = NULL WHERE id = :id",
    "delete": "DELETE FROM plan_versions WHERE id = :id",
}


@pytest.mark.parametrize(
    "statement", GUARDED_VERSION_STATEMENTS.values(), ids=GUARDED_VERSION_STATEMENTS.keys()
)
def test_the_database_refuses_to_change_an_agreed_version(
    me: Actor, active_patient: Patient, statement: str
) -> None:
    plan = agreed_plan(me, active_patient)
    db.session.commit()
    version = plan.latest
    before = version_row(version)

    _refusal("plan_versions", statement, {"id": version.id})

    assert version_row(version) == before


def test_the_database_lets_a_draft_version_change(me: Actor, active_patient: Patient) -> None:
    plan = service.save(me, active_patient, plan_input())
    db.session.commit()

    db.session.execute(
        text("UPDATE plan_versions SET goal_degree = 50 WHERE id = :id"), {"id": plan.latest.id}
    )
    db.session.commit()

    db.session.expire_all()
    assert plan.latest.goal_degree == 50


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM plan_follow_ups WHERE id = :id",
        "UPDATE plan_follow_ups SET held_on = '2026-06-20' WHERE id = :id",
        "UPDATE plan_follow_ups SET next_on = NULL WHERE id = :id",
    ],
    ids=["delete", "held-on", "next-on"],
)
def test_the_database_refuses_to_change_a_follow_up(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient, statement: str
) -> None:
    agreed_plan(me, active_patient)
    frozen.move_to(at(day(14)))
    record = service.follow_up(me, active_patient, FollowUpInput(day(14), "Fine.", day(28)))
    db.session.commit()
    before = tuple(
        db.session.execute(
            text("SELECT * FROM plan_follow_ups WHERE id = :id"), {"id": record.id}
        ).one()
    )

    _refusal("plan_follow_ups", statement, {"id": record.id})

    assert count(FollowUp) == 1
    after = db.session.execute(
        text("SELECT * FROM plan_follow_ups WHERE id = :id"), {"id": record.id}
    ).one()
    assert tuple(after) == before


def test_key_rotation_may_rewrite_the_sealed_columns_of_history(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    """What key rotation does: new ciphertext of the same text, nothing else touched."""
    plan = service.save(me, active_patient, plan_input(goal_text="Back to work."))
    service.agree(me, active_patient, 1, at_meeting())
    frozen.move_to(at(day(14)))
    record = service.follow_up(me, active_patient, FollowUpInput(day(14), "Fine.", day(28)))
    version = plan.latest
    db.session.commit()
    old = (
        stored("plan_versions", "goal_text", version.id),
        stored("plan_follow_ups", "notes", record.id),
    )
    goal = PlanVersion.goal_text.encrypt(version.uid.hex, "Back to work.")
    notes = FollowUp.notes.encrypt(record.uid.hex, "Fine.")
    db.session.rollback()

    db.session.execute(
        text("UPDATE plan_versions SET goal_text = :v WHERE id = :id"),
        {"v": goal, "id": version.id},
    )
    db.session.execute(
        text("UPDATE plan_follow_ups SET notes = :v WHERE id = :id"),
        {"v": notes, "id": record.id},
    )
    db.session.commit()

    db.session.expire_all()
    assert (version.goal_text, record.notes) == ("Back to work.", "Fine.")
    assert stored("plan_versions", "goal_text", version.id) == goal
    assert stored("plan_follow_ups", "notes", record.id) == notes
    assert (goal, notes) != old


def test_the_plans_texts_are_stored_encrypted(me: Actor, active_patient: Patient) -> None:
    plan = service.save(
        me, active_patient, plan_input(VISIT, goal_text="Tillbaka till avdelning 4.")
    )
    version = plan.latest
    db.session.commit()

    raw = (
        stored("plan_versions", "goal_text", version.id),
        stored("measures", "description", version.measures[0].id),
        stored("measures", "actor_name", version.measures[0].id),
    )

    assert b"avdelning" not in raw[0]
    assert b"Work-place" not in raw[1]
    assert b"ICA" not in raw[2]
