"""Open redirects, session fixation and replay, clickjacking headers, and the one upload.

* Sign-in's ``next`` — posted, in the query string, through the second step, and the other
  forms that carry one — never sends the browser to another site (the redirect is a path on
  ours), while a path of ours is followed.
* A session cookie from before sign-in is replaced at sign-in and worth nothing afterwards; a
  cookie from before sign-out is worth nothing afterwards.
* Every kind of response — pages, files, redirects, error pages — forbids framing and sniffing.
* The certificate import takes CSV text only, within the size limit, and stores nothing.

tests/auth/test_sign_in.py and tests/auth/test_sessions.py hold the basic cases (four
``next`` targets, sign-out in the same browser, cookie flags); tests/patients/test_import.py the
import's own rules. These add the attacker's variants.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from coordinator import clock
from coordinator.access import public
from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from tests.conftest import World, make_app
from tests.factories import PASSWORD, UserFactory
from tests.helpers import csrf_token, field_errors, sign_in, submit
from tests.security.support import fingerprint, is_csrf_refusal

COOKIE = "coordinator_session"

# -- Open redirects -----------------------------------------------------------------------------

#: Targets that lead off the site, as a browser would read them: absolute and
#: protocol-relative URLs, backslashes (read as slashes), schemes without slashes, script and
#: data URLs, percent-encoded slashes as typed, and whitespace or control characters that
#: browsers strip before the ``//``.
ELSEWHERE = [
    "https://evil.example/",
    "http://evil.example",
    "HTTPS://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "evil.example",
    "@evil.example",
    " //evil.example",
    "\t//evil.example",
    "\n//evil.example",
    "\r\n//evil.example",
    "\x00//evil.example",
    "\x0c//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\uff0f\uff0fevil.example",  # fullwidth solidus
]

#: Paths of our own, followed as given (a percent-encoded tab or backslash is a character of
#: the path, not a separator).
OWN_PATHS = [
    "/patients/",
    "/patients/?sort=name&descending=y",
    "/%09/evil.example",
    "/%5Cevil.example",
]


def stays_on_our_site(location: str) -> bool:
    """A path starting with exactly one slash, no scheme or host, nothing a browser rereads."""
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
        and not parts.scheme
        and not parts.netloc
        and all(ord(char) > 32 for char in location)
    )


#: The second factor of the user ``tvasteg``.
TOTP_SECRET = pyotp.random_base32()

_NEXT_FIELD = re.compile(r'<input[^>]*name="next"[^>]*value="([^"]*)"')


def _hidden_next(page: TestResponse) -> str:
    match = _NEXT_FIELD.search(page.text)
    assert match, "no next field on the page"
    return html.unescape(match.group(1))


def _posted(app: Flask, target: str) -> str:
    """Sign in with ``target`` in the form's hidden field (what a forged form would send)."""
    response = sign_in(app.test_client(), "koord.a", next_url=target)
    assert response.status_code == 302, target
    return response.headers["Location"]


def _from_the_link(app: Flask, target: str) -> str:
    """Open the sign-in page from a link carrying ``target``, then sign in on that page."""
    client = app.test_client()
    page = client.get("/auth/login?next=" + quote(target, safe=""))
    data = {"username": "koord.a", "password": PASSWORD}
    response = submit(client, "/auth/login", {**data, "next": _hidden_next(page)})
    assert response.status_code == 302, target
    return response.headers["Location"]


def _two_step(app: Flask, target: str) -> str:
    """Sign in with a second factor: ``next`` travels to the code step and is used there."""
    client = app.test_client()
    first = sign_in(client, "tvasteg", next_url=target)
    code_step = first.headers["Location"]
    assert urlsplit(code_step).path == "/auth/login/code", target
    response = submit(client, code_step, {"code": pyotp.TOTP(TOTP_SECRET).now()})
    assert response.status_code == 302, target
    return response.headers["Location"]


FLOWS: dict[str, Callable[[Flask, str], str]] = {
    "posted": _posted,
    "from the link": _from_the_link,
    "second step": _two_step,
}


@pytest.fixture
def two_step_user(app: Flask, world: World) -> None:
    """A coordinator of unit A with a second factor."""
    with app.app_context():
        UserFactory(
            username="tvasteg",
            units=[db.session.get(CareUnit, world.unit_a.id)],
            totp_secret=TOTP_SECRET,
        )


@pytest.fixture
def ticking_minutes() -> Iterator[Callable[[], None]]:
    """A clock moved on a minute per sign-in: each gets a fresh code (a code is accepted once)
    and the per-address rate limit's minute starts over."""
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        yield lambda: traveller.shift(timedelta(minutes=1))


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_sign_in_never_sends_the_browser_to_another_site(
    app: Flask,
    world: World,
    two_step_user: None,
    ticking_minutes: Callable[[], None],
    flow: str,
) -> None:
    sign_in_with_next = FLOWS[flow]
    locations = {}
    for target in ELSEWHERE + OWN_PATHS:
        ticking_minutes()
        locations[target] = sign_in_with_next(app, target)

    assert locations == {**dict.fromkeys(ELSEWHERE, "/"), **{path: path for path in OWN_PATHS}}
    assert all(stays_on_our_site(location) for location in locations.values())


#: Query strings as a link could carry them, and where sign-in then goes.
ENCODED_LINKS = {
    "next=%2F%2Fevil.example": "/",
    "next=%252F%252Fevil.example": "/",
    "next=%5C%5Cevil.example": "/",
    "next=%2F%5Cevil.example": "/",
    "next=%09%2F%2Fevil.example": "/",
    "next=%00%2F%2Fevil.example": "/",
    "next=https%3A%2F%2Fevil.example": "/",
    # Of two, the first is used.
    "next=/patients/&next=//evil.example": "/patients/",
    "next=//evil.example&next=/patients/": "/",
}


def test_encoded_targets_in_the_link_are_refused_too(app: Flask, world: World) -> None:
    locations = {}
    for query in ENCODED_LINKS:
        client = app.test_client()
        page = client.get("/auth/login?" + query)
        data = {"username": "koord.a", "password": PASSWORD, "next": _hidden_next(page)}
        locations[query] = submit(client, "/auth/login", data).headers["Location"]

    assert locations == ENCODED_LINKS


def test_the_other_forms_with_a_next_never_leave_the_site_either(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    """The sign-in page when already signed in, the unit chooser and the language switch."""
    coordinator = signed_in_client(world.coordinator_a)
    manager = signed_in_client(world.manager)
    visitor = app.test_client()
    token = csrf_token(manager, "/auth/unit")
    language_token = csrf_token(visitor)

    locations = {}
    for target in ELSEWHERE + OWN_PATHS:
        signed_in = coordinator.get("/auth/login?next=" + quote(target, safe=""))
        unit = manager.post(
            "/auth/unit", data={"csrf_token": token, "unit": world.unit_a.id, "next": target}
        )
        language = visitor.post(
            "/auth/language",
            data={"csrf_token": language_token, "language": "sv", "next": target},
        )
        locations[target] = {
            response.headers["Location"] for response in (signed_in, unit, language)
        }

    assert locations == {
        **{target: {"/"} for target in ELSEWHERE},
        **{path: {path} for path in OWN_PATHS},
    }


# -- Sessions -----------------------------------------------------------------------------------


def test_sign_in_replaces_the_session_and_the_visit_s_token_is_void(
    client: FlaskClient, world: World
) -> None:
    page_token = csrf_token(client)
    before = client.get_cookie(COOKIE)
    assert before is not None

    response = client.post(
        "/auth/login",
        data={"csrf_token": page_token, "username": "koord.a",
              "password": PASSWORD},
    )  # fmt: skip

    after = client.get_cookie(COOKIE)
    assert response.status_code == 302
    assert after is not None
    assert after.value != before.value
    # The form token of the anonymous visit belonged to the session that sign-in emptied.
    assert is_csrf_refusal(client.post("/auth/logout", data={"csrf_token": page_token}))
    assert client.get("/").status_code == 200


def test_a_cookie_planted_before_sign_in_is_worth_nothing_after_it(
    app: Flask, world: World
) -> None:
    attacker = app.test_client()
    attacker.get("/auth/login")
    planted = attacker.get_cookie(COOKIE)
    assert planted is not None
    victim = app.test_client()
    victim.set_cookie(COOKIE, planted.value)

    assert sign_in(victim, "koord.a").status_code == 302
    assert victim.get("/patients/").status_code == 200
    victims_cookie = victim.get_cookie(COOKIE)
    assert victims_cookie is not None
    assert victims_cookie.value != planted.value

    response = attacker.get("/patients/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/patients/"


def test_a_tampered_session_cookie_is_no_session(
    app: Flask, coordinator_client: FlaskClient
) -> None:
    cookie = coordinator_client.get_cookie(COOKIE)
    assert cookie is not None
    payload, _, signature = cookie.value.rpartition(".")
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature
    thief = app.test_client()
    thief.set_cookie(COOKIE, forged)

    response = thief.get("/patients/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/patients/"


def test_a_cookie_copied_before_sign_out_is_worth_nothing_after_it(
    app: Flask, coordinator_client: FlaskClient
) -> None:
    copied = coordinator_client.get_cookie(COOKIE)
    assert copied is not None
    signed_out = submit(coordinator_client, "/auth/logout", {}, form_url="/")
    assert signed_out.status_code == 302
    thief = app.test_client()
    thief.set_cookie(COOKIE, copied.value)

    response = thief.get("/patients/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/patients/"


# -- Framing and sniffing -----------------------------------------------------------------------


def _framing(response: TestResponse) -> tuple[int, str | None, bool, str | None]:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    return (
        response.status_code,
        headers.get("X-Frame-Options"),
        "frame-ancestors 'none'" in csp.split("; "),
        headers.get("X-Content-Type-Options"),
    )


def test_every_kind_of_response_forbids_framing_and_sniffing(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    coordinator = signed_in_client(world.coordinator_a)
    manager = signed_in_client(world.manager, world.unit_a)
    visitor = app.test_client()
    patient = f"/patients/{world.patient_a.uid}"
    too_large = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    responses = {
        "sign-in page": visitor.get("/auth/login"),
        "redirect to sign-in": visitor.get("/patients/"),
        "patient page": coordinator.get(patient),
        "PDF": coordinator.get(patient + "/consents/summary"),
        "CSV": manager.get("/reports/quarterly.csv"),
        "static file": visitor.get("/static/css/app.css"),
        "400": coordinator.post("/auth/logout"),
        "403": coordinator.get("/admin/"),
        "404": coordinator.get("/no/such/page"),
        "405": coordinator.get("/auth/logout"),
        "413": visitor.post(
            "/auth/login", data=too_large, content_type="application/x-www-form-urlencoded"
        ),
    }
    for response in responses.values():
        response.close()

    assert responses["PDF"].mimetype == "application/pdf"
    assert responses["CSV"].mimetype == "text/csv"
    assert "<h1>För stort</h1>" in responses["413"].text
    statuses = {"redirect to sign-in": 302, "400": 400, "403": 403, "404": 404, "405": 405,
                "413": 413}  # fmt: skip
    assert {name: _framing(response) for name, response in responses.items()} == {
        name: (statuses.get(name, 200), "DENY", True, "nosniff") for name in responses
    }


def test_the_500_page_forbids_framing_and_sniffing(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path / "instance")

    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/explode", "explode", public(explode))
    response = app.test_client().get("/explode")

    assert _framing(response) == (500, "DENY", True, "nosniff")
    with app.app_context():
        db.engine.dispose()


# -- The certificate upload ---------------------------------------------------------------------

VALID_CSV = (
    "personnummer;förnamn;efternamn;från;till;grad;diagnos\n"
    "19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2\n"
).encode()
#: The start of a Windows program and of a PDF: binary after a few bytes.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256))
ZIP = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(128, 256)) * 8

NOT_CSV = "Välj en .csv- eller .txt-fil."
NOT_UTF8 = "Filen är inte UTF-8-text. Spara den som UTF-8 (i Excel: ”CSV UTF-8”) och försök igen."

_ERROR_LINES = re.compile(r"<li>(Rad \d+: [^<]+)</li>")


def the_instance_folder(app: Flask) -> Path:
    """The app's instance folder, made as ``coordinator init`` makes it (tests start without):
    where the app keeps files, if it kept any."""
    folder = Path(app.instance_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder``: size and modification time."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            stat = path.stat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _upload(client: FlaskClient, data: bytes, filename: str, content_type: str) -> TestResponse:
    """Upload a file for a dry run (the page's default)."""
    token = csrf_token(client, "/patients/import/")
    file = (io.BytesIO(data), filename, content_type)
    form = {"csrf_token": token, "file": file, "dry_run": "y"}
    return client.post("/patients/import/", data=form)


def test_only_csv_text_is_taken_and_nothing_is_stored(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    instance = the_instance_folder(app)
    stored_files = files_under(instance)
    before = fingerprint(app)

    uploads = {
        "a program": (EXE, "intyg.exe", "application/x-msdownload"),
        "a program behind a second extension": (EXE, "intyg.csv.exe", "text/csv"),
        "a PDF": (PDF, "intyg.pdf", "application/pdf"),
        "a spreadsheet": (ZIP, "intyg.xlsx", "application/vnd.ms-excel"),
        "a program renamed .csv": (EXE, "intyg.csv", "text/csv"),
        "a PDF renamed .txt": (PDF, "intyg.txt", "text/plain"),
        "a spreadsheet renamed .csv": (ZIP, "../../intyg.csv", "text/csv"),
    }
    outcomes = {}
    for name, (data, filename, content_type) in uploads.items():
        response = _upload(coordinator_client, data, filename, content_type)
        outcomes[name] = (response.status_code, field_errors(response),
                          _ERROR_LINES.findall(response.text))  # fmt: skip

    assert outcomes == {
        "a program": (400, {"file": NOT_CSV}, []),
        "a program behind a second extension": (400, {"file": NOT_CSV}, []),
        "a PDF": (400, {"file": NOT_CSV}, []),
        "a spreadsheet": (400, {"file": NOT_CSV}, []),
        "a program renamed .csv": (400, {}, [f"Rad 1: {NOT_UTF8}"]),
        "a PDF renamed .txt": (400, {}, [f"Rad 2: {NOT_UTF8}"]),
        "a spreadsheet renamed .csv": (400, {}, [f"Rad 1: {NOT_UTF8}"]),
    }
    assert fingerprint(app) == before
    assert files_under(instance) == stored_files


def test_the_declared_type_does_not_matter_only_the_content(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    """A CSV declared as a program is still checked as CSV (the dry run saves nothing)."""
    before = fingerprint(app)

    response = _upload(coordinator_client, VALID_CSV, "intyg.csv", "application/x-msdownload")

    assert response.status_code == 200
    assert "Filen är kontrollerad. Ingenting har sparats än." in response.text
    assert "<li>Rad 2: ny patient 19121212-1212, intyg 2026-10-01–2026-10-31 50 % F43.2</li>" in (
        response.text
    )
    assert fingerprint(app) == before


def test_an_upload_over_the_limit_gets_the_413_page_and_nothing_is_stored(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    instance = the_instance_folder(app)
    stored_files = files_under(instance)
    token = csrf_token(coordinator_client, "/patients/import/")
    before = fingerprint(app)
    # Encoded by hand: the test client would spool a body this size to a temporary file.
    head = (
        f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        '--b\r\nContent-Disposition: form-data; name="dry_run"\r\n\r\n\r\n'
        '--b\r\nContent-Disposition: form-data; name="file"; filename="intyg.csv"\r\n\r\n'
    )
    padding = b"\n" * app.config["MAX_CONTENT_LENGTH"]
    body = head.encode() + VALID_CSV + padding + b"\r\n--b--\r\n"

    response = coordinator_client.post(
        "/patients/import/", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 413
    assert "<h1>För stort</h1>" in response.text
    assert "Det du skickade är större än vad tjänsten tar emot." in response.text
    assert fingerprint(app) == before
    assert files_under(instance) == stored_files
