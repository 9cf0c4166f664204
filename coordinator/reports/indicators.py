"""The indicator table per unit: indicator · target · result · status · same period last year
(the format of the regions' follow-up reports, seed 004 ≈ 6320).

Each indicator is computed for a period and its *reference day* — the period's last day, or
today while the period is running — from dated history (activation, plan agreement and end,
follow-ups, screening, certificates), so last year's result is computed the same way.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from coordinator import clock
from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from coordinator.patients.models import CoordinationCase
from coordinator.plans.models import FollowUp, PlanVersion, RehabPlan
from coordinator.reports.episodes import episodes
from coordinator.reports.models import Indicator
from coordinator.reports.settings import targets

#: A case past this many days should have had coordination decided (local routines: within
#: a month; Jönköping's managers follow cases over 28 days, domain brief).
DECISION_AFTER_DAYS = 28
#: "Followed up in the last 30 days": the reference day and the 29 before it.
FOLLOW_UP_WINDOW = 30
#: How far below a share's target (points), or above a median's (days), is "partly met".
PARTLY_POINTS = 10
PARTLY_DAYS = 7


class Status(StrEnum):
    MET = "met"
    PARTLY = "partly"
    NOT_MET = "not_met"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])


_STATUS_LABELS = {
    Status.MET: _l("Met"),
    Status.PARTLY: _l("Partly met"),
    Status.NOT_MET: _l("Not met"),
    Status.NO_DATA: _l("No data"),
}


@dataclass(frozen=True)
class Result:
    value: float | None
    numerator: int
    denominator: int


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    target: int
    result: float | None
    numerator: int
    denominator: int
    status: Status
    last_year: float | None


def status_of(indicator: Indicator, target: int, result: float | None) -> Status:
    if result is None:
        return Status.NO_DATA
    if indicator.is_share:
        if result >= target:
            return Status.MET
        return Status.PARTLY if result >= target - PARTLY_POINTS else Status.NOT_MET
    if result <= target:
        return Status.MET
    return Status.PARTLY if result <= target + PARTLY_DAYS else Status.NOT_MET


def _share(numerator: int, denominator: int) -> Result:
    value = round(100 * numerator / denominator, 1) if denominator else None
    return Result(value, numerator, denominator)


def _current_plans(unit_id: int, day: date) -> dict[int, int]:
    """Plan id → case id of the unit's plans in force on ``day``: first agreed by then, and
    neither the plan nor its case ended by then."""
    first_agreed = (
        select(PlanVersion.plan_id, func.min(PlanVersion.agreed_on).label("agreed_on"))
        .where(PlanVersion.agreed_on.is_not(None))
        .group_by(PlanVersion.plan_id)
        .subquery()
    )
    # A plan whose case was closed is over even if nobody ended it: no follow-up can follow.
    rows = db.session.execute(
        select(RehabPlan.id, RehabPlan.case_id)
        .join(first_agreed, first_agreed.c.plan_id == RehabPlan.id)
        .join(CoordinationCase, CoordinationCase.id == RehabPlan.case_id)
        .where(
            RehabPlan.unit_id == unit_id,
            first_agreed.c.agreed_on <= day,
            (RehabPlan.ended_on.is_(None)) | (RehabPlan.ended_on > day),
            (CoordinationCase.closed_on.is_(None)) | (CoordinationCase.closed_on > day),
        )
    )
    return {plan_id: case_id for plan_id, case_id in rows}


def plan_coverage(unit_id: int, day: date) -> Result:
    active = set(
        db.session.scalars(
            select(CoordinationCase.id).where(
                CoordinationCase.unit_id == unit_id,
                CoordinationCase.activated_at < clock.start_of(day + timedelta(days=1)),
                (CoordinationCase.closed_on.is_(None)) | (CoordinationCase.closed_on > day),
            )
        )
    )
    with_plan = active & set(_current_plans(unit_id, day).values())
    return _share(len(with_plan), len(active))


def plan_followed_up(unit_id: int, day: date) -> Result:
    plans = _current_plans(unit_id, day)
    if not plans:
        return _share(0, 0)
    since = day - timedelta(days=FOLLOW_UP_WINDOW - 1)
    followed = set(
        db.session.scalars(
            select(FollowUp.plan_id).where(
                FollowUp.plan_id.in_(list(plans)), FollowUp.held_on.between(since, day)
            )
        )
    )
    return _share(len(followed), len(plans))


def _screenings(unit_id: int, start: date | None, day: date) -> list[tuple[int, date, date | None]]:
    """(patient id, screening date, closed on) of the unit's cases screened by ``day`` (and
    from ``start`` if given)."""
    query = select(
        CoordinationCase.patient_id, CoordinationCase.screened_at, CoordinationCase.closed_on
    ).where(
        CoordinationCase.unit_id == unit_id,
        CoordinationCase.screened_at < clock.start_of(day + timedelta(days=1)),
    )
    if start is not None:
        since = clock.start_of(start)
        query = query.where(CoordinationCase.screened_at >= since)
    return [
        (patient, clock.local_day(at), closed)
        for patient, at, closed in db.session.execute(query)
        if at is not None
    ]


def coordination_decided(unit_id: int, start: date, end: date, day: date) -> Result:
    long_cases = [
        episode
        for episode in episodes([unit_id], start, end, details=False)
        if episode.length > DECISION_AFTER_DAYS
    ]
    screened: dict[int, list[date | None]] = defaultdict(list)
    for patient_id, _, closed_on in _screenings(unit_id, None, day):
        screened[patient_id].append(closed_on)
    decided = sum(
        1
        for episode in long_cases
        if any(closed is None or closed >= episode.case.start
               for closed in screened.get(episode.patient_id, []))
    )  # fmt: skip
    return _share(decided, len(long_cases))


def days_to_first_contact(unit_id: int, start: date, end: date) -> Result:
    screenings = _screenings(unit_id, start, end)
    if not screenings:
        return Result(None, 0, 0)
    # Sick-leave cases as far back as a screening can look: a year before the period.
    found = episodes([unit_id], start - timedelta(days=366), end, details=False)
    by_patient = defaultdict(list)
    for episode in found:
        by_patient[episode.patient_id].append(episode.case.start)
    days = []
    for patient_id, screened_on, _ in screenings:
        started = [first for first in by_patient.get(patient_id, []) if first <= screened_on]
        if started:
            days.append((screened_on - max(started)).days)
    if not days:
        return Result(None, 0, len(screenings))
    return Result(float(statistics.median(days)), len(days), len(screenings))


def _results(unit: CareUnit, start: date, end: date, today: date) -> dict[Indicator, Result]:
    day = min(end, today)
    return {
        Indicator.PLAN_COVERAGE: plan_coverage(unit.id, day),
        Indicator.COORDINATION_DECIDED: coordination_decided(unit.id, start, end, day),
        Indicator.DAYS_TO_FIRST_CONTACT: days_to_first_contact(unit.id, start, day),
        Indicator.PLAN_FOLLOWED_UP: plan_followed_up(unit.id, day),
    }


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def indicators(unit: CareUnit, start: date, end: date, today: date) -> list[IndicatorRow]:
    """The unit's indicator table for ``start``–``end``, with last year's results."""
    now = _results(unit, start, end, today)
    before = _results(unit, _year_before(start), _year_before(end), today)
    goals = targets(unit.id)
    rows = []
    for indicator in Indicator:
        result, goal = now[indicator], goals[indicator]
        rows.append(IndicatorRow(
            indicator, goal, result.value, result.numerator, result.denominator,
            status_of(indicator, goal, result.value), before[indicator].value,
        ))  # fmt: skip
    return rows
