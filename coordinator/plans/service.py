"""The sick-leave and rehabilitation plan: versions, the patient's agreement, follow-ups,
progress on measures, and sharing the plan with an external actor.

* :func:`save` — create the plan, edit its draft, or start a new version of an agreed plan;
* :func:`agree` — the patient agrees to a version: it is fixed and in force;
* :func:`follow_up` — a follow-up with the patient sets the next one (or ends the plan);
* :func:`update_measure` — status and outcome of a measure in force;
* :func:`share` — hand the plan to an external recipient: through the consent gate, logged
  as a disclosure.

Every change is checked against the plan's lock: of two people editing the same plan, the
second is refused and shown what the first saved (nothing is overwritten). Planning is
coordination, so a plan is only made in an active case (which needed the patient's consent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.consents.models import Disclosure
from coordinator.consents.service import Recipient
from coordinator.errors import DomainError, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.permissions import require_coordinator
from coordinator.plans.common import (
    HORIZON,
    StaleEdit,
    case_for_planning,
    case_for_reading,
    check_lock,
    touch,
    write,
)
from coordinator.plans.models import (
    AgreementMethod,
    FollowUp,
    Measure,
    MeasureStatus,
    PlanVersion,
    RehabPlan,
    ResponsibleActor,
    ReturnGoal,
)
from coordinator.validation import BACKDATING_LIMIT, past_day, text

if TYPE_CHECKING:
    from coordinator.patients.models import CoordinationCase, Patient

#: Longest texts accepted.
GOAL_MAX = 1000
DESCRIPTION_MAX = 500
NAME_MAX = 200
OUTCOME_MAX = 1000
NOTES_MAX = 4000
#: Most measures one version holds.
MEASURES_MAX = 30
GOAL_DEGREES = (25, 50, 75, 100)


class SupersededVersion(DomainError):
    status_code = 409

    def __init__(self, number: int, latest: int) -> None:
        super().__init__(
            _l("Version %(n)d has been replaced by version %(latest)d and can no longer be "
               "changed. Open the current version to edit the plan.", n=number, latest=latest)
        )  # fmt: skip


class AlreadyAgreed(DomainError):
    status_code = 409


class NotInForce(DomainError):
    status_code = 409
    default_message = _l("The plan has no version the patient has agreed to yet.")


class MeasureInvalid(InvalidField):
    """A rule refused one measure: ``index`` (from 0) and its ``subfield``. The message names
    the measure (shown above the form); ``detail`` goes next to the field in its row."""

    def __init__(self, index: int, subfield: str, message: object) -> None:
        super().__init__("measures", _l("Measure %(n)d: %(message)s", n=index + 1, message=message))
        self.index = index
        self.subfield = subfield
        self.detail = message


@dataclass
class MeasureInput:
    description: str
    actor: ResponsibleActor
    actor_name: str | None = None
    starts_on: date | None = None
    due_on: date | None = None
    status: MeasureStatus = MeasureStatus.PLANNED
    outcome: str | None = None
    #: The measure of the version edited that this row continues, if any.
    uid: uuid.UUID | None = None


@dataclass
class PlanInput:
    goal: ReturnGoal
    goal_degree: int
    starts_on: date
    target_on: date
    goal_text: str | None = None
    intermediate_goals: str | None = None
    measures: list[MeasureInput] = field(default_factory=list)


@dataclass
class Agreement:
    agreed_on: date
    method: AgreementMethod
    next_follow_up_on: date | None
    note: str | None = None


@dataclass
class FollowUpInput:
    held_on: date
    notes: str
    next_on: date | None
    #: The goal is reached or the plan is no longer needed: no next follow-up.
    end_plan: bool = False


# -- Reading -------------------------------------------------------------------------------


def plan_of(case: CoordinationCase | None) -> RehabPlan | None:
    if case is None:
        return None
    return db.session.scalars(select(RehabPlan).where(RehabPlan.case_id == case.id)).first()


def open_plan(actor: Actor, patient: Patient) -> RehabPlan:
    """The plan of the patient's current case, logged as read (404 when there is none)."""
    plan = plan_of(case_for_reading(patient))
    if plan is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "plan", plan.uid.hex)
    return plan


def for_editing(actor: Actor, patient: Patient) -> RehabPlan | None:
    """The plan of an active case as the edit form is filled from it (logged as read)."""
    plan = plan_of(case_for_planning(actor, patient))
    if plan is not None:
        journal.record_access(actor, patient, AccessAction.READ, "plan", plan.uid.hex)
    return plan


def follow_ups_of(plan: RehabPlan) -> list[FollowUp]:
    """The plan's follow-ups, newest first."""
    return list(
        db.session.scalars(
            select(FollowUp)
            .where(FollowUp.plan_id == plan.id)
            .order_by(FollowUp.held_on.desc(), FollowUp.id.desc())
        )
    )


def consent_warnings(patient: Patient, version: PlanVersion, on: date) -> dict[int, str]:
    """Per measure id, why nothing may be disclosed to its actor (no warning: allowed).

    Planning a measure with an actor needs no consent; disclosing anything to it does (Lag
    2019:1297 § 3, OSL 25:1), so the plan says so next to the measure.
    """
    kinds = {m.actor.consent_kind for m in version.measures if m.actor.consent_kind}
    records = consents.records_of(patient, list(kinds)) if kinds else []
    warnings = {}
    for measure in version.measures:
        kind = measure.actor.consent_kind
        if kind is None:
            continue
        decision = consents.decide(records, Recipient(kind, measure.actor_name), on)
        if not decision.allowed:
            warnings[measure.id] = str(
                _l("%(reason)s The measure is planned, but nothing about the patient may be "
                   "disclosed to %(actor)s until the patient consents.",
                   reason=decision.message, actor=measure.actor.label)
            )  # fmt: skip
    return warnings


# -- Saving versions ---------------------------------------------------------------------


def save(
    actor: Actor,
    patient: Patient,
    entry: PlanInput,
    *,
    based_on: int | None = None,
    expected_lock: int | None = None,
) -> RehabPlan:
    """Create the plan, save its draft, or start a new version of an agreed plan.

    ``based_on`` is the version number the form was filled from: an older one has been
    replaced and is refused. ``expected_lock`` is the plan's lock the form was filled from (0:
    there was no plan yet). The measures that may not be disclosed to their actor are
    allowed; :func:`consent_warnings` says which.
    """
    case = case_for_planning(actor, patient)
    entry = _validated(entry, clock.today())
    plan = plan_of(case)
    created = plan is None
    if plan is None:
        if based_on or expected_lock:  # the form was for a plan that has since gone
            raise StaleEdit()
        plan = _create(actor, patient, case)
        version = _new_version(actor, plan, 1)
        kind, heading = EntryKind.PLAN_CREATED, _l("Plan created (version 1, draft)")
    else:
        if based_on is not None and based_on < plan.latest.number:
            raise SupersededVersion(based_on, plan.latest.number)
        check_lock(plan, expected_lock)
        version = plan.draft or _new_version(actor, plan, plan.latest.number + 1)
        kind = EntryKind.PLAN_CHANGED
        heading = _l("Plan version %(n)d drafted", n=version.number)
    carried = {m.uid: m for m in plan.current.measures} if plan.versions else {}
    _fill(version, entry, carried)
    touch(plan, actor)
    write(add=plan if created else None)
    action = AccessAction.CREATE if created else AccessAction.CHANGE
    journal.record_access(actor, patient, action, "plan", plan.uid.hex)
    with in_record_language():
        journal.add_entry(actor, patient, kind, str(heading), _describe(version))
    return plan


def _create(actor: Actor, patient: Patient, case: CoordinationCase) -> RehabPlan:
    plan = RehabPlan(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        case_id=case.id,
        created_by_id=actor.user.id,
        created_at=clock.now(),
        updated_by_id=actor.user.id,
    )
    return plan


def _new_version(actor: Actor, plan: RehabPlan, number: int) -> PlanVersion:
    version = PlanVersion(number=number, created_by_id=actor.user.id, created_at=clock.now())
    plan.versions.append(version)
    return version


def _fill(version: PlanVersion, entry: PlanInput, carried: dict[uuid.UUID, Measure]) -> None:
    """Write ``entry`` into a draft version: goal fields, and its measures replaced."""
    version.goal = entry.goal
    version.goal_degree = entry.goal_degree
    version.starts_on = entry.starts_on
    version.target_on = entry.target_on
    version.goal_text = entry.goal_text
    version.intermediate_goals = entry.intermediate_goals
    kept = {m.uid: m for m in version.measures}
    new_list = []
    for position, item in enumerate(entry.measures, start=1):
        measure = kept.pop(item.uid, None) if item.uid else None
        if measure is None:
            source = carried.get(item.uid) if item.uid else None
            measure = Measure(carried_from_id=source.id if source else None)
        measure.position = position
        measure.description = item.description
        measure.actor = item.actor
        measure.actor_name = item.actor_name
        measure.starts_on = item.starts_on
        measure.due_on = item.due_on
        measure.status = item.status
        measure.outcome = item.outcome
        new_list.append(measure)
    for removed in kept.values():  # only a draft's own rows: agreed versions are never edited
        db.session.delete(removed)
    version.measures = new_list


def _validated(entry: PlanInput, today: date) -> PlanInput:
    if entry.goal_degree not in GOAL_DEGREES:
        raise InvalidField("goal_degree", _l("Choose 25, 50, 75 or 100 %."))
    if entry.starts_on < today - BACKDATING_LIMIT:
        raise InvalidField("starts_on", _l("The plan cannot start more than a year back."))
    if entry.starts_on > today + HORIZON:
        raise InvalidField("starts_on", _l("The plan cannot start more than two years ahead."))
    if entry.target_on < entry.starts_on:
        raise InvalidField("target_on", _l("The target date is before the plan starts."))
    if entry.target_on > entry.starts_on + HORIZON:
        raise InvalidField("target_on", _l("The target date is more than two years ahead."))
    if len(entry.measures) > MEASURES_MAX:
        raise DomainError(_l("At most %(max)d measures.", max=MEASURES_MAX))
    return PlanInput(
        goal=entry.goal,
        goal_degree=entry.goal_degree,
        starts_on=entry.starts_on,
        target_on=entry.target_on,
        goal_text=text(entry.goal_text, "goal_text", GOAL_MAX),
        intermediate_goals=text(entry.intermediate_goals, "intermediate_goals", GOAL_MAX),
        measures=[_measure(i, m, entry) for i, m in enumerate(entry.measures)],
    )


def _measure(index: int, item: MeasureInput, plan: PlanInput) -> MeasureInput:
    def refuse(subfield: str, message: object) -> MeasureInvalid:
        return MeasureInvalid(index, subfield, message)

    description = (item.description or "").strip()
    if not description:
        raise refuse("description", _l("Describe what is to be done."))
    if len(description) > DESCRIPTION_MAX:
        raise refuse("description", _l("At most %(max)d characters.", max=DESCRIPTION_MAX))
    for subfield, day in (("starts_on", item.starts_on), ("due_on", item.due_on)):
        if day is not None and not plan.starts_on <= day <= plan.target_on:
            raise refuse(subfield, _l("The date must be within the plan, %(start)s – %(end)s.",
                                  start=plan.starts_on.isoformat(),
                                  end=plan.target_on.isoformat()))  # fmt: skip
    if item.starts_on and item.due_on and item.due_on < item.starts_on:
        raise refuse("due_on", _l("The due date is before the measure starts."))
    name = (item.actor_name or "").strip() or None
    outcome = (item.outcome or "").strip() or None
    if name is not None and len(name) > NAME_MAX:
        raise refuse("actor_name", _l("At most %(max)d characters.", max=NAME_MAX))
    if outcome is not None and len(outcome) > OUTCOME_MAX:
        raise refuse("outcome", _l("At most %(max)d characters.", max=OUTCOME_MAX))
    return MeasureInput(description, item.actor, name, item.starts_on, item.due_on,
                        item.status, outcome, item.uid)  # fmt: skip


# -- Agreement, follow-up, progress --------------------------------------------------------


def _plan_for_change(actor: Actor, patient: Patient, expected_lock: int | None) -> RehabPlan:
    plan = plan_of(case_for_planning(actor, patient))
    if plan is None:
        raise NotFound()
    check_lock(plan, expected_lock)
    return plan


def agree(
    actor: Actor,
    patient: Patient,
    number: int,
    agreement: Agreement,
    expected_lock: int | None = None,
) -> PlanVersion:
    """The patient agrees to version ``number``: it is fixed and in force from now on."""
    plan = _plan_for_change(actor, patient, expected_lock)
    version = plan.version(number)
    if version is None:
        raise NotFound()
    if version.agreed_on is not None:
        raise AlreadyAgreed(_l("The patient agreed to version %(n)d on %(date)s.",
                               n=number, date=version.agreed_on.isoformat()))  # fmt: skip
    if version is not plan.latest:
        raise SupersededVersion(number, plan.latest.number)
    if not version.measures:
        raise InvalidField(
            "agreed_on", _l("A plan needs at least one measure before the patient agrees to it.")
        )
    today = clock.today()
    past_day(agreement.agreed_on, "agreed_on", today)
    _check_next(agreement.next_follow_up_on, agreement.agreed_on, today)
    note = text(agreement.note, "note", NOTES_MAX)
    version.agreed_on = agreement.agreed_on
    version.agreement_method = agreement.method
    version.agreement_note = note
    version.agreed_recorded_by_id = actor.user.id
    plan.next_follow_up_on = agreement.next_follow_up_on
    touch(plan, actor)
    write()
    journal.record_access(actor, patient, AccessAction.CHANGE, "plan", plan.uid.hex)
    journal.record_event(
        actor,
        patient,
        EntryKind.PLAN_CHANGED,
        _l("Plan version %(n)d agreed with the patient", n=number),
        _l("Agreed on %(date)s (%(method)s).", date=agreement.agreed_on.isoformat(),
           method=agreement.method.lazy_label),
        _l("Next follow-up: %(date)s.", date=plan.next_follow_up_on.isoformat()
           if plan.next_follow_up_on else "–"),
        _l("The patient's words: %(note)s", note=version.agreement_note)
        if version.agreement_note else "",
    )  # fmt: skip
    return version


def _check_next(next_on: date | None, after: date, today: date) -> None:
    if next_on is None:
        raise InvalidField(
            "next_follow_up_on", _l("Set the next follow-up: a plan in force always has one.")
        )
    if next_on <= after or next_on < today:
        raise InvalidField("next_follow_up_on", _l("The next follow-up must be ahead."))
    if next_on > today + HORIZON:
        raise InvalidField("next_follow_up_on", _l("At most two years ahead."))


def follow_up(
    actor: Actor, patient: Patient, entry: FollowUpInput, expected_lock: int | None = None
) -> FollowUp:
    """Record a follow-up of the plan in force and set the next one (or end the plan)."""
    plan = _plan_for_change(actor, patient, expected_lock)
    in_force = plan.in_force
    if in_force is None or plan.ended_on is not None:
        raise NotInForce() if in_force is None else NotInForce(_l("The plan has ended."))
    today = clock.today()
    past_day(entry.held_on, "held_on", today)
    if in_force.agreed_on is not None and entry.held_on < in_force.agreed_on:
        raise InvalidField("held_on", _l("The follow-up is before the plan was agreed."))
    notes = text(entry.notes, "notes", NOTES_MAX, required=_l("Write what came up."))
    if entry.end_plan:
        next_on = None
        plan.ended_on = entry.held_on
    else:
        _check_next(entry.next_on, entry.held_on, today)
        next_on = entry.next_on
    plan.next_follow_up_on = next_on
    record = FollowUp(
        plan_id=plan.id,
        version_id=in_force.id,
        held_on=entry.held_on,
        next_on=next_on,
        ended_plan=entry.end_plan,
        recorded_by_id=actor.user.id,
        recorded_at=clock.now(),
    )
    record.notes = notes or ""
    db.session.add(record)
    touch(plan, actor)
    write()
    journal.record_access(actor, patient, AccessAction.CREATE, "plan_follow_up", record.uid.hex)
    journal.record_event(
        actor,
        patient,
        EntryKind.PLAN_CHANGED,
        _l("Plan followed up"),
        _l("On %(date)s: %(notes)s", date=entry.held_on.isoformat(), notes=notes),
        _l("The plan was ended.") if entry.end_plan
        else _l("Next follow-up: %(date)s.", date=next_on.isoformat() if next_on else "–"),
    )  # fmt: skip
    return record


def update_measure(
    actor: Actor,
    patient: Patient,
    measure_uid: uuid.UUID,
    status: MeasureStatus,
    outcome: str | None,
    expected_lock: int | None = None,
) -> Measure:
    """Progress on a measure of the plan as it stands (its status and outcome)."""
    plan = _plan_for_change(actor, patient, expected_lock)
    measure = next((m for m in plan.current.measures if m.uid == measure_uid), None)
    if measure is None:
        older = next((v for v in plan.versions for m in v.measures if m.uid == measure_uid), None)
        if older is None:
            raise NotFound()
        raise SupersededVersion(older.number, plan.current.number)
    outcome = text(outcome, "outcome", OUTCOME_MAX)
    measure.status = status
    measure.outcome = outcome
    touch(plan, actor)
    write()
    journal.record_access(actor, patient, AccessAction.CHANGE, "measure", measure.uid.hex)
    journal.record_event(
        actor,
        patient,
        EntryKind.PLAN_CHANGED,
        _l("Measure updated: %(status)s", status=status.lazy_label),
        measure.description,
        _l("Outcome: %(outcome)s", outcome=measure.outcome) if measure.outcome else "",
    )
    return measure


# -- Sharing -------------------------------------------------------------------------------


def share(
    actor: Actor, patient: Patient, recipient: Recipient, on: date
) -> tuple[PlanVersion, Disclosure]:
    """Hand the plan in force to ``recipient``: allowed only with the matching consent on the
    day (refused and logged otherwise), and registered as a disclosure."""
    require_coordinator(actor)
    plan = plan_of(case_for_reading(patient))
    if plan is None:
        raise NotFound()
    version = plan.in_force
    if version is None:
        raise NotInForce(_l("Only a plan the patient has agreed to can be shared."))
    with in_record_language():
        summary = str(_l("Rehabilitation plan, version %(n)d agreed on %(date)s.",
                         n=version.number, date=version.agreed_on.isoformat()
                         if version.agreed_on else ""))  # fmt: skip
    disclosure = consents.disclose(actor, patient, recipient, on, summary, attempt="plan_share")
    return version, disclosure


# -- The plan's content as the record reads it -----------------------------------------------


def _describe(version: PlanVersion) -> str:
    """A version's content for the journal entry (in the record's language)."""
    lines = [
        str(_l("Goal: %(goal)s, %(degree)d %% from %(start)s, by %(target)s.",
               goal=version.goal.label, degree=version.goal_degree,
               start=version.starts_on.isoformat(), target=version.target_on.isoformat()))
    ]  # fmt: skip
    if version.goal_text:
        lines.append(version.goal_text)
    if version.intermediate_goals:
        lines.append(str(_l("Intermediate goals: %(goals)s", goals=version.intermediate_goals)))
    for measure in version.measures:
        who = measure.actor.label + (f" ({measure.actor_name})" if measure.actor_name else "")
        when = " – ".join(d.isoformat() for d in (measure.starts_on, measure.due_on) if d)
        lines.append(f"• {measure.description} — {who}" + (f", {when}" if when else ""))
    return "\n".join(lines)
