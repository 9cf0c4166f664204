"""Lock-out after repeated failures, identical for existing and unknown usernames."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator import clock
from tests.conftest import World
from tests.helpers import alert, sign_in

LOCKED = (
    "För många misslyckade försök: inloggning med det här användarnamnet är spärrad i "
    "15 minuter. Försök igen senare eller be din administratör att låsa upp den."
)


def _fail(client: FlaskClient, username: str, times: int) -> list[int]:
    return [sign_in(client, username, "wrong password!").status_code for _ in range(times)]


def test_the_fifth_failure_locks_and_even_the_right_password_is_then_refused(
    client: FlaskClient, world: World
) -> None:
    with time_machine.travel(clock.now(), tick=False):
        statuses = _fail(client, "koord.a", 5)
        refused = sign_in(client, "koord.a")

    assert statuses == [401, 401, 401, 401, 429]
    assert refused.status_code == 429
    assert alert(refused) == LOCKED
    assert client.get("/").status_code == 302


def test_an_unknown_username_is_locked_exactly_like_a_real_one(app: Flask, world: World) -> None:
    with time_machine.travel(clock.now(), tick=False):
        real, unknown = app.test_client(), app.test_client()
        real_statuses = _fail(real, "koord.a", 6)
        unknown_statuses = _fail(unknown, "no.such.user", 6)
        real_last = sign_in(real, "koord.a", "wrong password!")
        unknown_last = sign_in(unknown, "no.such.user", "wrong password!")

    assert real_statuses == unknown_statuses == [401, 401, 401, 401, 429, 429]
    assert alert(real_last) == alert(unknown_last) == LOCKED


def test_the_lock_lifts_after_the_lock_out_period(client: FlaskClient, world: World) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        _fail(client, "koord.a", 5)
    with time_machine.travel(start + timedelta(minutes=14, seconds=59), tick=False):
        assert sign_in(client, "koord.a").status_code == 429
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, "koord.a").status_code == 302


def test_after_a_lock_expires_counting_starts_again_from_zero(
    client: FlaskClient, world: World
) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        _fail(client, "koord.a", 5)
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert _fail(client, "koord.a", 4) == [401, 401, 401, 401]


def test_a_successful_sign_in_resets_the_counter(app: Flask, world: World) -> None:
    client = app.test_client()
    _fail(client, "koord.a", 4)
    assert sign_in(client, "koord.a").status_code == 302

    assert _fail(app.test_client(), "koord.a", 4) == [401, 401, 401, 401]


def test_failures_for_one_username_do_not_lock_another(app: Flask, world: World) -> None:
    _fail(app.test_client(), "koord.a", 5)

    assert sign_in(app.test_client(), "koord.b").status_code == 302
