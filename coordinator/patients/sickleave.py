"""Sick-leave cases (*sjukfall*) computed from certificates (*sjukintyg*).

Certificates of one patient whose periods are separated by at most ``gap_days`` days without a
certificate form one case (the national statistics and Inera's Rehabstöd use 5 days; the
setting allows 0–90). A case's length counts the days covered by a certificate — gap days do
not count, and overlapping certificates count each day once. The rehabilitation chain's
milestones (Social Insurance Code ch. 27: day 90 own job, day 180 any work at the employer,
day 365) are the dates on which that count reaches 90, 180 and 365, assuming the sick leave
continues without a break after the last certificate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

#: Days without a certificate that still join two certificates into one case.
DEFAULT_GAP_DAYS = 5
MAX_GAP_DAYS = 90
#: Sick-leave degrees a certificate may state, in percent.
DEGREES = (25, 50, 75, 100)
#: The rehabilitation chain's checkpoints, in sick-leave days.
MILESTONE_DAYS = (90, 180, 365)

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """What a certificate says about sick leave: from, to (both inclusive), and how much."""

    start: date
    end: date
    degree: int
    #: What the period came from (a certificate id), carried along for display.
    ref: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a certificate period cannot end before it starts")
        if self.degree not in DEGREES:
            raise ValueError("the degree must be 25, 50, 75 or 100 %")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class SickLeaveCase:
    #: The certificates of the case, by start date.
    periods: tuple[Period, ...]

    @property
    def start(self) -> date:
        return self.periods[0].start

    @property
    def end(self) -> date:
        return max(period.end for period in self.periods)

    def covered_days(self, until: date | None = None) -> int:
        """Days covered by a certificate up to ``until`` (default: the whole case)."""
        last = self.end if until is None else min(until, self.end)
        days, counted_to = 0, self.start - _DAY
        for period in self.periods:
            first = max(period.start, counted_to + _DAY)
            stop = min(period.end, last)
            if stop >= first:
                days += (stop - first).days + 1
                counted_to = stop
        return days

    def degree_on(self, day: date) -> int | None:
        """The degree on ``day``; with overlapping certificates, the highest."""
        degrees = [period.degree for period in self.periods if period.covers(day)]
        return max(degrees) if degrees else None

    def current_degree(self, today: date) -> int:
        """Today's degree, or the last one if the case has ended."""
        degree = self.degree_on(min(today, self.end))
        return degree if degree is not None else self.periods[-1].degree

    def is_ongoing(self, today: date) -> bool:
        return self.start <= today <= self.end

    def milestones(self) -> dict[int, date]:
        """The date each rehabilitation-chain day is reached (see the module notes)."""
        total = self.covered_days()
        reached: dict[int, date] = {}
        for target in MILESTONE_DAYS:
            if target > total:
                reached[target] = self.end + timedelta(days=target - total)
            else:
                reached[target] = self._day_number(target)
        return reached

    def _day_number(self, number: int) -> date:
        """The date of covered day ``number`` (1-based) within the case."""
        seen, counted_to = 0, self.start - _DAY
        for period in self.periods:
            first = max(period.start, counted_to + _DAY)
            if period.end >= first:
                length = (period.end - first).days + 1
                if seen + length >= number:
                    return first + timedelta(days=number - seen - 1)
                seen += length
                counted_to = period.end
        raise ValueError(f"the case has fewer than {number} days")

    def overlaps(self) -> list[tuple[Period, Period]]:
        """Pairs of certificates that cover the same days (shown as a warning)."""
        return [
            (a, b)
            for i, a in enumerate(self.periods)
            for b in self.periods[i + 1 :]
            if a.start <= b.end and b.start <= a.end
        ]


def cases(periods: Iterable[Period], gap_days: int = DEFAULT_GAP_DAYS) -> list[SickLeaveCase]:
    """Group a patient's certificates into sick-leave cases, oldest first."""
    if not 0 <= gap_days <= MAX_GAP_DAYS:
        raise ValueError(f"the gap must be 0–{MAX_GAP_DAYS} days")
    ordered = sorted(periods, key=lambda p: (p.start, p.end))
    grouped: list[list[Period]] = []
    case_end: date | None = None
    for period in ordered:
        days_between = None if case_end is None else (period.start - case_end).days - 1
        if days_between is None or days_between > gap_days:
            grouped.append([period])
            case_end = period.end
        else:
            grouped[-1].append(period)
            case_end = max(case_end, period.end)  # type: ignore[type-var]
    return [SickLeaveCase(tuple(group)) for group in grouped]


#: Length bands (days) for lists and statistics: (first day, last day or None), label.
LENGTH_BANDS: tuple[tuple[int, int | None], ...] = (
    (1, 14), (15, 28), (29, 90), (91, 180), (181, 365), (366, None)
)  # fmt: skip


def band_of(days: int) -> tuple[int, int | None] | None:
    """The length band ``days`` falls in (None for no sick leave)."""
    for band in LENGTH_BANDS:
        low, high = band
        if days >= low and (high is None or days <= high):
            return band
    return None


def band_label(band: tuple[int, int | None]) -> str:
    low, high = band
    if high is None:
        return f"> {low - 1}"
    return f"≤ {high}" if low == 1 else f"{low}–{high}"
