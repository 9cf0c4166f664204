"""End to end in a real browser: a coordinator maps a patient in active coordination, signs the
mapping, writes a plan with two measures (one for the employer, without the patient's consent to
tell the employer), records the patient's agreement, prints the plan for the patient, and finds
the three steps in the patient's case journal.

Everything goes through Chromium against the app served on loopback, as in
``test_browser_sign_in``. The coordinator has chosen English, so the pages are found by their
English roles, labels and texts. The case journal is written in the installation's record
language whoever writes it (Swedish by default): its headings are expected as the app's own
catalogue renders the English source texts in that language.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pyotp
import pytest
from babel.dates import format_date
from flask import Flask
from flask_babel import lazy_gettext as _l
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from coordinator import clock
from coordinator.auth.models import User
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from tests.crypto.support import actor_for
from tests.e2e.conftest import ConsoleErrors
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import UnitFactory, UserFactory
from tests.patients.support import activate, register

UNIT = "Vårdcentralen Norr"
USERNAME = "koord.planer"
FIRST_NAME = "Lars"
LAST_NAME = "Lind"

#: The mapping's sections by their labels, each with what the coordinator writes in it.
MAPPING = {
    "Work situation": "Warehouse worker, heavy lifting, full time.",
    "Life situation": "Lives with partner and two children.",
    "Health as the patient describes it": "Back pain, sleeps badly.",
    "Obstacles to return to work": "Lifting, long shifts.",
    "Resources for return to work": "Supportive manager, motivated.",
    "The patient's own goal": "Back at the warehouse by autumn.",
    "Risk factors for long sick leave": "Earlier long sick leave in 2021.",
}
BELIEF = "Believes in returning"

GOAL = "Own job"
GOAL_TEXT = "Back at my own job, full time."
#: Short enough to stay on one line of the printed plan's table.
CARE_MEASURE = "Physiotherapy twice a week"
EMPLOYER_MEASURE = "Adjusted duties, no lifting"
EMPLOYER_NAME = "Lagerbolaget Norr AB"


def given_a_coordinator_and_a_patient_in_coordination(app: Flask) -> tuple[Coordinator, str]:
    """One care unit; a coordinator with TOTP enrolled who works there and reads English; and a
    patient the coordinator registered, who consented to coordination, whose case is active.

    Returns the coordinator and the patient page's path.
    """
    secret = pyotp.random_base32()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(username=USERNAME, units=[unit], totp_secret=secret, locale="en")
        user = User.find_by_username(USERNAME)
        assert user is not None
        actor = actor_for(user, unit)
        patient = register(actor, LAST_NAME, FIRST_NAME)
        activate(actor, patient)
        db.session.commit()
        coordinator = Coordinator(
            username=user.username, full_name=user.full_name, totp_secret=secret
        )
        return coordinator, f"/patients/{patient.uid}"


def as_recorded(app: Flask, message: object) -> str:
    """``message`` (a lazy text) as the case journal records it: in the record language."""
    with app.test_request_context(), in_record_language():
        return str(message)


def in_english(day: date) -> str:
    """A date as the English pages show it (the ``date`` filter: Babel's medium format)."""
    return format_date(day, format="medium", locale="en")


def flashes(page: Page) -> Locator:
    return page.locator("p.flash")


def open_the_plan(page: Page, base_url: str, patient_path: str) -> None:
    """From the patient page's plan panel, open the plan page."""
    panel = page.locator("section#plan")
    panel.get_by_role("link", name="Open the plan", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/plan")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sick-leave and rehabilitation plan")


def sign_the_mapping(page: Page, base_url: str, patient_path: str) -> None:
    """Start the mapping from the plan page, fill every section and the belief, and sign."""
    mapping = page.locator("section#mapping")
    mapping.get_by_role("link", name="Start the mapping", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/mapping")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mapping")
    for label, text in MAPPING.items():
        page.get_by_label(label, exact=True).fill(text)
    page.get_by_label(BELIEF, exact=True).check()
    page.get_by_role("button", name="Sign the mapping", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/plan#mapping")


def create_the_plan(page: Page, base_url: str, patient_path: str, today: date) -> None:
    """From the plan page, create the plan: the goal, and a measure for the care unit and one
    for the named employer, both due within the plan's period."""
    page.locator("section#no-plan").get_by_role("link", name="Create plan", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/plan/edit")
    expect(page.get_by_role("heading", level=1)).to_have_text("New plan")
    page.get_by_label("Return to", exact=True).select_option(label=GOAL)
    page.get_by_label("Working time", exact=True).select_option(label="100 %")
    expect(page.get_by_label("Plan starts", exact=True)).to_have_value(today.isoformat())
    page.get_by_label("Goal reached by", exact=True).fill((today + timedelta(days=90)).isoformat())
    page.get_by_label("The goal in the patient's words", exact=True).fill(GOAL_TEXT)

    rows = page.locator(".measure-row")
    expect(rows).to_have_count(3)  # a new plan offers three empty rows
    first, second = rows.nth(0), rows.nth(1)
    first.get_by_label("What", exact=True).fill(CARE_MEASURE)
    first.get_by_label("Who", exact=True).select_option(label="The care unit")
    first.get_by_label("From", exact=True).fill(today.isoformat())
    first.get_by_label("By", exact=True).fill((today + timedelta(days=30)).isoformat())
    second.get_by_label("What", exact=True).fill(EMPLOYER_MEASURE)
    second.get_by_label("Who", exact=True).select_option(label="Employer")
    second.get_by_label("Name", exact=True).fill(EMPLOYER_NAME)
    second.get_by_label("By", exact=True).fill((today + timedelta(days=60)).isoformat())
    page.get_by_role("button", name="Save plan", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/plan#draft")


def record_the_agreement(page: Page, base_url: str, patient_path: str, today: date) -> None:
    """In the draft's agreement form: agreed today at a meeting, next follow-up in two weeks."""
    form = page.locator("form#agree-form")
    form.get_by_label("Agreed on", exact=True).fill(today.isoformat())
    form.get_by_label("Next follow-up", exact=True).fill((today + timedelta(days=14)).isoformat())
    form.get_by_label("At a meeting", exact=True).check()
    form.get_by_role("button", name="Record the patient's agreement", exact=True).click()
    wait_for_path(page, base_url, f"{patient_path}/plan#agree")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.browser
def test_coordinator_maps_plans_agrees_and_prints_and_the_journal_tells_it(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    coordinator, patient_path = given_a_coordinator_and_a_patient_in_coordination(live_app)
    today = clock.today()  # the app's calendar day (Sweden), which the forms check against

    sign_in_with_password(page, live_url, coordinator)
    enter_totp_code(page, coordinator)
    wait_for_path(page, live_url, "/")
    page.goto(live_url + patient_path)
    wait_for_path(page, live_url, patient_path)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{FIRST_NAME} {LAST_NAME}")

    # The mapping, signed.
    open_the_plan(page, live_url, patient_path)
    expect(page.locator("section#mapping p.empty")).to_have_text("No mapping yet.")
    sign_the_mapping(page, live_url, patient_path)
    expect(flashes(page)).to_have_text(["The mapping was signed and written to the journal."])
    mapping = page.locator("section#mapping")
    expect(mapping.locator(".badge")).to_have_text(f"Signed {in_english(today)}")
    expect(mapping.get_by_role("link", name="Read version 1", exact=True)).to_be_visible()
    assert console_errors.messages == []

    # The plan, drafted: both measures, the employer's without consent to tell the employer.
    create_the_plan(page, live_url, patient_path, today)
    expect(flashes(page)).to_have_text(
        [
            "The plan was saved. Record the patient's agreement when you have gone through it "
            "together."
        ]
    )
    draft = page.locator("section#draft")
    expect(draft.get_by_role("heading", level=2)).to_have_text("Version 1 Draft, not yet agreed")
    measures = draft.locator("table.measures tbody tr.measure")
    expect(measures.locator("td:first-child .body")).to_have_text([CARE_MEASURE, EMPLOYER_MEASURE])
    expect(measures.locator("td:nth-child(2)")).to_have_text(
        ["The care unit", f"Employer: {EMPLOYER_NAME}"]
    )
    expect(measures.nth(0).locator(".consent-warning")).to_have_count(0)
    expect(measures.nth(1).locator(".consent-warning")).to_have_text("No consent")
    assert console_errors.messages == []

    # The patient's agreement: version 1 in force.
    record_the_agreement(page, live_url, patient_path, today)
    expect(flashes(page)).to_have_text(
        ["The patient's agreement was recorded: this version is now in force."]
    )
    in_force = page.locator("section#in-force")
    expect(in_force.get_by_role("heading", level=2)).to_have_text(
        f"Plan in force: version 1 Agreed {in_english(today)} at a meeting"
    )
    expect(page.locator("#next-follow-up")).to_have_text(in_english(today + timedelta(days=14)))
    expect(page.locator("section#draft")).to_have_count(0)
    assert console_errors.messages == []

    # The printed plan: a PDF in a new tab, fetched here with the page's session.
    print_link = in_force.get_by_role("link", name="Print for the patient", exact=True)
    expect(print_link).to_have_attribute("target", "_blank")
    href = print_link.get_attribute("href")
    assert href == f"{patient_path}/plan/print"
    printed = page.context.request.get(live_url + href)
    assert printed.status == 200
    assert printed.headers["content-type"] == "application/pdf"
    body = printed.body()
    assert body.startswith(b"%PDF")
    assert CARE_MEASURE in pdf_text(body)

    # Back on the patient page, the case journal tells the three steps.
    page.get_by_role("link", name=f"{FIRST_NAME} {LAST_NAME}", exact=True).click()
    wait_for_path(page, live_url, f"{patient_path}#plan")
    timeline = page.locator("section#journal ol.timeline")
    for heading in (
        _l("Mapping signed (version %(n)d)", n=1),
        _l("Plan created (version 1, draft)"),
        _l("Plan version %(n)d agreed with the patient", n=1),
    ):
        expected = as_recorded(live_app, heading)
        expect(timeline.get_by_role("heading", name=expected, exact=True)).to_have_count(1)
    assert console_errors.messages == []
