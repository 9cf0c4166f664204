"""Sick-leave statistics for managers: the units' sick-leave cases in a period by gender,
diagnosis group, length, degree and issuing doctor, each split by gender so that the gender
balance (*jämställd sjukskrivning*) can be read in every table.

The groups are those managers know: ICD-10 chapters, the state agreement's two groups
(mental ill-health, long-term pain), the rehabilitation chain's length bands and the four
degrees. Counts only; no patient is identified on screen or in the files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l

from coordinator.auth.models import CareUnit
from coordinator.patients.diagnoses import (
    CHAPTERS,
    AgreementGroup,
    UnknownDiagnosis,
    agreement_group_of,
    chapter_of,
)
from coordinator.patients.models import Gender
from coordinator.patients.sickleave import DEGREES, LENGTH_BANDS, band_label, band_of
from coordinator.reports.cells import is_small, masked, to_csv
from coordinator.reports.episodes import Episode, episodes


class GenderCounts:
    """Counts by gender in ``women``, ``men`` and ``other`` (fields of the dataclasses that
    mix this in)."""

    women: int
    men: int
    other: int

    def add(self, gender: Gender) -> None:
        if gender is Gender.WOMAN:
            self.women += 1
        elif gender is Gender.MAN:
            self.men += 1
        else:
            self.other += 1


@dataclass
class TableRow(GenderCounts):
    """One group: its cases by gender."""

    key: str
    label: str
    women: int = 0
    men: int = 0
    other: int = 0
    #: A shorter label for the chart, where there is less room.
    short_label: str = ""

    @property
    def total(self) -> int:
        return self.women + self.men + self.other

    @property
    def chart_label(self) -> str:
        return self.short_label or self.label

    def _share(self, part: int) -> int | None:
        return round(100 * part / self.total) if self.total else None

    @property
    def share_women(self) -> int | None:
        return self._share(self.women)

    @property
    def share_men(self) -> int | None:
        return self._share(self.men)


@dataclass
class Table:
    key: str
    title: str
    rows: list[TableRow]

    def as_dict(self) -> dict[str, tuple[int, int, int]]:
        return {row.key: (row.women, row.men, row.other) for row in self.rows}

    @property
    def largest(self) -> int:
        """The largest row total (the charts' scale)."""
        return max((row.total for row in self.rows), default=0)


@dataclass
class Statistics:
    units: list[CareUnit]
    start: date
    end: date
    total: int
    tables: list[Table] = field(default_factory=list)
    #: The patients counted (an export logs each of them).
    patient_ids: set[int] = field(default_factory=set)

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


#: The "neither group" row of the agreement table, and the "no chapter" row.
OTHER_KEY = "other"
NONE_KEY = "none"


def _fixed(
    key: str,
    title: object,
    found: Sequence[Episode],
    rows: Sequence[tuple[str, object]],
    key_of: Callable[[Episode], str],
) -> Table:
    """A table with the given rows, all shown even when empty."""
    table = Table(key, str(title), [TableRow(row_key, str(label)) for row_key, label in rows])
    by_key = {row.key: row for row in table.rows}
    for episode in found:
        by_key[key_of(episode)].add(episode.gender)
    return table


def _agreement_key(episode: Episode) -> str:
    group = agreement_group_of(episode.diagnosis) if episode.diagnosis else None
    return group.value if group is not None else OTHER_KEY


def _chapter_row(code: str | None) -> TableRow:
    try:
        chapter = chapter_of(code or "")
    except (UnknownDiagnosis, ValueError):
        return TableRow(NONE_KEY, str(_l("No valid code")))
    span = f"{chapter.roman} {chapter.first}–{chapter.last}"
    return TableRow(chapter.roman, f"{span} {chapter.title}", short_label=span)


def _chapter_table(found: Sequence[Episode]) -> Table:
    rows: dict[str, TableRow] = {}
    for episode in found:
        row = _chapter_row(episode.diagnosis)
        rows.setdefault(row.key, row).add(episode.gender)
    order = {chapter.roman: chapter.number for chapter in CHAPTERS}
    ordered = sorted(rows.values(), key=lambda row: order.get(row.key, len(order) + 1))
    return Table("chapter", str(_l("ICD-10 chapter")), ordered)


def _doctor_table(found: Sequence[Episode]) -> Table:
    rows: dict[str, TableRow] = {}
    for episode in found:
        name = (episode.doctor or "").strip()
        label = name or str(_l("Not stated"))
        rows.setdefault(name, TableRow(name, label)).add(episode.gender)
    ordered = sorted(rows.values(), key=lambda row: (-row.total, row.key == "", row.key.casefold()))
    return Table("doctor", str(_l("Issuing doctor")), ordered)


def _band_key(band: tuple[int, int | None]) -> str:
    low, high = band
    return f"{low}-{high if high is not None else ''}"


def sick_leave_statistics(units: Sequence[CareUnit], start: date, end: date) -> Statistics:
    """The statistics of the units' sick-leave cases overlapping ``start``–``end``."""
    found = episodes([unit.id for unit in units], start, end)
    genders = [(gender.value, gender.label) for gender in Gender]
    agreement = [(group.value, group.label) for group in AgreementGroup]
    agreement.append((OTHER_KEY, _l("Other diagnoses")))
    bands = [(_band_key(band), f"{band_label(band)} {_l('days')}") for band in LENGTH_BANDS]
    degrees = [(str(degree), f"{degree} %") for degree in DEGREES]
    tables = [
        _fixed("gender", _l("Gender"), found, genders, lambda e: e.gender.value),
        _fixed("agreement", _l("Diagnosis group under the agreement"), found, agreement,
               _agreement_key),
        _chapter_table(found),
        _fixed("length", _l("Sick-leave length"), found, bands,
               lambda e: _band_key(band_of(e.length) or LENGTH_BANDS[0])),
        _fixed("degree", _l("Sick-leave degree"), found, degrees, lambda e: str(e.degree)),
        _doctor_table(found),
    ]  # fmt: skip
    patient_ids = {episode.patient_id for episode in found}
    return Statistics(list(units), start, end, len(found), tables, patient_ids)


def statistics_csv(statistics: Statistics, key: str) -> str:
    """One table as CSV, small cells masked (see :mod:`coordinator.reports.cells`)."""
    table = statistics.table(key)
    header = [_l("Group"), _l("Women"), _l("Men"), _l("Other"), _l("Total"),
              _l("Share women (%)"), _l("Share men (%)")]  # fmt: skip

    def share(part: int, value: int | None) -> object:
        return None if value is None or is_small(part) or is_small(table_row.total) else value

    lines = []
    for table_row in table.rows:
        lines.append([
            table_row.label, masked(table_row.women), masked(table_row.men),
            masked(table_row.other), masked(table_row.total),
            share(table_row.women, table_row.share_women),
            share(table_row.men, table_row.share_men),
        ])  # fmt: skip
    return to_csv(header, lines)
