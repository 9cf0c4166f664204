"""End to end in a real browser: a coordinator logs a call with a patient's employer in which
information about the patient was disclosed. Without the patient's consent to tell the employer
the log is refused, with the reason and a link to record consent; the coordinator follows it,
records the patient's oral consent, logs the call again and finds it in the patient's contacts.

Everything goes through Chromium against the app served on loopback, as in
``test_browser_sign_in``. The coordinator reads Swedish (the default). Fields and links are
found by their ids, names and addresses; the texts that matter to the scenario — the refusal
and the contact as listed — are expected as the app's own catalogue renders them in Swedish.
The outcome is checked in the database too: one contact carrying one disclosure, under the
consent recorded, and the refused attempt in the access log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from playwright.sync_api import Page, Response, expect
from sqlalchemy import select

from coordinator import clock
from coordinator.auth.models import User
from coordinator.consents.models import Consent, ConsentKind, ConsentMethod, Disclosure
from coordinator.consents.service import Recipient
from coordinator.contacts import directory
from coordinator.contacts import service as contacts
from coordinator.contacts.models import ContactEvent, OrganisationType
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from tests.crypto.support import actor_for
from tests.e2e.conftest import ConsoleErrors
from tests.e2e.test_browser_consents import is_refusal
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import UnitFactory, UserFactory
from tests.patients.support import activate, register

UNIT = "Vårdcentralen Norr"
USERNAME = "koord.kontakter"
FIRST_NAME = "Maja"
LAST_NAME = "Berg"
EMPLOYER = "employer"
EMPLOYER_NAME = "Åkeriet i Norr AB"
MANAGER = "Per Persson"
NOTES = "Chefen undrade hur länge sjukskrivningen varar."
SUMMARY = "Planerad återgång på halvtid från augusti."


@dataclass(frozen=True)
class Given:
    """The scenario's cast: the coordinator, and the patient's and their employer's ids."""

    coordinator: Coordinator
    patient_uid: uuid.UUID
    patient_id: int
    employer_uid: uuid.UUID
    manager_uid: uuid.UUID
    manager_id: int


def given_an_active_patient_whose_employer_is_recorded(app: Flask) -> Given:
    """One care unit; a coordinator with TOTP enrolled who works there; a patient they
    registered, in active coordination, whose employer and manager are in the directory."""
    secret = pyotp.random_base32()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(username=USERNAME, units=[unit], totp_secret=secret)
        user = User.find_by_username(USERNAME)
        assert user is not None
        actor = actor_for(user, unit)
        patient = register(actor, LAST_NAME, FIRST_NAME)
        activate(actor, patient)
        employer = directory.create_organisation(
            actor, directory.OrganisationInput(OrganisationType.EMPLOYER, EMPLOYER_NAME)
        )
        manager = directory.add_person(
            actor, employer, directory.PersonInput(MANAGER, "Närmaste chef", "070-123 45 67")
        )
        assert contacts.set_employer(actor, patient, employer, manager)
        db.session.commit()
        coordinator = Coordinator(
            username=user.username, full_name=user.full_name, totp_secret=secret
        )
        return Given(coordinator, patient.uid, patient.id, employer.uid, manager.uid, manager.id)


def in_swedish(app: Flask, message: object) -> str:
    """``message`` (a lazy text) as the Swedish pages show it."""
    with app.test_request_context(), force_locale("sv"):
        return str(message)


def log_the_call(page: Page, base_url: str, patient_path: str, given: Given) -> Response:
    """From the patient page's contacts panel, log a call with the employer's manager in which
    the summary was disclosed; returns the answer to the form's POST."""
    page.locator(f"section#contacts a[href='{patient_path}/contacts/new']").click()
    wait_for_path(page, base_url, f"{patient_path}/contacts/new")
    # The patient's employer is offered first; the call is by phone, today, on care's initiative.
    expect(page.locator("select#organisation")).to_have_value(given.employer_uid.hex)
    expect(page.locator("select#channel")).to_have_value("phone")
    expect(page.locator("#occurred_on")).to_have_value(clock.today().isoformat())
    expect(page.locator("input[name=initiated_by][value=care]")).to_be_checked()
    page.select_option("select#person", given.manager_uid.hex)
    page.fill("#notes", NOTES)
    page.check("#is_disclosure")
    page.fill("#disclosed", SUMMARY)
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and response.url == f"{base_url}{patient_path}/contacts/new"
        )
    ) as answer:
        page.click("#submit")
    return answer.value


def record_the_employers_consent(page: Page, base_url: str, patient_path: str) -> None:
    """On the record-consent form opened for the employer, record an oral consent naming the
    employer, given today."""
    expect(page.locator("select#kind")).to_have_value(EMPLOYER)
    page.fill("#recipient_name", EMPLOYER_NAME)
    expect(page.locator("input[name=answer][value=given]")).to_be_checked()
    expect(page.locator("input[name=method][value=oral]")).to_be_checked()
    expect(page.locator("#given_on")).to_have_value(clock.today().isoformat())
    page.click("#submit")
    page.wait_for_url(lambda url: url.startswith(base_url + patient_path))


@pytest.mark.browser
def test_coordinator_is_refused_an_employer_call_with_disclosure_until_consent_is_recorded(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    given = given_an_active_patient_whose_employer_is_recorded(live_app)
    patient_path = f"/patients/{given.patient_uid}"
    consent_path = f"{patient_path}/consents/new?kind={EMPLOYER}"

    sign_in_with_password(page, live_url, given.coordinator)
    enter_totp_code(page, given.coordinator)
    wait_for_path(page, live_url, "/")
    page.goto(live_url + patient_path)
    wait_for_path(page, live_url, patient_path)
    employer_link = page.locator(f"a[href='/directory/{given.employer_uid}']")
    expect(employer_link).to_have_text(EMPLOYER_NAME)
    expect(page.locator("section#contacts li.contact")).to_have_count(0)

    refused = log_the_call(page, live_url, patient_path, given)

    assert refused.status == 409  # ConsentMissing: the form again, with the reason
    wait_for_path(page, live_url, f"{patient_path}/contacts/new")
    alert = page.locator("p.alert[role=alert]")
    expect(alert).to_have_count(1)
    expect(alert).to_have_text(
        in_swedish(
            live_app,
            _l(
                "The patient has given no consent for: %(who)s.",
                who=Recipient(ConsentKind.EMPLOYER, EMPLOYER_NAME),
            ),
        )
    )
    expect(page.locator("p.flash")).to_have_count(0)
    # The form comes back as filled in: to log again once consent is recorded, or without it.
    expect(page.locator("select#person")).to_have_value(given.manager_uid.hex)
    expect(page.locator("#is_disclosure")).to_be_checked()
    expect(page.locator("#disclosed")).to_have_value(SUMMARY)
    record = page.locator(f"a[href='{consent_path}']")
    expect(record).to_have_count(1)
    expect(record).to_have_text(in_swedish(live_app, _l("Record the patient's consent")))

    record.click()
    wait_for_path(page, live_url, consent_path)
    record_the_employers_consent(page, live_url, patient_path)
    consent_row = page.locator(f"section#consents tr.consent-row[data-kind='{EMPLOYER}']")
    expect(consent_row).to_have_attribute("data-status", "given")

    accepted = log_the_call(page, live_url, patient_path, given)

    assert accepted.status == 302
    wait_for_path(page, live_url, f"{patient_path}/contacts")
    expect(page.locator("p.flash")).to_have_text(
        in_swedish(live_app, _l("The contact was logged."))
    )
    listed = page.locator("ul.contacts li.contact")
    expect(listed).to_have_count(1)
    expect(listed.locator("strong")).to_have_text(EMPLOYER_NAME)
    expect(listed.locator("p.body")).to_have_text(NOTES)
    expect(listed.locator("p.disclosed")).to_have_text(
        f"{in_swedish(live_app, _l('Disclosed'))} {SUMMARY}"
    )
    expect(listed).to_contain_text(MANAGER)

    with live_app.app_context():
        contact = db.session.scalars(select(ContactEvent)).one()
        disclosure = db.session.scalars(select(Disclosure)).one()
        consent = db.session.scalars(
            select(Consent).where(Consent.kind == ConsentKind.EMPLOYER)
        ).one()
        assert (contact.patient_id, contact.disclosure_id, contact.contact_person_id) == (
            given.patient_id,
            disclosure.id,
            given.manager_id,
        )
        assert (contact.notes, contact.organisation.name) == (NOTES, EMPLOYER_NAME)
        assert (
            disclosure.consent_id,
            disclosure.recipient,
            disclosure.recipient_name,
            disclosure.summary,
            disclosure.disclosed_on,
        ) == (consent.id, ConsentKind.EMPLOYER, EMPLOYER_NAME, SUMMARY, clock.today())
        assert (consent.recipient_name, consent.method, consent.given_on) == (
            EMPLOYER_NAME,
            ConsentMethod.ORAL,
            clock.today(),
        )
        logged = db.session.execute(
            select(AccessLogEntry.action, AccessLogEntry.object_type, AccessLogEntry.object_id)
            .where(
                AccessLogEntry.patient_id == given.patient_id,
                AccessLogEntry.action.in_([AccessAction.DENIED, AccessAction.DISCLOSE]),
            )
            .order_by(AccessLogEntry.seq)
        ).all()
        assert logged == [
            (AccessAction.DENIED, "contact", EMPLOYER),
            (AccessAction.DISCLOSE, "disclosure", disclosure.uid.hex),
        ]
        journalled = db.session.scalars(
            select(CaseJournalEntry).where(
                CaseJournalEntry.patient_id == given.patient_id,
                CaseJournalEntry.kind.in_([EntryKind.CONTACT_LOGGED, EntryKind.DISCLOSURE]),
            )
        ).all()
        assert [entry.kind for entry in journalled] == [EntryKind.CONTACT_LOGGED]
        assert SUMMARY in journalled[0].body

    # Chromium reports a page answered with an error status as a failed load: the 409 is the
    # refusal itself. Nothing else may have gone wrong on any page.
    refusal = [message for message in console_errors.messages if is_refusal(message, refused)]
    assert len(refusal) == 1
    assert [message for message in console_errors.messages if message not in refusal] == []
