"""Helpers that drive the app the way a browser does: fetch a form, post it with its token."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_ALERT = re.compile(r'role="alert">([^<]+)<')
_FLASH = re.compile(r'class="flash flash-(\w+)" role="status">([^<]+)<')
_FIELD_ERROR = re.compile(r'class="error" id="([\w-]+)-error">([^<]+)<')


def csrf_token(client: FlaskClient, url: str | None = None) -> str:
    """The CSRF token of the form on ``url``.

    Without a URL: from the sign-in page, or the start page once signed in (every page has a
    form: sign-in, sign-out or language).
    """
    response = client.get(url or "/auth/login")
    if url is None and response.status_code == 302:
        url = "/"
        response = client.get(url)
    match = _TOKEN.search(response.text)
    assert match, f"no CSRF token on {url} (status {response.status_code})"
    return match.group(1)


def submit(
    client: FlaskClient,
    url: str,
    data: dict[str, Any],
    *,
    form_url: str | None = None,
    follow_redirects: bool = False,
) -> TestResponse:
    """Post ``data`` to ``url`` with the token from the page at ``form_url`` (default ``url``)."""
    token = csrf_token(client, form_url or url)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=follow_redirects)


def sign_in(
    client: FlaskClient,
    username: str,
    password: str = PASSWORD,
    *,
    totp_secret: str | None = None,
    next_url: str | None = None,
) -> TestResponse:
    """Sign in through the forms, entering the current TOTP code if a secret is given."""
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    response = submit(client, "/auth/login", data)
    if totp_secret is not None and response.status_code == 302:
        code = pyotp.TOTP(totp_secret).now()
        response = submit(client, response.headers["Location"], {"code": code})
    return response


def alert(response: TestResponse) -> str | None:
    """The form-level error message on the page, if any."""
    match = _ALERT.search(response.text)
    return match.group(1) if match else None


def flashes(response: TestResponse) -> list[tuple[str, str]]:
    return _FLASH.findall(response.text)


def field_errors(response: TestResponse) -> dict[str, str]:
    return dict(_FIELD_ERROR.findall(response.text))
