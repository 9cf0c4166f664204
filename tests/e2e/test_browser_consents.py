"""End to end in a real browser: a coordinator records a patient's oral consent to tell the
employer, sees the consent panel change, records the withdrawal, and is then refused when
registering a disclosure to the employer.

Everything goes through Chromium against the app served on loopback, as in
``test_browser_sign_in``. Elements are found by ids, names and data attributes (the panel's
``data-kind`` and ``data-status``), not by their Swedish texts, so the test does not depend on
the translations. The refusal is checked in the database too: no disclosure, one denied access.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, Response, expect
from sqlalchemy import func, select

from coordinator import clock
from coordinator.auth.models import User
from coordinator.consents.models import Disclosure
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry
from tests.e2e.conftest import ConsoleErrors
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import PatientFactory, UnitFactory, UserFactory

UNIT = "Vårdcentralen Norr"
USERNAME = "koord.samtycken"
#: Tolvan Tolvansson's well-known test number.
PERSONNUMMER = "191212121212"
EMPLOYER = "employer"
#: The employer named on the consent and, later, on the refused disclosure.
EMPLOYER_NAME = "Byggbolaget Norr AB"
SUMMARY = "Arbetsförmåga och planerad upptrappning."


@dataclass(frozen=True)
class GivenPatient:
    """The patient the coordinator works with: the uid for the URLs, the id for the database."""

    uid: uuid.UUID
    id: int


def given_a_coordinator_and_a_patient(app: Flask) -> tuple[Coordinator, GivenPatient]:
    """One care unit, a coordinator with TOTP enrolled who works there, and a patient of it."""
    secret = pyotp.random_base32()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(username=USERNAME, units=[unit], totp_secret=secret)
        patient = PatientFactory(unit_id=unit.id, personnummer=PERSONNUMMER)
        user = User.find_by_username(USERNAME)
        assert user is not None
        coordinator = Coordinator(
            username=user.username, full_name=user.full_name, totp_secret=secret
        )
        return coordinator, GivenPatient(uid=patient.uid, id=patient.id)


def employer_row(page: Page) -> Locator:
    return page.locator(f"section#consents tr.consent-row[data-kind='{EMPLOYER}']")


def wait_for_patient_page(page: Page, base_url: str, patient_path: str) -> None:
    """Wait for the patient page, at its consent panel's anchor or not."""
    page.wait_for_url(re.compile(re.escape(base_url + patient_path) + r"(#consents)?$"))


def record_oral_consent(page: Page, base_url: str, patient_path: str) -> None:
    """From the panel's employer row, record an oral consent naming the employer, today."""
    page.locator(
        f"section#consents tr.consent-row[data-kind='{EMPLOYER}'] "
        f"a[href='{patient_path}/consents/new?kind={EMPLOYER}']"
    ).click()
    wait_for_path(page, base_url, f"{patient_path}/consents/new?kind={EMPLOYER}")
    expect(page.locator("select#kind")).to_have_value(EMPLOYER)
    page.fill("#recipient_name", EMPLOYER_NAME)
    expect(page.locator("input[name=method][value=oral]")).to_be_checked()
    expect(page.locator("#given_on")).to_have_value(clock.today().isoformat())
    page.click("#submit")


def withdraw_consent(page: Page, base_url: str, patient_path: str) -> None:
    """From the employer row, open the withdrawal form and withdraw the consent today."""
    link = employer_row(page).locator("a[href*='/withdraw']")
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    assert href is not None
    assert href.startswith(f"{patient_path}/consents/")
    link.click()
    wait_for_path(page, base_url, href)
    expect(page.locator("#withdrawn_on")).to_have_value(clock.today().isoformat())
    page.click("#submit")


def try_to_disclose_to_the_employer(page: Page, base_url: str, patient_path: str) -> Response:
    """Through the panel's "register disclosure" link, register one to the named employer;
    returns the answer to the form's POST."""
    page.locator(f"section#consents a[href='{patient_path}/disclosures/new']").click()
    wait_for_path(page, base_url, f"{patient_path}/disclosures/new")
    page.select_option("select#recipient", EMPLOYER)
    page.fill("#recipient_name", EMPLOYER_NAME)
    page.fill("#summary", SUMMARY)
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and response.url == f"{base_url}{patient_path}/disclosures/new"
        )
    ) as answer:
        page.click("#submit")
    return answer.value


def is_refusal(message: str, refused: Response) -> bool:
    """Whether a console message is Chromium's report of the refused disclosure's status."""
    return (
        message.startswith("console: Failed to load resource:")
        and f"status of {refused.status}" in message
        and f"'url': '{refused.url}'" in message
    )


@pytest.mark.browser
def test_coordinator_records_and_withdraws_a_consent_and_a_disclosure_is_then_refused(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    coordinator, patient = given_a_coordinator_and_a_patient(live_app)
    patient_path = f"/patients/{patient.uid}"

    sign_in_with_password(page, live_url, coordinator)
    enter_totp_code(page, coordinator)
    wait_for_path(page, live_url, "/")
    page.goto(live_url + patient_path)
    wait_for_path(page, live_url, patient_path)
    expect(employer_row(page)).to_have_count(1)
    expect(employer_row(page)).to_have_attribute("data-status", "none")
    expect(page.locator("p.withdrawn-consent")).to_have_count(0)

    record_oral_consent(page, live_url, patient_path)
    wait_for_patient_page(page, live_url, patient_path)
    expect(employer_row(page)).to_have_count(1)
    expect(employer_row(page)).to_have_attribute("data-status", "given")
    expect(employer_row(page).locator("td").first).to_contain_text(EMPLOYER_NAME)
    expect(page.locator("p.flash")).to_have_count(1)
    assert console_errors.messages == []

    withdraw_consent(page, live_url, patient_path)
    wait_for_patient_page(page, live_url, patient_path)
    expect(employer_row(page)).to_have_count(1)
    expect(employer_row(page)).to_have_attribute("data-status", "withdrawn")
    expect(employer_row(page).locator("a[href*='/withdraw']")).to_have_count(0)
    banner = page.locator("p.withdrawn-consent")
    expect(banner).to_have_count(1)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(EMPLOYER_NAME)
    assert console_errors.messages == []

    refused = try_to_disclose_to_the_employer(page, live_url, patient_path)
    assert refused.status == 409  # ConsentMissing: the form page again, with the reason
    wait_for_path(page, live_url, f"{patient_path}/disclosures/new")
    alert = page.locator("p.alert[role=alert]")
    expect(alert).to_have_count(1)
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(EMPLOYER_NAME)
    expect(page.locator(f"a[href='{patient_path}/consents/new?kind={EMPLOYER}']")).to_have_count(1)
    expect(page.locator("p.flash")).to_have_count(0)
    # The form comes back as filled in, to be corrected or abandoned.
    expect(page.locator("select#recipient")).to_have_value(EMPLOYER)
    expect(page.locator("#summary")).to_have_value(SUMMARY)

    # The gate wrote nothing but the denied attempt, kept though the request failed.
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 0
        denied = db.session.scalars(
            select(AccessLogEntry).where(
                AccessLogEntry.patient_id == patient.id,
                AccessLogEntry.action == AccessAction.DENIED,
            )
        ).all()
        assert [(entry.object_type, entry.object_id) for entry in denied] == [
            ("disclosure", EMPLOYER)
        ]
    # Chromium reports a page answered with an error status as a failed load: the 409 is the
    # refusal itself. Nothing else may have gone wrong on any page.
    refusal = [message for message in console_errors.messages if is_refusal(message, refused)]
    assert len(refusal) == 1
    assert [message for message in console_errors.messages if message not in refusal] == []
