"""What the bad-input tests share: strategies for hostile text, and the rule every form must
keep — a value is either stored exactly as the product says it normalises it (stripped), or
refused with a message and nothing written; never a server error.

A test describes its forms as :class:`FormCase` (free text) or :class:`OddCase` (a date,
number or choice field) and hands them to :func:`try_every_form` / :func:`try_odd_values`:
hypothesis draws values for each in turn, example after example, in the test's one app."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from coordinator.access import Actor
from tests.conftest import UnitRef, UserRef
from tests.crypto.support import actor_for
from tests.helpers import alert, csrf_token, field_errors

#: Characters a browser can send: every code point but the surrogates, which no UTF-8 encodes.
CHARACTERS = st.characters(blacklist_categories=("Cs",))

#: Characters that have tripped text handling elsewhere: direction overrides and marks,
#: zero-width characters and the byte-order mark, NUL and other controls, Unicode-only
#: whitespace and line breaks, combining marks, emoji sequences, other scripts' digits, the
#: characters of markup, SQL, LIKE patterns and format strings, and the last code point.
TRICKY = st.sampled_from(
    [
        "\u202e", "\u202d", "\u200f", "\u200b", "\u200d", "\u2060", "\ufeff", "\x00", "\x01",
        "\x1b", "\x1f", "\x7f", "\x85", "\r", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c",
        "\u2028", "\u00a0", "\u3000", "e\u0301", "\u0301", "\u0308" * 5, "🧑‍⚕️", "🇸🇪",
        "👍🏽", "९", "١", "１", "Å", "ß", "İ", "<script>", "&amp;", "'", '"', "\\", "%", "_",
        "%(name)s", "{0}", "\U0010ffff", "\ufffd", "\uffff",
    ]
)  # fmt: skip

_PIECES = st.one_of(CHARACTERS, TRICKY)

#: Arbitrary text for pure functions: short, any character, tricky ones often.
ANY_TEXT = st.lists(_PIECES, max_size=30).map("".join)

#: ASCII digits to each script's (all are decimal digits to ``str.isdigit`` and ``re``'s \\d).
OTHER_DIGITS = {
    name: str.maketrans("0123456789", "".join(chr(zero + i) for i in range(10)))
    for name, zero in {
        "arabic-indic": 0x0660,
        "extended arabic-indic": 0x06F0,
        "devanagari": 0x0966,
        "bengali": 0x09E6,
        "thai": 0x0E50,
        "full-width": 0xFF10,
        "mathematical bold": 0x1D7CE,
    }.items()
}

#: What people and programs type into a date, number or choice field: impossible dates, the
#: calendar's ends, numbers past 64 bits or floats, other scripts' and full-width digits.
_ODD = [
    "", "2026-02-30", "2026-13-01", "2026-6-1", "9999-12-31", "0001-01-01", "1900-01-01", "0",
    "-1", "1e309", "NaN", "९", "١٢", "１２", "２０２６-０６-１５", "١٢٣٤-01-01",
    "99999999999999999999", str(2**63), "2026-06-15T10:00", " 2026-06-15", "15/6 2026", " ",
    "\x00", "\u202e2026-06-15", "x" * 300,
]  # fmt: skip

#: What a date, number or choice field gets: the above, digit soup, or anything.
ODD_VALUES = st.one_of(
    st.sampled_from(_ODD),
    st.text(st.sampled_from("0123456789-+.eE ١０९"), max_size=12),
    st.lists(_PIECES, max_size=6).map("".join),
)

#: A value every free-text field takes: surrounding and Unicode spaces, a direction override,
#: zero-width and combining characters, an emoji flag, markup, a format string.
SAMPLE = "\u3000Å\u202eÖd\u202c\u200be\u0301 🇸🇪 <b>&amp;</b> %(n)s\n"

#: The control characters a field stored in the clear refuses (``NO_CONTROL_CHARACTERS``).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def luhn(digits: str) -> int:
    """The check digit the Luhn algorithm adds to ``digits`` (personnummer, org numbers)."""
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def free_text(limit: int) -> st.SearchStrategy[str]:
    """Text for a field that takes at most ``limit`` characters: empty, short and hostile, or
    of a length at the limit (one under, at, one over), made of one drawn character or many."""
    short = st.lists(_PIECES, max_size=min(limit, 20)).map("".join)
    lengths = st.sampled_from([limit - 1, limit, limit + 1])
    repeated = st.builds(lambda c, n: (c * n)[:n], _PIECES, lengths)
    mixed = st.builds(
        lambda chunk, n: (chunk * (n // len(chunk) + 1))[:n],
        st.lists(_PIECES, min_size=1, max_size=12).map("".join),
        lengths,
    )
    return st.one_of(short, short, repeated, mixed, st.just(""))


@dataclass(frozen=True)
class TextField:
    """A free-text field of a form: its name, the most characters it takes, whether it is
    required (then blank after stripping is refused), whether it is stored in the clear (then
    control characters are refused: PostgreSQL cannot store NUL in text, and nobody types
    them; encrypted fields take any character), and what an empty value is stored as.

    ``optional``: the field's checks start with WTForms' ``Optional``, so a blank value (only
    whitespace, as ``str.strip`` sees it) skips them, whatever its length. ``values``: what to
    try instead of free text alone (a field with a format of its own also gets valid values,
    so that the form is not refused for it every time). ``sample``: a value the field takes,
    tried first with every field's (so each form is seen to store what it takes)."""

    name: str
    limit: int
    required: bool = False
    plain: bool = False
    empty: object = None
    optional: bool = True
    values: st.SearchStrategy[str] | None = None
    sample: str = SAMPLE

    def refuses(self, value: str) -> bool:
        """Whether this value must be refused: blank when required; else, unless blank in an
        optional field, longer than the limit (counted as sent, before stripping) or with a
        control character in a field kept in the clear."""
        if not value.strip() and (self.required or self.optional):
            return self.required
        if len(value) > self.limit:
            return True
        return self.plain and CONTROL_CHARACTERS.search(value) is not None

    def stored(self, value: str) -> object:
        """How an accepted value is stored: stripped (Python's notion of whitespace, which
        includes the Unicode spaces and line breaks), and ``empty`` when nothing is left."""
        return value.strip() or self.empty


def texts_for(fields: list[TextField]) -> st.SearchStrategy[dict[str, str]]:
    """A value for each of ``fields``: drawn, or (as often) its sample, so that a form with
    many fields is not refused for one of them nearly every time."""
    return st.fixed_dictionaries(
        {
            f.name: st.one_of(f.values if f.values is not None else free_text(f.limit),
                              st.just(f.sample))
            for f in fields
        }
    )  # fmt: skip


def formatted(limit: int, *valid: str) -> st.SearchStrategy[str]:
    """For a field with a format: empty, one of ``valid``, or free text."""
    return st.one_of(st.just(""), st.sampled_from(valid), free_text(limit))


#: Phone numbers as people write them, or anything.
PHONES = formatted(40, "036-10 10 10", "+46 70 123 45 67", "(08) 123 456", " 070-1234567 ")
#: E-mail addresses, or anything.
EMAILS = st.one_of(st.emails().filter(lambda e: len(e) <= 120), formatted(120, "a@b.se"))


class Session:
    """A user's browser (signed in), and reads as that user through the services."""

    def __init__(
        self, app: Flask, client: FlaskClient, user: UserRef, unit: UnitRef | None
    ) -> None:
        self.app, self.client, self.user, self.unit = app, client, user, unit
        self.token = csrf_token(client)  # from the start page: it reads no patient

    def post(self, url: str, data: Mapping[str, Any], **kw: Any) -> TestResponse:
        return self.client.post(url, data={"csrf_token": self.token, **data}, **kw)

    def read(self, function: Callable[[Actor], Any]) -> Any:
        """``function`` called with the user as actor, in an app context of its own."""
        with self.app.app_context():
            return function(actor_for(self.user, self.unit))


def never_a_server_error(response: TestResponse) -> None:
    assert response.status_code < 500, response.text[:2000]


def _no_uncertain(_values: Mapping[str, str]) -> frozenset[str]:
    return frozenset()


@dataclass
class FormCase:
    """A form with free-text ``fields``: ``post`` sends values for them with the rest of a
    valid form, ``read`` gives what is stored (a mapping with at least each field's value).

    ``uncertain`` names fields whose rules are not only length and characters (an e-mail
    address, a code the catalogue decides): either outcome, but a refusal must be theirs.
    ``error_ids`` maps a field to the id its message carries on the page, where it differs.
    ``prepare`` runs first (a record of its own to change, when one can change only once);
    ``then`` runs after an accepted post (more checks: a search that finds it…).
    ``stores``: False for a form that only prints what it is given (nothing to read back).
    ``messages``: how the page shows field messages, where not as the form macro does."""

    name: str
    fields: list[TextField]
    post: Callable[[dict[str, str]], TestResponse]
    read: Callable[[], Mapping[str, Any]]
    uncertain: Callable[[Mapping[str, str]], frozenset[str]] = _no_uncertain
    accepted_status: tuple[int, ...] = (302,)
    error_ids: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None
    then: Callable[[dict[str, str], TestResponse], None] | None = None
    stores: bool = True
    messages: Callable[[TestResponse], dict[str, str]] = field_errors


def check_text_outcome(case: FormCase, values: dict[str, str]) -> bool:
    """Post ``values`` on ``case``'s form and hold it to the rule: accepted exactly when no
    field must be refused, and then every field stored as :meth:`TextField.stored` says;
    refused with 400 or 409, a message — above the form, or next to fields that must be
    refused (or uncertain ones) only — and nothing stored."""
    if case.prepare is not None:
        case.prepare()
    before = case.read()
    response = case.post(values)
    never_a_server_error(response)
    uncertain = case.uncertain(values)
    must_refuse = {f.name for f in case.fields if f.refuses(values[f.name])}
    if response.status_code in case.accepted_status:
        assert not must_refuse, f"accepted although {sorted(must_refuse)} must be refused"
        stored = case.read()
        for f in case.fields if case.stores else []:
            if f.name not in uncertain:
                assert stored[f.name] == f.stored(values[f.name]), f.name
        if case.then is not None:
            case.then(values, response)
        return True
    assert response.status_code in (400, 409), response.status_code
    errors = case.messages(response)
    faulty = {case.error_ids.get(name, name) for name in must_refuse | uncertain}
    assert errors or alert(response), "refused without a message"
    assert set(errors) <= faulty, f"messages next to {sorted(errors)}, expected {sorted(faulty)}"
    assert case.read() == before
    return False


def try_every_form(cases: list[FormCase], examples: int) -> None:
    """For each of ``cases``, ``examples`` drawings of values for its fields, each held to
    the rule (:func:`check_text_outcome`). Each form must have taken some of them: a form
    that refused everything would prove nothing about storing text exactly."""
    for case in cases:
        accepted: list[bool] = []
        _text_property(case, examples, accepted)()
        assert any(accepted), f"{case.name}: nothing drawn was accepted"


def _text_property(case: FormCase, examples: int, accepted: list[bool]) -> Callable[[], None]:
    @settings(max_examples=examples)
    @given(values=texts_for(case.fields))
    @example(values={f.name: f.sample for f in case.fields})
    def attempt(values: dict[str, str]) -> None:
        accepted.append(check_text_outcome(case, values))

    return attempt


@dataclass
class OddCase:
    """A form's date, number and choice fields: ``valid`` gives each a value the form takes;
    ``post`` sends them (some replaced by odd values) with the rest of a valid form; ``read``
    gives what the form could change; ``prepare`` as for :class:`FormCase`. ``hidden`` names
    hidden fields, which only a tampered request fills with something odd: a refusal then
    needs no message."""

    name: str
    valid: dict[str, str]
    post: Callable[[dict[str, str]], TestResponse]
    read: Callable[[], object]
    prepare: Callable[[], None] | None = None
    hidden: frozenset[str] = frozenset()


def odd_values_for(case: OddCase) -> st.SearchStrategy[dict[str, str]]:
    """Each of the case's fields valid or odd."""
    return st.fixed_dictionaries(
        {name: st.one_of(ODD_VALUES, st.just(valid)) for name, valid in case.valid.items()}
    )


def check_odd_outcome(case: OddCase, values: dict[str, str]) -> bool:
    """Post ``values``: accepted (a redirect, or the PDF a print form gives), or refused —
    with a message next to a field or above the form, or as the not-found page (an id that
    names nothing) — and nothing written; never a 500."""
    if case.prepare is not None:
        case.prepare()
    before = case.read()
    response = case.post(values)
    never_a_server_error(response)
    if response.status_code == 302 or response.mimetype == "application/pdf":
        return True
    assert response.status_code in (400, 404, 409), response.status_code
    tampered = any(values[name] != case.valid[name] for name in case.hidden)
    if response.status_code != 404 and not tampered:
        assert field_errors(response) or alert(response), "refused without a message"
    assert case.read() == before
    return False


def try_odd_values(cases: list[OddCase], examples: int) -> None:
    """For each of ``cases``, ``examples`` drawings of odd values (:func:`check_odd_outcome`)."""
    for case in cases:
        _odd_property(case, examples)()


def _odd_property(case: OddCase, examples: int) -> Callable[[], None]:
    @settings(max_examples=examples)
    @given(values=odd_values_for(case))
    def attempt(values: dict[str, str]) -> None:
        check_odd_outcome(case, values)

    return attempt
