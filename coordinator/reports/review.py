"""The caseload review: per coordinator of a unit, what their cases look like this month, with
a drill-down to the patients behind each figure and reassignment of cases from there.

A case belongs to its current coordinator. Each figure is the set of patients it counts, so
the drill-down lists exactly the patients the number stands for. A constant number of
queries per unit (cases, plans, overdue measures, expiring consents, contacts, coordinators).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.consents.queries import expiring
from coordinator.contacts.models import ContactEvent, ContactKind, Organisation, OrganisationType
from coordinator.errors import InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients import cases
from coordinator.patients.caseload import with_cases
from coordinator.patients.models import CaseOutcome, CaseStatus, CoordinationCase, Patient
from coordinator.patients.service import get_patient
from coordinator.plans.models import RehabPlan
from coordinator.plans.queries import overdue_measures
from coordinator.reports.scope import require_manager


class ReviewMeasure(StrEnum):
    OPEN = "open"
    ACTIVE = "active"
    NEW = "new"
    CLOSED = "closed"
    WITHOUT_PLAN = "without_plan"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    MEASURES_OVERDUE = "measures_overdue"
    CONSENTS_EXPIRING = "consents_expiring"

    @property
    def label(self) -> str:
        return str(_MEASURE_LABELS[self])


_MEASURE_LABELS = {
    ReviewMeasure.OPEN: _l("Open cases"),
    ReviewMeasure.ACTIVE: _l("Active"),
    ReviewMeasure.NEW: _l("New this month"),
    ReviewMeasure.CLOSED: _l("Closed this month"),
    ReviewMeasure.WITHOUT_PLAN: _l("Active without a plan"),
    ReviewMeasure.FOLLOW_UP_OVERDUE: _l("Plan follow-up overdue"),
    ReviewMeasure.MEASURES_OVERDUE: _l("Measures overdue"),
    ReviewMeasure.CONSENTS_EXPIRING: _l("Consents ending soon"),
}

#: The meetings the managers follow (*avstämningsmöten*, *trepartssamtal*).
MEETINGS = (ContactKind.RECONCILIATION_MEETING, ContactKind.THREE_PARTY_MEETING)


@dataclass
class CoordinatorRow:
    #: None for the cases no coordinator has taken.
    coordinator_id: int | None
    name: str
    cells: dict[ReviewMeasure, set[int]] = field(
        default_factory=lambda: {measure: set() for measure in ReviewMeasure}
    )
    outcomes: Counter[CaseOutcome] = field(default_factory=Counter)
    contacts: Counter[OrganisationType] = field(default_factory=Counter)
    meetings: Counter[ContactKind] = field(default_factory=Counter)

    def count(self, measure: ReviewMeasure) -> int:
        return len(self.cells[measure])

    @property
    def contact_count(self) -> int:
        return sum(self.contacts.values())

    def absorb(self, other: CoordinatorRow) -> None:
        for measure in ReviewMeasure:
            self.cells[measure] |= other.cells[measure]
        self.outcomes.update(other.outcomes)
        self.contacts.update(other.contacts)
        self.meetings.update(other.meetings)


@dataclass(frozen=True)
class BreakdownLine:
    """One line of the month's breakdown: an outcome, a kind of actor contacted, or a
    meeting, with a count per coordinator row."""

    key: str
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class UnitReview:
    unit: CareUnit
    rows: list[CoordinatorRow]
    total: CoordinatorRow

    @property
    def month_breakdown(self) -> list[BreakdownLine]:
        """Closed cases by outcome, contacts by actor and the meetings held this month, per
        coordinator — the lines with something to count."""
        lines = [
            BreakdownLine(f"outcome:{outcome.value}", str(_l("Closed: %(outcome)s",
                          outcome=outcome.label)), [row.outcomes[outcome] for row in self.rows])
            for outcome in CaseOutcome
        ]  # fmt: skip
        lines += [
            BreakdownLine(f"contacts:{kind.value}", str(_l("Contacts: %(actor)s",
                          actor=kind.label)), [row.contacts[kind] for row in self.rows])
            for kind in OrganisationType
        ]  # fmt: skip
        lines += [
            BreakdownLine(f"meeting:{kind.value}", kind.label,
                          [row.meetings[kind] for row in self.rows])
            for kind in MEETINGS
        ]  # fmt: skip
        return [line for line in lines if line.total]


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _cases(unit_id: int, first: date, last: date) -> list[Any]:
    since, until = clock.days_between(first, last)
    return list(
        db.session.execute(
            select(
                CoordinationCase.id,
                CoordinationCase.patient_id,
                CoordinationCase.coordinator_id,
                CoordinationCase.status,
                CoordinationCase.opened_at,
                CoordinationCase.closed_on,
                CoordinationCase.outcome,
            ).where(
                CoordinationCase.unit_id == unit_id,
                or_(
                    CoordinationCase.status != CaseStatus.CLOSED,
                    CoordinationCase.closed_on.between(first, last),
                    CoordinationCase.opened_at.between(since, until - timedelta(microseconds=1)),
                ),
            )
        )
    )


def _plan_sets(unit_id: int, today: date) -> tuple[set[int], set[int], set[int]]:
    """Case ids with a plan, with an overdue follow-up, with overdue measures."""
    planned: set[int] = set()
    follow_up_overdue: set[int] = set()
    for case_id, next_on, ended_on in db.session.execute(
        select(RehabPlan.case_id, RehabPlan.next_follow_up_on, RehabPlan.ended_on).where(
            RehabPlan.unit_id == unit_id
        )
    ):
        planned.add(case_id)
        if ended_on is None and next_on is not None and next_on < today:
            follow_up_overdue.add(case_id)
    overdue = overdue_measures(today).where(RehabPlan.unit_id == unit_id).subquery()
    measures = set(db.session.scalars(select(overdue.c.case_id).distinct()))
    return planned, follow_up_overdue, measures


def _contacts(unit_id: int, first: date, last: date) -> list[Any]:
    since, until = clock.days_between(first, last)
    return list(
        db.session.execute(
            select(ContactEvent.recorded_by_id, Organisation.type, ContactEvent.kind, func.count())
            .join(Organisation, Organisation.id == ContactEvent.organisation_id)
            .where(
                ContactEvent.unit_id == unit_id,
                ContactEvent.occurred_at >= since,
                ContactEvent.occurred_at < until,
            )
            .group_by(ContactEvent.recorded_by_id, Organisation.type, ContactEvent.kind)
        )
    )


def review_unit(unit: CareUnit, month: date, today: date) -> UnitReview:
    """The review of one unit for the month containing ``month``."""
    first, last = month_bounds(month)
    found = _cases(unit.id, first, last)
    planned, follow_up_overdue, measures_overdue = _plan_sets(unit.id, today)
    open_patients = {row.patient_id for row in found if row.status is not CaseStatus.CLOSED}
    notice = current_app.config["CONSENT_EXPIRY_NOTICE_DAYS"]
    ending = {patient_id for _, patient_id, _ in expiring(open_patients, today, notice)}
    rows: dict[int | None, CoordinatorRow] = {}
    for coordinator in cases.unit_coordinators(unit.id):
        rows[coordinator.id] = CoordinatorRow(coordinator.id, coordinator.full_name)

    def row_of(user_id: int | None) -> CoordinatorRow:
        if user_id not in rows:
            user = db.session.get(User, user_id) if user_id is not None else None
            name = user.full_name if user else str(_l("Unassigned"))
            rows[user_id] = CoordinatorRow(user_id, name)
        return rows[user_id]

    for case in found:
        cells = row_of(case.coordinator_id).cells
        patient = case.patient_id
        if first <= clock.local_day(case.opened_at) <= last:
            cells[ReviewMeasure.NEW].add(patient)
        if case.status is CaseStatus.CLOSED:
            if case.closed_on is not None and first <= case.closed_on <= last:
                cells[ReviewMeasure.CLOSED].add(patient)
                if case.outcome is not None:
                    rows[case.coordinator_id].outcomes[case.outcome] += 1
            continue
        cells[ReviewMeasure.OPEN].add(patient)
        if case.status is CaseStatus.ACTIVE:
            cells[ReviewMeasure.ACTIVE].add(patient)
            if case.id not in planned:
                cells[ReviewMeasure.WITHOUT_PLAN].add(patient)
        if case.id in follow_up_overdue:
            cells[ReviewMeasure.FOLLOW_UP_OVERDUE].add(patient)
        if case.id in measures_overdue:
            cells[ReviewMeasure.MEASURES_OVERDUE].add(patient)
        if patient in ending:
            cells[ReviewMeasure.CONSENTS_EXPIRING].add(patient)
    for recorded_by, organisation_type, kind, count in _contacts(unit.id, first, last):
        row = row_of(recorded_by)
        row.contacts[organisation_type] += count
        if kind in MEETINGS:
            row.meetings[kind] += count
    ordered = sorted(rows.values(), key=lambda r: (r.coordinator_id is None, r.name.casefold()))
    total = CoordinatorRow(None, str(_l("Total")))
    for row in ordered:
        total.absorb(row)
    return UnitReview(unit, ordered, total)


def caseload_review(
    actor: Actor, units: list[CareUnit], month: date, today: date
) -> list[UnitReview]:
    require_manager(actor)
    return [review_unit(unit, month, today) for unit in units]


def review_patients(
    actor: Actor,
    unit_id: int,
    coordinator_id: int | None,
    measure: ReviewMeasure,
    month: date,
    today: date,
) -> list[tuple[Patient, CoordinationCase | None]]:
    """The patients behind one figure of the current unit's review, logged as read.

    Patient pages open in the current unit only, so the drill-down is the current unit's.
    """
    require_manager(actor)
    if actor.unit is None or actor.unit.id != unit_id:
        raise NotFound()
    review = review_unit(actor.unit, month, today)
    row = next((r for r in review.rows if r.coordinator_id == coordinator_id), None)
    if row is None:
        raise NotFound()
    ids = sorted(row.cells[measure])
    if not ids:
        return []
    found = list(with_cases(actor, ids).values())
    journal.record_accesses(actor, [patient for patient, _ in found], AccessAction.READ)
    found.sort(key=lambda pair: (pair[0].is_protected, pair[0].last_name.casefold(),
                                 pair[0].first_name.casefold(), pair[0].id))  # fmt: skip
    return found


def reassign(actor: Actor, patient_uids: list[uuid.UUID], to_user_id: int) -> int:
    """Move the open cases of the current unit's ``patient_uids`` to another coordinator of
    the unit, each with its case journal entry; cases already with them are left. Returns
    how many moved. Nothing moves when any is refused (one transaction)."""
    require_manager(actor)
    if actor.unit is None:
        raise NotFound()
    if to_user_id not in {user.id for user in cases.unit_coordinators(actor.unit.id)}:
        raise InvalidField("coordinator", _l("Choose a coordinator who works in this unit."))
    if not patient_uids:
        raise InvalidField("cases", _l("Choose at least one case."))
    # Every patient is found before anything moves: a refusal then changes nothing.
    chosen = [get_patient(actor, patient_uid, log=False) for patient_uid in patient_uids]
    moved = 0
    for patient in chosen:
        case = cases.current_case(patient)
        if case is None or not case.status.is_open or case.coordinator_id == to_user_id:
            continue
        cases.transfer(actor, patient, to_user_id)
        moved += 1
    return moved
