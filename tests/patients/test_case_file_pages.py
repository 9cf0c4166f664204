"""The case file through the browser's eyes: registering, certificates, case actions, search by
name, protected identity — what is stored, what is shown, what is logged."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    Certificate,
    CoordinationCase,
    Employment,
    Patient,
)
from tests.conftest import World
from tests.factories import UserFactory
from tests.helpers import csrf_token, field_errors

#: A fixed Swedish afternoon, so that dates and milestones are exact.
NOW = "2026-06-15 12:00:00+00:00"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    """Every test here runs at NOW, signing in included."""
    with time_machine.travel(NOW, tick=False):
        yield


def _post(client: FlaskClient, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    # The token comes from the registration form, which shows no patient data.
    return client.post(url, data={"csrf_token": csrf_token(client, "/patients/new"), **data})


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def _patient(app: Flask, uid: str) -> Patient:
    with app.app_context():
        patient = db.session.scalars(select(Patient).where(Patient.uid == uuid.UUID(uid))).one()
        db.session.expunge(patient)
        return patient


def _uid_from(location: str) -> str:
    match = re.search(r"/patients/([0-9a-f-]{36})", location)
    assert match is not None, location
    return match.group(1)


REGISTRATION = {
    "personnummer": "19121212-1212",
    "first_name": "Tolvan",
    "last_name": "Testsson",
    "stated_gender": "",
    "phone": "070-123 45 67",
    "email": "",
    "address": "Storgatan 1\n123 45 Exempelby",
    "employment": "employed",
    "occupation": "Undersköterska",
}


@pytest.fixture
def registered(coordinator_client: FlaskClient) -> str:
    response = _post(coordinator_client, "/patients/new", REGISTRATION)
    assert response.status_code == 302, response.text
    return _uid_from(response.headers["Location"])


def test_registering_stores_the_details_encrypted_and_opens_a_case_for_the_coordinator(
    app: Flask, world: World, registered: str
) -> None:
    patient = _patient(app, registered)
    with app.app_context():
        patient = db.session.merge(patient)
        assert (patient.personnummer, patient.first_name, patient.last_name) == (
            "191212121212", "Tolvan", "Testsson",
        )  # fmt: skip
        assert patient.address == "Storgatan 1\n123 45 Exempelby"
        assert (patient.employment, patient.occupation) == (Employment.EMPLOYED, "Undersköterska")
        assert patient.email is None
        # The employer is chosen in the directory afterwards, not typed in when registering.
        assert (patient.employer_id, patient.employer_manager_id) == (None, None)
        raw = db.session.execute(
            select(Patient._address_sealed, Patient._occupation_sealed).where(  # type: ignore[attr-defined]
                Patient.id == patient.id
            )
        ).first()
        assert raw is not None
        assert b"Storgatan" not in raw[0]
        assert "Undersköterska".encode() not in raw[1]
        case = db.session.scalars(select(CoordinationCase)).all()[-1]
        assert (case.status, case.coordinator_id) == (CaseStatus.NEW, world.coordinator_a.id)


def test_an_e_mail_address_entered_on_the_edit_form_is_stored_encrypted(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    details = {name: value for name, value in REGISTRATION.items() if name != "personnummer"}

    response = _post(
        coordinator_client, f"/patients/{registered}/edit", details | {"email": "tolvan@example.se"}
    )

    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/patients/{registered}"
    with app.app_context():
        patient = db.session.scalars(
            select(Patient).where(Patient.uid == uuid.UUID(registered))
        ).one()
        assert patient.email == "tolvan@example.se"
        raw = db.session.scalar(
            select(Patient._email_sealed).where(Patient.id == patient.id)  # type: ignore[attr-defined]
        )
        assert b"example.se" not in raw
        entry = db.session.scalars(
            select(CaseJournalEntry).where(CaseJournalEntry.kind == EntryKind.PATIENT_UPDATED)
        ).one()
        assert (entry.heading, entry.body) == ("Patientuppgifter ändrade", "Ändrat: E-post.")


def test_an_invalid_e_mail_address_is_refused_at_the_field_and_nothing_is_changed(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    details = {name: value for name, value in REGISTRATION.items() if name != "personnummer"}
    before = _count(app, CaseJournalEntry)

    response = _post(
        coordinator_client, f"/patients/{registered}/edit", details | {"email": "tolvan@"}
    )

    assert response.status_code == 400
    assert field_errors(response) == {"email": "Skriv en giltig e-postadress."}
    assert _patient(app, registered).email is None
    assert _count(app, CaseJournalEntry) == before


def test_an_invalid_personnummer_is_refused_next_to_the_field_and_nothing_is_written(
    app: Flask, coordinator_client: FlaskClient
) -> None:
    before = (_count(app, Patient), _count(app, AccessLogEntry), _count(app, CaseJournalEntry))

    response = _post(
        coordinator_client, "/patients/new", REGISTRATION | {"personnummer": "19121212-1213"}
    )

    assert response.status_code == 400
    assert set(field_errors(response)) == {"personnummer"}
    after = (_count(app, Patient), _count(app, AccessLogEntry), _count(app, CaseJournalEntry))
    assert after == before


def test_the_same_number_twice_in_a_unit_is_refused_with_a_link_to_the_patient(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    response = _post(
        coordinator_client, "/patients/new", REGISTRATION | {"personnummer": "191212121212"}
    )

    assert response.status_code == 409
    assert f'href="/patients/{registered}"' in response.text
    assert _count(app, Patient) == 3  # the World's two and the one registered


def test_a_certificate_updates_the_sick_leave_shown_with_milestones(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    response = _post(coordinator_client, f"/patients/{registered}/certificates", {
        "start_on": "2026-05-01", "end_on": "2026-06-30", "degree": "50",
        "diagnosis_code": "f432", "doctor": "Karin Provläkare",
    })  # fmt: skip
    assert response.status_code == 302
    page = coordinator_client.get(f"/patients/{registered}")

    patient = _patient(app, registered)
    assert (patient.sick_leave_start, patient.sick_leave_end) == (
        date(2026, 5, 1),
        date(2026, 6, 30),
    )
    assert (patient.sick_leave_days, patient.sick_leave_degree) == (61, 50)
    assert (patient.day_90_on, patient.day_180_on) == (date(2026, 7, 29), date(2026, 10, 27))
    assert "F43.2 Anpassningsstörning" in page.text
    assert '<time datetime="2026-07-29">' in page.text
    with app.app_context():
        entry = db.session.scalars(
            select(CaseJournalEntry).where(CaseJournalEntry.kind == EntryKind.CERTIFICATE_ADDED)
        ).one()
        assert entry.heading == "Sjukintyg 2026-05-01 – 2026-06-30, 50 %"
        assert entry.body == "Diagnos F43.2 Anpassningsstörning. Utfärdat av Karin Provläkare."


def test_a_bad_certificate_gets_a_message_at_the_field_and_changes_nothing(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    cases = {
        "end_on": {"start_on": "2026-06-10", "end_on": "2026-06-01", "diagnosis_code": "M54.5"},
        "diagnosis_code": {"start_on": "2026-06-01", "end_on": "2026-06-10",
                           "diagnosis_code": "F43.7"},
    }  # fmt: skip
    for field, values in cases.items():
        response = _post(
            coordinator_client, f"/patients/{registered}/certificates",
            values | {"degree": "100", "doctor": ""},
        )  # fmt: skip
        assert response.status_code == 400, field
        assert set(field_errors(response)) == {field}
    assert _count(app, Certificate) == 0


def test_an_overlapping_certificate_needs_confirmation(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    first = {"start_on": "2026-06-01", "end_on": "2026-06-20", "degree": "100",
             "diagnosis_code": "M54.5", "doctor": ""}  # fmt: skip
    second = first | {"start_on": "2026-06-10", "end_on": "2026-07-10", "degree": "50"}
    url = f"/patients/{registered}/certificates"
    assert _post(coordinator_client, url, first).status_code == 302
    refused = _post(coordinator_client, url, second)
    assert refused.status_code == 409
    assert 'name="accept_overlap"' in refused.text
    assert _count(app, Certificate) == 1
    accepted = _post(coordinator_client, url, second | {"accept_overlap": "y"})
    assert accepted.status_code == 302
    patient = _patient(app, registered)
    assert (patient.sick_leave_days, patient.sick_leave_degree) == (40, 50)


def test_screening_activation_transfer_and_closing_through_the_page(
    app: Flask, world: World, coordinator_client: FlaskClient, registered: str
) -> None:
    url = f"/patients/{registered}/case"
    with app.app_context():
        unit = db.session.get(CareUnit, world.unit_a.id)
        other_id = UserFactory(username="koord.a2", full_name="Greta Kollega", units=[unit]).id

    steps = [
        (f"{url}/screening", {"decision": "offer", "reason": "Lång sjukskrivning väntas."}),
        (
            f"/patients/{registered}/consents/new",
            {"kind": "coordination", "answer": "given", "method": "oral", "given_on": "2026-06-15"},
        ),
        (f"{url}/activate", {}),
        (f"{url}/follow-up", {"follow_up_on": "2026-06-22"}),
        (f"{url}/transfer", {"coordinator": str(other_id)}),
        (f"{url}/close", {"outcome": "returned_part_time", "closed_on": "2026-06-15"}),
    ]
    for path, data in steps:
        response = _post(coordinator_client, path, data)
        assert response.status_code == 302, (path, response.text)

    with app.app_context():
        case = db.session.scalars(select(CoordinationCase).order_by(CoordinationCase.id)).all()[-1]
        assert (case.status, case.outcome, case.closed_on) == (
            CaseStatus.CLOSED, CaseOutcome.RETURNED_PART_TIME, date(2026, 6, 15),
        )  # fmt: skip
        assert case.coordinator_id == other_id
        assert case.follow_up_on == date(2026, 6, 22)
        kinds = db.session.scalars(
            select(CaseJournalEntry.kind).order_by(CaseJournalEntry.seq)
        ).all()
        assert kinds == [
            EntryKind.CASE_OPENED, EntryKind.SCREENING_DECIDED, EntryKind.CONSENT_RECORDED,
            EntryKind.CASE_UPDATED, EntryKind.CASE_UPDATED, EntryKind.CASE_TRANSFERRED,
            EntryKind.CASE_CLOSED,
        ]  # fmt: skip


def test_a_stale_case_form_is_refused_and_changes_nothing(
    app: Flask, coordinator_client: FlaskClient, registered: str
) -> None:
    url = f"/patients/{registered}/case"
    first = _post(coordinator_client, f"{url}/follow-up",
                  {"follow_up_on": "2026-06-20", "version": "1"})  # fmt: skip
    stale = _post(coordinator_client, f"{url}/follow-up",
                  {"follow_up_on": "2026-07-01", "version": "1"})  # fmt: skip

    assert (first.status_code, stale.status_code) == (302, 409)
    with app.app_context():
        case = db.session.scalars(select(CoordinationCase).order_by(CoordinationCase.id)).all()[-1]
        assert (case.follow_up_on, case.version) == (date(2026, 6, 20), 2)


def test_search_by_name_finds_the_patient_by_family_name_or_full_name(
    coordinator_client: FlaskClient, registered: str
) -> None:
    for written in ("testsson", "Tolvan Testsson", "  TOLVAN   testsson "):
        response = _post(coordinator_client, "/patients/search", {"query": written})
        assert response.status_code == 302, written
        assert response.headers["Location"] == f"/patients/{registered}"
    missing = _post(coordinator_client, "/patients/search", {"query": "Testson"})
    assert missing.status_code == 404


def test_a_protected_identity_is_masked_until_opened_and_the_opening_is_logged(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = _post(coordinator_client, "/patients/new", REGISTRATION | {"is_protected": "y"})
    uid = _uid_from(response.headers["Location"])

    listing = coordinator_client.get("/patients/?scope=unit")
    page = coordinator_client.get(f"/patients/{uid}")
    by_name = _post(coordinator_client, "/patients/search", {"query": "Tolvan Testsson"})
    opened = _post(coordinator_client, f"/patients/{uid}/identity", {})

    assert "Testsson" not in listing.text
    assert "Testsson" not in page.text
    assert "Storgatan" not in page.text
    assert by_name.status_code == 404
    assert opened.status_code == 200
    assert "<h1>Tolvan Testsson</h1>" in opened.text
    assert "Storgatan 1" in opened.text
    with app.app_context():
        openings = db.session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.object_type == "protected_identity")
        ).all()
        assert [(e.user_id, e.action.value) for e in openings] == [(world.coordinator_a.id, "read")]


def test_managers_read_but_cannot_register_or_change_and_admins_see_nothing(
    world: World, manager_client: FlaskClient, admin_client: FlaskClient
) -> None:
    uid = world.patient_a.uid
    assert manager_client.get(f"/patients/{uid}").status_code == 200
    assert manager_client.get("/patients/").status_code == 200
    assert manager_client.get("/patients/new").status_code == 403
    for path in ("certificates", "case/activate", "case/close", "journal"):
        assert _post(manager_client, f"/patients/{uid}/{path}", {}).status_code == 403, path
    assert admin_client.get(f"/patients/{uid}").status_code == 403
    assert admin_client.get("/patients/").status_code == 403


def test_another_units_patient_answers_404_on_every_patient_route(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    uid = world.patient_b.uid
    before = _count(app, AccessLogEntry)
    assert coordinator_client.get(f"/patients/{uid}").status_code == 404
    assert coordinator_client.get(f"/patients/{uid}/edit").status_code == 404
    for path in ("certificates", "identity", "case/screening", "case/close", "journal"):
        assert _post(coordinator_client, f"/patients/{uid}/{path}", {}).status_code == 404, path
    assert _count(app, AccessLogEntry) == before
