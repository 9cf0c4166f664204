"""What the patient page's plan panel and the plan page show, gathered and logged in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from coordinator.access import Actor
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients import cases
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient
from coordinator.plans import mapping, service, treatments
from coordinator.plans.models import FollowUp, Mapping, RehabPlan, Treatment


@dataclass
class PlanOverview:
    case: CoordinationCase | None
    mapping: Mapping | None
    plan: RehabPlan | None
    treatments: list[Treatment]
    #: A treatment counts as completed for the reports from this many KBT sessions.
    kbt_min_sessions: int
    #: Per measure id of the version shown, why nothing may be disclosed to its actor.
    warnings: dict[int, str] = field(default_factory=dict)
    follow_ups: list[FollowUp] = field(default_factory=list)

    @property
    def may_plan(self) -> bool:
        """Coordination is under way: mapping and planning are possible."""
        return self.case is not None and self.case.status is CaseStatus.ACTIVE

    def overdue(self, today: date) -> list[int]:
        """Ids of the measures of the version shown that are past their due date."""
        if self.plan is None or self.plan.ended_on is not None:
            return []
        return [m.id for m in self.plan.current.measures if m.is_overdue(today)]


def overview(
    actor: Actor, patient: Patient, today: date, kbt_min_sessions: int, *, full: bool = False
) -> PlanOverview:
    """The mapping, plan and treatments of the patient's current case (logged as read);
    ``full`` adds the follow-ups (the plan page)."""
    case = cases.current_case(patient)
    plan = service.plan_of(case)
    view = PlanOverview(
        case=case,
        mapping=mapping.latest_of(case),
        plan=plan,
        treatments=treatments.treatments_of(patient),
        kbt_min_sessions=kbt_min_sessions,
    )
    journal.record_access(actor, patient, AccessAction.READ, "plan", plan.uid.hex if plan else None)
    if plan is not None:
        view.warnings = service.consent_warnings(patient, plan.current, today)
        if full:
            view.follow_ups = service.follow_ups_of(plan)
    return view
