"""Reading a certificate CSV file (docs/import.md): encoding, delimiter, header, cells.

Nothing here knows about patients or the database: :func:`parse` turns bytes into
:class:`ImportRow` values or refuses the file with line-numbered errors. Validation and
planning are :mod:`coordinator.patients.importer`'s.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from coordinator.errors import DomainError
from coordinator.patients.identity import normalise_name

#: The most certificate lines one file may hold (larger exports are split).
MAX_ROWS = 10_000

#: Header names accepted (compared case-folded), by the field they fill. The Swedish names
#: are the documented ones; the ASCII spellings are for systems that cannot write å, ä, ö.
COLUMNS = {
    "personnummer": "personnummer",
    "förnamn": "first_name",
    "fornamn": "first_name",
    "efternamn": "last_name",
    "från": "start_on",
    "fran": "start_on",
    "till": "end_on",
    "grad": "degree",
    "diagnos": "diagnosis_code",
    "läkare": "doctor",
    "lakare": "doctor",
}
#: Each field's column name as messages call it, in the documented order.
COLUMN_NAMES = {
    "personnummer": "personnummer",
    "first_name": "förnamn",
    "last_name": "efternamn",
    "start_on": "från",
    "end_on": "till",
    "degree": "grad",
    "diagnosis_code": "diagnos",
    "doctor": "läkare",
}
#: Columns every file must have; ``läkare`` may be left out.
REQUIRED = tuple(name for name in COLUMN_NAMES if name != "doctor")


@dataclass(frozen=True)
class RowError:
    """A problem that stops the import, at a physical line of the file (the header is 1)."""

    line: int
    message: str


@dataclass(frozen=True)
class RowNote:
    """Something about one line the coordinator should see: a warning, or what it does."""

    line: int
    message: str


class ImportRefused(DomainError):
    """The file was refused as a whole; ``errors`` says where and why. Nothing was written."""

    default_message = _l("The file was not imported and nothing was saved. Correct these lines:")

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__()
        self.errors = list(errors)


@dataclass(frozen=True)
class ImportRow:
    """One certificate line as written in the file: cells trimmed, not yet validated."""

    line: int
    personnummer: str
    first_name: str
    last_name: str
    start_on: str
    end_on: str
    degree: str
    diagnosis_code: str
    doctor: str = ""


# -- Reading the file -------------------------------------------------------------------------


def parse(data: bytes) -> list[ImportRow]:
    """The certificate lines of a CSV file; :class:`ImportRefused` if the file cannot be read.

    Refuses a file that is not UTF-8, is empty, has a header with missing, unknown or repeated
    columns, has lines with the wrong number of cells, or more than :data:`MAX_ROWS` lines.
    Blank lines (spreadsheets export them as a row of delimiters) are ignored.
    """
    text = _decode(data)
    records = _records(text, _delimiter(text))
    first = next(records, None)
    if first is None:  # nothing but delimiters
        raise ImportRefused([RowError(1, _("The file is empty."))])
    header_line, fields = first[0], _fields(*first)
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for line, cells in records:
        if len(rows) + len(errors) >= MAX_ROWS:
            message = _("The file has more than %(max)d certificate lines; split it.", max=MAX_ROWS)
            raise ImportRefused([RowError(line, message)])
        if len(cells) < len(fields) or any(cell.strip() for cell in cells[len(fields) :]):
            message = _(
                "The line has %(found)d cells but the header names %(expected)d columns.",
                found=len(cells),
                expected=len(fields),
            )
            errors.append(RowError(line, message))
            continue
        values = {name: cell.strip() for name, cell in zip(fields, cells, strict=False)}
        rows.append(ImportRow(line=line, **values))
    if errors:
        raise ImportRefused(errors)
    if not rows:
        raise ImportRefused([RowError(header_line, _("The file has no certificate lines."))])
    return rows


def _decode(data: bytes) -> str:
    """UTF-8, with or without the byte-order mark Excel writes; the line of the first bad byte."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        message = _(
            "The file is not UTF-8 text. Save it as UTF-8 (in Excel: “CSV UTF-8”) and try again."
        )
        raise ImportRefused([RowError(line, message)]) from error
    if not text.strip():
        raise ImportRefused([RowError(1, _("The file is empty."))])
    return text


def _delimiter(text: str) -> str:
    """Semicolon (what Swedish Excel writes) or comma: whichever the header line uses more."""
    # Lines as the CSV reader counts them (\r, \n, \r\n), not as str.splitlines, which also
    # breaks at form feeds and Unicode line separators and would give a wrong line number.
    lines = io.StringIO(text, newline="").readlines()
    number, header = next((i, line) for i, line in enumerate(lines, 1) if line.strip())
    if ";" not in header and "," not in header:
        message = _("The header line must name the columns, separated by ; or ,.")
        raise ImportRefused([RowError(number, message)])
    return ";" if header.count(";") >= header.count(",") else ","


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records with the physical line each starts on (quoted cells may span)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = _("The line is not valid CSV; check its quotation marks.")
            raise ImportRefused([RowError(line, message)]) from error
        if any(cell.strip() for cell in cells):
            yield line, cells


def _fields(line: int, header: list[str]) -> list[str]:
    """The field each column fills; one error naming every missing, unknown or repeated one.

    Nameless columns at the end are dropped: spreadsheets export a trailing delimiter for cells
    once used and then emptied (their lines may have empty cells there, checked by ``parse``).
    """
    while header and not header[-1].strip():
        header = header[:-1]
    names = [normalise_name(cell) for cell in header]
    fields = [COLUMNS.get(name, "") for name in names]
    missing = [COLUMN_NAMES[name] for name in REQUIRED if name not in fields]
    unknown = [f'"{cell.strip()}"' for cell, name in zip(header, fields, strict=True) if not name]
    repeated = sorted({COLUMN_NAMES[name] for name in fields if name and fields.count(name) > 1})
    problems = []
    if missing:
        problems.append(_("missing columns: %(names)s", names=", ".join(missing)))
    if unknown:
        problems.append(_("unknown columns: %(names)s", names=", ".join(unknown)))
    if repeated:
        problems.append(_("repeated columns: %(names)s", names=", ".join(repeated)))
    if problems:
        message = _(
            "The header line has the wrong columns (%(problems)s). The columns are: %(columns)s.",
            problems="; ".join(problems),
            columns="; ".join(COLUMN_NAMES.values()),
        )
        raise ImportRefused([RowError(line, message)])
    return fields
