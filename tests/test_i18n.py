"""The interface speaks Swedish by default and English on request, remembered per user."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from coordinator.auth.models import User
from coordinator.config import PROJECT_ROOT
from coordinator.extensions import db
from tests.conftest import World
from tests.helpers import sign_in, submit

CATALOGUES = PROJECT_ROOT / "coordinator" / "translations"


def test_the_interface_is_swedish_by_default(client: FlaskClient) -> None:
    page = client.get("/auth/login").text

    assert '<html lang="sv">' in page
    assert "<h1>Logga in</h1>" in page


def test_choosing_english_before_signing_in(client: FlaskClient) -> None:
    response = submit(
        client, "/auth/language", {"language": "en", "next": "/auth/login"}, form_url="/auth/login"
    )

    assert response.headers["Location"] == "/auth/login"
    page = client.get("/auth/login").text
    assert '<html lang="en">' in page
    assert "<h1>Sign in</h1>" in page


def test_a_signed_in_users_choice_is_remembered_for_their_next_session(
    app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    submit(coordinator_client, "/auth/language", {"language": "en", "next": "/"}, form_url="/")

    assert "<p>Welcome, Testperson" in coordinator_client.get("/").text
    with app.app_context():
        assert db.session.get(User, world.coordinator_a.id).locale == "en"
    fresh = app.test_client()
    sign_in(fresh, "koord.a")
    assert "<p>Welcome, Testperson" in fresh.get("/").text


def test_an_unknown_language_is_refused_and_changes_nothing(
    app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    response = submit(coordinator_client, "/auth/language", {"language": "xx"}, form_url="/")

    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(User, world.coordinator_a.id).locale is None


def _messages_in_source() -> set[str]:
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    method_map = [("coordinator/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(language: str) -> dict[str, str]:
    path: Path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    texts: dict[str, str] = {}
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):  # plural: singular and plural forms, each translated
            texts[message.id[0]], texts[message.id[1]] = message.string[0], message.string[-1]
        else:
            texts[message.id] = message.string
    return texts


def test_every_interface_text_is_in_both_catalogues_and_translated_to_swedish() -> None:
    in_source = _messages_in_source()
    swedish = _catalogue("sv")

    assert in_source - set(swedish) == set(), "run `make translations` and translate"
    assert set(_catalogue("en")) >= in_source
    untranslated = sorted(message for message in in_source if not swedish[message])
    assert untranslated == []


def test_swedish_translations_keep_their_placeholders() -> None:
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message, translation in _catalogue("sv").items():
        assert sorted(placeholder.findall(message)) == sorted(placeholder.findall(translation)), (
            message
        )
