"""The quarterly report as files: CSV (one figure per line, for spreadsheets and whatever the
region feeds) and PDF (to send). Small cells are masked in both (:mod:`.cells`), and so is
anything a masked count could be recomputed from (an amount, a rate per 1000)."""

from __future__ import annotations

from collections.abc import Iterator

from flask_babel import lazy_gettext as _l

from coordinator import printing
from coordinator.reports.cells import is_small, masked, to_csv
from coordinator.reports.quarterly import QuarterlyReport, UnitFigures


def _amount(count: int, rate: int) -> str:
    return f"< {5 * rate}" if is_small(count) else str(count * rate)


def _rate(figures_count: int, value: object) -> str:
    return "" if value is None or is_small(figures_count) else str(value).replace(".", ",")


def _lines(report: QuarterlyReport) -> Iterator[tuple[object, ...]]:
    everyone = str(_l("All units"))
    treatments, contacts = str(_l("Completed treatments")), str(_l("Contacts"))
    for row in report.treatments:
        for label, count in (
            (_l("Women"), row.women), (_l("Men"), row.men), (_l("Other"), row.other),
            (_l("Public provider"), row.public), (_l("Private provider"), row.private),
            (_l("Total"), row.total),
        ):  # fmt: skip
            yield treatments, everyone, row.kind.label, str(label), masked(count)
    for contact in report.contacts:
        for label, count in (
            (_l("Reimbursable"), contact.reimbursable),
            (_l("Not reimbursable"), contact.not_reimbursable),
            (_l("… no consent"), contact.no_consent),
            (_l("… initiated externally"), contact.initiated_externally),
            (_l("… no treatment"), contact.no_treatment),
        ):
            yield contacts, everyone, contact.type.label, str(label), masked(count)
        yield (
            contacts,
            everyone,
            contact.type.label,
            str(_l("Amount (kr)")),
            _amount(contact.reimbursable, report.rate),
        )
    for figures in report.per_unit:
        yield from _unit_lines(figures)


def _unit_lines(figures: UnitFigures) -> Iterator[tuple[object, ...]]:
    section, name = str(_l("Per unit")), figures.unit.name
    for label, value in (
        (_l("Completed treatments"), masked(figures.treatments)),
        (_l("… long-term pain"), masked(figures.pain)),
        (_l("… mental ill-health"), masked(figures.mental)),
        (_l("Reimbursable employer contacts"), masked(figures.employer)),
        (_l("Reimbursable Arbetsförmedlingen contacts"), masked(figures.employment_service)),
        (_l("Amount (kr)"), _amount(figures.employer + figures.employment_service, figures.rate)),
        (_l("Population 16–67"), "" if figures.population is None else str(figures.population)),
        (_l("Treatments per 1000 inhabitants"),
         _rate(figures.treatments, figures.per_thousand)),
    ):  # fmt: skip
        yield section, name, str(label), figures.unit.provider_type.label, value


def quarterly_csv(report: QuarterlyReport) -> str:
    header = [_l("Section"), _l("Unit"), _l("Item"), _l("Breakdown"), _l("Value")]
    return to_csv(header, _lines(report))


def quarterly_pdf(report: QuarterlyReport) -> bytes:
    """The report to send, in Swedish."""
    with printing.in_print_language():
        title = str(_l("Quarterly report %(quarter)s", quarter=report.label))
        units = ", ".join(unit.name for unit in report.units)
        story = [
            printing.text(title, printing.TITLE),
            printing.facts([
                (_l("Period"), f"{report.start.isoformat()} – {report.end.isoformat()}"),
                (_l("Units"), units),
                (_l("Rate per contact"), f"{report.rate} kr"),
            ]),
            printing.heading(_l("Completed treatments")),
            printing.grid(
                [_l("Treatment"), _l("Women"), _l("Men"), _l("Other"), _l("Public"),
                 _l("Private"), _l("Total")],
                [[row.kind.label, masked(row.women), masked(row.men), masked(row.other),
                  masked(row.public), masked(row.private), masked(row.total)]
                 for row in report.treatments],
                widths_mm=(50, 20, 20, 20, 20, 20, 20),
            ),
            printing.heading(_l("Employer and Arbetsförmedlingen contacts")),
            printing.grid(
                [_l("Contacts with"), _l("Reimbursable"), _l("Amount (kr)"),
                 _l("Not reimbursable"), _l("No consent"), _l("Initiated externally"),
                 _l("No treatment")],
                [[row.type.label, masked(row.reimbursable), _amount(row.reimbursable, report.rate),
                  masked(row.not_reimbursable), masked(row.no_consent),
                  masked(row.initiated_externally), masked(row.no_treatment)]
                 for row in report.contacts],
                widths_mm=(34, 22, 24, 22, 22, 24, 22),
            ),
            printing.heading(_l("Per unit")),
            printing.grid(
                [_l("Unit"), _l("Provider"), _l("Treatments"), _l("Employer"),
                 _l("Arbetsförmedlingen"), _l("Population 16–67"), _l("Per 1000")],
                [[f.unit.name, f.unit.provider_type.label, masked(f.treatments),
                  masked(f.employer), masked(f.employment_service),
                  "" if f.population is None else str(f.population),
                  _rate(f.treatments, f.per_thousand)] for f in report.per_unit],
                widths_mm=(44, 20, 22, 20, 26, 22, 16),
            ),
            printing.space(4),
            printing.text(_l("Counts from 1 to 4 are shown as “< 5” so that no patient can be "
                             "identified."), printing.SMALL),
        ]  # fmt: skip
        return printing.build(title, story, title, printing.printed_at())
