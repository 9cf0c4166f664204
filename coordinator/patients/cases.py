"""Coordination cases: opening, screening decision, activation, follow-up, transfer, closing.

Every change is checked against the case's version (two coordinators acting on the same case:
the second is told, nothing is overwritten) and written as a case journal entry in the same
transaction. The patient is always loaded through :mod:`coordinator.patients.service` first,
so unit scoping has already been applied.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import User, user_units
from coordinator.auth.roles import Role
from coordinator.consents import service as consents
from coordinator.consents.models import ConsentKind
from coordinator.consents.service import Recipient
from coordinator.errors import DomainError, InvalidField
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    CoordinationCase,
    ScreeningDecision,
)
from coordinator.patients.permissions import require_coordinator

if TYPE_CHECKING:
    from coordinator.patients.models import Patient

#: Longest screening reason accepted.
REASON_MAX = 1000
#: How far ahead a follow-up date may be set.
FOLLOW_UP_HORIZON = timedelta(days=400)


class StaleEdit(DomainError):
    status_code = 409
    default_message = _l(
        "Someone else changed this case a moment ago. The page now shows their change; "
        "check it and try again."
    )


class CaseClosed(DomainError):
    status_code = 409
    default_message = _l("The case is closed. Open a new case to continue working with it.")


class InvalidTransition(DomainError):
    status_code = 409
    default_message = _l("The case cannot go to that status from where it is.")


def current_case(patient: Patient) -> CoordinationCase | None:
    """The patient's latest case (the open one if there is one)."""
    return db.session.scalars(
        select(CoordinationCase)
        .where(CoordinationCase.patient_id == patient.id)
        .order_by(CoordinationCase.id.desc())
        .limit(1)
    ).first()


def history(patient: Patient) -> list[CoordinationCase]:
    """All the patient's cases, newest first."""
    return list(
        db.session.scalars(
            select(CoordinationCase)
            .where(CoordinationCase.patient_id == patient.id)
            .order_by(CoordinationCase.id.desc())
        )
    )


def unit_coordinators(unit_id: int) -> list[User]:
    """Active coordinators working in the unit, by name: who a case can go to."""
    return list(
        db.session.scalars(
            select(User)
            .join(user_units, user_units.c.user_id == User.id)
            .where(
                user_units.c.unit_id == unit_id,
                User.role == Role.COORDINATOR,
                User.is_active.is_(True),
            )
            .order_by(User.full_name)
        )
    )


def open_case(actor: Actor, patient: Patient, coordinator_id: int | None) -> CoordinationCase:
    """Open a new case for ``patient``; refused while another case is open."""
    require_coordinator(actor)
    latest = current_case(patient)
    if latest is not None and latest.status.is_open:
        raise InvalidTransition(_l("The patient already has an open case."))
    case = CoordinationCase(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        coordinator_id=coordinator_id,
        assigned_at=clock.now() if coordinator_id else None,
        status=CaseStatus.NEW,
        opened_at=clock.now(),
    )
    db.session.add(case)
    db.session.flush()
    coordinator = db.session.get(User, coordinator_id) if coordinator_id else None
    journal.record_event(
        actor,
        patient,
        EntryKind.CASE_OPENED,
        _l("Case opened"),
        _l("Responsible coordinator: %(name)s.", name=coordinator.full_name)
        if coordinator
        else _l("No coordinator assigned yet."),
    )
    return case


def _open_case_for_change(
    actor: Actor, patient: Patient, expected_version: int | None, *, may_manage: bool = False
) -> CoordinationCase:
    if not (may_manage and actor.role is Role.MANAGER):
        require_coordinator(actor)
    case = current_case(patient)
    if case is None or not case.status.is_open:
        raise CaseClosed()
    if expected_version is not None and case.version != expected_version:
        raise StaleEdit()
    return case


def _changed(actor: Actor, patient: Patient, case: CoordinationCase) -> None:
    try:
        db.session.flush()  # the version check: someone may have committed meanwhile
    except StaleDataError as error:
        raise StaleEdit() from error
    journal.record_access(actor, patient, AccessAction.CHANGE, "case", case.id)


def decide_screening(
    actor: Actor,
    patient: Patient,
    decision: ScreeningDecision,
    reason: str,
    expected_version: int | None = None,
) -> CoordinationCase:
    """Record whether the patient is offered coordination (a journal entry with the reason).

    Offering moves the case to *offered*; "not needed" leaves it *new* with the decision shown;
    a patient who declines closes the case with that outcome.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidField("reason", _l("Give a reason for the decision."))
    if len(reason) > REASON_MAX:
        raise InvalidField("reason", _l("At most %(max)d characters.", max=REASON_MAX))
    case = _open_case_for_change(actor, patient, expected_version)
    if case.status is CaseStatus.ACTIVE:
        raise InvalidTransition(_l("Coordination is already under way for this case."))
    case.screening_decision = decision
    case.screening_reason = reason
    case.screened_at = clock.now()
    if decision is ScreeningDecision.OFFER:
        case.status = CaseStatus.OFFERED
        _take_if_unassigned(actor, case)
    elif decision is ScreeningDecision.DECLINED:
        case.status = CaseStatus.CLOSED
        case.outcome = CaseOutcome.DECLINED
        case.closed_on = clock.today()
    _changed(actor, patient, case)
    journal.record_event(
        actor,
        patient,
        EntryKind.SCREENING_DECIDED,
        _l("Screening: %(decision)s", decision=decision.lazy_label),
        reason,
    )
    return case


def activate(
    actor: Actor, patient: Patient, expected_version: int | None = None
) -> CoordinationCase:
    """The patient has agreed: coordination is under way.

    Lag (2019:1297) § 2: coordination interventions only with the patient's consent, so a
    valid coordination consent is required today (refused and logged otherwise).
    """
    case = _open_case_for_change(actor, patient, expected_version)
    if case.status is CaseStatus.ACTIVE:
        raise InvalidTransition(_l("Coordination is already under way for this case."))
    consents.require(
        actor, patient, Recipient(ConsentKind.COORDINATION), clock.today(), "case_activation"
    )
    case.status = CaseStatus.ACTIVE
    case.activated_at = clock.now()
    _take_if_unassigned(actor, case)
    _changed(actor, patient, case)
    journal.record_event(
        actor,
        patient,
        EntryKind.CASE_UPDATED,
        _l("Coordination started"),
        _l("The case is active with %(name)s as coordinator.", name=_name(case.coordinator_id)),
    )
    return case


def set_follow_up(
    actor: Actor, patient: Patient, on: date | None, expected_version: int | None = None
) -> CoordinationCase:
    """Set (or clear) the date the coordinator will follow the case up."""
    today = clock.today()
    if on is not None and not today - timedelta(days=1) <= on <= today + FOLLOW_UP_HORIZON:
        raise InvalidField("follow_up_on", _l("Choose a date from today up to 400 days ahead."))
    case = _open_case_for_change(actor, patient, expected_version)
    case.follow_up_on = on
    _changed(actor, patient, case)
    journal.record_event(
        actor,
        patient,
        EntryKind.CASE_UPDATED,
        _l("Follow-up date"),
        _l("Next follow-up: %(date)s.", date=on.isoformat())
        if on
        else _l("The follow-up date was removed."),
    )
    return case


def transfer(
    actor: Actor, patient: Patient, to_user_id: int, expected_version: int | None = None
) -> CoordinationCase:
    """Hand the case to another coordinator of the unit (or take an unassigned one).

    Managers may do it too: distributing the caseload is theirs (the caseload review)."""
    case = _open_case_for_change(actor, patient, expected_version, may_manage=True)
    if to_user_id not in {user.id for user in unit_coordinators(case.unit_id)}:
        raise InvalidField("coordinator", _l("Choose a coordinator who works in this unit."))
    if case.coordinator_id == to_user_id:
        raise InvalidField("coordinator", _l("The case is already with that coordinator."))
    previous = case.coordinator_id
    case.coordinator_id = to_user_id
    case.assigned_at = clock.now()
    _changed(actor, patient, case)
    journal.record_event(
        actor,
        patient,
        EntryKind.CASE_TRANSFERRED,
        _l("Case transferred"),
        _l(
            "From %(old)s to %(new)s.",
            old=_name(previous) if previous else _l("nobody"),
            new=_name(to_user_id),
        ),
    )
    return case


def close(
    actor: Actor,
    patient: Patient,
    outcome: CaseOutcome,
    closed_on: date,
    expected_version: int | None = None,
) -> CoordinationCase:
    """Close the case with its outcome."""
    today = clock.today()
    case = _open_case_for_change(actor, patient, expected_version)
    if closed_on > today:
        raise InvalidField("closed_on", _l("A case cannot be closed in the future."))
    if closed_on < case.opened_at.date() - timedelta(days=1):
        raise InvalidField("closed_on", _l("A case cannot close before it was opened."))
    case.status = CaseStatus.CLOSED
    case.outcome = outcome
    case.closed_on = closed_on
    _changed(actor, patient, case)
    journal.record_event(
        actor,
        patient,
        EntryKind.CASE_CLOSED,
        _l("Case closed"),
        _l(
            "Outcome: %(outcome)s. Closed on %(date)s.",
            outcome=outcome.lazy_label,
            date=closed_on.isoformat(),
        ),
    )
    return case


def _take_if_unassigned(actor: Actor, case: CoordinationCase) -> None:
    if case.coordinator_id is None:
        case.coordinator_id = actor.user.id
        case.assigned_at = clock.now()


def _name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.full_name if user else "–"
