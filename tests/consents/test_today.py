"""Today's consent groups: consents of the coordinator's patients that end within the notice
period (14 days) and have not been renewed, and active cases whose coordination consent no
longer holds."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator.access import Actor
from coordinator.consents import service
from coordinator.consents.models import ConsentKind
from coordinator.extensions import db
from coordinator.patients import cases, today
from coordinator.patients.models import CaseOutcome, Patient
from coordinator.patients.screening import ScreeningRules
from tests.conftest import World
from tests.consents.support import give, june, refuse
from tests.crypto.support import actor_for
from tests.patients.support import NOW, at, register

pytestmark = pytest.mark.usefixtures("frozen")

CONSENT_GROUPS = ("consents-expiring", "active-without-consent")


def make_scenario(frozen: time_machine.Traveller, world: World) -> dict[str, Patient]:
    """Patients registered and answering from 1 June on; back to Monday 15 June, when the
    notice period runs to 29 June. Call inside an app context."""
    me = actor_for(world.coordinator_a, world.unit_a)
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    employer, social_insurance = ConsentKind.EMPLOYER, ConsentKind.SOCIAL_INSURANCE
    frozen.move_to(at(june(1)))
    p = {name: register(me, name) for name in ("Berg", "Dahl", "Ek", "Falk", "Gran", "Holm")}
    p |= {name: register(me, name) for name in ("Ivarsson", "Jung", "Karlsson", "Lund")}
    p["Öberg"] = register(other_unit, "Öberg")
    # Ending within 14 days: on day 10, and on the last day of the notice period.
    give(me, p["Berg"], employer, date(2026, 1, 10), until=june(25))
    give(me, p["Dahl"], employer, june(1), name="ICA Maxi", until=june(29))
    # Ending soon but renewed since; ending in 15 and in 20 days.
    give(me, p["Ek"], employer, date(2026, 1, 10), until=june(20))
    give(me, p["Falk"], social_insurance, june(1), until=date(2026, 7, 5))
    give(me, p["Gran"], employer, june(1), until=june(30))
    # Ending soon, but refused since; or in a closed case; or another unit's.
    give(me, p["Holm"], employer, june(1), until=june(20))
    give(me, p["Karlsson"], employer, june(1), until=june(20))
    cases.close(me, p["Karlsson"], CaseOutcome.MOVED, june(1))
    give(other_unit, p["Öberg"], employer, june(1), until=june(20))
    # Active cases: one on a consent withdrawn since, one on a consent ended, one valid.
    for name, until in (("Ivarsson", None), ("Jung", june(12)), ("Lund", None)):
        give(me, p[name], ConsentKind.COORDINATION, june(1), until=until)
        cases.activate(me, p[name])
    frozen.move_to(at(june(10)))
    give(me, p["Ek"], employer, june(10), until=date(2026, 12, 31))
    refuse(me, p["Holm"], employer, june(10))
    (withdrawn,) = service.records_of(p["Ivarsson"], [ConsentKind.COORDINATION])
    service.withdraw(me, p["Ivarsson"], withdrawn, june(10), "Orkar inte just nu.")
    frozen.move_to(NOW)
    db.session.commit()
    return p


@pytest.fixture
def scenario(frozen: time_machine.Traveller, world: World, context: None) -> dict[str, Patient]:
    return make_scenario(frozen, world)


def consent_groups(groups: list[today.Group]) -> dict[str, list[tuple[str, str]]]:
    return {
        group.key: [(patient.last_name, note) for patient, note in group.shown]
        for group in groups
        if group.key in CONSENT_GROUPS
    }


def test_consents_ending_soon_and_active_cases_without_consent_are_in_the_queue(
    me: Actor, scenario: dict[str, Patient]
) -> None:
    groups = today.queue(me, NOW, ScreeningRules())

    assert consent_groups(groups) == {
        "consents-expiring": [
            ("Berg", "Employer ends 2026-06-25"),
            ("Dahl", "Employer (ICA Maxi) ends 2026-06-29"),
        ],
        "active-without-consent": [("Ivarsson", "Withdrawn"), ("Jung", "Expired")],
    }
    titles = {group.key: group.title for group in groups if group.key in CONSENT_GROUPS}
    assert titles == {
        "consents-expiring": "Consents ending within 14 days",
        "active-without-consent": "Active cases without a valid coordination consent",
    }


def test_without_such_consents_the_groups_are_not_shown(
    me: Actor, world: World, patient: Patient
) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1), until=date(2026, 7, 5))
    give(me, patient, ConsentKind.COORDINATION, june(1))
    cases.activate(me, patient)

    assert consent_groups(today.queue(me, NOW, ScreeningRules())) == {}


def test_the_notice_period_is_the_configured_one(
    app: Flask, me: Actor, scenario: dict[str, Patient]
) -> None:
    app.config["CONSENT_EXPIRY_NOTICE_DAYS"] = 10

    groups = today.queue(me, NOW, ScreeningRules())

    (expiring,) = [group for group in groups if group.key == "consents-expiring"]
    assert expiring.title == "Consents ending within 10 days"
    assert consent_groups(groups)["consents-expiring"] == [("Berg", "Employer ends 2026-06-25")]


_SECTION = re.compile(r'<section class="card" id="([\w-]+)">(.*?)</section>', re.DOTALL)
_PATIENT_LINK = re.compile(r'href="/patients/([0-9a-f-]{36})"')


def test_the_today_page_shows_the_consent_groups(
    app: Flask,
    world: World,
    frozen: time_machine.Traveller,
    signed_in_client: Callable[..., FlaskClient],
) -> None:
    with app.app_context():
        uid = {name: str(p.uid) for name, p in make_scenario(frozen, world).items()}
    client = signed_in_client(world.coordinator_a)

    response = client.get("/")

    assert response.status_code == 200
    sections = {key: body for key, body in _SECTION.findall(response.text)}
    assert _PATIENT_LINK.findall(sections["consents-expiring"]) == [uid["Berg"], uid["Dahl"]]
    assert _PATIENT_LINK.findall(sections["active-without-consent"]) == [
        uid["Ivarsson"],
        uid["Jung"],
    ]
    assert "Samtycken som upphör inom 14 dagar" in sections["consents-expiring"]
    assert "Arbetsgivare upphör 2026-06-25" in sections["consents-expiring"]
    assert "Arbetsgivare (ICA Maxi) upphör 2026-06-29" in sections["consents-expiring"]
    assert "Återkallat" in sections["active-without-consent"]
    assert "Upphört" in sections["active-without-consent"]
