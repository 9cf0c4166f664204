"""End to end in a real browser: a unit manager opens the reports, reads the sick-leave
statistics (tables and their SVG charts) and downloads the quarterly report as CSV.

Set up as ``test_browser_contacts``: Debian's Chromium against the app served on loopback, a
user with TOTP enrolled, the pages in Swedish. The data are written through the services on
the real clock: two patients of the unit on sick leave today (a woman at 50 %, a man at
100 %), the woman's MMR1 completed today, and the population of the unit's area. The
statistics cover the month so far (the page's default) and the report the current quarter.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from coordinator import clock
from coordinator.auth.models import ProviderType, User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.patients import service as patients
from coordinator.plans import treatments
from coordinator.plans.models import TreatmentKind, TreatmentProvider
from coordinator.plans.treatments import TreatmentInput
from coordinator.reports import settings
from coordinator.reports.quarterly import quarter_of
from tests.crypto.support import actor_for
from tests.e2e.conftest import ConsoleErrors
from tests.e2e.test_browser_sign_in import (
    Coordinator,
    enter_totp_code,
    sign_in_with_password,
    wait_for_path,
)
from tests.factories import UnitFactory, UserFactory, valid_personnummer
from tests.patients.support import certify

UNIT = "Vårdcentralen Norr"
MANAGER = "chef.rapporter"
COORDINATOR = "koord.rapporter"
POPULATION = 12_000
#: The statistics tables, in page order.
TABLES = ["gender", "agreement", "chapter", "length", "degree", "doctor"]
HEADER = "Avsnitt;Enhet;Post;Uppdelning;Värde"


@dataclass(frozen=True)
class Given:
    manager: Coordinator
    manager_id: int
    woman_id: int


def given_a_unit_with_two_patients_on_sick_leave(app: Flask) -> Given:
    """One unit; its manager (TOTP enrolled) and a coordinator; a woman on sick leave at 50 %
    for F43.2 whose MMR1 was completed today, and a man at 100 % for M54.5."""
    secret = pyotp.random_base32()
    today = clock.today()
    with app.app_context():
        unit = UnitFactory(name=UNIT)
        UserFactory(username=MANAGER, role=Role.MANAGER, units=[unit], totp_secret=secret)
        UserFactory(username=COORDINATOR, units=[unit])
        manager = User.find_by_username(MANAGER)
        coordinator = User.find_by_username(COORDINATOR)
        assert manager is not None
        assert coordinator is not None
        me = actor_for(coordinator, unit)
        woman = patients.register_patient(
            me, valid_personnummer("19850505", 100), patients.PatientDetails("Karin", "Lund")
        )
        man = patients.register_patient(
            me, valid_personnummer("19850505", 101), patients.PatientDetails("Per", "Holm")
        )
        certify(me, woman, today - timedelta(days=30), today + timedelta(days=10), 50, "F43.2")
        certify(me, man, today - timedelta(days=10), today + timedelta(days=20), 100, "M54.5")
        treatments.record(
            me,
            woman,
            TreatmentInput(
                TreatmentKind.MMR1,
                TreatmentProvider.OWN_UNIT,
                ProviderType.PUBLIC,
                today - timedelta(days=120),
                today,
            ),
        )
        settings.set_population(actor_for(manager, unit), unit.id, POPULATION)
        db.session.commit()
        return Given(Coordinator(MANAGER, manager.full_name, secret), manager.id, woman.id)


def row_cells(page: Page, table: str, row: str) -> list[str]:
    """The texts of one statistics table row: label, women, men, other, total, shares."""
    return page.locator(f"section[data-table={table}] tr[data-row='{row}'] td").all_inner_texts()


@pytest.mark.browser
def test_manager_reads_the_statistics_and_downloads_the_quarterly_csv(
    browser_page: Page, live_app: Flask, live_url: str, console_errors: ConsoleErrors
) -> None:
    page = browser_page
    given = given_a_unit_with_two_patients_on_sick_leave(live_app)
    year, quarter = quarter_of(clock.today())

    sign_in_with_password(page, live_url, given.manager)
    enter_totp_code(page, given.manager)
    wait_for_path(page, live_url, "/")
    page.locator("nav.menu").get_by_role("link", name="Rapporter", exact=True).click()
    wait_for_path(page, live_url, "/reports/caseload")
    page.locator("nav.subnav").get_by_role("link", name="Sjukskrivningsstatistik").click()
    wait_for_path(page, live_url, "/reports/statistics")

    expect(page.locator("h1")).to_have_text(f"Sjukskrivningsstatistik · {UNIT}")
    # A chart per table, drawn on the server as SVG.
    expect(page.locator("figure.chart")).to_have_count(len(TABLES))
    for table in TABLES:
        expect(page.locator(f"figure.chart[data-chart={table}] svg[role=img]")).to_have_count(1)
    expect(page.locator("figure.chart[data-chart=gender] svg rect.bar-women")).to_have_count(4)
    expect(page.locator("figure.chart[data-chart=gender] svg title").first).to_have_text(
        "Kvinnor: 1"
    )
    assert row_cells(page, "gender", "woman") == ["Kvinna", "1", "0", "0", "1", "100 %", "0 %"]
    assert row_cells(page, "gender", "man") == ["Man", "0", "1", "0", "1", "0 %", "100 %"]
    assert row_cells(page, "degree", "50") == ["50 %", "1", "0", "0", "1", "100 %", "0 %"]
    assert row_cells(page, "degree", "100") == ["100 %", "0", "1", "0", "1", "0 %", "100 %"]
    assert row_cells(page, "agreement", "mental_ill_health")[1:5] == ["1", "0", "0", "1"]
    assert row_cells(page, "agreement", "long_term_pain")[1:5] == ["0", "1", "0", "1"]

    page.locator("nav.subnav").get_by_role("link", name="Kvartalsrapport").click()
    wait_for_path(page, live_url, "/reports/quarterly")
    expect(page.locator("h1")).to_have_text(f"Kvartalsrapport {year} Q{quarter}")
    expect(page.locator("tr[data-kind=mmr1] td").nth(6)).to_have_text("1")  # exact on screen
    with page.expect_download() as download_info:
        page.locator("#download-csv").click()
    download = download_info.value

    assert download.suggested_filename == f"kvartalsrapport-{year}-Q{quarter}.csv"
    text = Path(download.path()).read_bytes().decode("utf-8")
    assert text.splitlines()[0] == "\ufeff" + HEADER
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert ["Per enhet", UNIT, "Befolkning 16–67 år", "Offentlig", str(POPULATION)] in rows
    mmr1 = "MMR1 (multimodal rehabilitering, primärvård)"
    assert ["Avslutade behandlingar", "Alla enheter", mmr1, "Kvinnor", "< 5"] in rows
    assert ["Avslutade behandlingar", "Alla enheter", mmr1, "Män", "0"] in rows

    with live_app.app_context():
        exported = db.session.execute(
            select(AccessLogEntry.patient_id, AccessLogEntry.user_id, AccessLogEntry.object_id)
            .where(AccessLogEntry.action == AccessAction.EXPORT)
        ).all()  # fmt: skip
        assert [tuple(row) for row in exported] == [
            (given.woman_id, given.manager_id, f"quarterly:{year}Q{quarter}")
        ]
    assert console_errors.messages == []
