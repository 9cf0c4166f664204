"""Sick-leave certificates: validated registration, and the sick-leave summary they feed.

A certificate is registered once and never edited (as with the paper or electronic original;
a replaced certificate is a new one). After every registration the patient's sick-leave
summary (the columns the lists filter on) is recomputed from all their certificates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.access import Actor
from coordinator.errors import InvalidField
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients import cases
from coordinator.patients.diagnoses import Diagnosis, InvalidDiagnosisCode, UnknownDiagnosis, lookup
from coordinator.patients.models import Certificate, CertificateSource, Patient
from coordinator.patients.permissions import require_coordinator
from coordinator.patients.sickleave import DEGREES, Period, SickLeaveCase
from coordinator.patients.sickleave import cases as group_into_cases

#: A certificate may run at most this many years ahead (a longer one is a typing error) ...
FUTURE_YEARS = 1
#: ... and start at most this many years back.
PAST_YEARS = 10
DOCTOR_MAX = 120


@dataclass(frozen=True)
class CertificateInput:
    start_on: date
    end_on: date
    degree: int
    diagnosis_code: str
    doctor: str | None = None


class OverlappingCertificates(InvalidField):
    status_code = 409
    default_message = _l(
        "The period overlaps a certificate already registered. Check the dates; if both "
        "certificates are right, tick the box to register it anyway."
    )

    def __init__(self, overlapping: Sequence[Certificate]) -> None:
        super().__init__("start_on")
        self.overlapping = list(overlapping)


class DuplicateCertificate(InvalidField):
    status_code = 409
    default_message = _l("This certificate is already registered.")

    def __init__(self) -> None:
        super().__init__("start_on")


def years_from(day: date, years: int) -> date:
    """The same calendar date ``years`` away (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def check(entry: CertificateInput, today: date | None = None) -> Diagnosis:
    """Validate a certificate; returns its diagnosis from the catalogue.

    Raises :class:`InvalidField` naming the field at fault.
    """
    today = today or clock.today()
    if entry.end_on < entry.start_on:
        raise InvalidField("end_on", _l("The end date is before the start date."))
    if max(entry.start_on, entry.end_on) > years_from(today, FUTURE_YEARS):
        raise InvalidField("end_on", _l("The period reaches more than a year into the future."))
    if entry.start_on < years_from(today, -PAST_YEARS):
        raise InvalidField("start_on", _l("The period starts more than ten years ago."))
    if entry.degree not in DEGREES:
        raise InvalidField("degree", _l("The degree must be 25, 50, 75 or 100 %."))
    if entry.doctor is not None and len(entry.doctor) > DOCTOR_MAX:
        raise InvalidField("doctor", _l("At most %(max)d characters.", max=DOCTOR_MAX))
    try:
        return lookup(entry.diagnosis_code)
    except InvalidDiagnosisCode as error:
        raise InvalidField(
            "diagnosis_code", _l("Write an ICD-10 code: a letter and two digits, e.g. F43.2.")
        ) from error
    except UnknownDiagnosis as error:
        raise InvalidField(
            "diagnosis_code", _l("The code is not in the diagnosis catalogue (ICD-10-SE).")
        ) from error


def certificates_of(patient: Patient) -> list[Certificate]:
    """The patient's certificates by period."""
    return list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.patient_id == patient.id)
            .order_by(Certificate.start_on, Certificate.end_on, Certificate.id)
        )
    )


def is_same(certificate: Certificate, entry: CertificateInput, code: str) -> bool:
    return (
        certificate.start_on == entry.start_on
        and certificate.end_on == entry.end_on
        and certificate.degree == entry.degree
        and certificate.diagnosis_code == code
    )


def add_certificate(
    actor: Actor,
    patient: Patient,
    entry: CertificateInput,
    *,
    accept_overlap: bool = False,
    source: CertificateSource = CertificateSource.MANUAL,
) -> Certificate:
    """Register a certificate for ``patient`` (loaded through the unit-scoped service).

    An identical certificate is refused; one that overlaps another is refused unless
    ``accept_overlap`` (replacement certificates legitimately overlap).
    """
    require_coordinator(actor)
    diagnosis = check(entry)
    existing = certificates_of(patient)
    if any(is_same(c, entry, diagnosis.code) for c in existing):
        raise DuplicateCertificate()
    overlapping = [c for c in existing if c.start_on <= entry.end_on and entry.start_on <= c.end_on]
    if overlapping and not accept_overlap:
        raise OverlappingCertificates(overlapping)
    certificate = Certificate(
        patient_id=patient.id,
        start_on=entry.start_on,
        end_on=entry.end_on,
        degree=entry.degree,
        source=source,
        created_by_id=actor.user.id,
        created_at=clock.now(),
    )
    certificate.diagnosis_code = diagnosis.code
    certificate.doctor = (entry.doctor or "").strip() or None
    db.session.add(certificate)
    db.session.flush()
    journal.record_access(actor, patient, AccessAction.CREATE, "certificate", certificate.id)
    journal.record_event(
        actor,
        patient,
        EntryKind.CERTIFICATE_ADDED,
        _l(
            "Certificate %(start)s – %(end)s, %(degree)d %%",
            start=entry.start_on.isoformat(),
            end=entry.end_on.isoformat(),
            degree=entry.degree,
        ),
        _l("Diagnosis %(code)s %(text)s.", code=diagnosis.code, text=diagnosis.text),
        _l("Issued by %(doctor)s.", doctor=certificate.doctor) if certificate.doctor else None,
    )
    latest = refresh_summary(patient, [*existing, certificate])
    _open_case_for_new_sick_leave(actor, patient, latest)
    return certificate


def _open_case_for_new_sick_leave(
    actor: Actor, patient: Patient, latest: SickLeaveCase | None
) -> None:
    """A new sick-leave case after the coordination case closed: a new case to screen."""
    case = cases.current_case(patient)
    if latest is None or case is None or case.status.is_open or case.closed_on is None:
        return
    if latest.start > case.closed_on:
        cases.open_case(actor, patient, None)


def sick_leave_cases(patient: Patient, certificates: Sequence[Certificate]) -> list[SickLeaveCase]:
    """The patient's sick-leave cases, oldest first (periods carry their certificate's id)."""
    periods = [Period(c.start_on, c.end_on, c.degree, ref=c.id) for c in certificates]
    return group_into_cases(periods, current_app.config["SICK_LEAVE_GAP_DAYS"])


def refresh_summary(patient: Patient, certificates: Sequence[Certificate]) -> SickLeaveCase | None:
    """Recompute the patient's stored sick-leave summary; returns the latest case."""
    all_cases = sick_leave_cases(patient, certificates)
    latest = all_cases[-1] if all_cases else None
    previous = all_cases[-2] if len(all_cases) > 1 else None
    patient.previous_sick_leave_end = previous.end if previous else None
    if latest is None:
        patient.sick_leave_start = patient.sick_leave_end = None
        patient.sick_leave_days = patient.sick_leave_degree = None
        patient.day_90_on = patient.day_180_on = patient.day_365_on = None
        patient.diagnosis = None
        return None
    milestones = latest.milestones()
    patient.sick_leave_start, patient.sick_leave_end = latest.start, latest.end
    patient.sick_leave_days = latest.covered_days()
    patient.sick_leave_degree = latest.degree_on(latest.end)
    patient.day_90_on, patient.day_180_on = milestones[90], milestones[180]
    patient.day_365_on = milestones[365]
    by_id = {c.id: c for c in certificates}
    newest = max(latest.periods, key=lambda p: (p.start, p.end, p.ref or 0))
    patient.diagnosis = by_id[newest.ref].diagnosis_code if newest.ref in by_id else None
    patient.certificate_added_at = max(c.created_at for c in certificates)
    return latest


def refresh_all(batch_size: int = 500, progress: Callable[[int], None] | None = None) -> int:
    """Recompute every patient's sick-leave summary (after the gap rule changed).

    A maintenance job, not a user's access: nothing is shown to anyone, so nothing is logged.
    Commits per batch; safe to interrupt and run again.
    """
    done, last_id = 0, 0
    while True:
        patients = db.session.scalars(
            select(Patient).where(Patient.id > last_id).order_by(Patient.id).limit(batch_size)
        ).all()
        if not patients:
            return done
        registered: dict[int, list[Certificate]] = {p.id: [] for p in patients}
        for certificate in db.session.scalars(
            select(Certificate)
            .where(Certificate.patient_id.in_(registered))
            .order_by(Certificate.start_on, Certificate.end_on, Certificate.id)
        ):
            registered[certificate.patient_id].append(certificate)
        for patient in patients:
            refresh_summary(patient, registered[patient.id])
        db.session.commit()
        done, last_id = done + len(patients), patients[-1].id
        if progress is not None:
            progress(done)
