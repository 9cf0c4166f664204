"""Sick-leave statistics: every table of a small fixed data set against figures worked out by
hand (see :func:`tests.reports.support.sick_leave_data`), the period rule (a case counts when it
overlaps the period, with its figures on the reference day), the 5-day gap rule, unit scoping,
the gender shares, and the CSV export with its small-cell rule.

Services speak the command line's language (English) outside a request; the CSV tests switch
to Swedish as a web request would."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.reports.statistics import (
    Statistics,
    Table,
    TableRow,
    sick_leave_statistics,
    statistics_csv,
)
from tests.patients.support import certify
from tests.reports.support import JUNE, MAY, SickLeaveData, patient, sick_leave_data

pytestmark = pytest.mark.usefixtures("frozen")

CRLF = "\r\n"
BOM = "\ufeff"
SWEDISH_HEADER = "Grupp;Kvinnor;Män;Annat;Totalt;Andel kvinnor (%);Andel män (%)"


@pytest.fixture
def data(me: Actor, me_b: Actor) -> SickLeaveData:
    return sick_leave_data(me, me_b)


def tables(stats: Statistics) -> dict[str, dict[str, tuple[int, int, int]]]:
    return {table.key: table.as_dict() for table in stats.tables}


def csv_lines(text: str) -> list[str]:
    """The lines of a CSV text (which must start with the BOM and end every line in CRLF)."""
    assert text.startswith(BOM)
    assert text.endswith(CRLF)
    body = text[len(BOM) : -len(CRLF)]
    assert "\n" not in body.replace(CRLF, "")
    return body.split(CRLF)


# -- The tables ------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_may_in_unit_a_is_counted_case_by_case_in_every_table(unit_a: CareUnit) -> None:
    stats = sick_leave_statistics([unit_a], *MAY)

    # Anna, Bo, Cia, Dan and Eli; Fia's case ended on 30 April and Gus's starts on 1 June.
    assert stats.total == 5
    assert [table.key for table in stats.tables] == [
        "gender", "agreement", "chapter", "length", "degree", "doctor",
    ]  # fmt: skip
    assert tables(stats) == {
        "gender": {"woman": (2, 0, 0), "man": (0, 2, 0), "other": (0, 0, 1)},
        # F43.2 Anna, F32.1 Dan, F41.1 Eli; M54.5 Bo; I10 Cia.
        "agreement": {
            "mental_ill_health": (1, 1, 1), "long_term_pain": (0, 1, 0), "other": (1, 0, 0),
        },
        "chapter": {"V": (1, 1, 1), "IX": (1, 0, 0), "XIII": (0, 1, 0)},
        # Bo 1 day, Dan 10; Cia 30, Anna 42; Eli 396.
        "length": {
            "1-14": (0, 2, 0), "15-28": (0, 0, 0), "29-90": (2, 0, 0),
            "91-180": (0, 0, 0), "181-365": (0, 0, 0), "366-": (0, 0, 1),
        },
        "degree": {"25": (0, 0, 0), "50": (1, 1, 0), "75": (1, 0, 1), "100": (0, 1, 0)},
        "doctor": {"Dr Berg": (1, 1, 0), "Dr Ek": (1, 0, 1), "": (0, 1, 0)},
    }  # fmt: skip


@pytest.mark.usefixtures("data")
def test_every_table_adds_up_to_the_total(unit_a: CareUnit) -> None:
    stats = sick_leave_statistics([unit_a], *MAY)

    assert {table.key: sum(row.total for row in table.rows) for table in stats.tables} == {
        key: 5 for key in ("gender", "agreement", "chapter", "length", "degree", "doctor")
    }


@pytest.mark.usefixtures("data")
def test_doctors_are_ordered_by_cases_then_name_and_an_unnamed_one_is_not_stated(
    unit_a: CareUnit,
) -> None:
    doctors = sick_leave_statistics([unit_a], *JUNE).table("doctor")
    may = sick_leave_statistics([unit_a], *MAY).table("doctor")

    # June: Gus (Dr Ask), Bo (Dr Berg), Anna (Dr Dahl), Eli (Dr Ek) — one case each.
    assert [(row.key, row.label, row.total) for row in doctors.rows] == [
        ("Dr Ask", "Dr Ask", 1), ("Dr Berg", "Dr Berg", 1),
        ("Dr Dahl", "Dr Dahl", 1), ("Dr Ek", "Dr Ek", 1),
    ]  # fmt: skip
    assert [(row.key, row.label) for row in may.rows] == [
        ("Dr Berg", "Dr Berg"), ("Dr Ek", "Dr Ek"), ("", "Not stated"),
    ]  # fmt: skip


# -- The period and the reference day --------------------------------------------------------------


def test_a_case_counts_when_it_overlaps_the_period_even_by_one_day(
    me: Actor, unit_a: CareUnit
) -> None:
    ends_before = patient(me, "Före", "Fia")
    certify(me, ends_before, date(2026, 4, 1), date(2026, 4, 30))
    ends_first_day = patient(me, "Första", "Frida")
    certify(me, ends_first_day, date(2026, 4, 1), date(2026, 5, 1))
    starts_last_day = patient(me, "Sista", "Sven", man=True)
    certify(me, starts_last_day, date(2026, 5, 31), date(2026, 6, 10))
    starts_after = patient(me, "Efter", "Erik", man=True)
    certify(me, starts_after, date(2026, 6, 1), date(2026, 6, 10))

    stats = sick_leave_statistics([unit_a], *MAY)

    assert stats.total == 2
    assert stats.table("gender").as_dict() == {
        "woman": (1, 0, 0), "man": (0, 1, 0), "other": (0, 0, 0),
    }  # fmt: skip
    # Frida: 1 April – 1 May, 31 days; Sven: 31 May, one day so far.
    assert stats.table("length").as_dict()["29-90"] == (1, 0, 0)
    assert stats.table("length").as_dict()["1-14"] == (0, 1, 0)


def test_a_period_inside_the_gap_of_a_case_counts_the_case(me: Actor, unit_a: CareUnit) -> None:
    """Certificates 3 days apart are one case (the patient's page shows it ongoing on those
    days), so a short period falling in the gap overlaps it."""
    greta = patient(me, "Gapp", "Greta")
    certify(me, greta, date(2026, 4, 20), date(2026, 5, 8), 50, "F43.2", doctor="Dr Berg")
    certify(me, greta, date(2026, 5, 12), date(2026, 5, 30), 100, "M54.5", doctor="Dr Dahl")

    stats = sick_leave_statistics([unit_a], date(2026, 5, 10), date(2026, 5, 10))

    # By 10 May: 19 days covered (20 April – 8 May), under the certificate started then.
    assert stats.total == 1
    assert stats.table("length").as_dict()["15-28"] == (1, 0, 0)
    assert stats.table("agreement").as_dict()["mental_ill_health"] == (1, 0, 0)
    assert stats.table("doctor").as_dict() == {"Dr Berg": (1, 0, 0)}


@pytest.mark.usefixtures("data")
def test_the_figures_are_those_of_the_reference_day_the_certificate_in_force_then(
    unit_a: CareUnit,
) -> None:
    # Anna's case: F43.2 50 % (Dr Berg) until 31 May, M54.5 100 % (Dr Dahl) from 3 June.
    may = sick_leave_statistics([unit_a], *MAY)
    june = sick_leave_statistics([unit_a], *JUNE)

    # In May her case is 42 days of mental ill-health at 50 %.
    assert may.table("agreement").as_dict()["mental_ill_health"][0] == 1
    assert may.table("degree").as_dict()["50"][0] == 1
    assert may.table("length").as_dict()["29-90"][0] == 2  # with Cia's 30 days
    assert may.table("doctor").as_dict()["Dr Berg"][0] == 1
    # In June (reference day 30 June) it is 42 + 28 = 70 days of long-term pain at 100 %.
    # Also counted: Bo (21 days by 20 June), Eli (426 days) and Gus (10 days); not Cia or Dan.
    assert june.total == 4
    assert tables(june) == {
        "gender": {"woman": (1, 0, 0), "man": (0, 2, 0), "other": (0, 0, 1)},
        "agreement": {
            "mental_ill_health": (0, 0, 1), "long_term_pain": (1, 2, 0), "other": (0, 0, 0),
        },
        "chapter": {"V": (0, 0, 1), "XIII": (1, 2, 0)},
        "length": {
            "1-14": (0, 1, 0), "15-28": (0, 1, 0), "29-90": (1, 0, 0),
            "91-180": (0, 0, 0), "181-365": (0, 0, 0), "366-": (0, 0, 1),
        },
        "degree": {"25": (0, 0, 0), "50": (0, 0, 0), "75": (0, 0, 1), "100": (1, 2, 0)},
        "doctor": {"Dr Ask": (0, 1, 0), "Dr Berg": (0, 1, 0), "Dr Dahl": (1, 0, 0),
                   "Dr Ek": (0, 0, 1)},
    }  # fmt: skip


@pytest.mark.usefixtures("data")
def test_a_period_before_anything_was_certified_has_empty_tables(unit_a: CareUnit) -> None:
    stats = sick_leave_statistics([unit_a], date(2024, 1, 1), date(2024, 12, 31))

    assert stats.total == 0
    assert tables(stats) == {
        "gender": {"woman": (0, 0, 0), "man": (0, 0, 0), "other": (0, 0, 0)},
        "agreement": {
            "mental_ill_health": (0, 0, 0), "long_term_pain": (0, 0, 0), "other": (0, 0, 0),
        },
        "chapter": {},
        "length": {key: (0, 0, 0) for key in ("1-14", "15-28", "29-90", "91-180", "181-365",
                                              "366-")},
        "degree": {"25": (0, 0, 0), "50": (0, 0, 0), "75": (0, 0, 0), "100": (0, 0, 0)},
        "doctor": {},
    }  # fmt: skip


# -- The gap rule ----------------------------------------------------------------------------------


def test_five_days_without_a_certificate_join_two_certificates_six_days_split_them(
    me: Actor, unit_a: CareUnit
) -> None:
    joined = patient(me, "Fem", "Frida")
    certify(me, joined, date(2026, 3, 1), date(2026, 3, 20), code="I10")  # 20 days
    certify(me, joined, date(2026, 3, 26), date(2026, 4, 5), code="I10")  # 11 days, 5 between
    split = patient(me, "Sex", "Sixten", man=True)
    certify(me, split, date(2026, 3, 1), date(2026, 3, 20), code="I10")  # 20 days
    certify(me, split, date(2026, 3, 27), date(2026, 4, 6), code="I10")  # 11 days, 6 between

    stats = sick_leave_statistics([unit_a], date(2026, 3, 1), date(2026, 4, 30))

    # Frida: one case of 31 days (the gap days do not count); Sixten: two cases, 20 and 11.
    assert stats.total == 3
    assert stats.table("gender").as_dict() == {
        "woman": (1, 0, 0), "man": (0, 2, 0), "other": (0, 0, 0),
    }  # fmt: skip
    assert stats.table("length").as_dict() == {
        "1-14": (0, 1, 0), "15-28": (0, 1, 0), "29-90": (1, 0, 0),
        "91-180": (0, 0, 0), "181-365": (0, 0, 0), "366-": (0, 0, 0),
    }  # fmt: skip


# -- Units -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_a_unit_counts_its_own_patients_only(unit_a: CareUnit, unit_b: CareUnit) -> None:
    only_b = sick_leave_statistics([unit_b], *MAY)
    both = sick_leave_statistics([unit_a, unit_b], *MAY)

    assert only_b.total == 1
    assert tables(only_b) == {
        "gender": {"woman": (1, 0, 0), "man": (0, 0, 0), "other": (0, 0, 0)},
        "agreement": {
            "mental_ill_health": (1, 0, 0), "long_term_pain": (0, 0, 0), "other": (0, 0, 0),
        },
        "chapter": {"V": (1, 0, 0)},
        "length": {
            "1-14": (0, 0, 0), "15-28": (0, 0, 0), "29-90": (1, 0, 0),
            "91-180": (0, 0, 0), "181-365": (0, 0, 0), "366-": (0, 0, 0),
        },
        "degree": {"25": (0, 0, 0), "50": (0, 0, 0), "75": (0, 0, 0), "100": (1, 0, 0)},
        "doctor": {"Dr Berg": (1, 0, 0)},
    }  # fmt: skip
    assert both.total == 6
    assert tables(both) == {
        "gender": {"woman": (3, 0, 0), "man": (0, 2, 0), "other": (0, 0, 1)},
        "agreement": {
            "mental_ill_health": (2, 1, 1), "long_term_pain": (0, 1, 0), "other": (1, 0, 0),
        },
        "chapter": {"V": (2, 1, 1), "IX": (1, 0, 0), "XIII": (0, 1, 0)},
        "length": {
            "1-14": (0, 2, 0), "15-28": (0, 0, 0), "29-90": (3, 0, 0),
            "91-180": (0, 0, 0), "181-365": (0, 0, 0), "366-": (0, 0, 1),
        },
        "degree": {"25": (0, 0, 0), "50": (1, 1, 0), "75": (1, 0, 1), "100": (1, 1, 0)},
        "doctor": {"Dr Berg": (2, 1, 0), "Dr Ek": (1, 0, 1), "": (0, 1, 0)},
    }  # fmt: skip


# -- Shares ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_shares_of_women_and_men_are_rounded_percentages_of_the_row(
    unit_a: CareUnit, unit_b: CareUnit
) -> None:
    stats = sick_leave_statistics([unit_a, unit_b], *MAY)

    def shares(table: str) -> dict[str, tuple[int | None, int | None]]:
        return {row.key: (row.share_women, row.share_men) for row in stats.table(table).rows}

    assert shares("doctor") == {"Dr Berg": (67, 33), "Dr Ek": (50, 0), "": (0, 100)}
    assert shares("agreement") == {
        "mental_ill_health": (50, 25), "long_term_pain": (0, 100), "other": (100, 0),
    }  # fmt: skip
    assert shares("gender")["other"] == (0, 0)
    assert shares("length")["15-28"] == (None, None)


# -- CSV ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_a_table_as_csv_masks_counts_of_one_to_four_and_blanks_their_shares(
    unit_a: CareUnit,
) -> None:
    with force_locale("sv"):
        text = statistics_csv(sick_leave_statistics([unit_a], *MAY), "degree")

    # Degree in May: 25 % (0, 0, 0); 50 % Anna and Dan; 75 % Cia and Eli; 100 % Bo.
    assert csv_lines(text)[1:] == [
        "25 %;0;0;0;0;;",
        "50 %;< 5;< 5;0;< 5;;",
        "75 %;< 5;0;< 5;< 5;;",
        "100 %;0;< 5;0;< 5;;",
    ]


@pytest.mark.usefixtures("data")
def test_the_csv_header_is_in_swedish(unit_a: CareUnit) -> None:
    with force_locale("sv"):
        text = statistics_csv(sick_leave_statistics([unit_a], *MAY), "degree")

    assert csv_lines(text)[0] == SWEDISH_HEADER
    assert text.startswith(BOM + SWEDISH_HEADER + CRLF + "25 %;")


@pytest.mark.usefixtures("data")
def test_a_doctor_not_stated_is_ej_angiven_in_swedish(unit_a: CareUnit) -> None:
    with force_locale("sv"):
        stats = sick_leave_statistics([unit_a], *MAY)
        text = statistics_csv(stats, "doctor")

    assert [(row.key, row.label) for row in stats.table("doctor").rows][-1] == ("", "Ej angiven")
    assert csv_lines(text)[1:] == [
        "Dr Berg;< 5;< 5;0;< 5;;",
        "Dr Ek;< 5;0;< 5;< 5;;",
        "Ej angiven;0;< 5;0;< 5;;",
    ]


def _row(key: str, women: int, men: int, other: int) -> TableRow:
    return TableRow(key, key, women, men, other)


def test_a_share_is_shown_only_when_its_count_and_the_row_total_are_not_small() -> None:
    """The masking rule on counts of five and more (a data set that large adds nothing to the
    rule): a share is blank when its own count or the row's total is 1–4; 0 is kept."""
    table = Table("degree", "Degree", [
        _row("five women", 5, 0, 0),      # 100 % and 0 % both shown
        _row("six and two", 6, 2, 0),     # women 75 % shown; men 2: masked, share blank
        _row("three and four", 3, 4, 0),  # total 7, but both counts small: both blank
        _row("five other", 0, 0, 5),      # 0 % women and men shown
        _row("four women", 4, 0, 0),      # total 4: everything masked or blank
        _row("none", 0, 0, 0),            # no shares at all
    ])  # fmt: skip
    stats = Statistics([], date(2026, 5, 1), date(2026, 5, 31), 30, [table])

    assert csv_lines(statistics_csv(stats, "degree"))[1:] == [
        "five women;5;0;0;5;100;0",
        "six and two;6;< 5;0;8;75;",
        "three and four;< 5;< 5;0;7;;",
        "five other;0;0;5;5;0;0",
        "four women;< 5;0;0;< 5;;",
        "none;0;0;0;0;;",
    ]


def test_a_doctor_written_as_a_formula_arrives_as_text(me: Actor, unit_a: CareUnit) -> None:
    tricked = patient(me, "Formel", "Frans", man=True)
    certify(me, tricked, date(2026, 5, 4), date(2026, 5, 17), 100, "M54.5",
            doctor='=HYPERLINK("https://example.org","Dr")')  # fmt: skip

    stats = sick_leave_statistics([unit_a], *MAY)
    text = statistics_csv(stats, "doctor")

    assert stats.table("doctor").as_dict() == {'=HYPERLINK("https://example.org","Dr")': (0, 1, 0)}
    assert csv_lines(text)[1:] == ['"\'=HYPERLINK(""https://example.org"",""Dr"")";0;< 5;0;< 5;;']
