"""The ICD-10 catalogue: spellings, lookups, chapters, groups, the agreement groups, search."""

from __future__ import annotations

from importlib.resources import files

import pytest
from flask import Flask

from coordinator.patients.diagnoses import (
    CHAPTERS,
    AgreementGroup,
    Diagnosis,
    DiagnosisGroup,
    InvalidDiagnosisCode,
    UnknownDiagnosis,
    _parse,
    agreement_group_of,
    catalogue_size,
    chapter_of,
    group_of,
    lookup,
    normalise_code,
    search,
)

CATALOGUE_FILE = files("coordinator.patients") / "data" / "icd10.tsv"

#: Every category of chapter V in ICD-10-SE (numbers that are not used, like F08, are absent).
CHAPTER_V = [
    f"F{number:02}"
    for number in (
        *(0, 1, 2, 3, 4, 5, 6, 7, 9),
        *range(10, 20),
        *(20, 21, 22, 23, 24, 25, 28, 29),
        *(30, 31, 32, 33, 34, 38, 39),
        *(40, 41, 42, 43, 44, 45, 48),
        *(50, 51, 52, 53, 54, 55, 59),
        *(60, 61, 62, 63, 64, 65, 66, 68, 69),
        *(70, 71, 72, 73, 78, 79),
        *(80, 81, 82, 83, 84, 88, 89),
        *(90, 91, 92, 93, 94, 95, 98, 99),
    )
]

#: Every category of chapter XIII in ICD-10-SE.
CHAPTER_XIII = [
    f"M{number:02}"
    for number in (
        *(0, 1, 2, 3, 5, 6, 7, 8, 9),
        *range(10, 26),
        *range(30, 37),
        *(40, 41, 42, 43, 45, 46, 47, 48, 49),
        *(50, 51, 53, 54),
        *(60, 61, 62, 63, 65, 66, 67, 68),
        *(70, 71, 72, 73, 75, 76, 77, 79),
        *range(80, 97),
        99,
    )
]

#: The common categories of the other chapters that the catalogue must have, by letter.
COMMON_OTHERS = {
    "A": (9,),
    "B": (34,),
    "C": (18, 34, 50, 61),
    "E": (10, 11, 66),
    "G": (35, 43, 44, 47, 56, 93),
    "H": (81,),
    "I": (10, 20, 21, 25, 48, 63, 83),
    "J": (1, 2, 3, 6, 11, 18, 20, 44, 45),
    "K": (21, 29, 35, 40, 50, 51, 58, 80),
    "N": (20, 39),
    "O": (20, 21, 26, 47),
    "R": (5, 10, 42, 50, 51, 52, 53, 55),
    "S": (13, 42, 52, 62, 63, 82, 83, 92, 93),
    "T": (14, 93),
    "U": (7, 9),
    "Z": (56, 63, 73, 76),
}


def _catalogue_rows() -> list[tuple[str, str]]:
    lines = CATALOGUE_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "code\ttext"
    return [(code, text) for code, text in (line.split("\t") for line in lines[1:])]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("F432", "F43.2"),
        ("f43.2", "F43.2"),
        ("F43.2", "F43.2"),
        (" F 43.2 ", "F43.2"),
        ("F43.8A", "F43.8A"),
        ("F438A", "F43.8A"),
        ("f43.8a", "F43.8A"),
        ("F43", "F43"),
        ("f43", "F43"),
        ("M545", "M54.5"),
        ("m54.5", "M54.5"),
        ("u07.1", "U07.1"),
        ("Z73.0\n", "Z73.0"),
        ("M54.52", "M54.52"),
    ],
)
def test_codes_are_normalised_to_the_dotted_catalogue_form(spelling: str, expected: str) -> None:
    assert normalise_code(spelling) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "F",
        "F4",
        "43.2",
        "FF43",
        "F43.",
        "F43..2",
        "F43.2.1",
        "F43.AB",
        "F43.21A",
        "F43-2",
        "Ä43",
        "F٤3",  # an Arabic-Indic digit is a digit to Python, not to ICD-10
        "lumbago",
    ],
)
def test_values_not_shaped_like_a_code_are_refused(value: str) -> None:
    with pytest.raises(InvalidDiagnosisCode, match=r"a letter and two digits, e\.g\. F43\.2"):
        normalise_code(value)


def test_both_errors_are_value_errors_for_callers_that_do_not_care_which() -> None:
    assert issubclass(InvalidDiagnosisCode, ValueError)
    assert issubclass(UnknownDiagnosis, ValueError)
    assert not issubclass(InvalidDiagnosisCode, UnknownDiagnosis)


def test_looking_up_listed_codes_gives_their_swedish_titles() -> None:
    assert lookup("F432") == Diagnosis("F43.2", "Anpassningsstörning")
    assert lookup("f43.8a") == Diagnosis("F43.8A", "Utmattningssyndrom")
    assert lookup("M54.5") == Diagnosis("M54.5", "Lumbago")
    assert lookup("M79.7") == Diagnosis("M79.7", "Fibromyalgi")
    assert lookup("F43") == Diagnosis("F43", "Anpassningsstörningar och reaktion på svår stress")
    assert lookup("U07.1") == Diagnosis("U07.1", "Covid-19, virus påvisat")
    assert lookup("U09.9") == Diagnosis("U09.9", "Postinfektiöst tillstånd efter covid-19")


def test_a_subdivision_of_a_category_listed_without_subdivisions_gets_the_category_text() -> None:
    expected = "Essentiell hypertoni (högt blodtryck utan känd orsak)"

    assert lookup("I10.9") == Diagnosis("I10.9", expected)
    assert lookup("J069") == Diagnosis(
        "J06.9", "Akut övre luftvägsinfektion med multipel och ospecificerad lokalisation"
    )


def test_a_fifth_position_under_a_listed_subcode_without_subdivisions_gets_its_text() -> None:
    assert lookup("M54.52") == Diagnosis("M54.52", "Lumbago")


@pytest.mark.parametrize("value", ["F43.7", "F43.8B", "F43.7A", "M54.7", "U07.3", "U09.0"])
def test_an_unlisted_subdivision_of_a_code_with_listed_subdivisions_is_refused(
    value: str,
) -> None:
    code = normalise_code(value)
    with pytest.raises(UnknownDiagnosis, match=f"^{code} is not in the diagnosis catalogue$"):
        lookup(value)


@pytest.mark.parametrize("value", ["F37", "F37.1", "M04", "M26.0", "A00", "E95"])
def test_a_category_not_in_the_catalogue_is_refused(value: str) -> None:
    with pytest.raises(UnknownDiagnosis, match="is not in the diagnosis catalogue"):
        lookup(value)


def test_lookup_refuses_malformed_values_as_invalid_not_unknown() -> None:
    with pytest.raises(InvalidDiagnosisCode):
        lookup("F4")


def test_a_diagnosis_knows_its_category_chapter_and_groups() -> None:
    burnout = lookup("F43.8A")
    lumbago = lookup("M54.5")

    assert burnout.category == "F43"
    assert burnout.chapter.number == 5
    assert burnout.group is DiagnosisGroup.MENTAL
    assert burnout.agreement_group is AgreementGroup.MENTAL_ILL_HEALTH
    assert lumbago.chapter.roman == "XIII"
    assert lumbago.group is DiagnosisGroup.MUSCULOSKELETAL
    assert lumbago.agreement_group is AgreementGroup.LONG_TERM_PAIN
    assert lookup("I10").agreement_group is None


def test_there_are_twenty_two_chapters_numbered_in_order() -> None:
    assert len(CHAPTERS) == 22
    assert [chapter.number for chapter in CHAPTERS] == list(range(1, 23))
    assert [chapter.roman for chapter in CHAPTERS][-4:] == ["XIX", "XX", "XXI", "XXII"]
    assert (CHAPTERS[4].first, CHAPTERS[4].last) == ("F00", "F99")
    assert (CHAPTERS[21].first, CHAPTERS[21].last) == ("U00", "U99")


@pytest.mark.parametrize(
    ("code", "number"),
    [
        ("A00", 1),
        ("B99", 1),
        ("C00", 2),
        ("D48", 2),
        ("D48.9", 2),
        ("D50", 3),
        ("D89", 3),
        ("E00", 4),
        ("E90", 4),
        ("F00", 5),
        ("F99", 5),
        ("G00", 6),
        ("H00", 7),
        ("H59", 7),
        ("H60", 8),
        ("H95", 8),
        ("I99", 9),
        ("J00", 10),
        ("K93", 11),
        ("L00", 12),
        ("M00", 13),
        ("M99", 13),
        ("N99", 14),
        ("O00", 15),
        ("P96", 16),
        ("Q99", 17),
        ("R00", 18),
        ("S00", 19),
        ("T98", 19),
        ("U07.1", 22),
        ("U99", 22),
        ("V01", 20),
        ("Y98", 20),
        ("Z00", 21),
        ("z99", 21),
    ],
)
def test_chapter_boundaries(code: str, number: int) -> None:
    assert chapter_of(code).number == number


@pytest.mark.parametrize("code", ["D49", "D90", "E95", "H96", "K94", "P97", "T99", "V00", "Y99"])
def test_a_category_between_chapters_is_in_none(code: str) -> None:
    with pytest.raises(UnknownDiagnosis, match=f"^{code} is in no ICD-10 chapter$"):
        chapter_of(code)


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("F43.2", DiagnosisGroup.MENTAL),
        ("F99", DiagnosisGroup.MENTAL),
        ("M54.5", DiagnosisGroup.MUSCULOSKELETAL),
        ("A09", DiagnosisGroup.SOMATIC),
        ("C50", DiagnosisGroup.SOMATIC),
        ("D86", DiagnosisGroup.SOMATIC),
        ("E11", DiagnosisGroup.SOMATIC),
        ("G43", DiagnosisGroup.SOMATIC),
        ("H81", DiagnosisGroup.SOMATIC),
        ("I21", DiagnosisGroup.SOMATIC),
        ("J45", DiagnosisGroup.SOMATIC),
        ("K58", DiagnosisGroup.SOMATIC),
        ("L40", DiagnosisGroup.SOMATIC),
        ("N39", DiagnosisGroup.SOMATIC),
        ("O26", DiagnosisGroup.PREGNANCY),
        ("R53", DiagnosisGroup.SYMPTOMS),
        ("Z73.0", DiagnosisGroup.FACTORS),
        ("P07", DiagnosisGroup.OTHER),
        ("Q90", DiagnosisGroup.OTHER),
        ("S82", DiagnosisGroup.OTHER),
        ("T93", DiagnosisGroup.OTHER),
        ("U07.1", DiagnosisGroup.OTHER),
        ("W19", DiagnosisGroup.OTHER),
        ("Y96", DiagnosisGroup.OTHER),
    ],
)
def test_the_rehabstod_group_follows_the_letter(code: str, group: DiagnosisGroup) -> None:
    assert group_of(code) is group


def test_the_group_needs_no_catalogue_entry_but_a_well_shaped_code() -> None:
    assert group_of("w19") is DiagnosisGroup.OTHER
    with pytest.raises(InvalidDiagnosisCode):
        group_of("W1")


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("F32.1", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F32", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F33.0", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F34.1", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F38.1", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F39", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F41.1", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F42.2", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F43.8A", AgreementGroup.MENTAL_ILL_HEALTH),
        ("f438a", AgreementGroup.MENTAL_ILL_HEALTH),
        ("F45.4", AgreementGroup.MENTAL_ILL_HEALTH),
        ("M54.5", AgreementGroup.LONG_TERM_PAIN),
        ("M54.2", AgreementGroup.LONG_TERM_PAIN),
        ("M53.1", AgreementGroup.LONG_TERM_PAIN),
        ("M79.7", AgreementGroup.LONG_TERM_PAIN),
        ("R52", AgreementGroup.LONG_TERM_PAIN),
        ("R52.2", AgreementGroup.LONG_TERM_PAIN),
        ("F20", None),
        ("F31.3", None),
        ("F40.1", None),
        ("F48.0", None),
        ("M17", None),
        ("M51.1", None),
        ("M75.1", None),
        ("R51", None),
        ("Z73.0", None),
    ],
)
def test_agreement_groups_of_the_rehabilitation_guarantee(
    code: str, group: AgreementGroup | None
) -> None:
    assert agreement_group_of(code) is group


def test_every_catalogue_row_is_a_code_written_in_catalogue_form_once() -> None:
    rows = _catalogue_rows()
    codes = [code for code, _text in rows]

    assert all(normalise_code(code) == code for code in codes)
    assert len(set(codes)) == len(codes)
    assert all(text and text == text.strip() for _code, text in rows)
    assert catalogue_size() == len(rows) == 584
    assert all(lookup(code) == Diagnosis(code, text) for code, text in rows)


def test_every_subcode_in_the_catalogue_has_its_parent_listed() -> None:
    codes = {code for code, _text in _catalogue_rows()}

    assert {code[:3] for code in codes} <= codes
    assert {code[:5] for code in codes if len(code) == 6} <= codes


def test_the_catalogue_has_every_category_of_chapters_v_and_xiii() -> None:
    categories = {code for code, _text in _catalogue_rows() if len(code) == 3}

    assert sorted(code for code in categories if code.startswith("F")) == CHAPTER_V
    assert sorted(code for code in categories if code.startswith("M")) == CHAPTER_XIII


@pytest.mark.parametrize(
    ("category", "subcodes"),
    [
        ("F32", "F32.0 F32.1 F32.2 F32.3 F32.8 F32.9"),
        ("F41", "F41.0 F41.1 F41.2 F41.3 F41.8 F41.9"),
        ("F43", "F43.0 F43.1 F43.2 F43.8 F43.8A F43.9"),
        ("F90", "F90.0 F90.1 F90.8 F90.9"),
        ("M54", "M54.0 M54.1 M54.2 M54.3 M54.4 M54.5 M54.6 M54.8 M54.9"),
        ("M75", "M75.0 M75.1 M75.2 M75.3 M75.4 M75.5 M75.6 M75.8 M75.9"),
        ("M79", "M79.0 M79.1 M79.2 M79.3 M79.4 M79.5 M79.6 M79.7 M79.8 M79.9"),
    ],
)
def test_common_sick_leave_categories_list_all_their_subcodes(category: str, subcodes: str) -> None:
    listed = [code for code, _text in _catalogue_rows() if code.startswith(category + ".")]

    assert listed == subcodes.split()


def test_the_common_categories_of_other_chapters_are_listed() -> None:
    codes = {code for code, _text in _catalogue_rows()}
    wanted = [
        f"{letter}{number:02}" for letter, numbers in COMMON_OTHERS.items() for number in numbers
    ]

    assert [code for code in wanted if code not in codes] == []
    assert {"U07.1", "U09.9"} <= codes


def test_searching_words_finds_rows_containing_all_of_them_ignoring_case() -> None:
    assert search("utmatt") == [Diagnosis("F43.8A", "Utmattningssyndrom")]
    assert search("UTMATTNINGSSYNDROM") == [Diagnosis("F43.8A", "Utmattningssyndrom")]
    assert [hit.code for hit in search("lumbago")] == ["M54.4", "M54.5"]
    assert [hit.code for hit in search("ischias lumbago")] == ["M54.4"]
    assert search("smärtor bröstryggen") == [Diagnosis("M54.6", "Smärtor i bröstryggen")]
    assert search("nothing like this") == []


def test_searching_a_code_prefix_finds_codes_in_code_order() -> None:
    assert [hit.code for hit in search("F43.8")] == ["F43.8", "F43.8A"]
    assert [hit.code for hit in search("f438")] == ["F43.8", "F43.8A"]
    assert [hit.code for hit in search("m54.")][:3] == ["M54", "M54.0", "M54.1"]
    assert [hit.code for hit in search("F4", limit=3)] == ["F40", "F40.0", "F40.1"]
    assert search("F43.8A") == [Diagnosis("F43.8A", "Utmattningssyndrom")]
    assert search("F37") == []


def test_search_returns_at_most_the_limit() -> None:
    assert len(search("F")) == 20
    assert len(search("F", limit=1000)) == 168
    assert search("   ") == []
    with pytest.raises(ValueError, match="limit must be at least 1"):
        search("F", limit=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "header"),
        ("kod\ttext\nF43\tX\n", "header"),
        ("code\ttext\nF43 X\n", "line 2: expected a code, a tab and a text"),
        ("code\ttext\nF43\t\n", "line 2: expected a code, a tab and a text"),
        ("code\ttext\nF43\tX\tY\n", "line 2: expected a code, a tab and a text"),
        ("code\ttext\nF4\tX\n", "line 2: 'F4': an ICD-10 code is a letter and two digits"),
        ("code\ttext\nF432\tX\n", "line 2: write 'F432' as 'F43.2'"),
        ("code\ttext\nF43\tX\nF43\tY\n", "line 3: F43 is listed twice"),
        ("code\ttext\nF43.2\tX\n", "F43.2 is listed without F43"),
        ("code\ttext\nF43\tX\nF43.8A\tY\n", "F43.8A is listed without F43.8"),
    ],
)
def test_a_broken_catalogue_file_is_refused_loudly(content: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse(content)


def test_every_group_has_a_distinct_label(app: Flask) -> None:
    with app.test_request_context():
        group_labels = {group.label for group in DiagnosisGroup}
        agreement_labels = {group.label for group in AgreementGroup}
        chapter_titles = {str(chapter.title) for chapter in CHAPTERS}

    assert len(group_labels) == len(DiagnosisGroup)
    assert len(agreement_labels) == len(AgreementGroup)
    assert len(chapter_titles) == len(CHAPTERS)
    assert all(label.strip() for label in group_labels | agreement_labels | chapter_titles)
