"""Builders for the plans tests: plans written, agreed and followed up through the services."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from coordinator.access import Actor
from coordinator.extensions import db
from coordinator.patients.models import Patient
from coordinator.plans import service
from coordinator.plans.models import (
    AgreementMethod,
    FollowUp,
    Mapping,
    Measure,
    PlanVersion,
    RehabPlan,
    ResponsibleActor,
    ReturnGoal,
    Treatment,
)
from coordinator.plans.service import MeasureInput, PlanInput
from tests.patients.support import TODAY, rows_written


def day(offset: int) -> date:
    """TODAY plus ``offset`` days."""
    return TODAY + timedelta(days=offset)


def measure(
    description: str = "Work-place visit",
    actor: ResponsibleActor = ResponsibleActor.CARE_UNIT,
    **kw: Any,
) -> MeasureInput:
    return MeasureInput(description=description, actor=actor, **kw)


def plan_input(*measures: MeasureInput, **kw: Any) -> PlanInput:
    """A plan back to the own job at 100 % within 90 days, with ``measures`` (one by default)."""
    values: dict[str, Any] = {
        "goal": ReturnGoal.OWN_JOB, "goal_degree": 100, "starts_on": TODAY,
        "target_on": day(90), "measures": list(measures) or [measure()],
    }  # fmt: skip
    values.update(kw)
    return PlanInput(**values)


def agreed_plan(actor: Actor, patient: Patient, *measures: MeasureInput) -> RehabPlan:
    """A plan saved and agreed today (at a meeting), next follow-up in 14 days."""
    plan = service.save(actor, patient, plan_input(*measures))
    service.agree(actor, patient, 1, service.Agreement(TODAY, AgreementMethod.MEETING, day(14)))
    return plan


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def written() -> tuple[int, ...]:
    """Certificates, journal entries, access-log entries, and every plans table's rows."""
    models = (Mapping, RehabPlan, PlanVersion, Measure, FollowUp, Treatment)
    return (*rows_written(), *(count(m) for m in models))
