"""TOTP: enrolment through the account page, and the second step of signing in."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator import clock
from coordinator.auth.models import User
from coordinator.extensions import db
from tests.conftest import World
from tests.factories import PASSWORD, UserFactory
from tests.helpers import alert, csrf_token, sign_in, submit

WRONG_CODE = "Koden är fel eller har gått ut. Ange den aktuella koden från din app."


@pytest.fixture
def secret(app: Flask, world: World) -> str:
    """coordinator_a with TOTP enrolled."""
    value = pyotp.random_base32()
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        user.totp_secret = value
        db.session.commit()
    return value


def _start(client: FlaskClient) -> str:
    response = sign_in(client, "koord.a")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login/code"
    return response.headers["Location"]


def test_enrolment_shows_a_qr_code_and_the_key_and_takes_effect_when_confirmed(
    app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    page = coordinator_client.get("/auth/two-step")
    key = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text)
    assert key is not None
    assert "<svg" in page.text  # the QR code, inline (no script, no external image)

    response = submit(
        coordinator_client,
        "/auth/two-step",
        {"code": pyotp.TOTP(key.group(1)).now(), "password": PASSWORD},
    )

    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        assert user.totp_secret == key.group(1)
        assert user.totp_pending_secret is None
        assert user.totp_enrolled_at is not None
    # From now on signing in asks for a code.
    assert _start(app.test_client()) == "/auth/login/code"


def test_enrolment_needs_the_right_password_and_a_right_code(
    app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    page = coordinator_client.get("/auth/two-step")
    key = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text).group(1)

    bad_password = submit(
        coordinator_client,
        "/auth/two-step",
        {"code": pyotp.TOTP(key).now(), "password": "wrong password!"},
    )
    bad_code = submit(
        coordinator_client, "/auth/two-step", {"code": "000000", "password": PASSWORD}
    )

    assert bad_password.status_code == 400
    assert alert(bad_password) == "Det nuvarande lösenordet är fel."
    assert bad_code.status_code == 401
    assert alert(bad_code) == WRONG_CODE
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        assert user.totp_secret is None
        assert user.totp_pending_secret == key  # the same key is offered until confirmed


def test_the_right_code_completes_the_sign_in(client: FlaskClient, secret: str) -> None:
    _start(client)

    response = submit(client, "/auth/login/code", {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_password_alone_does_not_sign_in_when_a_second_factor_is_enrolled(
    client: FlaskClient, secret: str
) -> None:
    _start(client)

    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"] == "/auth/login?next=/"


def test_a_wrong_code_is_refused(client: FlaskClient, secret: str) -> None:
    _start(client)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    response = submit(client, "/auth/login/code", {"code": wrong})

    assert response.status_code == 401
    assert alert(response) == WRONG_CODE
    assert client.get("/").status_code == 302


def test_a_code_from_two_steps_ago_has_expired(client: FlaskClient, secret: str) -> None:
    _start(client)
    old = pyotp.TOTP(secret).at(clock.now() - timedelta(seconds=65))

    response = submit(client, "/auth/login/code", {"code": old})

    assert response.status_code == 401
    assert alert(response) == WRONG_CODE


def test_a_code_is_accepted_only_once(app: Flask, secret: str) -> None:
    with time_machine.travel(clock.now(), tick=False):
        code = pyotp.TOTP(secret).now()
        first, second = app.test_client(), app.test_client()
        _start(first)
        _start(second)
        accepted = submit(first, "/auth/login/code", {"code": code})
        replayed = submit(second, "/auth/login/code", {"code": code})

    assert accepted.status_code == 302
    assert replayed.status_code == 401
    assert alert(replayed) == WRONG_CODE


def test_a_code_that_is_not_six_digits_gets_a_field_message(
    client: FlaskClient, secret: str
) -> None:
    _start(client)

    response = submit(client, "/auth/login/code", {"code": "12ab"})

    assert response.status_code == 400
    assert "Ange de sex siffror som visas i din app." in response.text


def test_the_code_step_expires_after_five_minutes(client: FlaskClient, secret: str) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        token = csrf_token(client, _start(client))
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        code = pyotp.TOTP(secret).now()
        posted = client.post("/auth/login/code", data={"code": code, "csrf_token": token})
        page = client.get("/auth/login/code")

    assert posted.status_code == 302
    assert posted.headers["Location"] == "/auth/login"
    assert page.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_codes_count_towards_the_lock_out(client: FlaskClient, secret: str) -> None:
    _start(client)
    statuses = [
        submit(client, "/auth/login/code", {"code": "000000"}).status_code for _ in range(5)
    ]

    assert statuses == [401, 401, 401, 401, 429]
    assert sign_in(client, "koord.a").status_code == 429


def test_an_administrator_can_turn_off_the_second_factor_of_a_user_who_lost_the_phone(
    app: Flask, admin_client: FlaskClient, world: World, secret: str
) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}/two-step/reset",
        {},
        form_url=f"/admin/users/{world.coordinator_a.id}",
    )

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, world.coordinator_a.id).totp_secret is None
    assert sign_in(app.test_client(), "koord.a").headers["Location"] == "/"


def test_the_code_page_without_a_password_step_sends_back_to_sign_in(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        UserFactory(username="someone", totp_secret=pyotp.random_base32())

    response = client.get("/auth/login/code")

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
