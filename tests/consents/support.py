"""Builders for the consents tests: answers recorded through the service, and what was
written."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from coordinator.access import Actor
from coordinator.consents import service
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentMethod,
    ConsentWithdrawal,
    Disclosure,
)
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry
from coordinator.patients.models import Patient
from tests.patients.support import access_log, rows_written


def june(day: int) -> date:
    return date(2026, 6, day)


def answer(
    actor: Actor,
    patient: Patient,
    kind: ConsentKind,
    given_on: date,
    answer: ConsentAnswer = ConsentAnswer.GIVEN,
    *,
    name: str | None = None,
    until: date | None = None,
    method: ConsentMethod = ConsentMethod.ORAL,
    reference: str | None = None,
    purpose: str = "",
    note: str | None = None,
) -> Consent:
    """The patient's answer about ``kind``, recorded through the service."""
    entry = service.ConsentInput(
        kind=kind, answer=answer, method=method, given_on=given_on, purpose=purpose,
        recipient_name=name, form_reference=reference, valid_until=until, note=note,
    )  # fmt: skip
    return service.record(actor, patient, entry)


def give(actor: Actor, patient: Patient, kind: ConsentKind, given_on: date, **kw: Any) -> Consent:
    return answer(actor, patient, kind, given_on, ConsentAnswer.GIVEN, **kw)


def refuse(actor: Actor, patient: Patient, kind: ConsentKind, given_on: date, **kw: Any) -> Consent:
    return answer(actor, patient, kind, given_on, ConsentAnswer.REFUSED, **kw)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def written() -> tuple[int, ...]:
    """Certificates, case journal entries, access-log entries, consents, withdrawals and
    disclosures: everything a consent action could write."""
    return (*rows_written(), *(count(m) for m in (Consent, ConsentWithdrawal, Disclosure)))


def with_one_more_access_entry(counts: tuple[int, ...]) -> tuple[int, ...]:
    """``counts`` of :func:`written` after one access-log entry and nothing else."""
    return (counts[0], counts[1], counts[2] + 1, *counts[3:])


def logged(since_seq: int) -> list[tuple[str, str, str | None]]:
    """The access-log entries after ``since_seq`` as (action, object type, object id)."""
    return [(e.action.value, e.object_type, e.object_id) for e in access_log(since_seq)]


def denied_entries() -> list[AccessLogEntry]:
    query = select(AccessLogEntry).where(AccessLogEntry.action == "denied")
    return list(db.session.scalars(query.order_by(AccessLogEntry.seq)))
