"""Passwords too common to allow (OWASP ASVS 2.1.7, NIST SP 800-63B 5.1.1.2).

The list is the 30 000 passwords seen most often in published breaches, as shipped with zxcvbn
(its ``passwords`` frequency list; no network look-up, nothing leaves the machine), plus words
anyone would try against this product. A password is refused when it, or its core (what is left
after the digits and punctuation people add at either end: ``Sommar2024!`` → ``sommar``), is on
the list or is the user's own name or username, or when it repeats a handful of characters. There
are no composition rules: length does the rest.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

#: Words of this product and its users' world that a guesser tries first.
CONTEXT_WORDS = frozenset(
    {
        "coordinator",
        "koordinator",
        "rehabkoordinator",
        "rehabkoordinering",
        "rehab",
        "vårdcentral",
        "vardcentral",
        "vårdcentralen",
        "region",
        "lösenord",
        "losenord",
        "password",
        "sjukskrivning",
        "försäkringskassan",
        "forsakringskassan",
    }
)

#: Fewer distinct characters than this is a repetition (``aaaaaaaaaaaa``, ``abababababab``).
MIN_DISTINCT_CHARACTERS = 5

_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@functools.cache
def _breached() -> frozenset[str]:
    # Imported here: the module is a 1.5 MB literal, read on the first password set, not at start.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | CONTEXT_WORDS


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _candidates(password: str) -> set[str]:
    whole = _normal(password)
    core = _EDGES.sub("", whole)
    return {whole, core, whole.replace(" ", ""), core.replace(" ", "")} - {""}


def is_common(password: str) -> bool:
    """Whether the password or its core is among the breached passwords or context words."""
    return not _candidates(password).isdisjoint(_breached())


def is_personal(password: str, personal: Iterable[str]) -> bool:
    """Whether the password or its core is one of ``personal`` (the user's name, username)."""
    own = {_normal(word) for word in personal} - {""}
    return not _candidates(password).isdisjoint(own)


def is_repetitive(password: str) -> bool:
    return len(set(_normal(password))) < MIN_DISTINCT_CHARACTERS
