"""Plans across the unit: the caseload list's plan filters and the Today page's plan groups —
active cases without a plan, plans without a next follow-up, follow-ups overdue, measures past
their due date (in the version in force of a plan not ended)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.extensions import db
from coordinator.patients import caseload, cases, today
from coordinator.patients.caseload import Filters, Scope
from coordinator.patients.models import Patient
from coordinator.patients.screening import ScreeningRules
from coordinator.plans import service
from coordinator.plans.models import AgreementMethod, MeasureStatus, RehabPlan
from coordinator.plans.queries import PlanFilter
from coordinator.plans.service import Agreement, FollowUpInput
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.patients.support import NOW, TODAY, activate, at, register
from tests.plans.support import day, measure, plan_input

RULES = ScreeningRules()
PLAN_GROUPS = ("plan-none", "plan-no-follow-up", "plan-follow-up-overdue", "plan-measures-overdue")
#: Where the lists are looked at: Sunday 5 July, three weeks after the plans were made.
LATER = day(20)


#: The next follow-up set when a plan is agreed, unless another is given.
IN_TWO_WEEKS = day(14)


def agree(actor: Actor, patient: Patient, next_on: date = IN_TWO_WEEKS) -> None:
    """Version 1 agreed today at a meeting."""
    service.agree(actor, patient, 1, Agreement(TODAY, AgreementMethod.MEETING, next_on))


@pytest.fixture
def unit(frozen: time_machine.Traveller, world: World, me: Actor) -> dict[str, Patient]:
    """Unit A's patients, their plans made on Monday 15 June (TODAY); the world's Tolvansson
    (new, unassigned, no plan) besides. Day offsets are from TODAY."""
    place = db.session.get(CareUnit, world.unit_a.id)
    colleague = actor_for(UserFactory(username="koord.a2", units=[place]), world.unit_a)
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    p: dict[str, Patient] = {}
    for name in ("Berg", "Dahl", "Ek", "Falk", "Gran", "Holm", "Ivarsson"):
        p[name] = register(me, name)
        activate(me, p[name])
    # Active, no plan.  (Berg)
    # Active, a plan drafted but not agreed: no next follow-up.
    service.save(me, p["Dahl"], plan_input(measure(due_on=day(5))))
    # Agreed, follow-up due on day 14, a measure due on day 10.
    service.save(me, p["Ek"], plan_input(measure("Physiotherapy", due_on=day(10))))
    agree(me, p["Ek"])
    # Agreed, follow-up on day 30; two measures due on days 5 and 8, one on day 40.
    service.save(me, p["Falk"], plan_input(
        measure("Visit", due_on=day(8)), measure("Call", due_on=day(5)),
        measure("Trial", due_on=day(40)),
    ))  # fmt: skip
    agree(me, p["Falk"], next_on=day(30))
    # Agreed with a measure due on day 5 — and ended at once (the goal was reached).
    service.save(me, p["Gran"], plan_input(measure(due_on=day(5))))
    agree(me, p["Gran"])
    service.follow_up(me, p["Gran"], FollowUpInput(TODAY, "Back full-time.", None, end_plan=True))
    # Agreed, follow-up on day 30; the measures due on days 5 and 10 are done and cancelled.
    service.save(me, p["Holm"], plan_input(measure(due_on=day(5)), measure(due_on=day(10))))
    agree(me, p["Holm"], next_on=day(30))
    done, cancelled = plan_of(p["Holm"]).current.measures
    service.update_measure(me, p["Holm"], done.uid, MeasureStatus.DONE, None)
    service.update_measure(me, p["Holm"], cancelled.uid, MeasureStatus.CANCELLED, None)
    # Agreed (a measure due on day 40, follow-up on day 30); version 2 drafted with a measure
    # due on day 5 — not in force, so not overdue.
    service.save(me, p["Ivarsson"], plan_input(measure(due_on=day(40))))
    agree(me, p["Ivarsson"], next_on=day(30))
    service.save(me, p["Ivarsson"], plan_input(measure(due_on=day(5))), based_on=1)
    # New: coordination not started, no plan.
    p["Jung"] = register(me, "Jung")
    # The colleague's, active, no plan; another unit's, active, no plan.
    p["Karlsson"] = register(colleague, "Karlsson")
    activate(colleague, p["Karlsson"])
    p["Öberg"] = register(other_unit, "Öberg")
    activate(other_unit, p["Öberg"])
    db.session.commit()
    return p


def plan_of(patient: Patient) -> RehabPlan:
    plan = service.plan_of(cases.current_case(patient))
    assert plan is not None
    return plan


def names(actor: Actor, which: PlanFilter, on: date, scope: Scope = Scope.UNIT) -> list[str]:
    """The unit's open cases the filter keeps on day ``on``, in the list's order (by name)."""
    page = caseload.caseload(actor, Filters(scope=scope, plan=which), on, RULES, 50)
    return [row.patient.last_name for row in page.rows if row.patient is not None]


def plan_groups(actor: Actor) -> dict[str, list[tuple[str, str]]]:
    return {
        group.key: [(patient.last_name, note) for patient, note in group.shown]
        for group in today.queue(actor, NOW - timedelta(days=7), RULES)
        if group.key in PLAN_GROUPS
    }


# -- The caseload list's filters -----------------------------------------------------------


def test_the_plan_filters_three_weeks_on(
    frozen: time_machine.Traveller, me: Actor, unit: dict[str, Patient]
) -> None:
    frozen.move_to(at(LATER))

    shown = {which: names(me, which, LATER) for which in PlanFilter}

    assert shown == {
        PlanFilter.NONE: ["Berg", "Karlsson"],  # not Jung nor Tolvansson: not active
        PlanFilter.NO_FOLLOW_UP: ["Dahl"],
        PlanFilter.FOLLOW_UP_OVERDUE: ["Ek"],
        PlanFilter.MEASURES_OVERDUE: ["Ek", "Falk"],
    }


def test_the_plan_filters_on_the_day_the_plans_were_made(
    me: Actor, unit: dict[str, Patient]
) -> None:
    shown = {which: names(me, which, TODAY) for which in PlanFilter}

    assert shown == {
        PlanFilter.NONE: ["Berg", "Karlsson"],
        PlanFilter.NO_FOLLOW_UP: ["Dahl"],
        PlanFilter.FOLLOW_UP_OVERDUE: [],
        PlanFilter.MEASURES_OVERDUE: [],
    }


def test_overdue_means_the_day_has_passed(
    frozen: time_machine.Traveller, me: Actor, unit: dict[str, Patient]
) -> None:
    """Ek's measure is due on day 10 and the follow-up on day 14; Falk's on days 5 and 8."""
    shown = {}
    for offset in (10, 11, 14, 15):
        frozen.move_to(at(day(offset)))
        shown[offset] = (
            names(me, PlanFilter.FOLLOW_UP_OVERDUE, day(offset)),
            names(me, PlanFilter.MEASURES_OVERDUE, day(offset)),
        )

    assert shown == {
        10: ([], ["Falk"]),
        11: ([], ["Ek", "Falk"]),
        14: ([], ["Ek", "Falk"]),
        15: (["Ek"], ["Ek", "Falk"]),
    }


def test_the_filters_keep_to_the_scope(me: Actor, unit: dict[str, Patient]) -> None:
    assert names(me, PlanFilter.NONE, TODAY, Scope.MINE) == ["Berg"]
    assert names(me, PlanFilter.NONE, TODAY, Scope.UNASSIGNED) == []


def test_another_units_coordinator_sees_their_own_units_plans_only(
    world: World, unit: dict[str, Patient]
) -> None:
    other = actor_for(world.coordinator_b, world.unit_b)

    assert {which: names(other, which, LATER) for which in PlanFilter} == {
        PlanFilter.NONE: ["Öberg"],
        PlanFilter.NO_FOLLOW_UP: [],
        PlanFilter.FOLLOW_UP_OVERDUE: [],
        PlanFilter.MEASURES_OVERDUE: [],
    }


# -- Today ---------------------------------------------------------------------------------


def test_the_today_plan_groups_three_weeks_on(
    frozen: time_machine.Traveller, me: Actor, unit: dict[str, Patient]
) -> None:
    frozen.move_to(at(LATER))

    assert plan_groups(me) == {
        "plan-none": [("Berg", "No plan yet")],
        "plan-no-follow-up": [("Dahl", "No next follow-up set")],
        "plan-follow-up-overdue": [("Ek", "Follow-up was due 2026-06-29")],
        "plan-measures-overdue": [
            ("Falk", "2 past due, since 2026-06-20"),
            ("Ek", "1 past due, since 2026-06-25"),
        ],
    }


def test_the_today_plan_groups_link_to_the_filtered_list(
    frozen: time_machine.Traveller, me: Actor, unit: dict[str, Patient]
) -> None:
    frozen.move_to(at(LATER))

    groups = {
        g.key: (g.title, g.list_args) for g in today.queue(me, NOW, RULES) if g.key in PLAN_GROUPS
    }

    assert groups == {
        "plan-none": ("Active cases without a plan", {"plan": "none", "scope": "mine"}),
        "plan-no-follow-up": (
            "Plans without a next follow-up",
            {"plan": "no_follow_up", "scope": "mine"},
        ),
        "plan-follow-up-overdue": (
            "Plan follow-ups overdue",
            {"plan": "follow_up_overdue", "scope": "mine"},
        ),
        "plan-measures-overdue": (
            "Measures past their due date",
            {"plan": "measures_overdue", "scope": "mine"},
        ),
    }


def test_on_the_day_the_plans_were_made_only_the_missing_ones_show(
    me: Actor, unit: dict[str, Patient]
) -> None:
    assert plan_groups(me) == {
        "plan-none": [("Berg", "No plan yet")],
        "plan-no-follow-up": [("Dahl", "No next follow-up set")],
    }


def test_a_follow_up_recorded_takes_the_plan_out_of_the_overdue_groups(
    frozen: time_machine.Traveller, me: Actor, unit: dict[str, Patient]
) -> None:
    frozen.move_to(at(LATER))
    ek = unit["Ek"]
    (physio,) = plan_of(ek).current.measures

    service.follow_up(me, ek, FollowUpInput(LATER, "Better.", day(34)))
    service.update_measure(me, ek, physio.uid, MeasureStatus.DONE, "Eight sessions.")

    assert plan_groups(me) == {
        "plan-none": [("Berg", "No plan yet")],
        "plan-no-follow-up": [("Dahl", "No next follow-up set")],
        "plan-measures-overdue": [("Falk", "2 past due, since 2026-06-20")],
    }
    assert names(me, PlanFilter.FOLLOW_UP_OVERDUE, LATER) == []


def test_the_colleagues_today_shows_their_own_case(
    frozen: time_machine.Traveller, world: World, unit: dict[str, Patient]
) -> None:
    koord_a2 = db.session.scalars(select(User).where(User.username == "koord.a2")).one()
    colleague = actor_for(koord_a2, world.unit_a)
    frozen.move_to(at(LATER))

    assert plan_groups(colleague) == {"plan-none": [("Karlsson", "No plan yet")]}
