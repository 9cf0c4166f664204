"""End to end in a real browser: a coordinator with two care units signs in, switches, signs out.

Everything goes through Chromium against the app served on loopback: the forms, the redirects,
the session cookie, the CSRF tokens and the Content-Security-Policy (a blocked resource would
show up as a console error). The interface is in Swedish, the default language.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from coordinator.auth.models import User
from tests.e2e.conftest import ConsoleErrors
from tests.factories import PASSWORD, UnitFactory, UserFactory

NORTH = "Vårdcentralen Norr"
SOUTH = "Vårdcentralen Söder"
USERNAME = "koord.e2e"


@dataclass(frozen=True)
class Coordinator:
    """What the browser needs to know to act as the coordinator."""

    username: str
    full_name: str
    totp_secret: str


def given_a_coordinator_in_two_units(app: Flask) -> Coordinator:
    """Two care units, and a coordinator with TOTP enrolled who works in both."""
    secret = pyotp.random_base32()
    with app.app_context():
        north = UnitFactory(name=NORTH)
        south = UnitFactory(name=SOUTH)
        UserFactory(username=USERNAME, units=[north, south], totp_secret=secret)
        user = User.find_by_username(USERNAME)
        assert user is not None
        return Coordinator(username=user.username, full_name=user.full_name, totp_secret=secret)


def wait_for_path(page: Page, base_url: str, path: str) -> None:
    """Wait until the page has loaded exactly ``base_url + path`` (path and query)."""
    expected = base_url + path
    page.wait_for_url(lambda url: url == expected)
    assert page.url == expected


def sign_in_with_password(page: Page, base_url: str, coordinator: Coordinator) -> None:
    page.goto(f"{base_url}/auth/login")
    page.fill("#username", coordinator.username)
    page.fill("#password", PASSWORD)
    expect(page.locator("input[type=submit]")).to_have_value("Logga in")
    page.click("input[type=submit]")
    wait_for_path(page, base_url, "/auth/login/code")


def enter_totp_code(page: Page, coordinator: Coordinator) -> None:
    page.fill("#code", pyotp.TOTP(coordinator.totp_secret).now())
    page.click("input[type=submit]")


def choose_unit(page: Page, base_url: str, unit_name: str) -> None:
    """On the unit page (come from the start page), pick ``unit_name`` and continue."""
    wait_for_path(page, base_url, "/auth/unit?next=/")
    expect(page.locator("input[type=radio][name=unit]")).to_have_count(2)
    page.get_by_label(unit_name).check()
    page.click("input[type=submit]")
    wait_for_path(page, base_url, "/")


def expect_working_in(page: Page, unit_name: str) -> None:
    expect(page.locator("[data-testid=current-unit]")).to_have_text(unit_name)


def switch_unit(page: Page, base_url: str, unit_name: str) -> None:
    page.get_by_role("link", name="Byt vårdenhet", exact=True).click()
    choose_unit(page, base_url, unit_name)


def sign_out(page: Page, base_url: str) -> None:
    page.get_by_role("button", name="Logga ut", exact=True).click()
    wait_for_path(page, base_url, "/auth/login")


@pytest.mark.browser
def test_coordinator_signs_in_with_totp_switches_unit_and_signs_out(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    coordinator = given_a_coordinator_in_two_units(live_app)

    sign_in_with_password(page, live_url, coordinator)
    enter_totp_code(page, coordinator)
    choose_unit(page, live_url, NORTH)

    expect_working_in(page, NORTH)
    expect(page.locator("h1")).to_have_text("Idag")
    expect(page.locator(".page-head p").first).to_have_text(f"Välkommen, {coordinator.full_name}")
    assert console_errors.messages == []

    switch_unit(page, live_url, SOUTH)
    expect_working_in(page, SOUTH)
    expect(page.locator("p.flash")).to_have_text([f"Du arbetar nu på {SOUTH}."])

    sign_out(page, live_url)
    expect(page.locator("p.flash")).to_have_text(["Du har loggat ut."])

    page.goto(f"{live_url}/")
    wait_for_path(page, live_url, "/auth/login?next=/")
    expect(page.locator("[data-testid=current-unit]")).to_have_count(0)
    assert console_errors.messages == []
