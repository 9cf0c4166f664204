"""End to end in a real browser: a coordinator registers a patient, registers a sick-leave
certificate on the patient page, and finds the patient again by personnummer from the list.

Everything goes through Chromium against the app served on loopback, as in
``test_browser_sign_in``. Elements are found by their ids and names (the WTForms field names),
not by their Swedish texts, so the test does not depend on the translations.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from coordinator import clock
from coordinator.auth.models import User
from tests.e2e.conftest import ConsoleErrors
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import UnitFactory, UserFactory

UNIT = "Vårdcentralen Norr"
USERNAME = "koord.patienter"
#: Written as the registration form's hint suggests; a 10-digit form would mean 2012.
PERSONNUMMER = "19121212-1212"
FIRST_NAME = "Tolvan"
LAST_NAME = "Tolvansson"
DIAGNOSIS = "F43.2"

#: A patient page: /patients/ and the patient's uid.
PATIENT_PAGE = re.compile(r"/patients/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def given_a_coordinator_in_one_unit(app: Flask) -> Coordinator:
    """One care unit and a coordinator with TOTP enrolled who works there (no unit choice)."""
    secret = pyotp.random_base32()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(username=USERNAME, units=[unit], totp_secret=secret)
        user = User.find_by_username(USERNAME)
        assert user is not None
        return Coordinator(username=user.username, full_name=user.full_name, totp_secret=secret)


def open_patient_list(page: Page, base_url: str) -> None:
    page.locator("nav.menu a[href='/patients/']").click()
    wait_for_path(page, base_url, "/patients/")


def register_patient(page: Page, base_url: str) -> str:
    """From the patient list, register the patient; returns the patient page's URL."""
    page.locator("a[href='/patients/new']").click()
    wait_for_path(page, base_url, "/patients/new")
    page.fill("#personnummer", PERSONNUMMER)
    page.fill("#first_name", FIRST_NAME)
    page.fill("#last_name", LAST_NAME)
    page.click("form[action='/patients/new'] input[type=submit]")
    page.wait_for_url(PATIENT_PAGE)
    return page.url


def register_certificate(page: Page, start_on: date, end_on: date) -> None:
    """On the patient page, open the certificate form and register a 50 % certificate."""
    certificate = page.locator("details#certificate")
    certificate.locator("summary").click()
    form = certificate.locator("form")
    expect(form.locator("#start_on")).to_have_attribute("type", "date")
    form.locator("#start_on").fill(start_on.isoformat())
    form.locator("#end_on").fill(end_on.isoformat())
    form.locator("input[type=radio][name=degree][value='50']").check()
    form.locator("#diagnosis_code").fill(DIAGNOSIS)
    form.locator("input[type=submit]").click()


def search_by_personnummer(page: Page, written: str) -> None:
    search = page.locator("form.search")
    search.locator("#query").fill(written)
    search.locator("input[type=submit]").click()


@pytest.mark.browser
def test_coordinator_registers_a_patient_and_a_certificate_and_finds_the_patient_again(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    coordinator = given_a_coordinator_in_one_unit(live_app)
    today = clock.today()  # the app's calendar day (Sweden), which the form checks against
    start_on, end_on = today - timedelta(days=20), today + timedelta(days=20)

    sign_in_with_password(page, live_url, coordinator)
    enter_totp_code(page, coordinator)
    wait_for_path(page, live_url, "/")
    open_patient_list(page, live_url)

    patient_url = register_patient(page, live_url)
    expect(page.locator("h1")).to_have_text(f"{FIRST_NAME} {LAST_NAME}")
    expect(page.locator("p.flash")).to_have_count(1)

    register_certificate(page, start_on, end_on)
    page.wait_for_url(f"{patient_url}#certificate")
    rows = page.locator("table.certificates tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(1)).to_have_text("50 %")
    expect(rows.first.locator("td").nth(2)).to_contain_text(DIAGNOSIS)
    # One uninterrupted 41-day certificate: day N of the case is start + N - 1 days.
    milestones = page.locator("ol.milestones li time")
    expect(milestones).to_have_count(3)
    for milestone, day in zip(milestones.all(), (90, 180, 365), strict=True):
        expect(milestone).to_have_attribute(
            "datetime", (start_on + timedelta(days=day - 1)).isoformat()
        )
    assert console_errors.messages == []

    open_patient_list(page, live_url)  # "my patients" with open cases: registration assigned it
    expect(page.locator("table.caseload tbody tr td:first-child")).to_have_text(
        [f"{LAST_NAME}, {FIRST_NAME}"]
    )
    search_by_personnummer(page, "191212121212")
    wait_for_path(page, live_url, patient_url.removeprefix(live_url))
    expect(page.locator("h1")).to_have_text(f"{FIRST_NAME} {LAST_NAME}")
    assert console_errors.messages == []
