"""The ICD-10 diagnosis catalogue shipped for sick-leave certificates.

Codes follow ICD-10-SE, the Swedish edition of WHO's ICD-10 kept by Socialstyrelsen, and the
catalogue's texts are its Swedish titles. The catalogue is a selection (``data/icd10.tsv``):
every category of chapters V (F) and XIII (M), the subcodes of the categories that are common in
sick leave, and the common categories of the other chapters. Codes are written with a dot after
the category (``F43.2``, ``F43.8A``); categories stand bare (``F43``).

Where the catalogue lists a category but none of its subdivisions, any subdivision is accepted
with the category's text: the catalogue knows the category, not how it is divided. Where it lists
subdivisions, it lists all of them, so an unlisted one is refused.

The chapters are the 21 of ICD-10 plus chapter XXII, codes for special purposes (U07.1 covid-19,
U09.9 post-covid). WHO gives chapter XXII the range U00–U85; ICD-10-SE U00–U99, because it also
uses U98 and U99 — this module follows ICD-10-SE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from itertools import islice

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

#: A letter, two digits, then optionally one digit and one more digit or letter (ICD-10-SE's
#: fifth position, as in F43.8A). The dot is optional on input; ASCII only.
_CODE = re.compile(r"([A-Z][0-9]{2})(?:\.?([0-9][0-9A-Z]?))?")
#: The start of a code, as typed into a search box: "F", "F4", "F43", "F43.", "F43.8", "F438A".
_CODE_PREFIX = re.compile(r"[A-Z](?:[0-9](?:[0-9](?:\.?(?:[0-9][0-9A-Z]?)?)?)?)?")

_HEADER = "code\ttext"


class InvalidDiagnosisCode(ValueError):
    """The value is not shaped like an ICD-10 code."""


class UnknownDiagnosis(ValueError):
    """The value is shaped like an ICD-10 code but is not in the catalogue."""


def normalise_code(value: str) -> str:
    """The code in catalogue form: ``" f438a "`` → ``"F43.8A"``, ``"f43"`` → ``"F43"``."""
    compact = "".join(value.split()).upper()
    match = _CODE.fullmatch(compact)
    if match is None:
        raise InvalidDiagnosisCode("an ICD-10 code is a letter and two digits, e.g. F43.2")
    category, subdivision = match.groups()
    return f"{category}.{subdivision}" if subdivision else category


class DiagnosisGroup(StrEnum):
    """The diagnosis groups of Inera's Rehabstöd statistics, decided by the code's letter."""

    #: F00–F99.
    MENTAL = "mental"
    #: M00–M99.
    MUSCULOSKELETAL = "musculoskeletal"
    #: A00–E90, G00–L99 and N00–N99.
    SOMATIC = "somatic"
    #: O00–O99.
    PREGNANCY = "pregnancy"
    #: R00–R99.
    SYMPTOMS = "symptoms"
    #: Z00–Z99.
    FACTORS = "factors"
    #: P, Q, S–Y and U.
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(_GROUP_LABELS[self])


_GROUP_LABELS = {
    DiagnosisGroup.MENTAL: _l("Mental (F)"),
    DiagnosisGroup.MUSCULOSKELETAL: _l("Musculoskeletal (M)"),
    DiagnosisGroup.SOMATIC: _l("Somatic"),
    DiagnosisGroup.PREGNANCY: _l("Pregnancy (O)"),
    DiagnosisGroup.SYMPTOMS: _l("Symptom diagnoses (R)"),
    DiagnosisGroup.FACTORS: _l("Factors (Z)"),
    DiagnosisGroup.OTHER: _l("Other"),
}

_GROUP_BY_LETTER = {
    **dict.fromkeys("ABCDEGHIJKLN", DiagnosisGroup.SOMATIC),
    "F": DiagnosisGroup.MENTAL,
    "M": DiagnosisGroup.MUSCULOSKELETAL,
    "O": DiagnosisGroup.PREGNANCY,
    "R": DiagnosisGroup.SYMPTOMS,
    "Z": DiagnosisGroup.FACTORS,
    **dict.fromkeys("PQSTUVWXY", DiagnosisGroup.OTHER),
}


class AgreementGroup(StrEnum):
    """The two groups of patients the rehabilitation guarantee pays treatment for."""

    MENTAL_ILL_HEALTH = "mental_ill_health"
    LONG_TERM_PAIN = "long_term_pain"

    @property
    def label(self) -> str:
        return str(_AGREEMENT_LABELS[self])


_AGREEMENT_LABELS = {
    AgreementGroup.MENTAL_ILL_HEALTH: _l("Mental ill-health"),
    AgreementGroup.LONG_TERM_PAIN: _l("Long-term pain"),
}

# The state's agreement with the regions on the rehabilitation guarantee
# (*rehabiliteringsgarantin*) pays for treatment of two groups. A prefix covers the code itself
# and all its subdivisions.
#: "Lindrig till medelsvår psykisk ohälsa": depression, anxiety and stress-related ill-health.
MENTAL_ILL_HEALTH_PREFIXES = ("F32", "F33", "F34", "F38", "F39", "F41", "F42", "F43", "F45")
#: "Långvarig ospecifik smärta i rygg, nacke och skuldror", and long-term widespread pain.
LONG_TERM_PAIN_PREFIXES = ("M53", "M54", "M79", "R52")

_AGREEMENT_PREFIXES = (
    (AgreementGroup.MENTAL_ILL_HEALTH, MENTAL_ILL_HEALTH_PREFIXES),
    (AgreementGroup.LONG_TERM_PAIN, LONG_TERM_PAIN_PREFIXES),
)


def group_of(code: str) -> DiagnosisGroup:
    """The Rehabstöd group of a code; needs no catalogue, so it works for any stored code."""
    return _GROUP_BY_LETTER[normalise_code(code)[0]]


def agreement_group_of(code: str) -> AgreementGroup | None:
    """The rehabilitation guarantee's group of a code, or None; needs no catalogue."""
    compact = normalise_code(code).replace(".", "")
    for group, prefixes in _AGREEMENT_PREFIXES:
        # Compared without dots so that a prefix may also be a subcode, e.g. "M75.1".
        if any(compact.startswith(prefix.replace(".", "")) for prefix in prefixes):
            return group
    return None


@dataclass(frozen=True)
class Chapter:
    """A chapter of ICD-10: the categories from ``first`` to ``last``, both included."""

    number: int
    roman: str
    first: str
    last: str
    title: LazyString

    def contains(self, category: str) -> bool:
        # Categories are a letter and two digits, so text order is code order.
        return self.first <= category <= self.last


#: The chapters of ICD-10, by number: the 21 of WHO's and chapter XXII (U00–U99, as in
#: ICD-10-SE). Letter D is split between chapters II and III, letter H between VII and VIII.
CHAPTERS = (
    Chapter(1, "I", "A00", "B99", _l("Infectious and parasitic diseases")),
    Chapter(2, "II", "C00", "D48", _l("Neoplasms")),
    Chapter(3, "III", "D50", "D89", _l("Diseases of the blood and the immune system")),
    Chapter(4, "IV", "E00", "E90", _l("Endocrine, nutritional and metabolic diseases")),
    Chapter(5, "V", "F00", "F99", _l("Mental and behavioural disorders")),
    Chapter(6, "VI", "G00", "G99", _l("Diseases of the nervous system")),
    Chapter(7, "VII", "H00", "H59", _l("Diseases of the eye")),
    Chapter(8, "VIII", "H60", "H95", _l("Diseases of the ear")),
    Chapter(9, "IX", "I00", "I99", _l("Diseases of the circulatory system")),
    Chapter(10, "X", "J00", "J99", _l("Diseases of the respiratory system")),
    Chapter(11, "XI", "K00", "K93", _l("Diseases of the digestive system")),
    Chapter(12, "XII", "L00", "L99", _l("Diseases of the skin")),
    Chapter(13, "XIII", "M00", "M99", _l("Diseases of the musculoskeletal system")),
    Chapter(14, "XIV", "N00", "N99", _l("Diseases of the genitourinary system")),
    Chapter(15, "XV", "O00", "O99", _l("Pregnancy, childbirth and the puerperium")),
    Chapter(16, "XVI", "P00", "P96", _l("Conditions of the perinatal period")),
    Chapter(17, "XVII", "Q00", "Q99", _l("Congenital malformations")),
    Chapter(18, "XVIII", "R00", "R99", _l("Symptoms, signs and abnormal findings")),
    Chapter(19, "XIX", "S00", "T98", _l("Injury, poisoning and other external consequences")),
    Chapter(20, "XX", "V01", "Y98", _l("External causes of morbidity")),
    Chapter(21, "XXI", "Z00", "Z99", _l("Factors influencing health and contact with care")),
    Chapter(22, "XXII", "U00", "U99", _l("Codes for special purposes")),
)


def chapter_of(code: str) -> Chapter:
    """The chapter of a code; UnknownDiagnosis for a category in none (such as E95)."""
    category = normalise_code(code)[:3]
    for chapter in CHAPTERS:
        if chapter.contains(category):
            return chapter
    raise UnknownDiagnosis(f"{category} is in no ICD-10 chapter")


@dataclass(frozen=True)
class Diagnosis:
    """A code in catalogue form with its Swedish text."""

    code: str
    text: str

    @property
    def category(self) -> str:
        return self.code[:3]

    @property
    def chapter(self) -> Chapter:
        return chapter_of(self.code)

    @property
    def group(self) -> DiagnosisGroup:
        return group_of(self.code)

    @property
    def agreement_group(self) -> AgreementGroup | None:
        return agreement_group_of(self.code)


def lookup(value: str) -> Diagnosis:
    """The catalogue's diagnosis for a code, in any spelling ``normalise_code`` accepts.

    A subdivision of a code the catalogue lists without subdivisions gets that code's text
    (``I10.9`` → the text of ``I10``); one of a code with listed subdivisions must be listed.
    """
    code = normalise_code(value)
    catalogue = _catalogue()
    text = catalogue.texts.get(code)
    if text is not None:
        return Diagnosis(code, text)
    for ancestor in _ancestors(code):
        if ancestor in catalogue.texts:
            if ancestor not in catalogue.subdivided:
                return Diagnosis(code, catalogue.texts[ancestor])
            break
    raise UnknownDiagnosis(f"{code} is not in the diagnosis catalogue")


def search(prefix_or_words: str, limit: int = 20) -> list[Diagnosis]:
    """Diagnoses for an autocomplete, in code order, at most ``limit``.

    A code-like query ("F4", "f43.8") finds the codes that start with it; anything else finds
    the rows whose text contains every word of it, ignoring case ("utmatt", "smärtor rygg").
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = "".join(prefix_or_words.split()).upper()
    rows = _catalogue().rows
    if _CODE_PREFIX.fullmatch(query):
        wanted = query.replace(".", "")
        hits = (row.diagnosis for row in rows if row.compact_code.startswith(wanted))
    else:
        words = prefix_or_words.casefold().split()
        if not words:
            return []
        hits = (row.diagnosis for row in rows if all(word in row.folded_text for word in words))
    return list(islice(hits, limit))


def catalogue_size() -> int:
    """How many codes the catalogue lists."""
    return len(_catalogue().rows)


@dataclass(frozen=True)
class _Row:
    diagnosis: Diagnosis
    #: Precomputed once for search: the code without its dot and the casefolded text.
    compact_code: str
    folded_text: str


@dataclass(frozen=True)
class _Catalogue:
    rows: tuple[_Row, ...]
    texts: Mapping[str, str]
    #: The codes of which the catalogue lists at least one subdivision.
    subdivided: frozenset[str]


def _ancestors(code: str) -> list[str]:
    """The codes above a catalogue-form code, nearest first: F43.8A → [F43.8, F43]."""
    return [code[:length] for length in (5, 3) if len(code) > length]


@cache
def _catalogue() -> _Catalogue:
    # Loaded once per process, on first use: importing this module stays cheap.
    resource = files("coordinator.patients") / "data" / "icd10.tsv"
    return _parse(resource.read_text(encoding="utf-8"))


def _parse(content: str) -> _Catalogue:
    """Read the TSV, refusing anything that would make lookups ambiguous or wrong."""
    lines = content.splitlines()
    if not lines or lines[0] != _HEADER:
        raise ValueError("icd10.tsv must start with the header line 'code<TAB>text'")
    texts: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        code, tab, text = line.partition("\t")
        if not tab or not text.strip() or "\t" in text or text != text.strip():
            raise ValueError(f"icd10.tsv line {number}: expected a code, a tab and a text")
        try:
            normalised = normalise_code(code)
        except InvalidDiagnosisCode as error:
            raise ValueError(f"icd10.tsv line {number}: {code!r}: {error}") from None
        if normalised != code:
            raise ValueError(f"icd10.tsv line {number}: write {code!r} as {normalised!r}")
        if code in texts:
            raise ValueError(f"icd10.tsv line {number}: {code} is listed twice")
        texts[code] = text
    subdivided = set()
    for code in texts:
        parents = _ancestors(code)[:1]
        # A subdivision without its parent would make "unlisted subdivisions are refused"
        # depend on which level happens to be listed.
        if parents and parents[0] not in texts:
            raise ValueError(f"icd10.tsv: {code} is listed without {parents[0]}")
        subdivided.update(parents)
    rows = tuple(
        _Row(Diagnosis(code, text), code.replace(".", ""), text.casefold())
        for code, text in sorted(texts.items())
    )
    return _Catalogue(rows=rows, texts=texts, subdivided=frozenset(subdivided))
