"""Plans across a unit: the caseload list's plan filters (SQL conditions) and the facts the
Today page's plan groups are made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import aliased

from coordinator.extensions import db
from coordinator.plans.models import Measure, MeasureStatus, PlanVersion, RehabPlan

PENDING = [status for status in MeasureStatus if status.is_pending]


class PlanFilter(StrEnum):
    """The caseload list's plan filters (the Today page's plan groups link to them)."""

    #: Coordination is under way but there is no plan.
    NONE = "none"
    #: A plan not ended and without a next follow-up (a draft not yet agreed, usually).
    NO_FOLLOW_UP = "no_follow_up"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    MEASURES_OVERDUE = "measures_overdue"

    @property
    def label(self) -> str:
        return str(_FILTER_LABELS[self])


_FILTER_LABELS = {
    PlanFilter.NONE: _l("Active, without a plan"),
    PlanFilter.NO_FOLLOW_UP: _l("Plan without a next follow-up"),
    PlanFilter.FOLLOW_UP_OVERDUE: _l("Plan follow-up overdue"),
    PlanFilter.MEASURES_OVERDUE: _l("Measures past their due date"),
}


def version_in_force() -> Any:
    """Correlated subquery: the number of the latest agreed version of ``RehabPlan``."""
    agreed = aliased(PlanVersion)
    return (
        select(func.max(agreed.number))
        .where(agreed.plan_id == RehabPlan.id, agreed.agreed_on.is_not(None))
        .correlate(RehabPlan)
        .scalar_subquery()
    )


def overdue_measures(today: date) -> Any:
    """Pending measures past their due date in the version in force of an ongoing plan, with
    their plan (select from it: plan id, patient id, due date)."""
    return (
        select(RehabPlan.id, RehabPlan.patient_id, RehabPlan.case_id, Measure.due_on)
        .join(PlanVersion, PlanVersion.plan_id == RehabPlan.id)
        .join(Measure, Measure.version_id == PlanVersion.id)
        .where(
            RehabPlan.ended_on.is_(None),
            PlanVersion.number == version_in_force(),
            Measure.status.in_(PENDING),
            Measure.due_on < today,
        )
    )


def condition(
    which: PlanFilter, case_id: Any, case_is_active: ColumnElement[bool], today: date
) -> ColumnElement[bool]:
    """The SQL condition for a caseload row whose latest case has id ``case_id``."""
    ongoing = and_(RehabPlan.case_id == case_id, RehabPlan.ended_on.is_(None))
    if which is PlanFilter.NONE:
        return and_(case_is_active, ~exists().where(RehabPlan.case_id == case_id))
    if which is PlanFilter.NO_FOLLOW_UP:
        return exists().where(ongoing, RehabPlan.next_follow_up_on.is_(None))
    if which is PlanFilter.FOLLOW_UP_OVERDUE:
        return exists().where(ongoing, RehabPlan.next_follow_up_on < today)
    overdue = overdue_measures(today).subquery()
    return exists().where(overdue.c.case_id == case_id)


@dataclass
class PlanFacts:
    """What the Today page needs to know of one case's plan."""

    next_follow_up_on: date | None
    is_ended: bool
    #: The earliest due date among the overdue measures, and how many there are.
    overdue_since: date | None = None
    overdue_count: int = 0


def facts(unit_id: int, today: date) -> dict[int, PlanFacts]:
    """By case id, the plans of the unit's cases (two queries, however large the unit)."""
    plans = db.session.execute(
        select(RehabPlan.case_id, RehabPlan.next_follow_up_on, RehabPlan.ended_on).where(
            RehabPlan.unit_id == unit_id
        )
    ).all()
    found = {row.case_id: PlanFacts(row.next_follow_up_on, row.ended_on is not None)
             for row in plans}  # fmt: skip
    overdue = overdue_measures(today).where(RehabPlan.unit_id == unit_id).subquery()
    for case_id, since, count in db.session.execute(
        select(overdue.c.case_id, func.min(overdue.c.due_on), func.count()).group_by(
            overdue.c.case_id
        )
    ):
        if case_id in found:
            found[case_id].overdue_since, found[case_id].overdue_count = since, count
    return found
