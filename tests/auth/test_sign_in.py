"""Signing in with a password: success, the one failure message, and returning where you were."""

from __future__ import annotations

import argon2
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from coordinator.auth.models import LoginThrottle, User
from coordinator.extensions import db
from tests.conftest import World
from tests.factories import PASSWORD, UnitFactory, UserFactory
from tests.helpers import alert, field_errors, flashes, sign_in, submit


def _throttle_rows(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginThrottle)) or 0


def test_a_coordinator_with_one_unit_lands_on_the_start_page_in_that_unit(
    client: FlaskClient, world: World
) -> None:
    response = sign_in(client, "koord.a")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert '<span data-testid="current-unit">Vårdcentralen Norr</span>' in page.text
    assert "Välkommen, Testperson" in page.text


def test_usernames_are_matched_without_regard_to_case(client: FlaskClient, world: World) -> None:
    response = sign_in(client, "  KOORD.A ")

    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(
    app: Flask, client: FlaskClient, world: World
) -> None:
    wrong_password = sign_in(client, "koord.a", "not the password")
    unknown_user = sign_in(client, "nobody.here", "not the password")

    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert alert(response) == "Fel användarnamn eller lösenord."
    assert client.get("/").status_code == 302  # still signed out


def test_a_deactivated_user_cannot_sign_in_and_is_told_nothing_more(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        user.is_active = False
        db.session.commit()

    response = sign_in(client, "koord.a")

    assert response.status_code == 401
    assert alert(response) == "Fel användarnamn eller lösenord."


def test_missing_fields_are_named_and_nothing_is_written(
    app: Flask, client: FlaskClient, world: World
) -> None:
    response = submit(client, "/auth/login", {"username": "", "password": ""})

    assert response.status_code == 400
    assert field_errors(response) == {
        "username": "Ange ditt användarnamn.",
        "password": "Ange ditt lösenord.",
    }
    assert _throttle_rows(app) == 0


def test_an_oversize_username_is_refused_with_a_message_and_nothing_is_written(
    app: Flask, client: FlaskClient, world: World
) -> None:
    response = submit(client, "/auth/login", {"username": "a" * 65, "password": "x"})

    assert response.status_code == 400
    assert field_errors(response) == {"username": "Högst 64 tecken."}
    assert _throttle_rows(app) == 0


def test_a_request_body_over_the_limit_is_refused(client: FlaskClient, world: World) -> None:
    response = client.post("/auth/login", data={"username": "x" * (1024 * 1024 + 1)})

    assert response.status_code == 413
    assert "För stort" in response.text


def test_sign_in_returns_to_the_page_first_asked_for(client: FlaskClient, world: World) -> None:
    first = client.get("/patients/?sort=name")
    assert first.status_code == 302
    assert first.headers["Location"] == "/auth/login?next=/patients/?sort%3Dname"

    response = sign_in(client, "koord.a", next_url="/patients/?sort=name")

    assert response.headers["Location"] == "/patients/?sort=name"


def test_sign_in_never_redirects_to_another_site(app: Flask, world: World) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = sign_in(app.test_client(), "koord.a", next_url=target)
        assert response.headers["Location"] == "/", target


def test_a_user_with_several_units_chooses_one_before_anything_else(
    client: FlaskClient, world: World
) -> None:
    response = sign_in(client, "chef", next_url="/patients/")
    assert response.headers["Location"] == "/patients/"

    detour = client.get("/patients/")

    assert detour.status_code == 302
    assert detour.headers["Location"] == "/auth/unit?next=/patients/"
    chooser = client.get(detour.headers["Location"])
    assert f'value="{world.unit_a.id}"' in chooser.text
    assert f'value="{world.unit_b.id}"' in chooser.text
    chosen = submit(
        client, "/auth/unit?next=/patients/", {"unit": str(world.unit_b.id), "next": "/patients/"}
    )
    assert chosen.headers["Location"] == "/patients/"
    page = client.get("/patients/")
    assert "<h1>Patienter på Vårdcentralen Söder</h1>" in page.text


def test_a_coordinator_without_any_active_unit_is_told_to_ask_the_administrator(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        closed = UnitFactory(name="Nedlagd vårdcentral", is_active=False)
        UserFactory(username="ensam", units=[closed])

    sign_in(client, "ensam")
    response = client.get("/", follow_redirects=True)

    assert response.status_code == 200
    assert alert(response) == (
        "Du är inte kopplad till någon aktiv vårdenhet. Be din administratör att lägga till dig "
        "på en."
    )


def test_sign_out_ends_the_session(coordinator_client: FlaskClient) -> None:
    response = submit(coordinator_client, "/auth/logout", {}, form_url="/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert flashes(coordinator_client.get("/auth/login")) == [("info", "Du har loggat ut.")]
    assert coordinator_client.get("/").status_code == 302


def test_sign_out_is_only_possible_by_post(coordinator_client: FlaskClient) -> None:
    assert coordinator_client.get("/auth/logout").status_code == 405
    assert coordinator_client.get("/").status_code == 200


def test_a_signed_in_user_visiting_the_sign_in_page_goes_to_the_start_page(
    coordinator_client: FlaskClient,
) -> None:
    response = coordinator_client.get("/auth/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_stamps_the_time_and_keeps_the_password_hash_current(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        unit = UnitFactory()
        # A hash made with other (older) parameters than the configured ones.
        old = argon2.PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD)
        UserFactory(username="veteran", units=[unit], password_hash=old)

    assert sign_in(client, "veteran").status_code == 302

    with app.app_context():
        user = User.find_by_username("veteran")
        assert user is not None
        assert user.last_sign_in_at is not None
        assert user.password_hash != old
        assert argon2.PasswordHasher().verify(user.password_hash, PASSWORD)
