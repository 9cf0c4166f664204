"""Exported figures: the small-cell rule and the CSV format.

A count of one to four people can identify them when it is combined with what the reader
already knows (a small unit, one man with a rare diagnosis), so exported files show it as
"< 5" — the convention of Swedish health statistics. Zero identifies nobody and stays. The
manager's screen shows exact counts: the manager may see the unit's patients anyway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: Counts from 1 to this are masked in exports.
SMALL_CELL_MAX = 4
MASK = "< 5"


def is_small(count: int) -> bool:
    return 1 <= count <= SMALL_CELL_MAX


def masked(count: int) -> str:
    """A count as an exported file shows it."""
    return MASK if is_small(count) else str(count)


#: What a spreadsheet reads as the start of a formula (CSV injection: a doctor's name typed
#: as ``=HYPERLINK(...)`` must arrive as text).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def to_csv(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A CSV text as Swedish spreadsheets open it: BOM, semicolons (the comma is the decimal
    separator), CRLF line ends."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";")
    writer.writerow([_cell(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([_cell(cell) for cell in row])
    return out.getvalue()
