"""Printable documents: PDFs built with ReportLab, in Swedish, for patients to sign or keep.

A domain package composes a document from the building blocks here (headings, paragraphs,
label–value tables, signature lines) and hands it to :func:`build`; views answer with
:func:`pdf_response`. The standard Helvetica font covers Swedish letters (Latin-1), so nothing
is embedded or fetched. Printing patient data is an access-log action: the caller logs it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

# Bandit B406 flags the module: it escapes text for ReportLab here and parses nothing.
from xml.sax.saxutils import escape  # nosec B406

from flask import Response
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import User
from coordinator.patients import cases
from coordinator.patients.identity import format_personnummer
from coordinator.patients.models import Patient

#: Printables are for patients and agencies in Sweden: always Swedish, whatever the
#: interface language of the user who prints.
PRINT_LOCALE = "sv"

_STYLES = getSampleStyleSheet()
TITLE = ParagraphStyle("Title", parent=_STYLES["Title"], fontSize=17, spaceAfter=4 * mm)
HEADING = ParagraphStyle("Heading", parent=_STYLES["Heading2"], fontSize=12, spaceBefore=4 * mm)
BODY = ParagraphStyle("Body", parent=_STYLES["BodyText"], fontSize=10, leading=13.5)
SMALL = ParagraphStyle("Small", parent=BODY, fontSize=8.5, leading=11, textColor=colors.grey)


@dataclass(frozen=True)
class Printed:
    """A printed document: the PDF and the file name it is offered under."""

    data: bytes
    filename: str
    #: A printed form's reference (consent forms only).
    reference: str = ""


@contextmanager
def in_print_language() -> Iterator[None]:
    with force_locale(PRINT_LOCALE):
        yield


def text(value: object, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text (escaped: user text never becomes markup)."""
    return Paragraph(escape(str(value)).replace("\n", "<br/>"), style)


def heading(value: object) -> Paragraph:
    return text(value, HEADING)


def facts(rows: Sequence[tuple[object, object]]) -> Table:
    """Label–value pairs, labels in bold."""
    data = [[text(label, _bold()), text(value)] for label, value in rows]
    # splitInRow: a value taller than a page (a long purpose, line after line) goes on over
    # the page break; a row that cannot split fails the whole document.
    table = Table(data, colWidths=[45 * mm, None], hAlign="LEFT", splitInRow=1)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))  # fmt: skip
    return table


def grid(
    header: Sequence[object],
    rows: Sequence[Sequence[object]],
    widths_mm: Sequence[float] | None = None,
) -> Table:
    """A table with a header row and thin lines; column widths in millimetres (170 in all)."""
    data = [[text(cell, _bold()) for cell in header]]
    data += [[text(cell) for cell in row] for row in rows]
    widths = [width * mm for width in widths_mm] if widths_mm else None
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT", splitInRow=1)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
    ]))  # fmt: skip
    return table


def signature_lines(labels: Sequence[object]) -> Table:
    """Empty lines to write on by hand, each with its label underneath."""
    table = Table(
        [["" for _ in labels], [text(label, SMALL) for label in labels]],
        colWidths=[(170 / len(labels)) * mm] * len(labels),
        rowHeights=[14 * mm, None],
        hAlign="LEFT",
    )
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 6 * mm)]))  # fmt: skip
    return table


def patient_facts(patient: Patient) -> list[tuple[object, object]]:
    """The patient's name and number for a document's head (call in the print language)."""
    # Protected identity: prints never carry the name (the patient writes it by hand).
    name = _l("Protected identity") if patient.is_protected else patient.full_name
    return [(_l("Patient"), name), (_l("Personnummer"), format_personnummer(patient.personnummer))]


def coordinator_of(actor: Actor, patient: Patient) -> User:
    """Whom a document given to the patient names as their coordinator: the case's
    coordinator, or the one printing it when the case has none."""
    case = cases.current_case(patient)
    return case.coordinator if case is not None and case.coordinator else actor.user


def printed_at() -> datetime:
    """Now, in local time: the stamp in every document's footer."""
    return clock.now().astimezone(clock.LOCAL_ZONE)


def space(height_mm: float = 4) -> Spacer:
    return Spacer(1, height_mm * mm)


def build(title: str, story: list[Flowable], footer: str, printed_at: datetime) -> bytes:
    """The PDF: A4, the title in the document's properties, ``footer`` and page numbers at
    the bottom of every page."""
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=title, author="Coordinator", creator="Coordinator",
        leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=20 * mm,
    )  # fmt: skip
    stamp = printed_at.strftime("%Y-%m-%d %H:%M")

    def decorate(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(20 * mm, 10 * mm, f"{footer} · {stamp}")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, str(doc.page))
        canvas.restoreState()

    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


def pdf_response(data: bytes, filename: str) -> Response:
    """Answer with a PDF shown in the browser; never cached (it holds patient data)."""
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _bold() -> ParagraphStyle:
    return ParagraphStyle("Bold", parent=BODY, fontName="Helvetica-Bold")
