"""Brute force: a per-address rate limit on every step that checks a secret, beside the
per-username lock-out (tests/auth/test_lockout.py covers that one)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from coordinator import clock
from coordinator.auth.models import LoginThrottle
from coordinator.extensions import db
from tests.conftest import World, make_app
from tests.factories import PASSWORD
from tests.helpers import csrf_token, sign_in, submit

LIMITED = "För många försök på kort tid. Vänta och försök igen."
_MESSAGE = re.compile(r"<h1>([^<]+)</h1>\s*<p>([^<]+)</p>")


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with a small limit, so that a test reaches it in a few requests."""
    app = make_app(database_url, tmp_path / "instance", SIGN_IN_RATE_LIMIT="4 per minute")
    yield app
    with app.app_context():
        db.engine.dispose()


def _page(response: object) -> tuple[str, str]:
    match = _MESSAGE.search(response.text)  # type: ignore[attr-defined]
    assert match, response.text  # type: ignore[attr-defined]
    return match.group(1), match.group(2)


def _throttled_usernames(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginThrottle)) or 0


def test_the_fifth_attempt_from_one_address_is_refused_before_any_password_is_checked(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    with time_machine.travel(clock.now(), tick=False):
        statuses = [
            sign_in(client, f"gissning{n}", "wrong password!").status_code for n in range(4)
        ]
        limited = sign_in(client, "koord.a", PASSWORD)

    assert statuses == [401, 401, 401, 401]
    assert limited.status_code == 429
    assert _page(limited) == ("För många försök", LIMITED)
    assert limited.headers["Retry-After"] == "60"
    # The right password did not get through, and the refused attempt reached no service: four
    # usernames were counted by the lock-out, not five.
    assert client.get("/").status_code == 302
    assert _throttled_usernames(app) == 4


def test_another_address_is_not_limited_by_the_first(app: Flask, world: World) -> None:
    attacker = app.test_client()
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    with time_machine.travel(clock.now(), tick=False):
        for n in range(5):
            sign_in(attacker, f"gissning{n}", "wrong password!")
        signed_in = sign_in(colleague, "koord.a", PASSWORD)

    assert signed_in.status_code == 302
    assert colleague.get("/").status_code == 200


def test_reading_the_sign_in_page_does_not_count(app: Flask, world: World) -> None:
    client = app.test_client()
    with time_machine.travel(clock.now(), tick=False):
        pages = [client.get("/auth/login").status_code for _ in range(10)]
        signed_in = sign_in(client, "koord.a", PASSWORD)

    assert pages == [200] * 10
    assert signed_in.status_code == 302


def test_the_code_step_and_a_password_change_share_the_count_with_sign_in(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    with time_machine.travel(clock.now(), tick=False):
        client = signed_in_client(world.coordinator_a)  # attempt 1
        wrong_current = submit(  # attempt 2
            client,
            "/auth/password",
            {"current": "wrong password!", "new": "violer i novemberregnet", "confirm": "x"},
        )
        code = app.test_client()
        token = csrf_token(code)
        code_step = code.post("/auth/login/code", data={"code": "123456", "csrf_token": token})
        fourth = sign_in(app.test_client(), "gissning", "wrong password!")  # attempt 4
        fifth = code.post("/auth/login/code", data={"code": "123456", "csrf_token": token})
        sixth = submit(
            client,
            "/auth/password",
            {"current": PASSWORD, "new": "violer i novemberregnet", "confirm": "x"},
        )

    assert wrong_current.status_code == 400
    assert code_step.status_code == 302  # attempt 3: no password step first, back to sign-in
    assert fourth.status_code == 401
    assert (fifth.status_code, _page(fifth)[1]) == (429, LIMITED)
    assert (sixth.status_code, _page(sixth)[1]) == (429, LIMITED)


def test_the_limit_lifts_when_its_minute_has_passed(app: Flask, world: World) -> None:
    client = app.test_client()
    start = clock.now()
    with time_machine.travel(start, tick=False):
        for n in range(4):
            sign_in(client, f"gissning{n}", "wrong password!")
        assert sign_in(client, "koord.a", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert sign_in(client, "koord.a", PASSWORD).status_code == 302


def test_a_rate_that_is_no_rate_stops_the_app_from_starting(
    database_url: str, tmp_path: Path
) -> None:
    from coordinator.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="SIGN_IN_RATE_LIMIT is not a rate"):
        make_app(database_url, tmp_path / "instance", SIGN_IN_RATE_LIMIT="many")
