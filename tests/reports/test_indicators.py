"""The indicator table of unit A for April–June 2026 (TODAY is 15 June, so shares are counted
on 15 June) and the same period of 2025, from a small history written through the services
with the clock moved to each day it happened. Targets and the population through their forms.

Plans (cases activated, plans agreed and followed up):

======  ==========================================================================
Lund    activated 1 May 2025, certificate 1 Apr–30 Jun 2025, plan agreed 1 May
        2025, followed up 10 Jun 2025, plan ended 1 Sep 2025, case closed 1 Oct 2025
Ahl     activated 1 May, plan agreed 1 May, followed up 1 Jun
Berg    activated 1 May, plan agreed 1 May, never followed up
Cal     activated 1 Jun, a draft plan nobody has agreed to
Dun     activated 1 May, no plan, case closed 10 Jun
Ebb     activated 1 May, plan agreed 1 May, ended at the follow-up of 5 Jun
Falk    activated 10 Jun, plan agreed 10 Jun, followed up 12 Jun
======  ==========================================================================

Sick leave and screening (no case of theirs is activated):

======  ===================================  ======================  ================
Sara    1 Apr–30 Jun                          offered 1 May           30 days
Siv     1–20 May (20 days: not over 28)       –
Sune    10 Apr–30 Jun                         never screened
Svea    1 Mar–15 Apr                          declined 10 Jan 2026, case closed then
Sten    1 May–30 Jun                          "not needed" 1 Jun      31 days
Stig    no certificate                        offered 10 May          (no sick leave)
Sam     27 May–30 Jun                         offered 10 Jun          14 days
Selma   5–31 Jan, 20 Apr–10 May               offered 21 May          31 days (the
                                                                      latest case)
======  ===================================  ======================  ================

Expected, April–June 2026 (reference day 15 June):

- plan coverage: active on 15 June Ahl, Berg, Cal, Ebb, Falk (Dun and Lund closed); with a
  current plan Ahl, Berg, Falk: 3/5 = 60.0 %;
- coordination decided: sick-leave cases over 28 days Sara (91), Sune (82), Svea (46), Sten
  (61), Sam (35); decided Sara, Sten, Sam: 3/5 = 60.0 %;
- days to first contact: screened in the period Sara, Stig, Sten, Sam, Selma; with a sick
  leave 30, 31, 14, 31 days: median 30.5 (4 of 5);
- plans followed up: current plans Ahl, Berg, Falk; followed up since 17 May Ahl, Falk:
  2/3 = 66.7 %.

Last year (April–June 2025, reference day 30 June 2025): Lund's plan covers his active case
(100.0 %); his 91-day sick leave had no screening (0.0 %); nobody was screened (no median);
his plan was followed up on 10 June (100.0 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.errors import InvalidField, NotFound
from coordinator.extensions import db
from coordinator.patients import cases
from coordinator.patients.models import CaseOutcome, Patient, ScreeningDecision
from coordinator.plans import service as plans
from coordinator.plans.models import AgreementMethod
from coordinator.reports import settings
from coordinator.reports.indicators import IndicatorRow, Status, indicators, status_of
from coordinator.reports.models import DEFAULT_TARGETS, Indicator, IndicatorTarget, UnitPopulation
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.factories import UnitFactory
from tests.helpers import csrf_token, flashes
from tests.patients.support import NOW, TODAY, activate, at, certify, register
from tests.plans.support import measure, plan_input

I = Indicator  # noqa: E741 (short for the tables below)
APRIL, END_OF_JUNE = date(2026, 4, 1), date(2026, 6, 30)


def _on(year: int, month: int, day: int) -> datetime:
    return at(date(year, month, day))


def _agreed_plan(me: Actor, patient: Patient, on: date, next_on: date) -> None:
    plan = plan_input(measure(), starts_on=on, target_on=date(on.year, 12, 31))
    plans.save(me, patient, plan)
    plans.agree(me, patient, 1, plans.Agreement(on, AgreementMethod.MEETING, next_on))


def _follow_up(me: Actor, patient: Patient, on: date, next_on: date | None) -> None:
    entry = plans.FollowUpInput(on, "Uppföljning.", next_on, end_plan=next_on is None)
    plans.follow_up(me, patient, entry)


def _screen(me: Actor, patient: Patient, decision: ScreeningDecision) -> None:
    cases.decide_screening(me, patient, decision, "Bedömning.")


def build_history(world: World, clock: time_machine.Traveller) -> None:
    """The history of the module docstring (in an app context; commits; ends at NOW)."""
    me = actor_for(world.coordinator_a, world.unit_a)
    p: dict[str, Patient] = {}

    clock.move_to(_on(2025, 5, 1))
    p["Lund"] = register(me, "Lund")
    activate(me, p["Lund"])
    _agreed_plan(me, p["Lund"], date(2025, 5, 1), date(2025, 5, 20))
    clock.move_to(_on(2025, 6, 10))
    _follow_up(me, p["Lund"], date(2025, 6, 10), date(2025, 7, 10))
    clock.move_to(_on(2025, 9, 1))
    _follow_up(me, p["Lund"], date(2025, 9, 1), None)
    clock.move_to(_on(2025, 10, 1))
    cases.close(me, p["Lund"], CaseOutcome.RETURNED_FULL_TIME, date(2025, 10, 1))

    clock.move_to(_on(2026, 1, 5))
    p["Svea"] = register(me, "Svea")
    p["Selma"] = register(me, "Selma")
    clock.move_to(_on(2026, 1, 10))
    _screen(me, p["Svea"], ScreeningDecision.DECLINED)

    clock.move_to(_on(2026, 5, 1))
    for name in ("Ahl", "Berg", "Dun", "Ebb"):
        p[name] = register(me, name)
        activate(me, p[name])
    for name in ("Ahl", "Berg", "Ebb"):
        _agreed_plan(me, p[name], date(2026, 5, 1), date(2026, 5, 20))
    for name in ("Sara", "Siv", "Sune", "Sten", "Stig", "Sam"):
        p[name] = register(me, name)
    _screen(me, p["Sara"], ScreeningDecision.OFFER)
    clock.move_to(_on(2026, 5, 10))
    _screen(me, p["Stig"], ScreeningDecision.OFFER)
    clock.move_to(_on(2026, 5, 21))
    _screen(me, p["Selma"], ScreeningDecision.OFFER)

    clock.move_to(_on(2026, 6, 1))
    p["Cal"] = register(me, "Cal")
    activate(me, p["Cal"])
    plans.save(me, p["Cal"], plan_input(starts_on=date(2026, 6, 1)))
    _follow_up(me, p["Ahl"], date(2026, 6, 1), date(2026, 7, 1))
    _screen(me, p["Sten"], ScreeningDecision.NOT_NEEDED)
    clock.move_to(_on(2026, 6, 5))
    _follow_up(me, p["Ebb"], date(2026, 6, 5), None)
    clock.move_to(_on(2026, 6, 10))
    cases.close(me, p["Dun"], CaseOutcome.RETURNED_FULL_TIME, date(2026, 6, 10))
    p["Falk"] = register(me, "Falk")
    activate(me, p["Falk"])
    _agreed_plan(me, p["Falk"], date(2026, 6, 10), date(2026, 6, 24))
    _screen(me, p["Sam"], ScreeningDecision.OFFER)
    clock.move_to(_on(2026, 6, 12))
    _follow_up(me, p["Falk"], date(2026, 6, 12), date(2026, 6, 26))

    clock.move_to(NOW)
    for name, start, end in (
        ("Lund", date(2025, 4, 1), date(2025, 6, 30)),
        ("Sara", date(2026, 4, 1), date(2026, 6, 30)),
        ("Siv", date(2026, 5, 1), date(2026, 5, 20)),
        ("Sune", date(2026, 4, 10), date(2026, 6, 30)),
        ("Svea", date(2026, 3, 1), date(2026, 4, 15)),
        ("Sten", date(2026, 5, 1), date(2026, 6, 30)),
        ("Sam", date(2026, 5, 27), date(2026, 6, 30)),
        ("Selma", date(2026, 1, 5), date(2026, 1, 31)),
        ("Selma", date(2026, 4, 20), date(2026, 5, 10)),
    ):
        certify(me, p[name], start, end, 100, "F43.2")
    db.session.commit()


@dataclass(frozen=True)
class Figures:
    result: float | None
    numerator: int
    denominator: int
    last_year: float | None


def figures(rows: list[IndicatorRow]) -> dict[Indicator, Figures]:
    return {r.indicator: Figures(r.result, r.numerator, r.denominator, r.last_year) for r in rows}


@pytest.fixture
def history(frozen: time_machine.Traveller, world: World, context: None) -> None:
    build_history(world, frozen)


# -- Figures -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("history")
def test_each_indicator_against_the_hand_counted_figures(unit_a: CareUnit) -> None:
    rows = indicators(unit_a, APRIL, END_OF_JUNE, TODAY)

    assert [row.indicator for row in rows] == list(Indicator)
    assert figures(rows) == {
        I.PLAN_COVERAGE: Figures(60.0, 3, 5, 100.0),
        I.COORDINATION_DECIDED: Figures(60.0, 3, 5, 0.0),
        I.DAYS_TO_FIRST_CONTACT: Figures(30.5, 4, 5, None),
        I.PLAN_FOLLOWED_UP: Figures(66.7, 2, 3, 100.0),
    }


@pytest.mark.usefixtures("history")
def test_a_past_period_is_counted_as_things_stood_on_its_last_day(unit_a: CareUnit) -> None:
    """April–May, reference day 31 May: Dun (closed 10 June) was still active and Ebb's plan
    (ended 5 June) still current; Cal and Falk were not yet active; no plan had been followed
    up since 2 May. Sick leave to 31 May: Sara 61, Sune 52, Svea 46 and Sten 31 days (Sam's 5
    are too few); only Sara was screened by then. Screened April–May: Sara (30 days), Stig
    (none), Selma (31 days)."""
    rows = indicators(unit_a, APRIL, date(2026, 5, 31), TODAY)

    assert {row.indicator: (row.result, row.numerator, row.denominator) for row in rows} == {
        I.PLAN_COVERAGE: (75.0, 3, 4),
        I.COORDINATION_DECIDED: (25.0, 1, 4),
        I.DAYS_TO_FIRST_CONTACT: (30.5, 2, 3),
        I.PLAN_FOLLOWED_UP: (0.0, 0, 3),
    }


@pytest.mark.usefixtures("history")
def test_with_the_default_targets_nothing_is_met(unit_a: CareUnit) -> None:
    rows = indicators(unit_a, APRIL, END_OF_JUNE, TODAY)

    assert {row.indicator: (row.target, row.status) for row in rows} == {
        I.PLAN_COVERAGE: (90, Status.NOT_MET),
        I.COORDINATION_DECIDED: (80, Status.NOT_MET),
        I.DAYS_TO_FIRST_CONTACT: (14, Status.NOT_MET),
        I.PLAN_FOLLOWED_UP: (80, Status.NOT_MET),
    }


@pytest.mark.usefixtures("history")
def test_the_unit_s_own_targets_decide_met_and_partly(unit_a: CareUnit, manager: Actor) -> None:
    """60.0 % against 60 is met, against 70 partly (not more than 10 points short); a median
    of 30.5 days against 24 is partly (within 7 days); 66.7 % against 76 is partly."""
    for indicator, target in zip(Indicator, (60, 70, 24, 76), strict=True):
        settings.set_target(manager, unit_a.id, indicator, target)

    rows = indicators(unit_a, APRIL, END_OF_JUNE, TODAY)

    assert {row.indicator: (row.target, row.status) for row in rows} == {
        I.PLAN_COVERAGE: (60, Status.MET),
        I.COORDINATION_DECIDED: (70, Status.PARTLY),
        I.DAYS_TO_FIRST_CONTACT: (24, Status.PARTLY),
        I.PLAN_FOLLOWED_UP: (76, Status.PARTLY),
    }


def test_a_unit_with_nothing_to_count_has_no_data(
    frozen: time_machine.Traveller, unit_b: CareUnit
) -> None:
    rows = indicators(unit_b, APRIL, END_OF_JUNE, TODAY)

    assert [(row.result, row.status, row.last_year) for row in rows] == [
        (None, Status.NO_DATA, None)
    ] * 4


@pytest.mark.parametrize(
    ("indicator", "target", "result", "status"),
    [
        (I.PLAN_COVERAGE, 80, 80.0, Status.MET),
        (I.PLAN_COVERAGE, 80, 79.9, Status.PARTLY),
        (I.PLAN_COVERAGE, 80, 70.0, Status.PARTLY),
        (I.PLAN_COVERAGE, 80, 69.9, Status.NOT_MET),
        (I.PLAN_FOLLOWED_UP, 0, 0.0, Status.MET),
        (I.DAYS_TO_FIRST_CONTACT, 14, 14.0, Status.MET),
        (I.DAYS_TO_FIRST_CONTACT, 14, 14.5, Status.PARTLY),
        (I.DAYS_TO_FIRST_CONTACT, 14, 21.0, Status.PARTLY),
        (I.DAYS_TO_FIRST_CONTACT, 14, 21.5, Status.NOT_MET),
        (I.COORDINATION_DECIDED, 80, None, Status.NO_DATA),
        (I.DAYS_TO_FIRST_CONTACT, 14, None, Status.NO_DATA),
    ],
)
def test_status_bounds(indicator: Indicator, target: int, result: float | None,
                       status: Status) -> None:  # fmt: skip
    assert status_of(indicator, target, result) is status


# -- Targets and population through the service -------------------------------------------------


def _targets_kept() -> list[tuple[int, Indicator, int]]:
    rows = db.session.execute(
        select(IndicatorTarget.unit_id, IndicatorTarget.indicator, IndicatorTarget.target)
        .order_by(IndicatorTarget.id)
    ).all()  # fmt: skip
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_target_out_of_range_is_refused(
    frozen: time_machine.Traveller, manager: Actor, unit_a: CareUnit
) -> None:
    for indicator, value in ((I.PLAN_COVERAGE, 101), (I.PLAN_FOLLOWED_UP, -1),
                             (I.DAYS_TO_FIRST_CONTACT, 366)):  # fmt: skip
        with pytest.raises(InvalidField) as refused:
            settings.set_target(manager, unit_a.id, indicator, value)
        assert refused.value.field == indicator.value

    assert _targets_kept() == []
    assert settings.targets(unit_a.id) == DEFAULT_TARGETS


def test_targets_and_population_are_only_for_the_manager_s_own_units(
    frozen: time_machine.Traveller, manager: Actor
) -> None:
    elsewhere = UnitFactory(name="Vårdcentralen Öster")

    with pytest.raises(NotFound):
        settings.set_target(manager, elsewhere.id, I.PLAN_COVERAGE, 50)
    with pytest.raises(NotFound):
        settings.set_population(manager, elsewhere.id, 1000)


# -- The page and its forms ----------------------------------------------------------------------


@pytest.fixture
def built(frozen: time_machine.Traveller, app: Flask, world: World) -> None:
    with app.app_context():
        build_history(world, frozen)


_ROW = re.compile(
    r'<tr data-indicator="(\w+)">\s*<td>([^<]+)</td>\s*<td class="num target">([^<]+)</td>\s*'
    r'<td class="num result">(.*?)</td>\s*<td class="status status-(\w+)">([^<]+)</td>\s*'
    r'<td class="num last-year">([^<]+)</td>',
    re.S,
)


def indicator_table(text: str) -> dict[str, tuple[str, str, str, str, str]]:
    """By indicator: target, result (tags stripped), status class, status text, last year."""
    return {
        key: (target, re.sub(r"<[^>]+>", "", result), status, label, last)
        for key, _, target, result, status, label, last in _ROW.findall(text)
    }


PAGE = "/reports/indicators?unit={unit}&start=2026-04-01&end=2026-06-30"


@pytest.mark.usefixtures("built")
def test_the_indicator_page_shows_target_result_status_and_last_year(
    manager_client: FlaskClient, world: World
) -> None:
    page = manager_client.get(PAGE.format(unit=world.unit_a.id))

    assert page.status_code == 200
    assert indicator_table(page.text) == {
        "plan_coverage": ("≥ 90 %", "60 % (3/5)", "not_met", "Ej uppfyllt", "100 %"),
        "coordination_decided": ("≥ 80 %", "60 % (3/5)", "not_met", "Ej uppfyllt", "0 %"),
        "days_to_first_contact": ("≤ 14 dagar", "30.5 dagar", "not_met", "Ej uppfyllt", "–"),
        "plan_followed_up": ("≥ 80 %", "66.7 % (2/3)", "not_met", "Ej uppfyllt", "100 %"),
    }


def _post(client: FlaskClient, path: str, data: dict[str, str], unit: int) -> TestResponse:
    token = csrf_token(client, PAGE.format(unit=unit))
    return client.post(f"{path}?unit={unit}", data={"csrf_token": token, **data})


def _targets_form(coverage: str, decided: str = "80", days: str = "14",
                  followed: str = "80") -> dict[str, str]:  # fmt: skip
    return {"plan_coverage": coverage, "coordination_decided": decided,
            "days_to_first_contact": days, "plan_followed_up": followed}  # fmt: skip


def _kept(app: Flask) -> tuple[list[tuple[int, Indicator, int]], list[tuple[int, int, int]]]:
    """The target rows, and the population rows (unit, population, set by)."""
    with app.app_context():
        populations = db.session.execute(
            select(UnitPopulation.unit_id, UnitPopulation.population, UnitPopulation.set_by_id)
            .order_by(UnitPopulation.id)
        ).all()  # fmt: skip
        return _targets_kept(), [tuple(row) for row in populations]  # type: ignore[misc]


@pytest.mark.usefixtures("built")
def test_targets_saved_twice_are_kept_as_history_and_the_latest_is_in_force(
    app: Flask, manager_client: FlaskClient, world: World
) -> None:
    unit = world.unit_a.id
    first = _post(manager_client, "/reports/indicators/targets", _targets_form("60"), unit)
    second = _post(manager_client, "/reports/indicators/targets", _targets_form("55"), unit)

    back = f"/reports/indicators?unit={unit}"
    assert (first.status_code, first.headers["Location"]) == (302, back)
    assert second.status_code == 302
    # Only the changed target is written; the others equal the defaults.
    assert _kept(app)[0] == [(unit, I.PLAN_COVERAGE, 60), (unit, I.PLAN_COVERAGE, 55)]
    with app.app_context():
        assert settings.targets(unit) == {**DEFAULT_TARGETS, I.PLAN_COVERAGE: 55}
        assert db.session.scalar(select(func.count()).select_from(IndicatorTarget)) == 2
        assert {row.set_by_id for row in db.session.scalars(select(IndicatorTarget))} == {
            world.manager.id
        }
    page = manager_client.get(PAGE.format(unit=unit))
    assert flashes(page) == [("success", "Målen är sparade.")]
    coverage = indicator_table(page.text)["plan_coverage"]
    assert coverage[:4] == ("≥ 55 %", "60 % (3/5)", "met", "Uppfyllt")


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize(
    "form",
    [
        _targets_form("101"),
        _targets_form("90", days="366"),
        _targets_form("-5"),
        _targets_form("ninety"),
        _targets_form(""),
    ],
)
def test_bad_targets_change_nothing(
    form: dict[str, str], app: Flask, manager_client: FlaskClient, world: World
) -> None:
    response = _post(manager_client, "/reports/indicators/targets", form, world.unit_a.id)

    assert response.status_code == 302
    assert flashes(manager_client.get(PAGE.format(unit=world.unit_a.id))) == [
        ("error", "Kontrollera målen: andelar är 0–100 %, medianen 0–365 dagar.")
    ]
    assert _kept(app)[0] == []


@pytest.mark.usefixtures("built")
def test_the_population_is_saved_and_kept_as_history(
    app: Flask, manager_client: FlaskClient, world: World
) -> None:
    unit = world.unit_a.id
    first = _post(manager_client, "/reports/population", {"population": "24000"}, unit)
    second = _post(manager_client, "/reports/population", {"population": "24500"}, unit)

    assert (first.status_code, second.status_code) == (302, 302)
    assert _kept(app)[1] == [(unit, 24000, world.manager.id), (unit, 24500, world.manager.id)]
    with app.app_context():
        assert settings.populations([unit, world.unit_b.id]) == {unit: 24500}
    page = manager_client.get(PAGE.format(unit=unit))
    assert flashes(page) == [("success", "Befolkningen är sparad.")]
    shown = re.search(r'<input[^>]*name="population"[^>]*value="(\d+)"', page.text)
    assert shown is not None
    assert shown.group(1) == "24500"


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("value", ["0", "-1", "2000001", "many", "", "12.5"])
def test_a_bad_population_changes_nothing(
    value: str, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    response = _post(manager_client, "/reports/population", {"population": value}, world.unit_a.id)

    assert response.status_code == 302
    assert flashes(manager_client.get(PAGE.format(unit=world.unit_a.id))) == [
        ("error", "Ange befolkningen som ett heltal från 1 till 2 000 000.")
    ]
    assert _kept(app)[1] == []


def test_a_population_of_the_service_out_of_range_is_refused(
    frozen: time_machine.Traveller, manager: Actor, unit_a: CareUnit
) -> None:
    for value in (0, 2_000_001):
        with pytest.raises(InvalidField) as refused:
            settings.set_population(manager, unit_a.id, value)
        assert refused.value.field == "population"
    assert settings.populations([unit_a.id]) == {}


def test_the_forms_of_a_unit_that_is_not_the_manager_s_are_not_found(
    frozen: time_machine.Traveller, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    with app.app_context():
        elsewhere = UnitFactory(name="Vårdcentralen Öster").id
    token = csrf_token(manager_client, PAGE.format(unit=world.unit_a.id))

    page = manager_client.get(PAGE.format(unit=elsewhere))
    targets = manager_client.post(
        f"/reports/indicators/targets?unit={elsewhere}",
        data={"csrf_token": token, **_targets_form("50")},
    )
    population = manager_client.post(
        f"/reports/population?unit={elsewhere}", data={"csrf_token": token, "population": "900"}
    )

    assert (page.status_code, targets.status_code, population.status_code) == (404, 404, 404)
    assert _kept(app) == ([], [])
