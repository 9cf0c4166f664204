"""Searching the access log of a manager's units.

An entry is in a manager's scope when it was made in one of their units or concerns a patient
registered at one of them. Results come newest first, a page at a time. Showing an entry
shows whose data was accessed, so every patient on a results page is logged (SEARCH,
``access_log``) — and a search for one patient by personnummer logs that patient even when
no entry matches: the search itself is then on the patient's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select, union

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User, user_units
from coordinator.errors import InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.patients.models import Patient
from coordinator.patients.service import InvalidPersonnummer, find_in_units
from coordinator.reports.scope import require_own_units

PAGE_SIZE = 50


@dataclass(frozen=True)
class Query:
    units: list[CareUnit]
    user_id: int | None = None
    personnummer: str | None = None
    action: AccessAction | None = None
    first: date | None = None
    last: date | None = None
    page: int = 1


@dataclass(frozen=True)
class Row:
    entry: AccessLogEntry
    patient: Patient
    user: User | None
    unit: CareUnit | None


@dataclass(frozen=True)
class Results:
    rows: list[Row]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def users_of(units: list[CareUnit]) -> list[User]:
    """Everyone who works in ``units`` (the user filter's choices)."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(select(user_units.c.user_id).where(
                user_units.c.unit_id.in_([unit.id for unit in units]))))
            .order_by(User.full_name)
        ).unique()
    )  # fmt: skip


def _matching(query: Query, patient: Patient | None) -> Select[tuple[int]]:
    """The sequence numbers of the entries matching ``query``: those made in the units, and
    (UNION) those concerning the units' patients — two halves that each walk an index
    (``unit_id, seq`` and ``patient_id, at``), where one OR would scan the whole period."""
    unit_ids = [unit.id for unit in query.units]
    conditions = []
    if patient is not None:
        conditions.append(AccessLogEntry.patient_id == patient.id)
    if query.user_id is not None:
        conditions.append(AccessLogEntry.user_id == query.user_id)
    if query.action is not None:
        conditions.append(AccessLogEntry.action == query.action)
    if query.first is not None:
        conditions.append(AccessLogEntry.at >= clock.start_of(query.first))
    if query.last is not None:
        _, end = clock.days_between(query.last, query.last)
        conditions.append(AccessLogEntry.at < end)
    made_here = select(AccessLogEntry.seq).where(AccessLogEntry.unit_id.in_(unit_ids), *conditions)
    their_patients = (
        select(AccessLogEntry.seq)
        .join(Patient, Patient.id == AccessLogEntry.patient_id)
        .where(Patient.unit_id.in_(unit_ids), *conditions)
    )
    return union(made_here, their_patients)  # type: ignore[return-value]


def _patient(query: Query) -> Patient | None:
    """The patient searched for by personnummer, among the units' patients."""
    if not query.personnummer:
        return None
    try:
        patient = find_in_units(query.personnummer, [unit.id for unit in query.units])
    except InvalidPersonnummer as error:
        raise InvalidField("personnummer", _l("Not a valid personnummer.")) from error
    if patient is None:
        raise NotFound(_l("No patient with that personnummer in the chosen units."))
    return patient


def search(actor: Actor, query: Query) -> Results:
    """One page of the entries matching ``query``, newest first; logs the patients shown."""
    require_own_units(actor, query.units)
    if query.first and query.last and query.first > query.last:
        raise InvalidField("last", _l("The period must end on or after its first day."))
    patient = _patient(query)
    matching = _matching(query, patient).subquery()
    total = db.session.scalar(select(func.count()).select_from(matching)) or 0
    page = max(1, min(query.page, max(1, -(-total // PAGE_SIZE))))
    seqs = (
        select(matching.c.seq)
        .order_by(matching.c.seq.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    entries = db.session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.seq.in_(seqs.scalar_subquery()))
        .order_by(AccessLogEntry.seq.desc())
    ).all()
    patients = {
        p.id: p
        for p in db.session.scalars(
            select(Patient).where(Patient.id.in_({entry.patient_id for entry in entries}))
        )
    }
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({e.user_id for e in entries if e.user_id}))
        ).unique()
    }
    units = {
        u.id: u
        for u in db.session.scalars(
            select(CareUnit).where(CareUnit.id.in_({e.unit_id for e in entries if e.unit_id}))
        )
    }
    shown = list(patients.values())
    if patient is not None and patient.id not in patients:
        shown.append(patient)
    journal.record_accesses(actor, shown, AccessAction.SEARCH, "access_log")
    rows = [
        Row(
            entry,
            patients[entry.patient_id],
            users.get(entry.user_id) if entry.user_id else None,
            units.get(entry.unit_id) if entry.unit_id else None,
        )
        for entry in entries
    ]
    return Results(rows, total, page)
