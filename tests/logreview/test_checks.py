# ruff: noqa: S608  (raw SQL with integer ids: going around the app as an intruder would)
"""Sample checks through the app: drawn by documented criteria, judged, signed, and final —
the service, the ORM and the database triggers all refuse changing a signed check, and a
change that gets past them shows as a broken seal."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DatabaseError

from coordinator import clock
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.logreview.models import Criterion, Finding, LogCheck, LogCheckItem
from coordinator.patients.models import Patient
from tests.conftest import UnitRef, UserRef, World
from tests.crypto.support import actor_for
from tests.helpers import submit
from tests.logreview.support import manager_of
from tests.patients.support import at

DAY = date(2026, 6, 15)
EVERY_CRITERION = [criterion.value for criterion in Criterion]


def _access(app: Flask, user: UserRef, unit: UnitRef, patient_id: int, hour: int) -> int:
    with app.app_context(), time_machine.travel(at(DAY, hour), tick=False):
        patient = db.session.get(Patient, patient_id)
        assert patient is not None
        entry = journal.record_access(actor_for(user, unit), patient, AccessAction.READ)
        db.session.commit()
        return entry.seq


@pytest.fixture
def accesses(app: Flask, world: World) -> list[int]:
    """Three accesses in unit A on DAY (one at 20:00) and one in unit B to unit B's patient."""
    seqs = [
        _access(app, world.coordinator_a, world.unit_a, world.patient_a.id, 9),
        _access(app, world.coordinator_a, world.unit_a, world.patient_a.id, 10),
        _access(app, world.coordinator_a, world.unit_a, world.patient_a.id, 20),
    ]
    _access(app, world.coordinator_b, world.unit_b, world.patient_b.id, 11)
    return seqs


def _draw(client: FlaskClient, place: UnitRef, **fields: object) -> tuple[int, str]:
    data = {"unit": str(place.id), "first": "2026-06-15", "last": "2026-06-15",
            "criteria": EVERY_CRITERION, **fields}  # fmt: skip
    response = submit(client, "/log/checks/new", data)
    return response.status_code, response.headers.get("Location", "") or response.text


def _check(app: Flask) -> LogCheck:
    with app.app_context():
        found = db.session.scalars(select(LogCheck)).one()
        db.session.expunge_all()
        return found


def _items(app: Flask) -> list[tuple[int, int, Finding | None, str | None, str]]:
    with app.app_context():
        items = db.session.scalars(select(LogCheckItem).order_by(LogCheckItem.position)).all()
        return [(i.position, i.access_seq, i.finding, i.comment, i.reasons) for i in items]


def _judge(client: FlaskClient, check_id: int, findings: dict[int, tuple[str, str]]) -> int:
    data: dict[str, str] = {}
    for item_id, (finding, comment) in findings.items():
        data[f"finding_{item_id}"] = finding
        data[f"comment_{item_id}"] = comment
    return submit(client, f"/log/checks/{check_id}", data).status_code


def _item_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(LogCheckItem.id).order_by(LogCheckItem.position)))


def test_a_drawn_check_documents_its_criteria_and_copies_the_sampled_entries(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int]
) -> None:
    status, location = _draw(manager_client, world.unit_a)

    check = _check(app)
    assert (status, location) == (302, f"/log/checks/{check.id}")
    assert (check.period_start, check.period_end, check.population) == (DAY, DAY, 3)
    assert (check.reviewer_id, check.unit_id, check.role) == (world.manager.id, world.unit_a.id,
                                                              Role.MANAGER)  # fmt: skip
    assert check.signed_at is None
    documented = json.loads(check.criteria)
    assert documented["criteria"] == EVERY_CRITERION
    # Three entries in scope: all drawn at random (10 wanted); the evening one also matches.
    assert documented["matched"] == {"random": 3, "protected_identity": 0, "outside_caseload": 0,
                                     "outside_working_hours": 1, "many_patients": 0,
                                     "same_surname": 0, "after_closing": 0}  # fmt: skip
    assert documented["working_day"] == [7, 18]
    assert len(documented["seed"]) == 16
    assert _items(app) == [
        (1, accesses[0], None, None, "random"),
        (2, accesses[1], None, None, "random"),
        (3, accesses[2], None, None, "random,outside_working_hours"),
    ]


def test_the_check_page_shows_the_sample_and_logs_the_patients_shown(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int]
) -> None:
    _draw(manager_client, world.unit_a)
    check = _check(app)
    with app.app_context():
        before = db.session.scalar(select(func.max(AccessLogEntry.seq)))

    page = manager_client.get(f"/log/checks/{check.id}")

    assert page.status_code == 200
    assert page.text.count('<tr data-item="') == 3
    assert "Utanför arbetstid" in page.text
    assert "Slumpvisa poster" in page.text
    with app.app_context():
        logged = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.seq > before)).all()
        assert [(e.patient_id, e.action, e.object_type, e.user_id) for e in logged] == [
            (world.patient_a.id, AccessAction.READ, "log_check", world.manager.id)
        ]


def test_judging_signing_and_then_nothing_changes(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int]
) -> None:
    _draw(manager_client, world.unit_a)
    check = _check(app)
    first, second, third = _item_ids(app)

    # Two judged: signing is refused while one is open, and nothing is signed.
    assert (
        _judge(manager_client, check.id, {first: ("justified", ""), second: ("justified", "")})
        == 302
    )
    refused = submit(manager_client, f"/log/checks/{check.id}/sign", {"summary": "Klart"})
    assert refused.status_code == 400
    assert "1 post i stickprovet är inte bedömd än." in refused.text
    assert _check(app).signed_at is None

    assert _judge(manager_client, check.id, {
        first: ("justified", ""), second: ("justified", "Planerat återbesök"),
        third: ("unjustified", "Kväll, ingen vårdrelation — samtal med medarbetaren"),
    }) == 302  # fmt: skip
    signed = submit(manager_client, f"/log/checks/{check.id}/sign", {"summary": "En obefogad."})
    assert signed.status_code == 302

    final = _check(app)
    assert final.signed_at is not None
    assert final.seal is not None
    with app.app_context():
        assert db.session.get(LogCheck, check.id).summary == "En obefogad."  # type: ignore[union-attr]
    assert [(position, finding, comment) for position, _, finding, comment, _ in _items(app)] == [
        (1, Finding.JUSTIFIED, None),
        (2, Finding.JUSTIFIED, "Planerat återbesök"),
        (3, Finding.UNJUSTIFIED, "Kväll, ingen vårdrelation — samtal med medarbetaren"),
    ]
    page = manager_client.get(f"/log/checks/{check.id}")
    assert "Försegling intakt" in page.text
    assert 'type="radio"' not in page.text

    # After signing: the service refuses new findings and a second signature, nothing moves.
    again = _judge(manager_client, check.id, {first: ("unjustified", "ändrat")})
    assert again == 400
    resign = submit(manager_client, f"/log/checks/{check.id}/sign", {"summary": "Annat"})
    assert resign.status_code == 400
    assert _items(app)[0][2] == Finding.JUSTIFIED
    assert _check(app).signed_at == final.signed_at


def _signed_check(app: Flask, world: World, client: FlaskClient) -> int:
    _draw(client, world.unit_a)
    check = _check(app)
    _judge(client, check.id, {item: ("justified", "ok") for item in _item_ids(app)})
    assert submit(client, f"/log/checks/{check.id}/sign", {"summary": ""}).status_code == 302
    return check.id


def _raw(url: str) -> Callable[[str], None]:
    def run(statement: str) -> None:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    return run


def test_the_database_refuses_changing_or_deleting_a_signed_check(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int], database_url: str
) -> None:
    check_id = _signed_check(app, world, manager_client)
    raw = _raw(database_url)

    for statement in (
        f"UPDATE log_check_items SET finding = 'unjustified' WHERE check_id = {check_id}",
        f"UPDATE log_checks SET period_end = '2026-06-30' WHERE id = {check_id}",
        f"UPDATE log_checks SET signed_at = NULL WHERE id = {check_id}",
        f"DELETE FROM log_check_items WHERE check_id = {check_id}",
        f"DELETE FROM log_checks WHERE id = {check_id}",
    ):
        with pytest.raises(DatabaseError, match=r"final|never deleted|append-only"):
            raw(statement)
    # Key rotation's rewrite of a sealed comment is let through (same bytes here).
    raw(f"UPDATE log_check_items SET comment = comment WHERE check_id = {check_id}")
    assert {finding for _, _, finding, _, _ in _items(app)} == {Finding.JUSTIFIED}


def test_a_draft_may_be_changed_but_never_deleted(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int], database_url: str
) -> None:
    _draw(manager_client, world.unit_a)
    check = _check(app)
    raw = _raw(database_url)

    raw(f"UPDATE log_check_items SET finding = 'follow_up' WHERE check_id = {check.id}")

    assert {finding for _, _, finding, _, _ in _items(app)} == {Finding.FOLLOW_UP}
    with pytest.raises(DatabaseError, match=r"never deleted|append-only"):
        raw(f"DELETE FROM log_checks WHERE id = {check.id}")


def test_a_change_that_gets_past_the_triggers_breaks_the_seal(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int], database_url: str
) -> None:
    check_id = _signed_check(app, world, manager_client)
    raw = _raw(database_url)
    postgres = database_url.startswith("postgresql")
    if postgres:
        raw("ALTER TABLE log_check_items DISABLE TRIGGER log_check_items_signed_final")
    else:
        raw("DROP TRIGGER log_check_items_signed_final")
    raw(f"UPDATE log_check_items SET finding = 'unjustified' WHERE check_id = {check_id}")

    page = manager_client.get(f"/log/checks/{check_id}")

    assert "Kontrollen har ändrats efter signeringen." in page.text
    assert "Försegling intakt" not in page.text


def test_comments_and_summary_are_stored_encrypted(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int], database_url: str
) -> None:
    _draw(manager_client, world.unit_a)
    check = _check(app)
    secret = "Patienten ringde om sin depression"
    _judge(manager_client, check.id, {item: ("follow_up", secret) for item in _item_ids(app)})
    submit(manager_client, f"/log/checks/{check.id}/sign", {"summary": secret})

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            comments = connection.execute(text("SELECT comment FROM log_check_items")).scalars()
            summary = connection.execute(text("SELECT summary FROM log_checks")).scalar()
            stored = [*comments, summary]
    finally:
        engine.dispose()
    assert len(stored) == 4
    assert all(secret.encode() not in bytes(value) for value in stored)
    assert all(b"depression" not in bytes(value) for value in stored)


def _manager_of(app: Flask, unit: UnitRef, username: str) -> UserRef:
    with app.app_context():
        return manager_of(username, unit)


def test_only_the_reviewer_judges_and_signs_but_other_managers_of_the_unit_see_it(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int],
    signed_in_client: Callable[..., FlaskClient],
) -> None:  # fmt: skip
    _draw(manager_client, world.unit_a)
    check = _check(app)
    client = signed_in_client(_manager_of(app, world.unit_a, "chef2"), world.unit_a)
    item = _item_ids(app)[0]

    assert client.get(f"/log/checks/{check.id}").status_code == 200
    assert _judge(client, check.id, {item: ("justified", "")}) == 403
    assert submit(client, f"/log/checks/{check.id}/sign", {"summary": ""},
                  form_url=f"/log/checks/{check.id}").status_code == 403  # fmt: skip
    assert _items(app)[0][2] is None


def test_a_manager_of_other_units_does_not_find_the_check(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int],
    signed_in_client: Callable[..., FlaskClient],
) -> None:  # fmt: skip
    _draw(manager_client, world.unit_a)
    check = _check(app)
    client = signed_in_client(_manager_of(app, world.unit_b, "chef.b"), world.unit_b)

    assert client.get(f"/log/checks/{check.id}").status_code == 404
    assert f'data-check="{check.id}"' not in client.get("/log/checks").text


def test_bad_requests_change_nothing(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int]
) -> None:
    backwards = _draw(manager_client, world.unit_a, first="2026-06-16", last="2026-06-15")
    no_criteria = _draw(manager_client, world.unit_a, criteria=[])
    future = clock.today() + timedelta(days=1)
    ahead = _draw(manager_client, world.unit_a, first=str(future), last=str(future))
    empty = _draw(manager_client, world.unit_a, first="2026-05-01", last="2026-05-31")
    not_mine = _draw(manager_client, world.unit_a, unit="999")

    assert backwards[0] == 400
    assert "Perioden måste sluta på eller efter sin första dag." in backwards[1]
    assert no_criteria[0] == 400
    assert "Välj minst ett urvalskriterium." in no_criteria[1]
    assert ahead[0] == 400
    assert "Perioden kan inte sluta i framtiden." in ahead[1]
    assert empty[0] == 400
    assert "Inga åtkomster under perioden uppfyllde de valda kriterierna." in empty[1]
    assert not_mine[0] == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LogCheck)) == 0


def test_the_start_page_reminds_until_a_check_is_signed_and_again_after_the_interval(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int],
    signed_in_client: Callable[..., FlaskClient],
) -> None:  # fmt: skip
    reminder = "Ingen stickprovskontroll av åtkomstloggen har signerats för Vårdcentralen Norr än."
    assert reminder in manager_client.get("/").text

    _signed_check(app, world, manager_client)

    assert 'id="check-reminder"' not in manager_client.get("/").text
    signed_at = _check(app).signed_at
    assert signed_at is not None
    with time_machine.travel(signed_at + timedelta(days=30, minutes=1), tick=False):
        later = signed_in_client(world.manager, world.unit_a).get("/").text
    assert (
        "Ingen stickprovskontroll av åtkomstloggen har signerats för Vårdcentralen Norr "
        "på 30 dagar" in later
    )


def test_the_list_of_checks_counts_the_findings(
    app: Flask, world: World, manager_client: FlaskClient, accesses: list[int]
) -> None:
    _draw(manager_client, world.unit_a)
    check = _check(app)
    first, second, _ = _item_ids(app)
    _judge(manager_client, check.id, {first: ("justified", ""), second: ("unjustified", "x")})

    page = manager_client.get("/log/checks").text

    row = page[page.index(f'data-check="{check.id}"') :]
    assert '<td class="num" data-finding="justified">1</td>' in row
    assert '<td class="num" data-finding="follow_up">0</td>' in row
    assert '<td class="num" data-finding="unjustified">1</td>' in row
    assert "Pågår: 1 kvar" in row
