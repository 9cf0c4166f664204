"""The printable plan: in Swedish, written for the patient to take home — the goal, who does
what and when, the next follow-up, and how to reach the coordinator. Printing is logged."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from coordinator import printing
from coordinator.access import Actor
from coordinator.consents.service import Recipient
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients.models import Patient
from coordinator.plans.models import Measure, PlanVersion, RehabPlan


def plan(
    actor: Actor,
    patient: Patient,
    plan: RehabPlan,
    version: PlanVersion,
    *,
    shared_with: Recipient | None = None,
) -> printing.Printed:
    """Version ``version`` of the plan as a PDF; ``shared_with`` names an external recipient
    it is handed to (the disclosure is registered by the caller)."""
    with printing.in_print_language():
        title = str(_l("Your plan for return to work"))
        story = [
            printing.text(actor.unit.name if actor.unit else "", printing.SMALL),
            printing.text(title, printing.TITLE),
            printing.facts([*printing.patient_facts(patient), *_version_facts(version)]),
            printing.heading(_l("Goal")),
            printing.text(
                _l(
                    "Return to: %(goal)s, %(degree)d %% of full time, by %(date)s.",
                    goal=version.goal.label,
                    degree=version.goal_degree,
                    date=version.target_on.isoformat(),
                )
            ),
        ]
        if version.goal_text:
            story.append(printing.text(version.goal_text))
        if version.intermediate_goals:
            story += [printing.space(2), printing.text(_l("Intermediate goals:")),
                      printing.text(version.intermediate_goals)]  # fmt: skip
        story += [
            printing.heading(_l("Who does what, and when")),
            printing.grid(
                [_l("What"), _l("Who"), _l("From"), _l("By"), _l("Status")],
                [_measure_row(measure) for measure in version.measures],
                widths_mm=(56, 36, 25, 25, 28),
            ),
            printing.heading(_l("Next follow-up")),
            printing.text(_next_follow_up(plan)),
            printing.heading(_l("Your coordinator")),
            printing.text(_coordinator(actor, patient)),
            printing.space(4),
            printing.text(_l("The plan was drawn up together with you. If something changes, "
                             "or you want to change the plan, contact your coordinator.")),
        ]  # fmt: skip
        if shared_with:
            story += [printing.space(4),
                      printing.text(_l("Shared with %(recipient)s with the patient's consent.",
                                       recipient=str(shared_with)), printing.SMALL)]  # fmt: skip
        data = printing.build(title, story, title, printing.printed_at())
    journal.record_access(actor, patient, AccessAction.PRINT, "plan", version.uid.hex)
    return printing.Printed(data, f"plan-v{version.number}.pdf")


def _version_facts(version: PlanVersion) -> list[tuple[object, object]]:
    if version.agreed_on is None:
        agreed: object = _l("Draft, not yet agreed")
    else:
        method = version.agreement_method.label if version.agreement_method else ""
        agreed = _l("%(date)s (%(method)s)", date=version.agreed_on.isoformat(), method=method)
    return [
        (_l("Plan version"), str(version.number)),
        (_l("Agreed with you"), agreed),
        (_l("Plan period"), f"{version.starts_on.isoformat()} – {version.target_on.isoformat()}"),
    ]


def _measure_row(measure: Measure) -> tuple[str, str, str, str, str]:
    who = measure.actor.label + (f": {measure.actor_name}" if measure.actor_name else "")
    return (
        measure.description,
        who,
        measure.starts_on.isoformat() if measure.starts_on else "",
        measure.due_on.isoformat() if measure.due_on else "",
        measure.status.label,
    )


def _next_follow_up(plan: RehabPlan) -> str:
    if plan.ended_on is not None:
        return str(_l("The plan ended on %(date)s.", date=plan.ended_on.isoformat()))
    if plan.next_follow_up_on is None:
        return str(_l("Not yet set: your coordinator will contact you."))
    return plan.next_follow_up_on.isoformat()


def _coordinator(actor: Actor, patient: Patient) -> str:
    who = printing.coordinator_of(actor, patient)
    parts = [who.full_name]
    if who.title:
        parts.append(who.title)
    if actor.unit:
        parts.append(actor.unit.name)
    if who.phone:
        parts.append(str(_l("phone %(phone)s", phone=who.phone)))
    return ", ".join(parts)
