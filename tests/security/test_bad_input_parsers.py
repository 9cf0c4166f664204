"""Bad input at scale, the parsers: every function that reads what a user typed or uploaded,
fed valid values built from the specification (accepted, normalised, idempotently) and
arbitrary text or bytes (accepted, or refused with the product's own error — never another
exception). Pure functions: hundreds of examples each, no database."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.fields import DateField

from coordinator.contacts import directory
from coordinator.contacts.models import normalise_org_number
from coordinator.errors import InvalidField
from coordinator.patients import diagnoses, import_csv
from coordinator.patients.identity import (
    IdentityNumber,
    InvalidIdentityNumber,
    looks_like_personnummer,
    normalise_name,
    normalise_personnummer,
    parse_identity_number,
)
from coordinator.validation import text
from tests.security.bad_input import ANY_TEXT, OTHER_DIGITS, luhn

T = TypeVar("T")
E = TypeVar("E", bound=Exception)

#: Pure functions are fast: many examples each.
MANY = settings(max_examples=200)


def _outcome(refusal: type[E], function: Callable[..., T], *args: Any) -> tuple[Any, E | None]:
    """``function(*args)`` and None, or None and the ``refusal`` it raised."""
    try:
        return function(*args), None
    except refusal as error:
        return None, error


#: The day the numbers are read on (a 10-digit number's century depends on it).
TODAY = date(2026, 6, 15)

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def _hundredth_birthday_passed(born: date) -> bool:
    return (born.year + 100, born.month, born.day) <= (TODAY.year, TODAY.month, TODAY.day)


@st.composite
def identity_numbers(draw: st.DrawFn) -> tuple[str, str, date, bool, bool]:
    """A valid personnummer or samordningsnummer in one of its spellings, with what it must
    parse to: (spelling, normal form, birth date, is coordination number, is male)."""
    born = draw(st.dates(min_value=date(1830, 1, 1), max_value=TODAY))
    is_coordination = draw(st.booleans())
    serial = draw(st.integers(1, 999))
    day = born.day + 60 if is_coordination else born.day
    nine = f"{born.year % 100:02d}{born.month:02d}{day:02d}{serial:03d}"
    ten = f"{nine}{luhn(nine)}"
    normalised = f"{born.year // 100:02d}{ten}"
    if draw(st.booleans()):  # with the century: separator "-" or none
        spelling = normalised[:8] + draw(st.sampled_from(["", "-"])) + normalised[8:]
    elif _hundredth_birthday_passed(born):  # 10 digits of a centenarian: "+", by law
        spelling = f"{ten[:6]}+{ten[6:]}"
    else:
        spelling = ten[:6] + draw(st.sampled_from(["", "-"])) + ten[6:]
    around = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\u3000"])
    inside = st.sampled_from(["", " "])
    spelling = draw(around) + spelling[:6] + draw(inside) + spelling[6:] + draw(around)
    return spelling, normalised, born, is_coordination, serial % 2 == 1


# -- Personnummer and samordningsnummer ----------------------------------------------------------


@MANY
@given(identity_numbers())
def test_a_valid_number_in_any_spelling_parses_to_its_12_digit_form_idempotently(
    number: tuple[str, str, date, bool, bool],
) -> None:
    spelling, normalised, born, is_coordination, is_male = number

    parsed = parse_identity_number(spelling, TODAY)

    assert parsed == IdentityNumber(normalised, born, is_coordination, is_male)
    assert normalise_personnummer(spelling, TODAY) == normalised
    assert parse_identity_number(parsed.normalised, TODAY) == parsed
    assert parse_identity_number(str(parsed), TODAY) == parsed  # as shown: YYYYMMDD-NNNN
    assert str(parsed) == f"{normalised[:8]}-{normalised[8:]}"
    assert looks_like_personnummer(spelling)


@MANY
@given(st.one_of(ANY_TEXT, st.text(st.sampled_from("0123456789-+ \n١٢٣٩०९０９"), max_size=16)))
@example("19121212-1212")
@example("1912121212120")
@example("191212+1212")
def test_any_text_is_a_valid_number_in_ascii_digits_or_refused_as_invalid(value: str) -> None:
    parsed, refused = _outcome(InvalidIdentityNumber, parse_identity_number, value, TODAY)

    if refused is not None:
        assert str(refused)  # the reason, for the caller to word for the user
    else:
        assert _TWELVE_DIGITS.fullmatch(parsed.normalised)
        assert parse_identity_number(parsed.normalised, TODAY) == parsed


@MANY
@given(identity_numbers(), st.sampled_from(sorted(OTHER_DIGITS)))
def test_a_number_written_in_another_scripts_digits_is_refused(
    number: tuple[str, str, date, bool, bool], script: str
) -> None:
    """Digits of other scripts (Arabic-Indic, Devanagari, full-width…) are decimal digits to
    Python's regular expressions; accepted, they gave a second blind index for the same number,
    so one patient could be registered twice."""
    spelling = number[0].translate(OTHER_DIGITS[script])

    with pytest.raises(InvalidIdentityNumber):
        parse_identity_number(spelling, TODAY)
    with pytest.raises(ValueError, match="a personnummer has 10 or 12 digits"):
        normalise_personnummer(spelling, TODAY)


# -- Names as searched ---------------------------------------------------------------------------

_SWEDISH_NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzåäöéüÅÄÖÉ -'"), max_size=40)


@MANY
@given(ANY_TEXT)
def test_a_name_key_is_nfc_single_spaced_and_the_same_for_every_unicode_spelling(
    name: str,
) -> None:
    key = normalise_name(name)

    assert key == key.strip()
    assert "  " not in key
    assert normalise_name(unicodedata.normalize("NFD", name)) == key
    assert normalise_name(unicodedata.normalize("NFC", name)) == key
    assert normalise_name(f" \t{name}\n ") == key


@MANY
@given(_SWEDISH_NAME)
def test_a_swedish_name_has_one_key_in_any_case(name: str) -> None:
    assert normalise_name(name.upper()) == normalise_name(name.lower()) == normalise_name(name)


@MANY
@given(ANY_TEXT)
def test_a_search_term_is_a_number_only_when_it_is_digits_dashes_and_plus(term: str) -> None:
    compact = term.strip().replace(" ", "")
    expected = bool(compact) and any(c.isdigit() for c in compact)
    expected = expected and all(c.isdigit() or c in "-+" for c in compact)
    assert looks_like_personnummer(term) is expected


# -- Organisation numbers ------------------------------------------------------------------------


@st.composite
def organisation_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid organisation number in one of its spellings, and its standard form."""
    group = draw(st.integers(1, 9))
    middle = draw(st.integers(20, 99))  # the "month" of a legal person is 20 or more
    rest = draw(st.integers(0, 99_999))
    nine = f"{group}{draw(st.integers(0, 9))}{middle}{rest:05d}"
    ten = f"{nine}{luhn(nine)}"
    spelling = draw(st.sampled_from(["", "16"])) + ten[:6] + draw(st.sampled_from(["", "-"]))
    spelling += ten[6:]
    spelling = draw(st.sampled_from(["", " ", "\t"])) + spelling + draw(st.sampled_from(["", "\n"]))
    return spelling, f"{ten[:6]}-{ten[6:]}"


@MANY
@given(organisation_numbers())
def test_a_valid_organisation_number_is_stored_in_its_standard_form_idempotently(
    number: tuple[str, str],
) -> None:
    spelling, standard = number

    assert directory.org_number(spelling) == standard
    assert directory.org_number(standard) == standard
    assert normalise_org_number(spelling.strip()) == standard.replace("-", "")


@MANY
@given(identity_numbers())
def test_a_sole_traders_personnummer_is_an_organisation_number_too(
    number: tuple[str, str, date, bool, bool],
) -> None:
    normalised = number[1]

    stored = directory.org_number(normalised)

    assert stored is not None
    assert directory.org_number(stored) == stored
    assert normalise_org_number(stored) == normalised[2:]


@MANY
@given(st.one_of(ANY_TEXT, st.text(st.sampled_from("0123456789-+ ١٢٣٩０९"), max_size=14)))
def test_any_text_is_an_organisation_number_in_standard_form_or_refused_on_its_field(
    value: str,
) -> None:
    stored, refused = _outcome(InvalidField, directory.org_number, value)

    if refused is not None:
        assert refused.field == "org_number"
    elif not value.strip():
        assert stored is None
    else:
        assert re.fullmatch(r"[0-9]{6}[-+][0-9]{4}", stored)
        assert directory.org_number(stored) == stored


@MANY
@given(st.sampled_from(sorted(OTHER_DIGITS)), organisation_numbers())
def test_an_organisation_number_in_another_scripts_digits_is_refused(
    script: str, number: tuple[str, str]
) -> None:
    with pytest.raises(InvalidField) as refused:
        directory.org_number(number[1].translate(OTHER_DIGITS[script]))
    assert refused.value.field == "org_number"


# -- Phone numbers and e-mail addresses ----------------------------------------------------------

_PHONES = st.builds(
    lambda plus, groups, seps: plus + "".join(g + s for g, s in zip(groups, seps, strict=False)),
    st.sampled_from(["", "+"]),
    st.lists(st.text("0123456789", min_size=2, max_size=4), min_size=3, max_size=5),
    st.lists(st.sampled_from(["", " ", "-"]), min_size=5, max_size=5),
)


@MANY
@given(_PHONES, st.sampled_from(["", " ", "\t"]))
def test_a_phone_number_as_people_write_it_is_kept_as_written(number: str, space: str) -> None:
    number = number.strip(" -")
    if len(number) > directory.PHONE_MAX:
        return
    assert directory.phone(space + number + space) == number


@MANY
@given(ANY_TEXT)
def test_any_text_is_a_phone_number_kept_as_written_or_refused_on_its_field(value: str) -> None:
    stored, refused = _outcome(InvalidField, directory.phone, value, "new_person_phone")

    if refused is not None:
        assert refused.field == "new_person_phone"
    elif not value.strip():
        assert stored is None
    else:
        assert stored == value.strip()
        assert re.fullmatch(r"\+?[0-9(][0-9 ()\-]*", stored)
        assert sum(c in "0123456789" for c in stored) >= 5


@MANY
@given(st.one_of(st.emails(), ANY_TEXT))
def test_any_text_is_an_e_mail_address_normalised_idempotently_or_refused_on_its_field(
    value: str,
) -> None:
    stored, refused = _outcome(InvalidField, directory.email, value, "email")

    if refused is not None:
        assert refused.field == "email"
    elif not value.strip():
        assert stored is None
    else:
        assert directory.email(stored) == stored
        local, _, domain = stored.rpartition("@")
        assert local
        assert domain == domain.lower()


# -- Free text -----------------------------------------------------------------------------------


@MANY
@given(ANY_TEXT, st.integers(0, 60))
def test_free_text_is_stripped_and_refused_on_its_field_only_when_too_long(
    value: str, limit: int
) -> None:
    expected = value.strip() or None
    if expected is not None and len(expected) > limit:
        with pytest.raises(InvalidField) as refused:
            text(value, "note", limit)
        assert refused.value.field == "note"
    else:
        assert text(value, "note", limit) == expected


# -- ICD-10 codes --------------------------------------------------------------------------------


@st.composite
def code_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """An ICD-10-shaped code in any spelling a user types, and its catalogue form."""
    letter = draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    category = letter + draw(st.text("0123456789", min_size=2, max_size=2))
    subdivision = draw(st.sampled_from(["", "d", "dd", "dl"]))
    sub = "".join(
        draw(
            st.sampled_from("0123456789" if kind == "d" else "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        )
        for kind in subdivision
    )
    code = f"{category}.{sub}" if sub else category
    dot = draw(st.sampled_from(["", "."])) if sub else ""
    spelling = category + dot + sub
    spelling = spelling.lower() if draw(st.booleans()) else spelling
    space = st.sampled_from(["", " ", "\t"])
    return draw(space) + spelling[:2] + draw(space) + spelling[2:] + draw(space), code


@MANY
@given(code_spellings())
def test_a_code_in_any_spelling_is_normalised_to_catalogue_form_idempotently(
    spelled: tuple[str, str],
) -> None:
    spelling, code = spelled
    assert diagnoses.normalise_code(spelling) == code
    assert diagnoses.normalise_code(code) == code


@pytest.fixture(scope="module")
def catalogue_codes() -> list[str]:
    return [
        d.code for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for d in diagnoses.search(letter, 10**6)
    ]


def test_every_catalogue_code_is_found_in_any_spelling(catalogue_codes: list[str]) -> None:
    assert len(catalogue_codes) == diagnoses.catalogue_size()
    for code in catalogue_codes:
        assert diagnoses.lookup(code).code == code
        assert diagnoses.lookup(f" {code.replace('.', '').lower()} ").code == code


@MANY
@given(st.one_of(ANY_TEXT, st.text(st.sampled_from("FMZfmz0123456789. A١٢"), max_size=8)))
@example("F43.2")
@example("f438a")
@example("F43.99")
def test_any_text_is_a_catalogue_diagnosis_or_refused_as_malformed_or_unknown(value: str) -> None:
    try:
        found = diagnoses.lookup(value)
    except (diagnoses.InvalidDiagnosisCode, diagnoses.UnknownDiagnosis):
        return
    assert re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9][0-9A-Z]?)?", found.code)
    assert diagnoses.lookup(found.code) == found


# -- Dates as the forms read them ----------------------------------------------------------------


class _DayForm(Form):
    """A date field as every form in the product declares it (WTForms, ISO format)."""

    day = DateField()


@MANY
@given(st.dates())
def test_every_date_written_as_iso_reads_back_as_itself(day: date) -> None:
    form = _DayForm(MultiDict({"day": day.isoformat()}))
    assert form.validate()
    assert form.day.data == day


@MANY
@given(st.one_of(ANY_TEXT, st.text(st.sampled_from("0123456789-/. ١٢٠٩０T:+"), max_size=12)))
@example("2026-02-30")
@example("2026-13-01")
@example("0")
@example("-1")
@example("1e309")
@example("९")
@example("２０２６-０１-０１")
def test_any_text_in_a_date_field_is_a_date_or_the_fields_error(value: str) -> None:
    form = _DayForm(MultiDict({"day": value}))
    if form.validate():
        assert isinstance(form.day.data, date)
    else:
        assert form.day.data is None
        assert form.errors == {"day": ["Not a valid date value."]}


# -- The certificate CSV file --------------------------------------------------------------------


def _assert_rows_or_refused_with_line_numbers(data: bytes) -> None:
    """Certificate lines (after the header), or refused with each error at a line of the file
    as the CSV reader counts them (\\r, \\n and \\r\\n end a line; nothing else does)."""
    rows, refused = _outcome(import_csv.ImportRefused, import_csv.parse, data)
    if refused is None:
        assert rows
        assert all(row.line >= 2 for row in rows)
        return
    lines = len(re.split(rb"\r\n|\r|\n", data))
    assert refused.errors
    for error in refused.errors:
        assert 1 <= error.line <= lines
        assert error.message.strip()


@MANY
@given(st.binary(max_size=300))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"personnummer;f\xc3\xb6rnamn\n\xff")
@example(b'personnummer;"')
def test_any_bytes_are_certificate_lines_or_refused_with_line_numbers(data: bytes) -> None:
    _assert_rows_or_refused_with_line_numbers(data)


_HEADER_WORDS = ';,"\n personnummerförnamnefternamnfråntillgraddiagnosläkarePFETGDL'


@MANY
@given(st.one_of(ANY_TEXT, st.text(st.sampled_from(_HEADER_WORDS), max_size=200)))
def test_any_text_is_certificate_lines_or_refused_with_line_numbers(value: str) -> None:
    _assert_rows_or_refused_with_line_numbers(value.encode("utf-8"))


_COLUMN_SPELLINGS = {
    "personnummer": ["personnummer", "PERSONNUMMER"],
    "first_name": ["förnamn", "fornamn", "Förnamn"],
    "last_name": ["efternamn", "Efternamn"],
    "start_on": ["från", "fran", "FRÅN"],
    "end_on": ["till", "Till"],
    "degree": ["grad"],
    "diagnosis_code": ["diagnos", "Diagnos"],
    "doctor": ["läkare", "lakare"],
}


@st.composite
def certificate_files(draw: st.DrawFn) -> tuple[bytes, list[import_csv.ImportRow]]:
    """A well-formed file built from docs/import.md (columns in any order and spelling, ; or
    , between them, BOM or not, LF or CRLF, blank lines anywhere), and the rows it holds."""
    fields = list(import_csv.REQUIRED) + (["doctor"] if draw(st.booleans()) else [])
    fields = draw(st.permutations(fields))
    delimiter = draw(st.sampled_from([";", ","]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    cell = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters=';,"\r\n'), max_size=12
    )
    header = delimiter.join(draw(st.sampled_from(_COLUMN_SPELLINGS[f])) for f in fields)
    lines = [header]
    expected = []
    for _ in range(draw(st.integers(1, 6))):
        while draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", delimiter * len(fields)])))
        cells = draw(st.lists(cell, min_size=len(fields), max_size=len(fields)))
        lines.append(delimiter.join(cells))
        if any(value.strip() for value in cells):
            values = {f: value.strip() for f, value in zip(fields, cells, strict=True)}
            expected.append(import_csv.ImportRow(line=len(lines), **values))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + newline.join(lines) + newline).encode("utf-8"), expected


@MANY
@given(certificate_files())
def test_a_well_formed_file_gives_every_line_with_its_cells_trimmed(
    built: tuple[bytes, list[import_csv.ImportRow]],
) -> None:
    data, expected = built
    if not expected:
        with pytest.raises(import_csv.ImportRefused) as refused:
            import_csv.parse(data)
        assert [e.message for e in refused.value.errors] == ["The file has no certificate lines."]
        return
    assert import_csv.parse(data) == expected


@MANY
@given(certificate_files(), st.data())
def test_a_line_with_a_cell_too_many_is_refused_at_that_line(
    built: tuple[bytes, list[import_csv.ImportRow]], data: st.DataObject
) -> None:
    content, expected = built
    if not expected:
        return
    wrong = data.draw(st.sampled_from(expected)).line
    text_lines = re.split(r"\r\n|\n", content.decode("utf-8-sig"))
    delimiter = ";" if text_lines[0].count(";") >= text_lines[0].count(",") else ","
    cells = len(next(csv.reader(io.StringIO(text_lines[0]), delimiter=delimiter)))
    text_lines[wrong - 1] += delimiter + "extra"

    with pytest.raises(import_csv.ImportRefused) as refused:
        import_csv.parse("\n".join(text_lines).encode("utf-8"))

    assert [(e.line, e.message) for e in refused.value.errors] == [
        (
            wrong,
            f"The line has {cells + 1} cells but the header names {cells} columns.",
        )
    ]
