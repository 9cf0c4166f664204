"""Sessions: idle expiry, sign-out everywhere on password change, unit switching, cookies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator import clock
from coordinator.auth.models import User
from coordinator.extensions import db
from tests.conftest import World, make_app
from tests.factories import PASSWORD, UnitFactory, UserFactory
from tests.helpers import alert, field_errors, flashes, sign_in, submit

NEW_PASSWORD = "a much longer new passphrase"


def test_a_session_expires_after_thirty_idle_minutes(client: FlaskClient, world: World) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        sign_in(client, "koord.a")
    with time_machine.travel(start + timedelta(minutes=30, seconds=1), tick=False):
        response = client.get("/patients/")
        page = client.get(response.headers["Location"])

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/patients/"
    assert flashes(page) == [("info", "Du loggades ut efter 30 minuter utan aktivitet.")]


def test_activity_keeps_the_session_alive(client: FlaskClient, world: World) -> None:
    start = clock.now()
    for minutes in (0, 25, 50, 75):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            if minutes == 0:
                sign_in(client, "koord.a")
            assert client.get("/").status_code == 200, minutes


def test_the_idle_timeout_is_configurable(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path / "instance", SESSION_IDLE_MINUTES=5)
    with app.app_context():
        UserFactory(username="kort", units=[UnitFactory()])
    client = app.test_client()
    start = clock.now()
    with time_machine.travel(start, tick=False):
        sign_in(client, "kort")
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=9, seconds=1), tick=False):
        assert client.get("/").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_changing_the_password_signs_out_every_other_session(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    here = signed_in_client(world.coordinator_a)
    elsewhere = signed_in_client(world.coordinator_a)

    response = submit(
        here, "/auth/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert sign_in(app.test_client(), "koord.a", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "koord.a", NEW_PASSWORD).status_code == 302


def test_password_change_refuses_a_wrong_current_password_and_short_ones(
    app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    wrong = submit(
        coordinator_client,
        "/auth/password",
        {"current": "not it at all", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    short = submit(
        coordinator_client,
        "/auth/password",
        {"current": PASSWORD, "new": "kort", "confirm": "kort"},
    )
    differ = submit(
        coordinator_client,
        "/auth/password",
        {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
    )
    same = submit(
        coordinator_client,
        "/auth/password",
        {"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD},
    )

    assert (wrong.status_code, alert(wrong)) == (400, "Det nuvarande lösenordet är fel.")
    assert (short.status_code, alert(short)) == (400, "Lösenordet måste vara minst 12 tecken.")
    assert (differ.status_code, field_errors(differ)) == (
        400,
        {"confirm": "De två nya lösenorden är olika."},
    )
    assert (same.status_code, alert(same)) == (
        400,
        "Det nya lösenordet måste skilja sig från det nuvarande.",
    )
    assert sign_in(app.test_client(), "koord.a", PASSWORD).status_code == 302


def test_a_user_given_a_password_by_the_administrator_must_replace_it_first(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    temporary = "temporary password 1"
    reset = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}/password",
        {"password": temporary},
        form_url=f"/admin/users/{world.coordinator_a.id}",
    )
    assert reset.status_code == 302

    client = app.test_client()
    assert sign_in(client, "koord.a", temporary).status_code == 302
    for path in ("/", "/patients/", "/auth/unit"):
        detour = client.get(path)
        assert detour.headers["Location"] == "/auth/password", path
    changed = submit(
        client,
        "/auth/password",
        {"current": temporary, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_switching_unit_changes_the_unit_shown_and_used(
    manager_client: FlaskClient, world: World
) -> None:
    assert "Patienter på Vårdcentralen Norr" in manager_client.get("/patients/").text

    response = submit(manager_client, "/auth/unit", {"unit": str(world.unit_b.id)})

    assert response.status_code == 302
    page = manager_client.get("/patients/")
    assert "Patienter på Vårdcentralen Söder" in page.text
    assert flashes(page) == [("success", "Du arbetar nu på Vårdcentralen Söder.")]


def test_a_unit_the_user_does_not_work_in_cannot_be_chosen(
    coordinator_client: FlaskClient, world: World
) -> None:
    response = submit(coordinator_client, "/auth/unit", {"unit": str(world.unit_b.id)})

    assert response.status_code == 400
    assert field_errors(response) == {"unit": "Inte ett giltigt val"}
    assert "Patienter på Vårdcentralen Norr" in coordinator_client.get("/patients/").text


def test_removing_a_user_from_the_current_unit_takes_effect_on_the_next_request(
    app: Flask, manager_client: FlaskClient, world: World
) -> None:
    with app.app_context():
        user = db.session.get(User, world.manager.id)
        user.units = [unit for unit in user.units if unit.id == world.unit_b.id]
        db.session.commit()

    response = manager_client.get("/patients/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/unit?next=/patients/"


def test_the_session_cookie_is_http_only_secure_and_same_site(
    client: FlaskClient, world: World
) -> None:
    response = sign_in(client, "koord.a")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("coordinator_session=")
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie
