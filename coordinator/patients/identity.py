"""Swedish personal identity numbers: the normal form the blind index is computed over."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from coordinator import clock

_PATTERN = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")


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
    if (year, birth[2:]) > (today.year, f"{today.month:02d}{today.day:02d}"):
        year -= 100
    if separator == "+":
        year -= 100
    return f"{year:04d}{birth[2:]}{serial}"


def normalise_name(value: str) -> str:
    """Names compare case-insensitively, with Unicode and spacing differences ignored."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def format_personnummer(normalised: str) -> str:
    """``YYYYMMDDNNNN`` shown as ``YYYYMMDD-NNNN``."""
    return f"{normalised[:8]}-{normalised[8:]}" if len(normalised) == 12 else normalised
