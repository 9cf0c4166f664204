"""Registering sick-leave certificates: the rules, duplicates and overlaps, the sick-leave
summary they feed, the encrypted diagnosis, the journal, and the case a new sick leave opens."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from flask import current_app

from coordinator.access import Actor
from coordinator.errors import InvalidField
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients import cases
from coordinator.patients.certificates import (
    DuplicateCertificate,
    OverlappingCertificates,
    certificates_of,
)
from coordinator.patients.models import CaseOutcome, CaseStatus, Patient
from coordinator.patients.screening import SickLeaveSummary
from tests.crypto.support import stored
from tests.patients.support import (
    NOW,
    TODAY,
    access_log,
    at,
    certify,
    entries,
    last_access_seq,
    register,
    rows_written,
)

pytestmark = pytest.mark.usefixtures("frozen")

JUNE = (date(2026, 6, 1), date(2026, 6, 30))


@pytest.fixture
def patient(me: Actor) -> Patient:
    return register(me, "Lind", "Lars")


@pytest.mark.parametrize(
    ("start_on", "end_on", "degree", "code", "field", "message"),
    [
        pytest.param(
            date(2026, 6, 10), date(2026, 6, 9), 100, "F43.2",
            "end_on", "The end date is before the start date.", id="ends-before-it-starts",
        ),
        pytest.param(
            *JUNE, 60, "F43.2", "degree", "The degree must be 25, 50, 75 or 100 %.", id="60-%",
        ),
        pytest.param(
            *JUNE, 100, "F43.7",
            "diagnosis_code", "The code is not in the diagnosis catalogue (ICD-10-SE).",
            id="unknown-code",
        ),
        pytest.param(
            *JUNE, 100, "43.2",
            "diagnosis_code", "Write an ICD-10 code: a letter and two digits, e.g. F43.2.",
            id="malformed-code",
        ),
        pytest.param(
            TODAY, date(2027, 6, 16), 100, "F43.2",
            "end_on", "The period reaches more than a year into the future.",
            id="a-year-and-a-day-ahead",
        ),
        pytest.param(
            date(2016, 6, 1), date(2016, 6, 30), 100, "F43.2",
            "start_on", "The period starts more than ten years ago.", id="ten-years-ago",
        ),
    ],
)  # fmt: skip
def test_a_certificate_breaking_a_rule_is_refused_and_nothing_is_written(
    me: Actor,
    patient: Patient,
    start_on: date,
    end_on: date,
    degree: int,
    code: str,
    field: str,
    message: str,
) -> None:
    before = rows_written()

    with pytest.raises(InvalidField) as refused:
        certify(me, patient, start_on, end_on, degree, code)

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert rows_written() == before
    assert SickLeaveSummary.of(patient, patient.diagnosis) == SickLeaveSummary(
        None, None, None, None, None, None, None, None
    )


@pytest.mark.parametrize(
    ("today", "start_on", "end_on"),
    [
        pytest.param(TODAY, TODAY, date(2027, 6, 15), id="a-year-ahead"),
        pytest.param(date(2027, 6, 15), date(2027, 6, 15), date(2028, 6, 15),
                     id="a-year-ahead-over-29-february"),
        pytest.param(TODAY, date(2016, 6, 15), date(2016, 6, 30), id="starting-ten-years-ago"),
    ],
)  # fmt: skip
def test_a_period_reaching_exactly_to_the_limits_is_accepted(
    frozen: time_machine.Traveller, me: Actor, today: date, start_on: date, end_on: date
) -> None:
    frozen.move_to(at(today))
    patient = register(me, "Lind", "Lars")

    certify(me, patient, start_on, end_on)

    assert [(c.start_on, c.end_on) for c in certificates_of(patient)] == [(start_on, end_on)]


def test_the_same_certificate_twice_is_refused_however_the_code_is_written(
    me: Actor, patient: Patient
) -> None:
    certify(me, patient, *JUNE, 50, "F43.2")
    before = rows_written()

    for accept_overlap in (False, True):
        with pytest.raises(DuplicateCertificate):
            certify(me, patient, *JUNE, 50, " f432 ", accept_overlap=accept_overlap)

    assert rows_written() == before


def test_an_overlapping_certificate_is_refused_naming_the_ones_it_overlaps(
    me: Actor, patient: Patient
) -> None:
    june = certify(me, patient, *JUNE)
    july = certify(me, patient, date(2026, 7, 1), date(2026, 7, 31))  # adjacent: no overlap
    before = rows_written()

    with pytest.raises(OverlappingCertificates) as refused:
        certify(me, patient, date(2026, 6, 20), date(2026, 7, 10), 50)

    assert (refused.value.field, refused.value.overlapping) == ("start_on", [june, july])
    assert rows_written() == before


def test_an_overlapping_certificate_is_registered_when_the_overlap_is_accepted(
    me: Actor, patient: Patient
) -> None:
    june = certify(me, patient, *JUNE)

    replacement = certify(
        me, patient, date(2026, 6, 20), date(2026, 7, 10), 50, accept_overlap=True
    )

    assert certificates_of(patient) == [june, replacement]
    assert (patient.sick_leave_start, patient.sick_leave_end) == (JUNE[0], date(2026, 7, 10))
    assert (patient.sick_leave_days, patient.sick_leave_degree) == (40, 50)  # June 20–30 once


def test_certificates_five_days_apart_make_one_sick_leave_case_with_its_milestones(
    me: Actor, patient: Patient
) -> None:
    certify(me, patient, date(2026, 3, 1), date(2026, 3, 31), 100, "F43.2")
    certify(me, patient, date(2026, 4, 6), date(2026, 4, 30), 100, "F43.2")  # 1–5 April: no
    certify(me, patient, date(2026, 5, 1), date(2026, 6, 30), 50, "M54.5")  # certificate

    assert current_app.config["SICK_LEAVE_GAP_DAYS"] == 5
    assert SickLeaveSummary.of(patient, patient.diagnosis) == SickLeaveSummary(
        start=date(2026, 3, 1),
        end=date(2026, 6, 30),
        days=31 + 25 + 61,
        degree=50,
        day_90_on=date(2026, 6, 3),  # day 34 of the May certificate
        day_180_on=date(2026, 9, 1),  # 63 days after the last one, if it continues
        day_365_on=date(2027, 3, 5),
        previous_end=None,
        diagnosis_code="M54.5",
    )


def test_six_days_without_a_certificate_start_a_new_sick_leave_case(
    me: Actor, patient: Patient
) -> None:
    certify(me, patient, date(2026, 5, 1), date(2026, 5, 20), 100, "F43.2")
    certify(me, patient, date(2026, 5, 27), date(2026, 6, 30), 75, "J06.9")  # 21–26 May: none

    assert SickLeaveSummary.of(patient, patient.diagnosis) == SickLeaveSummary(
        start=date(2026, 5, 27),
        end=date(2026, 6, 30),
        days=35,
        degree=75,
        day_90_on=date(2026, 8, 24),
        day_180_on=date(2026, 11, 22),
        day_365_on=date(2027, 5, 26),
        previous_end=date(2026, 5, 20),
        diagnosis_code="J06.9",
    )
    assert [case.status for case in cases.history(patient)] == [CaseStatus.NEW]


def test_the_diagnosis_and_doctor_are_normalised_and_stored_encrypted(
    me: Actor, patient: Patient
) -> None:
    certificate = certify(me, patient, *JUNE, code=" f432 ", doctor="  Karin Ekström ")
    db.session.commit()
    db.session.expire_all()

    assert (certificate.diagnosis_code, certificate.doctor) == ("F43.2", "Karin Ekström")
    assert patient.diagnosis == "F43.2"
    sealed = [
        stored("certificates", "diagnosis_code", certificate.id),
        stored("certificates", "doctor", certificate.id),
        stored("patients", "diagnosis", patient.id),
    ]
    assert not [raw for raw in sealed if b"F43" in raw.upper() or "Ekström".encode() in raw]


def test_a_certificate_is_journaled_with_its_period_and_degree_and_logged_as_created(
    me: Actor, patient: Patient
) -> None:
    mark = last_access_seq()

    certificate = certify(me, patient, *JUNE, 75, "F43.2", doctor="Karin Ekström")

    (entry,) = entries(patient, EntryKind.CERTIFICATE_ADDED)
    # The text is in the installation's language; dates, degree, code and the catalogue's
    # (Swedish) diagnosis text read the same in every language.
    assert all(part in entry.heading for part in ("2026-06-01", "2026-06-30", "75"))
    assert all(part in entry.body for part in ("F43.2", "Anpassningsstörning", "Karin Ekström"))
    assert [(e.action, e.object_type, e.object_id) for e in access_log(mark)] == [
        (AccessAction.CREATE, "certificate", str(certificate.id)),
        (AccessAction.CREATE, "journal_entry", str(entry.seq)),
    ]
    assert patient.certificate_added_at == NOW


def test_a_new_sick_leave_after_the_case_closed_opens_a_new_unassigned_case(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    frozen.move_to(at(date(2026, 3, 1)))
    patient = register(me, "Berg", "Bo")
    certify(me, patient, date(2026, 3, 1), date(2026, 3, 31))
    frozen.move_to(at(date(2026, 4, 10)))
    closed = cases.close(me, patient, CaseOutcome.RETURNED_FULL_TIME, date(2026, 4, 10))
    frozen.move_to(NOW)

    certify(me, patient, *JUNE)

    new, earlier = cases.history(patient)
    assert earlier is closed
    assert (new.status, new.coordinator_id, new.assigned_at, new.opened_at) == (
        CaseStatus.NEW,
        None,
        None,
        NOW,
    )
    assert [e.kind for e in entries(patient)][-2:] == [
        EntryKind.CERTIFICATE_ADDED,
        EntryKind.CASE_OPENED,
    ]


def test_a_certificate_continuing_the_sick_leave_of_a_closed_case_opens_no_case(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    frozen.move_to(at(date(2026, 3, 1)))
    patient = register(me, "Berg", "Bo")
    certify(me, patient, date(2026, 3, 1), date(2026, 3, 31))
    frozen.move_to(at(date(2026, 3, 20)))
    cases.close(me, patient, CaseOutcome.HANDED_OVER, date(2026, 3, 20))
    frozen.move_to(NOW)

    certify(me, patient, date(2026, 4, 1), date(2026, 6, 30))

    assert [case.status for case in cases.history(patient)] == [CaseStatus.CLOSED]
