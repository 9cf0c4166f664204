"""Swedish personal identity numbers and coordination numbers: parsing, validation, the normal
form the blind index is computed over, and what the number tells (birth date, age, legal sex).

The check digit and the calendar date are checked by the ``personnummer`` library; the century
of a 10-digit number is settled here first, by the Tax Agency's rule (the ``+`` separator from
the year a person turns 100), which the library applies by year only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from personnummer import personnummer as library

from coordinator import clock

#: ASCII digits only: ``\d`` alone also matches other scripts' digits (Arabic-Indic, full-width…),
#: which would give the same number a second blind index — and the patient a second record.
_PATTERN = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$", re.ASCII)


def normalise_personnummer(value: str, today: date | None = None) -> str:
    """The 12-digit form without separator (``YYYYMMDDNNNN``) of a personnummer or
    samordningsnummer written with or without century and separator.

    A 10-digit number gets the century that puts the birth date in the last 100 years; the
    ``+`` separator (used from the year a person turns 100) moves it back another 100 years.
    Raises ``ValueError`` when the shape is wrong; the check digit is the patients module's
    concern.
    """
    match = _PATTERN.match(value.strip().replace(" ", ""))
    if match is None:
        raise ValueError("a personnummer has 10 or 12 digits, e.g. 19121212-1212")
    century, birth, separator, serial = match.groups()
    if century is not None:
        if separator == "+":
            raise ValueError("the + separator is only used with a 10-digit number")
        return century + birth + serial
    today = today or clock.now().date()
    year = 2000 + int(birth[:2])
    month, day = int(birth[2:4]), int(birth[4:6])
    day = day - 60 if day > 60 else day  # a samordningsnummer's day is the birth day + 60
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    if separator == "+":
        year -= 100
    return f"{year:04d}{birth[2:]}{serial}"


class InvalidIdentityNumber(ValueError):
    """The number is malformed, names no real date, or fails its check digit."""


@dataclass(frozen=True)
class IdentityNumber:
    """A valid personnummer or samordningsnummer (*coordination number*)."""

    #: ``YYYYMMDDNNNN``, the form stored and indexed.
    normalised: str
    birth_date: date
    #: A samordningsnummer: the day of birth plus 60, for people not (yet) registered in Sweden.
    is_coordination_number: bool
    #: The legal sex the number encodes (odd ninth digit: male); stated gender is recorded
    #: separately by the patient register.
    is_male: bool

    def age(self, today: date | None = None) -> int:
        today = today or clock.now().date()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def __str__(self) -> str:
        return format_personnummer(self.normalised)


def parse_identity_number(value: str, today: date | None = None) -> IdentityNumber:
    """Validate a personnummer or samordningsnummer in any common spelling.

    Raises :class:`InvalidIdentityNumber` with a message fit for the user.
    """
    today = today or clock.now().date()
    try:
        normalised = normalise_personnummer(value, today)
        parsed = library.Personnummer(normalised)
    except ValueError as error:
        raise InvalidIdentityNumber(str(error)) from None
    except library.PersonnummerException:
        raise InvalidIdentityNumber(
            "the number fails its check digit or names no real date"
        ) from None
    born = parsed.get_date()
    if born > today:
        raise InvalidIdentityNumber("the birth date is in the future")
    return IdentityNumber(
        normalised=normalised,
        birth_date=born,
        is_coordination_number=parsed.is_coordination_number(),
        is_male=parsed.is_male(),
    )


def looks_like_personnummer(value: str) -> bool:
    """Whether a search term is meant as a number (digits, maybe a dash or plus) or a name."""
    stripped = value.strip().replace(" ", "")
    return any(c.isdigit() for c in stripped) and all(c.isdigit() or c in "-+" for c in stripped)


def normalise_name(value: str) -> str:
    """Names compare case-insensitively, with Unicode and spacing differences ignored."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def format_personnummer(normalised: str) -> str:
    """``YYYYMMDDNNNN`` shown as ``YYYYMMDD-NNNN``."""
    return f"{normalised[:8]}-{normalised[8:]}" if len(normalised) == 12 else normalised
