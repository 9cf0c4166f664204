"""Sick-leave cases (*sjukfall*) of whole units over a period, built from the certificates.

The patient's summary columns describe only the latest case; a report on a past period needs
the cases as they were then, so they are rebuilt here from the certificates with the same gap
rule as everywhere else (:mod:`coordinator.patients.sickleave`). Two queries whatever the
units' size: the certificates (plain dates and degrees, sealed diagnosis and doctor) and the
patients (sealed number and stated gender). Only what a case is counted by is decrypted: the
diagnosis and doctor of one certificate per case, and the patient's gender.

A case is *in* the period when it overlaps it. Its figures are those of its *reference day*,
the period's last day or the case's if it ended before: the length reached, the degree that
day, and the diagnosis and doctor of the certificate in force (the latest started by then).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from coordinator.crypto import runtime
from coordinator.extensions import db
from coordinator.patients.models import Certificate, Gender, Patient
from coordinator.patients.service import gender_from
from coordinator.patients.sickleave import Period, SickLeaveCase, cases


@dataclass(frozen=True)
class Episode:
    """One sick-leave case in the period, with the figures of its reference day."""

    patient_id: int
    unit_id: int
    case: SickLeaveCase
    reference_day: date
    #: Covered days up to the reference day.
    length: int
    degree: int
    gender: Gender
    #: ICD-10 code and issuing doctor of the certificate in force; None when not asked for.
    diagnosis: str | None = None
    doctor: str | None = None


def _certificate_rows(unit_ids: Sequence[int], start: date, end: date, gap: int) -> list[Any]:
    near = timedelta(days=gap + 1)  # a case can bridge the period with a gap inside it
    candidates = (
        select(Certificate.patient_id)
        .join(Patient, Patient.id == Certificate.patient_id)
        .where(
            Patient.unit_id.in_(unit_ids),
            Certificate.end_on >= start - near,
            Certificate.start_on <= end + near,
        )
        .distinct()
    )
    return list(
        db.session.execute(
            select(
                Certificate.id,
                Certificate.uid,
                Certificate.patient_id,
                Certificate.start_on,
                Certificate.end_on,
                Certificate.degree,
                Certificate._diagnosis_code_sealed,  # type: ignore[attr-defined]
                Certificate._doctor_sealed,  # type: ignore[attr-defined]
            ).where(Certificate.patient_id.in_(candidates), Certificate.start_on <= end + near)
        )
    )


def _patient_rows(patient_ids: Sequence[int]) -> dict[int, Any]:
    if not patient_ids:
        return {}
    rows = db.session.execute(
        select(
            Patient.id,
            Patient.uid,
            Patient.unit_id,
            Patient._personnummer_sealed,  # type: ignore[attr-defined]
            Patient._stated_gender_sealed,  # type: ignore[attr-defined]
        ).where(Patient.id.in_(patient_ids))
    )
    return {row.id: row for row in rows}


def genders(patient_ids: Sequence[int]) -> dict[int, Gender]:
    """The gender of each patient, from two sealed columns (no patient is loaded)."""
    keyring = runtime.keys()
    rows = _patient_rows(sorted(set(patient_ids)))
    return {patient_id: _gender(row, keyring) for patient_id, row in rows.items()}


def _in_force(case: SickLeaveCase, day: date, by_id: dict[int, Any]) -> Any:
    """The case's certificate with the latest start on or before ``day`` (ties: highest id)."""
    started = [period for period in case.periods if period.start <= day]
    chosen = max(started, key=lambda period: (period.start, period.ref or 0))
    return by_id[chosen.ref or 0]


def episodes(
    unit_ids: Sequence[int], start: date, end: date, *, details: bool = True
) -> list[Episode]:
    """The sick-leave cases of the units' patients overlapping ``start``–``end``.

    With ``details=False`` the diagnosis and doctor stay sealed (the indicators need only
    lengths and dates).
    """
    gap = current_app.config["SICK_LEAVE_GAP_DAYS"]
    certificates = _certificate_rows(unit_ids, start, end, gap)
    by_patient: dict[int, list[Period]] = defaultdict(list)
    by_id = {}
    for row in certificates:
        by_patient[row.patient_id].append(Period(row.start_on, row.end_on, row.degree, row.id))
        by_id[row.id] = row
    patients = _patient_rows(sorted(by_patient))
    keyring = runtime.keys()
    found: list[Episode] = []
    for patient_id in sorted(by_patient):
        patient = patients[patient_id]
        gender: Gender | None = None
        for case in cases(by_patient[patient_id], gap):
            if case.end < start or case.start > end:
                continue
            if gender is None:
                gender = _gender(patient, keyring)
            found.append(_episode(patient, case, end, gender, by_id, keyring, details))
    return found


def _gender(patient: Any, keyring: Any) -> Gender:
    stated = patient._stated_gender_sealed
    stated_value = (
        Patient.stated_gender.decrypt(patient.uid.hex, stated, keyring) if stated else None
    )
    number = Patient.personnummer.decrypt(patient.uid.hex, patient._personnummer_sealed, keyring)
    return gender_from(stated_value, number)


def _episode(
    patient: Any,
    case: SickLeaveCase,
    end: date,
    gender: Gender,
    by_id: dict[int, Any],
    keyring: Any,
    details: bool,
) -> Episode:
    day = min(end, case.end)
    certificate = _in_force(case, day, by_id)
    # On a day in a gap between two certificates, the one in force is the last started.
    degree = case.degree_on(day) or certificate.degree
    diagnosis = doctor = None
    if details:
        uid = certificate.uid.hex
        diagnosis = Certificate.diagnosis_code.decrypt(
            uid, certificate._diagnosis_code_sealed, keyring
        )
        if certificate._doctor_sealed is not None:
            doctor = Certificate.doctor.decrypt(uid, certificate._doctor_sealed, keyring)
    return Episode(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        case=case,
        reference_day=day,
        length=case.covered_days(day),
        degree=degree,
        gender=gender,
        diagnosis=diagnosis,
        doctor=doctor,
    )
