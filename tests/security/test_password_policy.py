"""Password policy (OWASP ASVS 2.1): length, the breached-password list shipped with the product,
nothing built on the user's own name, no composition rules."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from coordinator.auth import breached
from tests.conftest import World
from tests.factories import PASSWORD
from tests.helpers import alert, flashes, sign_in, submit

COMMON = "Det lösenordet är bland dem som oftast förekommer i läckor. Välj ett annat."
PERSONAL = "Lösenordet får inte bygga på ditt namn eller användarnamn."
REPETITIVE = "Lösenordet upprepar några få tecken. Några egna ord är bättre."


def _change(client: FlaskClient, new: str) -> tuple[int, str | None]:
    response = submit(client, "/auth/password", {"current": PASSWORD, "new": new, "confirm": new})
    return response.status_code, alert(response)


@pytest.mark.parametrize(
    "password",
    [
        "1qaz2wsx3edc",  # on the list as it is
        "QWERTY123456",  # on the list in another case
        "leavemealone",
        "Sommar2024!!",  # "sommar" with a year and punctuation added
        "!!dragon2026??",
        "Lösenord2026!",  # a word of the product's world
        "vårdcentralen 1",
    ],
)
def test_a_breached_or_guessable_password_is_refused_and_the_old_one_stays(
    app: Flask, coordinator_client: FlaskClient, password: str
) -> None:
    assert _change(coordinator_client, password) == (400, COMMON)
    assert sign_in(app.test_client(), "koord.a", PASSWORD).status_code == 302


@pytest.mark.parametrize("password", ["koord.a 12345678", "Testperson 2026!", "2026-koord-2026"])
def test_a_password_built_on_the_users_name_is_refused(
    app: Flask, world: World, coordinator_client: FlaskClient, password: str
) -> None:
    with app.app_context():
        from coordinator.auth.models import User
        from coordinator.extensions import db

        user = db.session.get(User, world.coordinator_a.id)
        assert user is not None
        user.full_name = "Testperson Norrman"
        db.session.commit()

    assert _change(coordinator_client, password) == (400, PERSONAL)


def test_a_password_of_a_few_repeated_characters_is_refused(
    coordinator_client: FlaskClient,
) -> None:
    assert not breached.is_common("xoxoxoxoxoxoxoxo")
    assert _change(coordinator_client, "xoxoxoxoxoxoxoxo") == (400, REPETITIVE)


@pytest.mark.parametrize(
    "password",
    [
        "violer i novemberregnet",  # lower-case letters and spaces only: no composition rules
        "kaffe och kanelbullar på fredag",
        "🦔 igelkotten sover 🦔",
    ],
)
def test_a_long_passphrase_of_ones_own_is_accepted_without_composition_rules(
    app: Flask, coordinator_client: FlaskClient, password: str
) -> None:
    assert _change(coordinator_client, password) == (302, None)
    assert sign_in(app.test_client(), "koord.a", password).status_code == 302


def test_an_administrator_setting_a_temporary_password_meets_the_same_list(
    app: Flask, world: World, admin_client: FlaskClient
) -> None:
    url = f"/admin/users/{world.coordinator_a.id}"
    refused = submit(admin_client, f"{url}/password", {"password": "qwerty123456"}, form_url=url)
    refusal = flashes(admin_client.get(url))
    accepted = submit(
        admin_client, f"{url}/password", {"password": "tillfälligt ord för idag"}, form_url=url
    )

    assert (refused.status_code, refusal) == (302, [("error", COMMON)])
    assert sign_in(app.test_client(), "koord.a", "qwerty123456").status_code == 401
    assert accepted.status_code == 302
    assert sign_in(app.test_client(), "koord.a", "tillfälligt ord för idag").status_code == 302


def test_the_shipped_list_is_the_breach_corpus_and_the_context_words() -> None:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    corpus = FREQUENCY_LISTS["passwords"]
    assert len(corpus) == 30_000
    assert breached._breached() == frozenset(corpus) | breached.CONTEXT_WORDS
