"""Screening signals from a patient's stored sick-leave summary, at their thresholds."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from coordinator.patients.screening import ScreeningRules, SickLeaveSummary, Signal, signals

TODAY = date(2026, 6, 15)
RULES = ScreeningRules()  # the defaults: 14, 60, 365 and 14 days
NONE_YET = SickLeaveSummary(None, None, None, None, None, None, None, None)

LONG, EXPECTED = Signal.SICK_LISTED_LONG, Signal.EXPECTED_LONG


def unbroken(day_today: int, days_ahead: int = 0, code: str = "J06.9") -> SickLeaveSummary:
    """One unbroken certificate, on its day ``day_today`` today and running ``days_ahead``
    more days; the milestones where sickleave.SickLeaveCase puts them."""
    start = TODAY - timedelta(days=day_today - 1)
    end = TODAY + timedelta(days=days_ahead)
    days = day_today + days_ahead

    def reached(n: int) -> date:
        return start + timedelta(days=n - 1) if n <= days else end + timedelta(days=n - days)

    return SickLeaveSummary(
        start, end, days, 100, reached(90), reached(180), reached(365), None, code
    )


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        pytest.param(unbroken(15), [LONG], id="day-15"),
        pytest.param(unbroken(14), [], id="day-14"),
        pytest.param(unbroken(10, days_ahead=50), [EXPECTED], id="60-days-certified"),
        pytest.param(unbroken(10, days_ahead=49), [], id="59-days-certified"),
    ],
)
def test_sick_leave_over_14_days_or_certified_for_60_is_a_signal(
    summary: SickLeaveSummary, expected: list[Signal]
) -> None:
    assert signals(summary, TODAY, RULES) == expected


@pytest.mark.parametrize(("days_between", "expected"), [(365, [Signal.RECURRENT]), (366, [])])
def test_a_sick_leave_case_that_ended_within_a_year_before_this_one_makes_it_recurrent(
    days_between: int, expected: list[Signal]
) -> None:
    summary = unbroken(5)
    assert summary.start is not None
    earlier = replace(summary, previous_end=summary.start - timedelta(days=days_between))

    assert signals(earlier, TODAY, RULES) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("F32.1", [Signal.MENTAL_ILL_HEALTH]),
        ("M54.5", [Signal.LONG_TERM_PAIN]),
        ("J06.9", []),
        ("M17.1", []),  # osteoarthritis: musculoskeletal, but not the agreement's pain group
    ],
)
def test_mental_ill_health_and_long_term_pain_are_signals(
    code: str, expected: list[Signal]
) -> None:
    assert signals(unbroken(5, code=code), TODAY, RULES) == expected


@pytest.mark.parametrize(
    ("day_today", "expected"),
    [
        pytest.param(90, [LONG, EXPECTED, Signal.APPROACHING_DAY_90], id="day-90-today"),
        pytest.param(76, [LONG, EXPECTED, Signal.APPROACHING_DAY_90], id="in-14-days"),
        pytest.param(75, [LONG, EXPECTED], id="in-15-days"),
        pytest.param(91, [LONG, EXPECTED], id="yesterday"),
        pytest.param(170, [LONG, EXPECTED, Signal.APPROACHING_DAY_180], id="day-180-in-10"),
        pytest.param(165, [LONG, EXPECTED], id="day-180-in-15"),
    ],
)
def test_day_90_and_day_180_are_signals_from_14_days_ahead_to_the_day(
    day_today: int, expected: list[Signal]
) -> None:
    assert signals(unbroken(day_today, days_ahead=30), TODAY, RULES) == expected


def test_every_signal_at_once_comes_in_a_fixed_order() -> None:
    summary = unbroken(80, days_ahead=30, code="F43.8A")
    assert summary.start is not None
    summary = replace(summary, previous_end=summary.start - timedelta(days=30))

    assert signals(summary, TODAY, RULES) == [
        LONG,
        EXPECTED,
        Signal.RECURRENT,
        Signal.MENTAL_ILL_HEALTH,
        Signal.APPROACHING_DAY_90,
    ]


@pytest.mark.parametrize(
    "summary",
    [
        pytest.param(NONE_YET, id="never-sick-listed"),
        pytest.param(unbroken(89, days_ahead=-1, code="F32.1"), id="ended-yesterday"),
        pytest.param(
            replace(unbroken(89, code="F32.1"), start=TODAY + timedelta(days=1)),
            id="starts-tomorrow",
        ),
    ],
)
def test_a_patient_not_sick_listed_today_has_no_signals(summary: SickLeaveSummary) -> None:
    assert signals(replace(summary, previous_end=date(2026, 1, 1)), TODAY, RULES) == []


def test_the_rules_come_from_the_configuration() -> None:
    config = {
        "SCREENING_SICK_LISTED_DAYS": "21",
        "SCREENING_EXPECTED_LONG_DAYS": 90,
        "MILESTONE_NOTICE_DAYS": 7,
    }

    rules = ScreeningRules.from_config(config)

    assert rules == ScreeningRules(long_days=21, expected_long_days=90, milestone_notice_days=7)
    assert signals(unbroken(21), TODAY, rules) == []
    assert signals(unbroken(22), TODAY, rules) == [LONG]
    assert signals(unbroken(83), TODAY, rules) == [LONG, Signal.APPROACHING_DAY_90]
    assert signals(unbroken(82), TODAY, rules) == [LONG]
