"""Screening for coordination need: rule-based signals from a patient's current sick leave.

The rules follow the sources (domain brief): coordinators track everyone sick-listed more than
14 days; long expected sick leave, recurrent sick-leave periods, mild–moderate mental
ill-health and long-term pain are who coordination is for; and the rehabilitation chain's day
90 and 180 are dates to plan for. Signals are computed from the patient's stored sick-leave
summary, so a list of thousands of patients needs no certificate reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l

from coordinator.patients.diagnoses import AgreementGroup, agreement_group_of


class Signal(StrEnum):
    SICK_LISTED_LONG = "sick_listed_long"
    EXPECTED_LONG = "expected_long"
    RECURRENT = "recurrent"
    MENTAL_ILL_HEALTH = "mental_ill_health"
    LONG_TERM_PAIN = "long_term_pain"
    APPROACHING_DAY_90 = "approaching_day_90"
    APPROACHING_DAY_180 = "approaching_day_180"

    @property
    def label(self) -> str:
        return str(_SIGNAL_LABELS[self])


_SIGNAL_LABELS = {
    Signal.SICK_LISTED_LONG: _l("Sick-listed more than %(days)d days"),
    Signal.EXPECTED_LONG: _l("Expected long sick leave"),
    Signal.RECURRENT: _l("Recurrent sick leave"),
    Signal.MENTAL_ILL_HEALTH: _l("Mental ill-health"),
    Signal.LONG_TERM_PAIN: _l("Long-term pain"),
    Signal.APPROACHING_DAY_90: _l("Day 90 approaching"),
    Signal.APPROACHING_DAY_180: _l("Day 180 approaching"),
}


@dataclass(frozen=True)
class ScreeningRules:
    """The thresholds, from configuration (``SCREENING_*`` settings)."""

    #: Sick-listed more than this many days (local routines: 14).
    long_days: int = 14
    #: Certified so far through at least this many days: long sick leave is expected.
    expected_long_days: int = 60
    #: Another sick-leave case ended at most this many days before the current one began.
    recurrence_days: int = 365
    #: A milestone this close (days ahead) is "approaching".
    milestone_notice_days: int = 14

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ScreeningRules:
        return cls(
            long_days=int(config["SCREENING_SICK_LISTED_DAYS"]),
            expected_long_days=int(config["SCREENING_EXPECTED_LONG_DAYS"]),
            milestone_notice_days=int(config["MILESTONE_NOTICE_DAYS"]),
        )


@dataclass(frozen=True)
class SickLeaveSummary:
    """A patient's latest sick-leave case as stored on the patient (see Patient's columns)."""

    start: date | None
    end: date | None
    #: Certified days through ``end``.
    days: int | None
    degree: int | None
    day_90_on: date | None
    day_180_on: date | None
    day_365_on: date | None
    previous_end: date | None
    diagnosis_code: str | None = None

    @classmethod
    def of(cls, source: Any, diagnosis_code: str | None) -> SickLeaveSummary:
        """From a patient, or a row of the patients table's summary columns."""
        return cls(
            start=source.sick_leave_start,
            end=source.sick_leave_end,
            days=source.sick_leave_days,
            degree=source.sick_leave_degree,
            day_90_on=source.day_90_on,
            day_180_on=source.day_180_on,
            day_365_on=source.day_365_on,
            previous_end=source.previous_sick_leave_end,
            diagnosis_code=diagnosis_code,
        )

    def is_ongoing(self, today: date) -> bool:
        return self.start is not None and self.end is not None and self.start <= today <= self.end

    def days_on(self, today: date) -> int:
        """Certified days up to ``today`` (the days still ahead assumed unbroken)."""
        if self.start is None or self.end is None or self.days is None or today < self.start:
            return 0
        if today >= self.end:
            return self.days
        return max(0, self.days - (self.end - today).days)

    def next_milestone(self, today: date) -> tuple[int, date] | None:
        """The next rehabilitation-chain milestone from ``today`` while the case is ongoing."""
        if not self.is_ongoing(today):
            return None
        for number, on in ((90, self.day_90_on), (180, self.day_180_on), (365, self.day_365_on)):
            if on is not None and on >= today:
                return number, on
        return None


def signals(summary: SickLeaveSummary, today: date, rules: ScreeningRules) -> list[Signal]:
    """The signals that apply today; none unless the patient is sick-listed today."""
    if summary.start is None or not summary.is_ongoing(today):
        return []
    found = []
    if summary.days_on(today) > rules.long_days:
        found.append(Signal.SICK_LISTED_LONG)
    if (summary.days or 0) >= rules.expected_long_days:
        found.append(Signal.EXPECTED_LONG)
    if summary.previous_end is not None and (
        summary.start - summary.previous_end <= timedelta(days=rules.recurrence_days)
    ):
        found.append(Signal.RECURRENT)
    group = agreement_group_of(summary.diagnosis_code) if summary.diagnosis_code else None
    if group is AgreementGroup.MENTAL_ILL_HEALTH:
        found.append(Signal.MENTAL_ILL_HEALTH)
    elif group is AgreementGroup.LONG_TERM_PAIN:
        found.append(Signal.LONG_TERM_PAIN)
    horizon = today + timedelta(days=rules.milestone_notice_days)
    for on, signal in (
        (summary.day_90_on, Signal.APPROACHING_DAY_90),
        (summary.day_180_on, Signal.APPROACHING_DAY_180),
    ):
        if on is not None and today <= on <= horizon:
            found.append(signal)
    return found


def signal_text(signal: Signal, rules: ScreeningRules) -> str:
    """The label with its threshold filled in."""
    if signal is Signal.SICK_LISTED_LONG:
        return str(_SIGNAL_LABELS[signal] % {"days": rules.long_days})
    return signal.label
