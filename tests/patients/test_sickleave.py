"""Sick-leave cases from certificates: gap rule, overlaps, degrees, rehabilitation chain."""

from __future__ import annotations

from datetime import date

import pytest

from coordinator.patients.sickleave import Period, cases

JANUARY = Period(date(2026, 1, 1), date(2026, 1, 31), 100)


def test_five_days_without_a_certificate_still_make_one_case_and_six_make_two() -> None:
    after_five = Period(date(2026, 2, 6), date(2026, 2, 28), 50)
    after_six = Period(date(2026, 2, 7), date(2026, 2, 28), 50)

    joined = cases([after_five, JANUARY])
    split = cases([JANUARY, after_six])

    assert [case.periods for case in joined] == [(JANUARY, after_five)]
    assert [case.periods for case in split] == [(JANUARY,), (after_six,)]


def test_the_gap_is_a_setting_from_zero_to_ninety_days() -> None:
    next_day = Period(date(2026, 2, 1), date(2026, 2, 10), 100)
    one_day_later = Period(date(2026, 2, 2), date(2026, 2, 10), 100)

    assert len(cases([JANUARY, next_day], gap_days=0)) == 1
    assert len(cases([JANUARY, one_day_later], gap_days=0)) == 2
    assert len(cases([JANUARY, Period(date(2026, 5, 1), date(2026, 5, 2), 25)], 90)) == 1
    with pytest.raises(ValueError, match="the gap must be 0–90 days"):
        cases([JANUARY], gap_days=91)


def test_a_case_counts_certified_days_not_gap_days() -> None:
    (case,) = cases([JANUARY, Period(date(2026, 2, 6), date(2026, 2, 28), 50)])

    assert (case.start, case.end) == (date(2026, 1, 1), date(2026, 2, 28))
    assert case.covered_days() == 31 + 23
    assert case.covered_days(until=date(2026, 2, 10)) == 31 + 5


def test_overlapping_certificates_count_each_day_once_and_are_reported() -> None:
    overlapping = Period(date(2026, 1, 20), date(2026, 2, 10), 50)

    (case,) = cases([JANUARY, overlapping])

    assert case.covered_days() == 31 + 10
    assert case.overlaps() == [(JANUARY, overlapping)]
    assert case.degree_on(date(2026, 1, 25)) == 100  # the higher of the two
    assert case.degree_on(date(2026, 2, 5)) == 50


def test_the_current_degree_follows_the_certificates_and_stays_at_the_last_one() -> None:
    (case,) = cases([JANUARY, Period(date(2026, 2, 1), date(2026, 3, 15), 50)])

    assert case.current_degree(date(2026, 1, 10)) == 100
    assert case.current_degree(date(2026, 3, 1)) == 50
    assert case.current_degree(date(2026, 6, 1)) == 50
    assert case.is_ongoing(date(2026, 3, 15)) is True
    assert case.is_ongoing(date(2026, 3, 16)) is False


def test_milestones_of_an_unbroken_case_are_calendar_days_90_180_and_365() -> None:
    (case,) = cases([Period(date(2026, 1, 1), date(2026, 5, 31), 100)])

    assert case.covered_days() == 151
    assert case.milestones() == {
        90: date(2026, 3, 31),
        180: date(2026, 6, 29),
        365: date(2026, 12, 31),
    }


def test_milestones_skip_the_gap_days() -> None:
    (case,) = cases([JANUARY, Period(date(2026, 2, 6), date(2026, 6, 30), 75)])

    assert case.covered_days() == 31 + 145
    assert case.milestones() == {
        90: date(2026, 4, 5),  # day 59 of the second certificate
        180: date(2026, 7, 4),  # four days after the last certificate, if it continues
        365: date(2027, 1, 5),
    }


@pytest.mark.parametrize(
    ("start", "end", "degree", "message"),
    [
        (date(2026, 2, 1), date(2026, 1, 31), 100, "cannot end before it starts"),
        (date(2026, 1, 1), date(2026, 1, 31), 30, "must be 25, 50, 75 or 100 %"),
    ],
)
def test_impossible_certificates_are_refused(
    start: date, end: date, degree: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Period(start, end, degree)
