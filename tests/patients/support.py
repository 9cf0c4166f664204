"""Builders for the patients tests: a fixed today, valid numbers, patients made through the
services (so their cases, summaries and journal entries are the real ones)."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy import func, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.consents.models import Consent, ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.consents.service import ConsentInput
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients import cases, certificates, service
from coordinator.patients.certificates import CertificateInput
from coordinator.patients.models import Certificate, CoordinationCase, Patient
from tests.factories import valid_personnummer

#: The day the scenarios happen on (a Monday).
TODAY = date(2026, 6, 15)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment of ``day`` on the Swedish clock."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.LOCAL_ZONE)


#: Ten in the morning of TODAY: where the ``frozen`` fixture stops the clock.
NOW = at(TODAY)


#: A valid personnummer for a birth date and a serial (shared with the factories).
personnummer = valid_personnummer


_serials = itertools.count()


def register(
    actor: Actor,
    last_name: str,
    first_name: str = "Test",
    *,
    is_protected: bool = False,
    assign_to_actor: bool = True,
) -> Patient:
    """A patient registered by ``actor`` (born 1980, a serial of their own)."""
    number = personnummer("19800101", 100 + next(_serials) % 900)
    details = service.PatientDetails(first_name, last_name, is_protected=is_protected)
    return service.register_patient(actor, number, details, assign_to_actor=assign_to_actor)


def certify(
    actor: Actor,
    patient: Patient,
    start_on: date,
    end_on: date,
    degree: int = 100,
    code: str = "F43.2",
    *,
    doctor: str | None = None,
    accept_overlap: bool = False,
) -> Certificate:
    entry = CertificateInput(start_on, end_on, degree, code, doctor)
    return certificates.add_certificate(actor, patient, entry, accept_overlap=accept_overlap)


def rows_written() -> tuple[int, int, int]:
    """How many certificates, case journal entries and access-log entries there are."""
    return tuple(  # type: ignore[return-value]
        db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Certificate, CaseJournalEntry, AccessLogEntry)
    )


def entries(patient: Patient, kind: EntryKind | None = None) -> list[CaseJournalEntry]:
    """The patient's case journal entries, oldest first (optionally of one kind)."""
    query = select(CaseJournalEntry).where(CaseJournalEntry.patient_id == patient.id)
    if kind is not None:
        query = query.where(CaseJournalEntry.kind == kind)
    return list(db.session.scalars(query.order_by(CaseJournalEntry.seq)))


def access_log(since_seq: int = 0) -> list[AccessLogEntry]:
    """The access-log entries after ``since_seq``, in order."""
    query = select(AccessLogEntry).where(AccessLogEntry.seq > since_seq)
    return list(db.session.scalars(query.order_by(AccessLogEntry.seq)))


def last_access_seq() -> int:
    return db.session.scalar(select(func.max(AccessLogEntry.seq))) or 0


def consent_to_coordination(actor: Actor, patient: Patient) -> Consent:
    """The patient's oral consent to coordination, given today: what activation needs."""
    entry = ConsentInput(ConsentKind.COORDINATION, ConsentAnswer.GIVEN, ConsentMethod.ORAL,
                         clock.today())  # fmt: skip
    return consents.record(actor, patient, entry)


def activate(actor: Actor, patient: Patient) -> CoordinationCase:
    """The patient consents to coordination and the case becomes active."""
    consent_to_coordination(actor, patient)
    return cases.activate(actor, patient)
