"""Behind a reverse proxy (nginx in front of several gunicorn instances): the client's address
comes from the proxy's ``X-Forwarded-For`` only when the app is told to trust that many proxies,
and a shared rate-limit store that cannot be reached does not stop anyone signing in."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator import clock
from coordinator.extensions import db
from tests.conftest import World, make_app
from tests.factories import PASSWORD
from tests.helpers import sign_in

#: What nginx (the one trusted proxy) sees as the client's address, and appends.
NGINX = "127.0.0.1"


def _app(database_url: str, tmp_path: Path, **settings: object) -> Iterator[Flask]:
    app = make_app(
        database_url, tmp_path / "instance", SIGN_IN_RATE_LIMIT="2 per minute", **settings
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def proxied(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from _app(database_url, tmp_path, TRUSTED_PROXIES=1)


@pytest.fixture
def direct(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from _app(database_url, tmp_path)


def _through_proxy(app: Flask, forwarded_for: str) -> FlaskClient:
    """A client whose requests arrive from nginx with the given ``X-Forwarded-For``, over
    HTTPS (the browser sends a same-origin Referer, which Flask-WTF checks on HTTPS)."""
    client = app.test_client()
    client.environ_base.update(
        REMOTE_ADDR=NGINX,
        HTTP_X_FORWARDED_FOR=forwarded_for,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_REFERER="https://localhost/auth/login",
    )
    return client


def _attempts(client: FlaskClient, count: int) -> list[int]:
    return [sign_in(client, f"gissning{n}", "wrong password!").status_code for n in range(count)]


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(
    proxied: Flask, world: World
) -> None:
    guesser = _through_proxy(proxied, "192.0.2.10")
    colleague = _through_proxy(proxied, "192.0.2.20")
    with time_machine.travel(clock.now(), tick=False):
        guessed = _attempts(guesser, 3)
        signed_in = sign_in(colleague, "koord.a", PASSWORD)

    assert guessed == [401, 401, 429]
    assert signed_in.status_code == 302
    # The scheme came from X-Forwarded-Proto: the session cookie is only sent over HTTPS.
    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_a_forwarded_address_the_client_wrote_itself_is_ignored(
    proxied: Flask, world: World
) -> None:
    guesser = _through_proxy(proxied, "192.0.2.10")
    with time_machine.travel(clock.now(), tick=False):
        _attempts(guesser, 2)
        # nginx appends the address it saw to whatever the client sent; only that last one
        # is trusted, so a made-up address in front changes nothing.
        guesser.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7, 192.0.2.10"
        disguised = sign_in(guesser, "koord.a", PASSWORD)

    assert disguised.status_code == 429


def test_without_trusted_proxies_the_forwarded_header_is_not_believed(
    direct: Flask, world: World
) -> None:
    guesser = _through_proxy(direct, "192.0.2.10")
    colleague = _through_proxy(direct, "192.0.2.20")
    with time_machine.travel(clock.now(), tick=False):
        _attempts(guesser, 2)
        # Both come from nginx's address as far as the app knows: one shared limit.
        refused = sign_in(colleague, "koord.a", PASSWORD)

    assert refused.status_code == 429


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_shared_store_falls_back_to_counting_in_memory(
    database_url: str, tmp_path: Path, world: World
) -> None:
    storage = f"redis://127.0.0.1:{_closed_port()}/0"
    for app in _app(database_url, tmp_path, RATELIMIT_STORAGE_URI=storage):
        client = app.test_client()
        with time_machine.travel(clock.now(), tick=False):
            statuses = _attempts(client, 3)
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.30"
        signed_in = sign_in(other, "koord.a", PASSWORD)

    # Still limited (in this process's memory), and sign-in still works for everyone else.
    assert statuses == [401, 401, 429]
    assert signed_in.status_code == 302
