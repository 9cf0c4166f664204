"""The caseload list: scopes, filters, Swedish name order, paging, the access log, and a
constant number of queries however large the unit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from coordinator.journal.models import AccessAction
from coordinator.patients import caseload, cases
from coordinator.patients.caseload import Filters, FollowUpFilter, Page, Scope, Sort, StatusFilter
from coordinator.patients.models import CaseStatus, ScreeningDecision
from coordinator.patients.screening import ScreeningRules, Signal
from coordinator.patients.sickleave import DEGREES, LENGTH_BANDS
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.factories import PatientFactory, UnitFactory, UserFactory
from tests.patients.support import (
    TODAY,
    access_log,
    activate,
    certify,
    last_access_seq,
    register,
)

pytestmark = pytest.mark.usefixtures("frozen")

RULES = ScreeningRules()


@pytest.fixture
def colleague(world: World, context: None) -> Actor:
    unit = db.session.get(CareUnit, world.unit_a.id)
    return actor_for(UserFactory(username="koord.a2", units=[unit]), world.unit_a)


@pytest.fixture
def unit(me: Actor, colleague: Actor) -> None:
    """Unit A on Monday 15 June 2026: twelve patients besides the world's Tolvansson (whose
    case is new and unassigned, and who has no certificate). Day counts are as of today."""
    d = date
    # Mine, active: day 15, mental ill-health; follow-up today.
    andersson = register(me, "Andersson", "Anna")
    certify(me, andersson, d(2026, 6, 1), d(2026, 7, 15), 100, "F43.2")
    activate(me, andersson)
    cases.set_follow_up(me, andersson, TODAY)
    # Mine, new: day 88 (day 90 on 17 June), long-term pain, 50 %.
    zetterberg = register(me, "Zetterberg", "Zack")
    certify(me, zetterberg, d(2026, 3, 20), d(2026, 7, 31), 50, "M54.5")
    # Mine, offered: day 6 at 75 %; follow-up on Saturday.
    aberg = register(me, "Åberg", "Åsa")
    certify(me, aberg, d(2026, 6, 10), d(2026, 6, 30), 75, "J06.9")
    cases.decide_screening(me, aberg, ScreeningDecision.OFFER, "Vill ha stöd.")
    cases.set_follow_up(me, aberg, d(2026, 6, 20))
    # The colleague's, active: day 197 (osteoarthritis); follow-up overdue since yesterday.
    arlig = register(colleague, "Ärlig", "Ärla")
    certify(colleague, arlig, d(2025, 12, 1), d(2026, 8, 31), 100, "M17.1")
    activate(colleague, arlig)
    cases.set_follow_up(colleague, arlig, TODAY - timedelta(days=1))
    # Nobody's yet: day 46 at 25 %, depression.
    ostlund = register(me, "Östlund", "Örjan", assign_to_actor=False)
    certify(me, ostlund, d(2026, 5, 1), d(2026, 6, 30), 25, "F32.1")
    # Mine, closed: declined coordination (still sick-listed).
    berg = register(me, "Berg", "Bo")
    certify(me, berg, d(2026, 5, 20), d(2026, 6, 20), 100, "F43.2")
    cases.decide_screening(me, berg, ScreeningDecision.DECLINED, "Vill inte.")
    # Mine, new, no certificate.
    register(me, "Lind", "Lars")
    # Mine, new: day 380, long-term pain; every milestone passed.
    nystrom = register(me, "Nyström", "Nils")
    certify(me, nystrom, d(2025, 6, 1), d(2026, 7, 31), 100, "M54.5")
    # Mine, active, protected identity: day 32 at 50 %, anxiety.
    ek = register(me, "Ek", "Eva", is_protected=True)
    certify(me, ek, d(2026, 5, 15), d(2026, 6, 30), 50, "F41.1")
    activate(me, ek)
    # Mine, new: sick leave ended on 31 May.
    holm = register(me, "Holm", "Hanna")
    certify(me, holm, d(2026, 4, 1), d(2026, 5, 31), 100, "F43.2")
    # Mine, new: day 11, and sick-listed last October too (recurrent).
    dahl = register(me, "Dahl", "Dan")
    certify(me, dahl, d(2025, 10, 1), d(2025, 10, 31), 100, "J06.9")
    certify(me, dahl, d(2026, 6, 5), d(2026, 6, 30), 100, "J06.9")
    # The colleague's, new: day 173 (day 180 on 22 June), a fracture.
    karlsson = register(colleague, "Karlsson", "Karin")
    certify(colleague, karlsson, d(2025, 12, 25), d(2026, 7, 31), 100, "S82.0")
    db.session.commit()


def listing(actor: Actor, page_size: int = 50, **filters: object) -> Page:
    return caseload.caseload(actor, Filters(**filters), TODAY, RULES, page_size)  # type: ignore[arg-type]


def names(page: Page) -> list[str]:
    return [row.patient.last_name for row in page.rows if row.patient is not None]


def test_the_scope_and_status_choose_whose_cases_are_listed(me: Actor, unit: None) -> None:
    shown = {
        (scope.value, status.value): names(listing(me, scope=scope, status=status))
        for scope, status in [
            (Scope.MINE, StatusFilter.OPEN),
            (Scope.MINE, StatusFilter.ALL),
            (Scope.UNASSIGNED, StatusFilter.OPEN),
            (Scope.UNIT, StatusFilter.CLOSED),
            (Scope.UNIT, StatusFilter.NEW),
            (Scope.UNIT, StatusFilter.OFFERED),
            (Scope.UNIT, StatusFilter.ACTIVE),
        ]
    }

    assert shown == {
        ("mine", "open"):
            ["Andersson", "Dahl", "Holm", "Lind", "Nyström", "Zetterberg", "Åberg", "Ek"],
        ("mine", "all"):
            ["Andersson", "Berg", "Dahl", "Holm", "Lind", "Nyström", "Zetterberg", "Åberg", "Ek"],
        ("unassigned", "open"): ["Tolvansson", "Östlund"],
        ("unit", "closed"): ["Berg"],
        ("unit", "new"): ["Dahl", "Holm", "Karlsson", "Lind", "Nyström", "Tolvansson",
                          "Zetterberg", "Östlund"],
        ("unit", "offered"): ["Åberg"],
        ("unit", "active"): ["Andersson", "Ärlig", "Ek"],
    }  # fmt: skip


def test_the_whole_unit_in_swedish_order_with_protected_identities_last(
    me: Actor, unit: None
) -> None:
    page = listing(me, scope=Scope.UNIT, status=StatusFilter.ALL)

    assert names(page) == [
        "Andersson", "Berg", "Dahl", "Holm", "Karlsson", "Lind", "Nyström", "Tolvansson",
        "Zetterberg", "Åberg", "Ärlig", "Östlund", "Ek",
    ]  # fmt: skip
    assert [row.is_protected for row in page.rows][-2:] == [False, True]
    assert (page.total, page.page, page.pages) == (13, 1, 1)


def test_another_units_coordinator_sees_only_their_own_units_patients(
    world: World, unit: None
) -> None:
    other = actor_for(world.coordinator_b, world.unit_b)

    assert names(listing(other, scope=Scope.UNIT, status=StatusFilter.ALL)) == ["Elvasson"]


def test_the_signal_filter_keeps_the_open_cases_with_that_signal_today(
    me: Actor, unit: None
) -> None:
    shown = {signal: names(listing(me, scope=Scope.UNIT, signal=signal)) for signal in Signal}

    assert shown == {
        Signal.SICK_LISTED_LONG:
            ["Andersson", "Karlsson", "Nyström", "Zetterberg", "Ärlig", "Östlund", "Ek"],
        Signal.EXPECTED_LONG: ["Karlsson", "Nyström", "Zetterberg", "Ärlig", "Östlund"],
        Signal.RECURRENT: ["Dahl"],
        Signal.MENTAL_ILL_HEALTH: ["Andersson", "Östlund", "Ek"],  # not Berg: closed
        Signal.LONG_TERM_PAIN: ["Nyström", "Zetterberg"],
        Signal.APPROACHING_DAY_90: ["Zetterberg"],
        Signal.APPROACHING_DAY_180: ["Karlsson"],
    }  # fmt: skip


def test_the_length_band_counts_todays_sick_leave_day(me: Actor, unit: None) -> None:
    shown = {low: names(listing(me, scope=Scope.UNIT, band_start=low)) for low, _ in LENGTH_BANDS}

    assert shown == {
        1: ["Dahl", "Åberg"],  # days 11 and 6; not those at day 0 (no sick leave today)
        15: ["Andersson"],  # day 15
        29: ["Zetterberg", "Östlund", "Ek"],  # days 88, 46 and 32
        91: ["Karlsson"],  # day 173
        181: ["Ärlig"],  # day 197
        366: ["Nyström"],  # day 380
    }


def test_the_degree_filter_uses_the_degree_of_the_last_certified_day(me: Actor, unit: None) -> None:
    shown = {degree: names(listing(me, scope=Scope.UNIT, degree=degree)) for degree in DEGREES}

    assert shown == {
        25: ["Östlund"],
        50: ["Zetterberg", "Ek"],
        75: ["Åberg"],
        100: ["Andersson", "Dahl", "Holm", "Karlsson", "Nyström", "Ärlig"],
    }


def test_the_diagnosis_group_filter_uses_the_latest_certificates_diagnosis(
    me: Actor, unit: None
) -> None:
    groups = ["mental_ill_health", "long_term_pain", "musculoskeletal", "mental", "other"]

    shown = {group: names(listing(me, scope=Scope.UNIT, group=group)) for group in groups}

    assert shown == {
        "mental_ill_health": ["Andersson", "Holm", "Östlund", "Ek"],  # Holm's has ended
        "long_term_pain": ["Nyström", "Zetterberg"],
        "musculoskeletal": ["Nyström", "Zetterberg", "Ärlig"],
        "mental": ["Andersson", "Holm", "Östlund", "Ek"],
        "other": ["Karlsson"],
    }


def test_the_follow_up_filter(me: Actor, unit: None) -> None:
    shown = {
        choice: names(listing(me, scope=Scope.UNIT, follow_up=choice)) for choice in FollowUpFilter
    }

    assert shown == {
        FollowUpFilter.DUE: ["Andersson", "Ärlig"],  # today; yesterday
        FollowUpFilter.WEEK: ["Andersson", "Åberg"],  # today; Saturday
        FollowUpFilter.NONE: ["Dahl", "Holm", "Karlsson", "Lind", "Nyström", "Tolvansson",
                              "Zetterberg", "Östlund", "Ek"],
    }  # fmt: skip


def test_sorting_by_length_puts_the_longest_sick_leave_first(me: Actor, unit: None) -> None:
    page = listing(me, scope=Scope.UNIT, sort=Sort.LENGTH, descending=True)

    assert [(name, row.days) for name, row in zip(names(page), page.rows, strict=True)][:9] == [
        ("Nyström", 380), ("Ärlig", 197), ("Karlsson", 173), ("Zetterberg", 88),
        ("Östlund", 46), ("Ek", 32), ("Andersson", 15), ("Dahl", 11), ("Åberg", 6),
    ]  # fmt: skip
    assert set(names(page)[9:]) == {"Holm", "Lind", "Tolvansson"}  # not sick-listed today


def test_sorting_by_milestone_puts_the_nearest_first_and_those_without_one_last(
    me: Actor, unit: None
) -> None:
    page = listing(me, scope=Scope.UNIT, sort=Sort.MILESTONE)

    assert [(name, row.milestone) for name, row in zip(names(page), page.rows, strict=True)][
        :8
    ] == [
        ("Zetterberg", (90, date(2026, 6, 17))),
        ("Karlsson", (180, date(2026, 6, 22))),
        ("Östlund", (90, date(2026, 7, 29))),
        ("Ek", (90, date(2026, 8, 12))),
        ("Andersson", (90, date(2026, 8, 29))),
        ("Dahl", (90, date(2026, 9, 2))),
        ("Åberg", (90, date(2026, 9, 7))),
        ("Ärlig", (365, date(2026, 11, 30))),
    ]
    assert set(names(page)[8:]) == {"Nyström", "Holm", "Lind", "Tolvansson"}


def test_a_page_of_five_and_a_page_beyond_the_end_shows_the_last_one(me: Actor, unit: None) -> None:
    second = listing(me, page_size=5, scope=Scope.UNIT, status=StatusFilter.ALL, page=2)
    beyond = listing(me, page_size=5, scope=Scope.UNIT, status=StatusFilter.ALL, page=9)
    before_the_first = listing(me, page_size=5, scope=Scope.UNIT, status=StatusFilter.ALL, page=0)

    assert names(second) == ["Lind", "Nyström", "Tolvansson", "Zetterberg", "Åberg"]
    assert (second.total, second.page, second.pages) == (13, 2, 3)
    assert names(beyond) == ["Ärlig", "Östlund", "Ek"]
    assert (beyond.page, beyond.pages) == (3, 3)
    assert names(before_the_first)[0] == "Andersson"
    assert before_the_first.page == 1


def test_exactly_the_patients_on_the_page_are_logged_as_read(me: Actor, unit: None) -> None:
    mark = last_access_seq()

    page = listing(me, page_size=5, scope=Scope.UNIT, status=StatusFilter.ALL, page=2)

    shown = [row.patient for row in page.rows if row.patient is not None]
    assert [
        (e.patient_id, e.action, e.object_type, e.object_id, e.user_id) for e in access_log(mark)
    ] == [(p.id, AccessAction.READ, "patient", p.uid.hex, me.user.id) for p in shown]


def test_an_empty_list_reads_and_logs_nothing(me: Actor, unit: None) -> None:
    mark = last_access_seq()

    page = listing(me, scope=Scope.UNASSIGNED, status=StatusFilter.CLOSED)

    assert (page.rows, page.total, page.page, page.pages) == ([], 0, 1, 1)
    assert access_log(mark) == []


def test_a_row_carries_todays_day_count_next_milestone_and_signals(me: Actor, unit: None) -> None:
    (row,) = listing(me, scope=Scope.UNIT, signal=Signal.APPROACHING_DAY_90).rows

    assert row.patient is not None
    assert row.case is not None
    assert (row.days, row.milestone, row.status, row.coordinator_id) == (
        88,
        (90, date(2026, 6, 17)),
        CaseStatus.NEW,
        me.user.id,
    )
    assert row.signals == [
        Signal.SICK_LISTED_LONG,
        Signal.EXPECTED_LONG,
        Signal.LONG_TERM_PAIN,
        Signal.APPROACHING_DAY_90,
    ]
    assert (row.summary.diagnosis_code, row.case.patient_id) == ("M54.5", row.patient.id)


# -- Queries -------------------------------------------------------------------------------


def _fill(unit: CareUnit, count: int) -> None:
    """``count`` sick-listed patients with new cases, written straight through the factories."""
    for n in range(count):
        PatientFactory(
            unit_id=unit.id,
            sick_leave_start=date(2026, 5, 1),
            sick_leave_end=date(2026, 7, 31),
            sick_leave_days=92,
            sick_leave_degree=100,
            day_90_on=date(2026, 7, 29),
            day_180_on=date(2026, 10, 27),
            day_365_on=date(2027, 4, 27),
            diagnosis="F43.2",
            is_protected=n % 10 == 0,
        )


@pytest.mark.parametrize("size", [10, 120])
def test_the_list_takes_five_statements_however_many_patients_the_unit_has(
    context: None, size: int
) -> None:
    unit = UnitFactory()
    _fill(unit, size)
    actor = actor_for(UserFactory(units=[unit]), unit)
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = listing(actor, scope=Scope.UNIT, sort=Sort.NAME)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert (page.total, len(page.rows)) == (size, min(size, 50))
    # 1. the plain columns (and sealed name and diagnosis) of every patient of the unit;
    # 2. the page's patients with their latest cases (and coordinators, joined);
    # 3.-5. the access-log append for the page: the chain head moved on by the page's
    #    length, the entries inserted in one executemany, the head's hash set.
    assert len(sent) == 5
    assert sent == [
        "SELECT patients.id, patients.uid,",
        "SELECT patients.id, patients.unit_id,",
        "UPDATE journal_heads SET",
        "INSERT INTO access_log",
        "UPDATE journal_heads SET",
    ]
