"""The caseload list: a unit's patients filtered, sorted and paged — in a constant number of
queries however large the unit.

1. One query reads the unit's *plain* columns — the sick-leave summary and the current case —
   for every patient that passes the SQL filters (status, coordinator, degree, follow-up).
2. Filters that depend on today's date or on the diagnosis (length band, signals, diagnosis
   group) and the sort run in Python over those rows; sorting by name decrypts the names only
   (never shown, never logged — nothing leaves the server).
3. A second query loads the page's patients (and their cases and coordinators) to display.
4. The page's patients are logged as read in one access-log append.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, and_, func, select

from coordinator.access import Actor
from coordinator.crypto import runtime
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients.diagnoses import agreement_group_of, group_of
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient
from coordinator.patients.screening import ScreeningRules, SickLeaveSummary, Signal, signals
from coordinator.patients.service import in_unit
from coordinator.patients.sickleave import band_of
from coordinator.plans.queries import PlanFilter
from coordinator.plans.queries import condition as plan_condition


class Scope(StrEnum):
    MINE = "mine"
    UNIT = "unit"
    UNASSIGNED = "unassigned"


class StatusFilter(StrEnum):
    OPEN = "open"
    NEW = "new"
    OFFERED = "offered"
    ACTIVE = "active"
    CLOSED = "closed"
    ALL = "all"


class FollowUpFilter(StrEnum):
    #: Due today or overdue.
    DUE = "due"
    WEEK = "week"
    NONE = "none"


class Sort(StrEnum):
    NAME = "name"
    LENGTH = "length"
    START = "start"
    MILESTONE = "milestone"
    FOLLOW_UP = "follow_up"
    STATUS = "status"

    @property
    def label(self) -> str:
        return str(SORT_LABELS[self])


SORT_LABELS = {
    Sort.NAME: _l("Name"),
    Sort.LENGTH: _l("Sick-leave length"),
    Sort.START: _l("Sick-leave start"),
    Sort.MILESTONE: _l("Next milestone"),
    Sort.FOLLOW_UP: _l("Next follow-up"),
    Sort.STATUS: _l("Status"),
}


@dataclass(frozen=True)
class Filters:
    scope: Scope = Scope.MINE
    status: StatusFilter = StatusFilter.OPEN
    signal: Signal | None = None
    #: A length band's first day (see sickleave.LENGTH_BANDS).
    band_start: int | None = None
    degree: int | None = None
    #: A DiagnosisGroup or AgreementGroup value.
    group: str | None = None
    follow_up: FollowUpFilter | None = None
    plan: PlanFilter | None = None
    sort: Sort = Sort.NAME
    descending: bool = False
    page: int = 1


@dataclass
class CaseloadRow:
    """One patient in the list, before and after the page is chosen."""

    patient_id: int
    #: The latest coordination case, if any.
    case_id: int | None
    is_protected: bool
    summary: SickLeaveSummary
    status: CaseStatus | None
    coordinator_id: int | None
    follow_up_on: date | None
    days: int
    signals: list[Signal]
    milestone: tuple[int, date] | None
    #: When a certificate was last registered, and when the current coordinator got the case.
    certificate_added_at: datetime | None = None
    assigned_at: datetime | None = None
    #: Filled for the rows on the page.
    patient: Patient | None = None
    case: CoordinationCase | None = None


@dataclass
class Page:
    rows: list[CaseloadRow]
    total: int
    page: int
    pages: int
    filters: Filters


def latest_case_join() -> Any:
    """ON clause joining each patient to their latest case."""
    latest = (
        select(func.max(CoordinationCase.id))
        .where(CoordinationCase.patient_id == Patient.id)
        .correlate(Patient)
        .scalar_subquery()
    )
    # The unit condition is implied, but stating it lets PostgreSQL start from the unit's
    # cases instead of every open case in the region.
    return and_(
        CoordinationCase.patient_id == Patient.id,
        CoordinationCase.unit_id == Patient.unit_id,
        CoordinationCase.id == latest,
    )


_SUMMARY_COLUMNS = (
    Patient.id,
    Patient.uid,
    Patient.is_protected,
    Patient.sick_leave_start,
    Patient.sick_leave_end,
    Patient.sick_leave_days,
    Patient.sick_leave_degree,
    Patient.day_90_on,
    Patient.day_180_on,
    Patient.day_365_on,
    Patient.previous_sick_leave_end,
    Patient.certificate_added_at,
    CoordinationCase.id.label("case_id"),
    CoordinationCase.assigned_at,
    CoordinationCase.status,
    CoordinationCase.coordinator_id,
    CoordinationCase.follow_up_on,
)


def summary_rows(
    actor: Actor, filters: Filters, today: date, *, with_diagnosis: bool, with_names: bool
) -> Sequence[Row[Any]]:
    """Step 1: the plain columns of every patient passing the SQL filters."""
    columns: list[Any] = list(_SUMMARY_COLUMNS)
    if with_diagnosis:
        columns.append(Patient._diagnosis_sealed)  # type: ignore[attr-defined]
    if with_names:
        columns += [Patient._first_name_sealed, Patient._last_name_sealed]  # type: ignore[attr-defined]
    query = (
        in_unit(actor).with_only_columns(*columns).outerjoin(CoordinationCase, latest_case_join())
    )
    if filters.scope is Scope.MINE:
        query = query.where(CoordinationCase.coordinator_id == actor.user.id)
    elif filters.scope is Scope.UNASSIGNED:
        query = query.where(CoordinationCase.coordinator_id.is_(None))
    if filters.status is StatusFilter.OPEN:
        query = query.where(CoordinationCase.status != CaseStatus.CLOSED)
    elif filters.status is not StatusFilter.ALL:
        query = query.where(CoordinationCase.status == CaseStatus(filters.status.value))
    if filters.degree is not None:
        query = query.where(Patient.sick_leave_degree == filters.degree)
    if filters.follow_up is FollowUpFilter.DUE:
        query = query.where(CoordinationCase.follow_up_on <= today)
    elif filters.follow_up is FollowUpFilter.WEEK:
        query = query.where(CoordinationCase.follow_up_on.between(today, today + timedelta(days=7)))
    elif filters.follow_up is FollowUpFilter.NONE:
        query = query.where(CoordinationCase.follow_up_on.is_(None))
    if filters.plan is not None:
        is_active = CoordinationCase.status == CaseStatus.ACTIVE
        query = query.where(plan_condition(filters.plan, CoordinationCase.id, is_active, today))
    return db.session.execute(query).all()


def _row(
    record: Row[Any], today: date, rules: ScreeningRules | None, diagnosis: str | None
) -> CaseloadRow:
    """A row; screened (signals computed) when ``rules`` are given."""
    summary = SickLeaveSummary.of(record, diagnosis)
    return CaseloadRow(
        patient_id=record.id,
        case_id=record.case_id,
        is_protected=record.is_protected,
        summary=summary,
        status=record.status,
        coordinator_id=record.coordinator_id,
        follow_up_on=record.follow_up_on,
        days=summary.days_on(today) if summary.is_ongoing(today) else 0,
        signals=signals(summary, today, rules) if rules is not None else [],
        milestone=summary.next_milestone(today),
        certificate_added_at=record.certificate_added_at,
        assigned_at=record.assigned_at,
    )


def _decrypt(keyring: KeyRing, column: str, record: Row[Any], sealed: bytes | None) -> str | None:
    """Open one of the patients table's values (the key ring taken once: a list opens
    thousands)."""
    if sealed is None:
        return None
    field: str = getattr(Patient, column).decrypt(record.uid.hex, sealed, keyring)
    return field


#: Swedish alphabetical order for the letters after z.
_SWEDISH = str.maketrans({"å": "{", "ä": "|", "ö": "}", "æ": "|", "ø": "}"})


def _name_key(keyring: KeyRing, record: Row[Any]) -> tuple[int, str, str]:
    if record.is_protected:  # masked in the list, so sorted under the mask, last
        return (1, "", "")
    last = _decrypt(keyring, "last_name", record, record._last_name_sealed) or ""
    first = _decrypt(keyring, "first_name", record, record._first_name_sealed) or ""
    return (0, last.casefold().translate(_SWEDISH), first.casefold().translate(_SWEDISH))


_FAR = date.max


def _sort_key(sort: Sort) -> Any:
    if sort is Sort.LENGTH:
        return lambda row: row.days
    if sort is Sort.START:
        return lambda row: row.summary.start or _FAR
    if sort is Sort.MILESTONE:
        return lambda row: row.milestone[1] if row.milestone else _FAR
    if sort is Sort.FOLLOW_UP:
        return lambda row: row.follow_up_on or _FAR
    order = list(CaseStatus)
    return lambda row: order.index(row.status) if row.status else len(order)


def _keep(row: CaseloadRow, filters: Filters) -> bool:
    if filters.signal is not None and filters.signal not in row.signals:
        return False
    if filters.band_start is not None:
        band = band_of(row.days)
        if band is None or band[0] != filters.band_start:
            return False
    if filters.group is not None:
        code = row.summary.diagnosis_code
        if code is None or filters.group not in (group_of(code), agreement_group_of(code)):
            return False
    return True


def rows(
    actor: Actor, filters: Filters, today: date, rules: ScreeningRules, *, screen: bool = True
) -> tuple[list[CaseloadRow], dict[int, tuple[int, str, str]]]:
    """Steps 1–2 without paging: every row that passes all filters, and name keys if sorted
    by name. Shared by the list and the Today page.

    Screening every row needs every diagnosis decrypted; with ``screen=False`` (no filter
    needs it) rows come unscreened and :func:`load` screens just the page.
    """
    screen = screen or filters.signal is not None or filters.group is not None
    with_names = filters.sort is Sort.NAME
    records = summary_rows(actor, filters, today, with_diagnosis=screen, with_names=with_names)
    keyring = runtime.keys()
    built: list[CaseloadRow] = []
    names: dict[int, tuple[int, str, str]] = {}
    for record in records:
        diagnosis = (
            _decrypt(keyring, "diagnosis", record, record._diagnosis_sealed) if screen else None
        )
        row = _row(record, today, rules if screen else None, diagnosis)
        if _keep(row, filters):
            built.append(row)
            if with_names:
                names[row.patient_id] = _name_key(keyring, record)
    return built, names


def _sorted(
    matching: list[CaseloadRow], filters: Filters, names: dict[int, tuple[int, str, str]]
) -> list[CaseloadRow]:
    """Sorted for the list; ties broken by id so that paging is stable."""
    if filters.sort is not Sort.NAME:
        key = _sort_key(filters.sort)
        return sorted(
            matching, key=lambda row: (key(row), row.patient_id), reverse=filters.descending
        )
    # Protected identities are listed under their mask, after the names in either direction.
    named = [row for row in matching if not row.is_protected]
    named.sort(key=lambda row: (names[row.patient_id], row.patient_id), reverse=filters.descending)
    return named + sorted((row for row in matching if row.is_protected), key=lambda r: r.patient_id)


def caseload(
    actor: Actor, filters: Filters, today: date, rules: ScreeningRules, page_size: int
) -> Page:
    """The list page: filtered, sorted, one page of rows with their patients loaded."""
    matching, names = rows(actor, filters, today, rules, screen=False)
    matching = _sorted(matching, filters, names)
    pages = max(1, math.ceil(len(matching) / page_size))
    page = min(max(1, filters.page), pages)
    shown = matching[(page - 1) * page_size : page * page_size]
    load(actor, shown)
    for row in shown:  # the page's rows are screened now that their patients are loaded
        if row.patient is not None and row.summary.diagnosis_code is None:
            row.summary = SickLeaveSummary.of(row.patient, row.patient.diagnosis)
            row.signals = signals(row.summary, today, rules)
    return Page(shown, len(matching), page, pages, filters)


def with_cases(
    actor: Actor, patient_ids: Sequence[int]
) -> dict[int, tuple[Patient, CoordinationCase | None]]:
    """The actor's unit's patients among ``patient_ids`` with their latest cases, in one
    query (not logged: the caller logs what it shows)."""
    loaded = db.session.execute(
        in_unit(actor)
        .add_columns(CoordinationCase)
        .outerjoin(CoordinationCase, latest_case_join())
        .where(Patient.id.in_(list(patient_ids)))
    ).all()
    return {patient.id: (patient, case) for patient, case in loaded}


def load(actor: Actor, shown: list[CaseloadRow]) -> None:
    """Steps 3–4: load the shown rows' patients and cases, and log them as read."""
    if not shown:
        return
    by_id = with_cases(actor, [row.patient_id for row in shown])
    for row in shown:
        row.patient, row.case = by_id[row.patient_id]
    journal.record_accesses(actor, [row.patient for row in shown if row.patient], AccessAction.READ)
