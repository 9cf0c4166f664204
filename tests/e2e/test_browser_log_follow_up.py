"""End to end in a real browser: a unit manager follows up the access log (HSLF-FS 2016:40
ch. 4 § 9). They draw a sample check of today's accesses, judge every sampled entry, sign the
check and find it sealed and counted; and they verify the journal chains from the chain page.

Set up as ``test_browser_reports``: Debian's Chromium against the app served on loopback, a
manager with TOTP enrolled, the pages in Swedish. The data are written through the services
on the real clock: in one unit two coordinators register three patients — one with protected
identity — and each opens one more patient's record. That is eight access-log entries today
(a registration logs the patient's creation and the journal entry opening the case) and three
case journal entries. The sample draws ten entries at random, so it holds all eight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from coordinator import clock
from coordinator.auth.models import User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry
from coordinator.logreview import checks
from coordinator.logreview.models import ChainVerification, Finding, LogCheck
from coordinator.patients import service as patients
from tests.crypto.support import actor_for
from tests.e2e.conftest import TIMEOUT_MS, ConsoleErrors
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import UnitFactory, UserFactory, valid_personnummer

UNIT = "Vårdcentralen Norr"
MANAGER = "chef.logg"
#: The access-log and case journal entries the data set writes (see the module docstring).
ACCESS_ENTRIES = 8
CASE_ENTRIES = 3
COMMENT = "Ingen vårdrelation till patienten; tas upp med medarbetaren."
SUMMARY = "En obefogad åtkomst, följs upp med medarbetaren. Övriga befogade."
#: How the check page shows a patient with protected identity instead of the name.
MASKED = "Skyddad personuppgift"


@dataclass(frozen=True)
class Given:
    manager: Coordinator
    manager_id: int
    #: Per patient's name, the sequence numbers of the access-log entries about them.
    seqs: dict[str, list[int]]
    #: Coordinator B's look at coordinator A's patient: the entry judged unjustified.
    snooping_seq: int


def user(username: str) -> User:
    found = User.find_by_username(username)
    assert found is not None
    return found


def given_two_coordinators_who_opened_three_patients(app: Flask) -> Given:
    """One unit; its manager (TOTP enrolled) and two coordinators. Anna registers Karin Lund
    and Eva Sjö (protected identity), Bo registers Per Holm; then Bo opens Karin's record —
    Anna's patient — and Anna opens Eva's. Each page is a request of its own."""
    secret = pyotp.random_base32()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(
            username=MANAGER, full_name="Maria Ek", role=Role.MANAGER, units=[unit],
            totp_secret=secret,
        )  # fmt: skip
        UserFactory(username="koord.anna", full_name="Anna Berg", units=[unit])
        UserFactory(username="koord.bo", full_name="Bo Ström", units=[unit])
        manager, anna, bo = user(MANAGER), user("koord.anna"), user("koord.bo")
        registered = {}
        for registrar, serial, first, last, is_protected in (
            (anna, 210, "Karin", "Lund", False),
            (anna, 220, "Eva", "Sjö", True),
            (bo, 230, "Per", "Holm", False),
        ):
            registered[f"{first} {last}"] = patients.register_patient(
                actor_for(registrar, unit, f"register-{serial}"),
                valid_personnummer("19790312", serial),
                patients.PatientDetails(first, last, is_protected=is_protected),
            )
        snooping = journal.record_access(
            actor_for(bo, unit, "bo-opens-karin"), registered["Karin Lund"], AccessAction.READ
        )
        journal.record_access(
            actor_for(anna, unit, "anna-opens-eva"), registered["Eva Sjö"], AccessAction.READ
        )
        db.session.commit()
        seqs = {
            name: list(
                db.session.scalars(
                    select(AccessLogEntry.seq)
                    .where(AccessLogEntry.patient_id == patient.id)
                    .order_by(AccessLogEntry.seq)
                )
            )
            for name, patient in registered.items()
        }
        return Given(
            Coordinator(MANAGER, manager.full_name, secret), manager.id, seqs, snooping.seq
        )


def entries_in_chains(app: Flask) -> tuple[int, int]:
    """How many access-log and case journal entries the database holds now."""
    with app.app_context():
        access = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
        case = db.session.scalar(select(func.count()).select_from(CaseJournalEntry))
        return access or 0, case or 0


def sign_in_as_manager(page: Page, base_url: str, given: Given) -> None:
    sign_in_with_password(page, base_url, given.manager)
    enter_totp_code(page, given.manager)
    wait_for_path(page, base_url, "/")


def open_log_follow_up(page: Page, base_url: str) -> None:
    page.locator("nav.menu").get_by_role("link", name="Loggkontroll", exact=True).click()
    wait_for_path(page, base_url, "/log/")


def test_the_data_set_writes_the_entries_the_scenarios_count(live_app: Flask) -> None:
    given = given_two_coordinators_who_opened_three_patients(live_app)

    assert entries_in_chains(live_app) == (ACCESS_ENTRIES, CASE_ENTRIES)
    assert {name: len(seqs) for name, seqs in given.seqs.items()} == {
        "Karin Lund": 3,  # created, case opened, opened by Bo
        "Eva Sjö": 3,  # created, case opened, opened by Anna
        "Per Holm": 2,  # created, case opened
    }
    assert given.snooping_seq == given.seqs["Karin Lund"][2]


@pytest.mark.browser
def test_manager_draws_judges_and_signs_a_sample_check(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    given = given_two_coordinators_who_opened_three_patients(live_app)
    today = clock.today()

    sign_in_as_manager(page, live_url, given)
    expect(page.locator("#check-reminder")).to_contain_text(
        f"Ingen stickprovskontroll av åtkomstloggen har signerats för {UNIT} än."
    )
    open_log_follow_up(page, live_url)
    page.get_by_role("link", name="Nytt stickprov", exact=True).click()
    wait_for_path(page, live_url, "/log/checks/new")
    page.fill("#first", today.isoformat())
    page.fill("#last", today.isoformat())
    expect(page.locator("input[name=criteria]")).to_have_count(7)
    expect(page.locator("input[name=criteria]:checked")).to_have_count(7)
    # Browsing the log follow-up shows no patient data, so it logged nothing: the sample is
    # drawn from the data set's entries alone.
    assert entries_in_chains(live_app) == (ACCESS_ENTRIES, CASE_ENTRIES)
    page.get_by_role("button", name="Dra stickprov", exact=True).click()

    page.wait_for_url(re.compile(r"/log/checks/\d+$"))
    with live_app.app_context():
        check = db.session.scalars(select(LogCheck)).one()
        check_id = check.id
        items = {item.access_seq: item.id for item in check.items}
        assert check.population == ACCESS_ENTRIES
    assert page.url == f"{live_url}/log/checks/{check_id}"
    every_seq = sorted(seq for seqs in given.seqs.values() for seq in seqs)
    assert sorted(items) == every_seq
    expect(page.locator("p.flash")).to_have_text(
        [f"Stickprovet är draget: {ACCESS_ENTRIES} poster att granska."]
    )
    rows = page.locator("table.check-items tbody tr")
    expect(rows).to_have_count(ACCESS_ENTRIES)
    for name, seqs in given.seqs.items():
        for seq in seqs:
            patient_cell = page.locator(f"tr[data-seq='{seq}'] td").nth(5)
            if name == "Eva Sjö":
                expect(patient_cell.locator(".masked")).to_have_text(MASKED)
                expect(patient_cell).not_to_contain_text("Eva")
                expect(patient_cell).not_to_contain_text("Sjö")
            else:
                expect(patient_cell).to_contain_text(name)

    for seq, item_id in items.items():
        row = page.locator(f"tr[data-item='{item_id}']")
        if seq == given.snooping_seq:
            row.get_by_label("Obefogad", exact=True).check()
            row.locator(f"input[name=comment_{item_id}]").fill(COMMENT)
        else:
            row.get_by_label("Befogad", exact=True).check()
    page.get_by_role("button", name="Spara bedömningar", exact=True).click()
    wait_for_path(page, live_url, f"/log/checks/{check_id}")
    expect(page.locator("p.flash")).to_have_text(["Bedömningarna är sparade."])
    snooping_item = items[given.snooping_seq]
    expect(page.locator(f"input[name=finding_{snooping_item}][value=unjustified]")).to_be_checked()
    expect(page.locator(f"input[name=comment_{snooping_item}]")).to_have_value(COMMENT)
    expect(page.locator("input[type=radio][value=justified]:checked")).to_have_count(
        ACCESS_ENTRIES - 1
    )

    page.fill("#summary", SUMMARY)
    page.get_by_role("button", name="Signera kontrollen", exact=True).click()
    wait_for_path(page, live_url, f"/log/checks/{check_id}")
    expect(page.locator("p.flash")).to_have_text(["Kontrollen är signerad."])
    status = page.locator("#check-status")
    expect(status.locator(".badge")).to_have_text(["Signerad", "Försegling intakt"])
    expect(page.locator("input[type=radio]")).to_have_count(0)
    expect(page.locator("table.check-items td[data-finding=justified]")).to_have_count(
        ACCESS_ENTRIES - 1
    )
    snooping_row = page.locator(f"tr[data-item='{snooping_item}']")
    expect(snooping_row.locator("td[data-finding=unjustified]")).to_have_text("Obefogad")
    expect(snooping_row.locator("td").last).to_have_text(COMMENT)
    expect(page.locator("#check-summary")).to_have_text(SUMMARY)

    page.locator("nav.subnav").get_by_role("link", name="Stickprov", exact=True).click()
    wait_for_path(page, live_url, "/log/checks")
    listed = page.locator(f"tr[data-check='{check_id}']")
    expect(listed.locator("td[data-finding=justified]")).to_have_text(str(ACCESS_ENTRIES - 1))
    expect(listed.locator("td[data-finding=follow_up]")).to_have_text("0")
    expect(listed.locator("td[data-finding=unjustified]")).to_have_text("1")
    expect(page.locator("tr[data-check]")).to_have_count(1)

    page.locator("nav.menu").get_by_role("link", name="Start", exact=True).click()
    wait_for_path(page, live_url, "/")
    expect(page.locator("h1")).to_have_text(f"Välkommen, {given.manager.full_name}")
    expect(page.locator("#check-reminder")).to_have_count(0)

    with live_app.app_context():
        signed = db.session.get(LogCheck, check_id)
        assert signed is not None
        assert signed.signed_at is not None
        assert signed.reviewer_id == given.manager_id
        assert signed.summary == SUMMARY
        assert checks.is_intact(signed)
        assert {item.access_seq: (item.finding, item.comment) for item in signed.items} == {
            seq: (Finding.UNJUSTIFIED, COMMENT) if seq == given.snooping_seq
            else (Finding.JUSTIFIED, None)
            for seq in every_seq
        }  # fmt: skip
        db.session.rollback()
        with db.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="log_check_items: signed checks are final"):
                connection.execute(
                    text("UPDATE log_check_items SET finding = 'justified' WHERE id = :id"),
                    {"id": snooping_item},
                )
            connection.rollback()
            stored = connection.execute(
                text("SELECT finding FROM log_check_items WHERE id = :id"), {"id": snooping_item}
            ).scalar_one()
        assert stored == "unjustified"
    assert console_errors.messages == []


@pytest.mark.browser
def test_manager_verifies_the_chains_and_sees_them_intact(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    given = given_two_coordinators_who_opened_three_patients(live_app)

    sign_in_as_manager(page, live_url, given)
    open_log_follow_up(page, live_url)
    page.locator("nav.subnav").get_by_role("link", name="Kedjestatus", exact=True).click()
    wait_for_path(page, live_url, "/log/chain")
    expect(page.locator("table.chain-runs")).to_have_count(0)
    # Nothing so far showed patient data, so nothing was logged since the data were written.
    assert entries_in_chains(live_app) == (ACCESS_ENTRIES, CASE_ENTRIES)

    page.get_by_role("button", name="Verifiera kedjorna nu", exact=True).click()
    wait_for_path(page, live_url, "/log/chain")
    # While it runs the page shows its progress and reloads itself every 2 s.
    result = page.locator("table.chain-runs tr[data-run] td[data-result=intact]")
    expect(page.locator("#verification-progress").or_(result)).to_have_count(1)
    expect(result).to_have_count(1, timeout=TIMEOUT_MS)
    expect(result).to_have_text("Intakt")
    expect(page.locator("#verification-progress")).to_have_count(0)
    cells = page.locator("table.chain-runs tr[data-run] td")
    expect(cells.nth(1)).to_have_text(given.manager.full_name)
    expect(cells.nth(3)).to_have_text(str(ACCESS_ENTRIES))
    expect(cells.nth(4)).to_have_text(str(CASE_ENTRIES))
    expect(page.locator(".chain-alarm")).to_have_count(0)

    # The chain page and the verification logged nothing either: the counts shown are the
    # chains as they are.
    assert entries_in_chains(live_app) == (ACCESS_ENTRIES, CASE_ENTRIES)
    with live_app.app_context():
        run = db.session.scalars(select(ChainVerification)).one()
        assert run.started_by_id == given.manager_id
        assert run.finished_at is not None
        assert (run.total, run.done) == (ACCESS_ENTRIES + CASE_ENTRIES,) * 2
        assert (run.access_verified, run.case_verified) == (ACCESS_ENTRIES, CASE_ENTRIES)
        assert (run.broken_chain, run.error) == (None, None)
    assert console_errors.messages == []
