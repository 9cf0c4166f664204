"""CSRF, security headers and error pages that reveal nothing."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from coordinator.access import public
from coordinator.auth.models import CareUnit, LoginThrottle
from coordinator.extensions import db
from tests.conftest import World
from tests.helpers import csrf_token, sign_in

CSRF_MESSAGE = (
    "Formuläret kunde inte skickas eftersom dess säkerhetstoken saknas eller har gått ut. "
    "Ladda om sidan och försök igen."
)


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_sign_in_without_a_csrf_token_is_refused_and_nothing_is_written(
    app: Flask, client: FlaskClient, world: World
) -> None:
    response = client.post("/auth/login", data={"username": "koord.a", "password": "x"})

    assert response.status_code == 400
    assert CSRF_MESSAGE in response.text
    assert _count(app, LoginThrottle) == 0


def test_a_token_from_another_session_is_refused(app: Flask, world: World) -> None:
    stranger_token = csrf_token(app.test_client())
    client = app.test_client()
    client.get("/auth/login")

    response = client.post(
        "/auth/login",
        data={"username": "koord.a", "password": "x", "csrf_token": stranger_token},
    )

    assert response.status_code == 400
    assert CSRF_MESSAGE in response.text


def test_a_signed_in_change_without_a_token_changes_nothing(
    app: Flask, admin_client: FlaskClient
) -> None:
    response = admin_client.post(
        "/admin/units/new",
        data={"name": "Ny enhet", "kind": "clinic", "provider_type": "public", "is_active": "y"},
    )

    assert response.status_code == 400
    assert _count(app, CareUnit) == 2  # the two units of the world, no more


def test_sign_out_without_a_token_keeps_the_user_signed_in(
    coordinator_client: FlaskClient,
) -> None:
    assert coordinator_client.post("/auth/logout").status_code == 400
    assert coordinator_client.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/auth/login", "/", "/no/such/page"])
def test_every_response_carries_the_security_headers(
    coordinator_client: FlaskClient, path: str
) -> None:
    headers = coordinator_client.get(path).headers

    assert headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]


def test_pages_contain_no_inline_script_or_style(coordinator_client: FlaskClient) -> None:
    for path in ("/", "/auth/password", "/auth/two-step", "/patients/"):
        page = coordinator_client.get(path).text
        assert "<script" not in page, path
        assert "<style" not in page, path
        assert " style=" not in page, path


def test_an_unknown_page_gets_the_product_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert "<h1>Hittades inte</h1>" in response.text
    assert "Sidan eller uppgiften hittades inte." in response.text


def test_an_unexpected_error_shows_a_plain_500_page_and_logs_no_values(
    database_url: str, tmp_path, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import make_app

    app = make_app(database_url, tmp_path / "boom")

    def explode() -> str:
        raise ValueError("personnummer 19121212-1212 in a message")

    app.add_url_rule("/explode", "explode", public(explode))
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/explode")

    assert response.status_code == 500
    assert "<h1>Något gick fel</h1>" in response.text
    assert "19121212" not in response.text
    assert "Traceback" not in response.text
    assert "unhandled error: ValueError" in caplog.text
    assert "19121212" not in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_a_failed_request_writes_nothing_even_if_a_service_flushed_first(
    database_url: str, tmp_path, world: World
) -> None:
    from tests.conftest import make_app

    app = make_app(database_url, tmp_path / "half")

    def half_done() -> str:
        db.session.add(CareUnit(name="Halvfärdig", kind="clinic", provider_type="public"))
        db.session.flush()
        raise RuntimeError("failed after the flush")

    app.add_url_rule("/half", "half", public(half_done))
    assert app.test_client().get("/half").status_code == 500

    assert _count(app, CareUnit) == 2
    with app.app_context():
        db.engine.dispose()


def test_sign_in_response_does_not_reveal_the_server_software(
    client: FlaskClient, world: World
) -> None:
    response = sign_in(client, "koord.a", "wrong password!")

    assert "Werkzeug" not in response.text
    assert "flask" not in response.text.lower()
