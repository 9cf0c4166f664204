"""Patient pages: unit scoping, blind-index search, the case journal, and their access log."""

from __future__ import annotations

import logging
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.journal.service import verify_all
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.helpers import alert, csrf_token, field_errors, flashes


def _log(app: Flask) -> list[tuple[int | None, int | None, int, str, str]]:
    """The access log as (user, unit, patient, action, object type), in order."""
    with app.app_context():
        entries = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all()
        return [
            (e.user_id, e.unit_id, e.patient_id, e.action.value, e.object_type) for e in entries
        ]


def _post(client: FlaskClient, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    # The token comes from the start page: fetching a patient page would log a read.
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def test_the_list_shows_the_units_patients_and_logs_each_one_shown(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = coordinator_client.get("/patients/?scope=unit")

    assert response.status_code == 200
    assert "Tolvansson, Tolvan" in response.text
    assert "19410708-6995" in response.text
    assert "Elvasson" not in response.text  # unit B's patient
    a, unit = world.coordinator_a.id, world.unit_a.id
    assert _log(app) == [(a, unit, world.patient_a.id, "read", "patient")]


def test_the_patient_page_shows_the_journal_and_logs_the_reads(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = coordinator_client.get(f"/patients/{world.patient_a.uid}")

    assert response.status_code == 200
    assert "<h1>Tolvan Tolvansson</h1>" in response.text
    assert "Journalen har inga anteckningar än." in response.text
    a, unit, patient = world.coordinator_a.id, world.unit_a.id, world.patient_a.id
    assert _log(app) == [
        (a, unit, patient, "read", "patient"),
        (a, unit, patient, "read", "certificates"),
        (a, unit, patient, "read", "case_journal"),
        (a, unit, patient, "read", "consents"),
        (a, unit, patient, "read", "plan"),
        (a, unit, patient, "read", "contacts"),
    ]


def test_another_units_patient_is_not_found_and_nothing_is_logged(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = coordinator_client.get(f"/patients/{world.patient_b.uid}")

    assert response.status_code == 404
    assert "Elvasson" not in response.text
    assert _log(app) == []


def test_a_note_is_signed_encrypted_logged_and_shown_escaped(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    url = f"/patients/{world.patient_a.uid}"
    text = "Ringde arbetsgivaren <script>alert(1)</script> om anpassning."

    response = _post(coordinator_client, f"{url}/journal", {"heading": "Telefon", "body": text})

    assert response.status_code == 302
    assert response.headers["Location"] == f"{url}#note"
    page = coordinator_client.get(url)
    assert flashes(page) == [("success", "Anteckningen är signerad och sparad.")]
    assert "Ringde arbetsgivaren &lt;script&gt;alert(1)&lt;/script&gt; om anpassning." in page.text
    assert "<script>alert(1)</script>" not in page.text
    with app.app_context():
        entry = db.session.scalars(select(CaseJournalEntry)).one()
        assert (entry.heading, entry.body, entry.kind) == ("Telefon", text, EntryKind.NOTE)
        assert (entry.author_id, entry.unit_id, entry.role) == (
            world.coordinator_a.id,
            world.unit_a.id,
            Role.COORDINATOR,
        )
        raw = db.session.execute(
            select(CaseJournalEntry.__table__.c.body, CaseJournalEntry.__table__.c.heading)
        ).one()
        assert b"arbetsgivaren" not in raw.body
        assert b"Telefon" not in raw.heading
        assert [r.is_intact for r in verify_all()] == [True, True]
    a, unit, patient = world.coordinator_a.id, world.unit_a.id, world.patient_a.id
    assert _log(app)[:3] == [
        (a, unit, patient, "read", "patient"),
        (a, unit, patient, "create", "journal_entry"),
        (a, unit, patient, "read", "patient"),
    ]


def test_an_incomplete_note_changes_nothing_but_the_read_it_showed_is_still_logged(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = _post(
        coordinator_client, f"/patients/{world.patient_a.uid}/journal", {"heading": "Telefon"}
    )

    assert response.status_code == 400
    assert field_errors(response) == {"body": "Skriv anteckningen."}
    assert "Tolvan Tolvansson" in response.text
    with app.app_context():
        assert db.session.scalars(select(CaseJournalEntry)).all() == []
        assert [r.is_intact for r in verify_all()] == [True, True]
    a, unit, patient = world.coordinator_a.id, world.unit_a.id, world.patient_a.id
    assert _log(app) == [
        (a, unit, patient, "read", "patient"),
        (a, unit, patient, "read", "certificates"),
        (a, unit, patient, "read", "case_journal"),
        (a, unit, patient, "read", "consents"),
        (a, unit, patient, "read", "plan"),
        (a, unit, patient, "read", "contacts"),
    ]


def test_a_manager_reads_the_journal_but_may_not_write_in_it(
    app: Flask, world: World, manager_client: FlaskClient
) -> None:
    page = manager_client.get(f"/patients/{world.patient_a.uid}")
    refused = _post(
        manager_client, f"/patients/{world.patient_a.uid}/journal", {"heading": "X", "body": "Y"}
    )

    assert page.status_code == 200
    assert "Ny anteckning" not in page.text
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalars(select(CaseJournalEntry)).all() == []


def test_search_by_personnummer_in_any_common_form_opens_the_patient(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    for written in ("19410708-6995", "410708-6995", "4107086995", " 194107086995 "):
        response = _post(coordinator_client, "/patients/search", {"query": written})

        assert response.status_code == 302, written
        assert response.headers["Location"] == f"/patients/{world.patient_a.uid}"
    searches = [entry for entry in _log(app) if entry[3] == AccessAction.SEARCH.value]
    assert len(searches) == 4


def test_search_does_not_reach_another_units_patient(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = _post(coordinator_client, "/patients/search", {"query": "19811228-9874"})

    assert response.status_code == 404
    assert alert(response) == "Ingen patient med det personnumret finns i den här enheten."
    assert _log(app) == []


def test_a_malformed_personnummer_gets_a_clear_message(coordinator_client: FlaskClient) -> None:
    response = _post(coordinator_client, "/patients/search", {"query": "12-34"})

    assert response.status_code == 400
    assert field_errors(response) == {
        "query": "Skriv personnumret med 10 eller 12 siffror, t.ex. 19121212-1212."
    }


def test_a_tampered_value_gives_a_plain_error_page_and_a_log_line_that_says_where(
    app: Flask, world: World, coordinator_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    patients = Patient.__table__
    with app.app_context():
        sealed = db.session.execute(
            select(patients.c.last_name).where(patients.c.id == world.patient_a.id)
        ).scalar_one()
        flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
        db.session.execute(
            update(patients).where(patients.c.id == world.patient_a.id).values(last_name=flipped)
        )
        db.session.commit()

    with caplog.at_level(logging.ERROR):
        response = coordinator_client.get(f"/patients/{world.patient_a.uid}")

    assert response.status_code == 500
    assert "<h1>Något gick fel</h1>" in response.text
    assert "Tolvan" not in response.text
    uid = uuid.UUID(world.patient_a.uid).hex
    assert (
        f"unhandled error: DecryptionError (cannot decrypt patients.last_name of row {uid}: "
        "authentication failed: the value was altered, was copied from another row or column, "
        "or the key does not match)"
    ) in caplog.text
    assert "Tolvan" not in caplog.text
