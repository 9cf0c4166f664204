"""The plan groups of the coordinator's Today page: cases without a plan, plans without a next
follow-up, follow-ups overdue, measures past their due date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask_babel import lazy_gettext as _l

from coordinator.patients import today
from coordinator.patients.models import CaseStatus
from coordinator.plans.queries import PlanFilter, facts


@today.provider
def plan_attention(context: today.Context) -> Iterable[today.Group]:
    unit = context.actor.unit
    if unit is None:
        return
    plans = facts(unit.id, context.today)
    without: list[tuple[int, str]] = []
    no_next: list[tuple[int, str]] = []
    overdue: list[tuple[date, int, str]] = []
    measures: list[tuple[date, int, str]] = []
    for row in context.rows:
        plan = plans.get(row.case_id) if row.case_id is not None else None
        if plan is None:
            if row.status is CaseStatus.ACTIVE:
                without.append((row.patient_id, str(_l("No plan yet"))))
            continue
        if plan.is_ended:
            continue
        if plan.next_follow_up_on is None:
            no_next.append((row.patient_id, str(_l("No next follow-up set"))))
        elif plan.next_follow_up_on < context.today:
            note = str(_l("Follow-up was due %(date)s", date=plan.next_follow_up_on.isoformat()))
            overdue.append((plan.next_follow_up_on, row.patient_id, note))
        if plan.overdue_since is not None:
            note = str(_l("%(n)d past due, since %(date)s", n=plan.overdue_count,
                          date=plan.overdue_since.isoformat()))  # fmt: skip
            measures.append((plan.overdue_since, row.patient_id, note))
    yield _group(PlanFilter.NONE, _l("Active cases without a plan"), without)
    yield _group(PlanFilter.NO_FOLLOW_UP, _l("Plans without a next follow-up"), no_next)
    yield _group(PlanFilter.FOLLOW_UP_OVERDUE, _l("Plan follow-ups overdue"),
                 [(pid, note) for _, pid, note in sorted(overdue)])  # fmt: skip
    yield _group(PlanFilter.MEASURES_OVERDUE, _l("Measures past their due date"),
                 [(pid, note) for _, pid, note in sorted(measures)])  # fmt: skip


def _group(which: PlanFilter, title: object, items: list[tuple[int, str]]) -> today.Group:
    return today.Group(f"plan-{which.value.replace('_', '-')}", str(title), items,
                       {"plan": which.value, "scope": "mine"})  # fmt: skip
