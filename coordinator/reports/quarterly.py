"""The quarterly report under the state agreement on the rehabilitation guarantee.

The regions reported to Försäkringskassan each quarter: *completed* treatments per category,
by gender and by public or private provider, per 1000 inhabitants aged 16–67; and the
employer and Arbetsförmedlingen contacts that qualified for payment (seed 002). They were
under-reported because registration was manual, late or done by someone else. Here the
figures come from the treatments and contacts coordinators record, and the reconciliation
list shows what was recorded but does not count yet — so it can be fixed before the report
is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, ProviderType
from coordinator.consents.queries import records_by_patient
from coordinator.contacts.models import ContactEvent, Organisation, OrganisationType
from coordinator.contacts.service import Condition, judge
from coordinator.errors import InvalidField
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients.models import Patient
from coordinator.patients.service import in_unit
from coordinator.plans.models import Treatment, TreatmentKind
from coordinator.reports.episodes import genders
from coordinator.reports.settings import populations
from coordinator.reports.statistics import GenderCounts

#: Payment per qualifying contact under the 2017 agreement (seed 002), in kronor.
DEFAULT_RATE = 3000
#: The contacts the agreement paid for, in report order.
PAID_TYPES = (OrganisationType.EMPLOYER, OrganisationType.EMPLOYMENT_SERVICE)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    if not 1 <= quarter <= 4:
        raise InvalidField("quarter", _l("A quarter is 1, 2, 3 or 4."))
    if not 2000 <= year <= 2100:
        raise InvalidField("year", _l("Give a year from 2000 to 2100."))
    first = date(year, 3 * quarter - 2, 1)
    following = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return first, following - timedelta(days=1)


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


@dataclass
class TreatmentRow(GenderCounts):
    kind: TreatmentKind
    women: int = 0
    men: int = 0
    other: int = 0
    public: int = 0
    private: int = 0

    @property
    def total(self) -> int:
        return self.public + self.private


@dataclass
class ContactRow:
    type: OrganisationType
    rate: int
    reimbursable: int = 0
    not_reimbursable: int = 0
    #: Of those not reimbursable, how many fail each condition (a contact can fail several).
    no_consent: int = 0
    initiated_externally: int = 0
    no_treatment: int = 0

    @property
    def amount(self) -> int:
        return self.reimbursable * self.rate


@dataclass
class UnitFigures:
    unit: CareUnit
    pain: int = 0
    mental: int = 0
    employer: int = 0
    employment_service: int = 0
    rate: int = DEFAULT_RATE
    population: int | None = None

    @property
    def treatments(self) -> int:
        return self.pain + self.mental

    @property
    def amount(self) -> int:
        return (self.employer + self.employment_service) * self.rate

    @property
    def per_thousand(self) -> Decimal | None:
        return per_thousand(self.treatments, self.population)


def per_thousand(count: int, population: int | None) -> Decimal | None:
    if not population:
        return None
    rate = Decimal(count) * 1000 / Decimal(population)
    return rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class ReconciliationItem:
    """Something recorded in the quarter that does not count (yet), and why."""

    unit_id: int
    patient_id: int
    on: date
    #: "contact" or "treatment".
    kind: str
    #: The contact's or treatment's id.
    id: int
    what: str
    reasons: list[str]


@dataclass
class QuarterlyReport:
    year: int
    quarter: int
    start: date
    end: date
    units: list[CareUnit]
    rate: int
    treatments: list[TreatmentRow]
    contacts: list[ContactRow]
    per_unit: list[UnitFigures]
    reconciliation: list[ReconciliationItem]
    #: The patients whose treatments or contacts are counted (an export logs each of them).
    patient_ids: set[int] = field(default_factory=set)

    @property
    def amount(self) -> int:
        return sum(row.amount for row in self.contacts)

    @property
    def treatments_total(self) -> int:
        return sum(row.total for row in self.treatments)

    @property
    def population(self) -> int | None:
        """The units' summed population, when every unit has one."""
        figures = [unit.population for unit in self.per_unit]
        return sum(figures) if figures and None not in figures else None  # type: ignore[arg-type]

    @property
    def per_thousand(self) -> Decimal | None:
        return per_thousand(self.treatments_total, self.population)

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.quarter}"

    def to_reconcile(self, unit_id: int) -> int:
        return sum(1 for item in self.reconciliation if item.unit_id == unit_id)


def quarterly_report(
    units: Sequence[CareUnit],
    year: int,
    quarter: int,
    rate: int = DEFAULT_RATE,
    kbt_min_sessions: int = 10,
) -> QuarterlyReport:
    """The report for ``units`` and one quarter."""
    start, end = quarter_bounds(year, quarter)
    unit_ids = [unit.id for unit in units]
    population = populations(unit_ids)
    per_unit = {unit.id: UnitFigures(unit, rate=rate, population=population.get(unit.id))
                for unit in units}  # fmt: skip
    report = QuarterlyReport(
        year, quarter, start, end, list(units), rate,
        treatments=[TreatmentRow(kind) for kind in TreatmentKind],
        contacts=[ContactRow(kind, rate) for kind in PAID_TYPES],
        per_unit=list(per_unit.values()), reconciliation=[],
    )  # fmt: skip
    _count_treatments(report, per_unit, unit_ids, kbt_min_sessions)
    _count_contacts(report, per_unit, unit_ids)
    report.reconciliation.sort(key=lambda item: (item.on, item.kind, item.id))
    return report


def _count_treatments(
    report: QuarterlyReport,
    per_unit: dict[int, UnitFigures],
    unit_ids: list[int],
    kbt_min_sessions: int,
) -> None:
    start, end = report.start, report.end
    since, until = clock.days_between(start, end)
    treatments = db.session.scalars(
        select(Treatment)
        .where(
            Treatment.unit_id.in_(unit_ids),
            or_(
                Treatment.completed_on.between(start, end),
                Treatment.started_on.between(start, end),
                Treatment.created_at.between(since, until - timedelta(microseconds=1)),
            ),
        )
        .order_by(Treatment.id)
    ).all()
    gender = genders([treatment.patient_id for treatment in treatments])
    by_kind = {row.kind: row for row in report.treatments}
    for treatment in treatments:
        kind = treatment.treatment
        done = treatment.completed_on
        if (
            done is not None
            and start <= done <= end
            and treatment.counts_as_completed(kbt_min_sessions)
        ):
            row = by_kind[kind]
            row.add(gender[treatment.patient_id])
            if treatment.provider_type is ProviderType.PUBLIC:
                row.public += 1
            else:
                row.private += 1
            figures = per_unit[treatment.unit_id]
            if kind.is_pain:
                figures.pain += 1
            else:
                figures.mental += 1
            report.patient_ids.add(treatment.patient_id)
            continue
        reasons = _treatment_gaps(treatment, start, end, kbt_min_sessions)
        if reasons:
            report.reconciliation.append(ReconciliationItem(
                treatment.unit_id, treatment.patient_id,
                done or treatment.started_on or clock.local_day(treatment.created_at),
                "treatment", treatment.id, kind.label, reasons,
            ))  # fmt: skip


def _treatment_gaps(treatment: Treatment, start: date, end: date, kbt_min: int) -> list[str]:
    """Why a treatment of the quarter does not count in it; empty when nothing is missing
    (completed after the quarter: it counts in its own)."""
    done = treatment.completed_on
    if done is None:
        return [str(_l("No completion date."))]
    if done > end:
        return []
    if done < start:
        year, quarter = quarter_of(done)
        return [str(_l("Completed %(date)s: it counts in %(year)d Q%(quarter)d, which may "
                       "already have been reported.", date=done.isoformat(), year=year,
                       quarter=quarter))]  # fmt: skip
    sessions = treatment.sessions
    return [str(_l("KBT counts from %(min)d sessions; %(n)d recorded.", min=kbt_min,
                   n=sessions or 0))]  # fmt: skip


def _count_contacts(
    report: QuarterlyReport, per_unit: dict[int, UnitFigures], unit_ids: list[int]
) -> None:
    """The quarter's employer and Arbetsförmedlingen contacts, judged by the rule. Read as
    columns, with only the consents that can cover them: thousands of contacts."""
    since, until = clock.days_between(report.start, report.end)
    contacts = db.session.execute(
        select(
            ContactEvent.id, ContactEvent.patient_id, ContactEvent.unit_id, ContactEvent.case_id,
            ContactEvent.occurred_at, ContactEvent.kind, ContactEvent.initiated_by,
            Organisation.type, Organisation.name,
        )
        .join(Organisation, Organisation.id == ContactEvent.organisation_id)
        .where(
            ContactEvent.unit_id.in_(unit_ids),
            ContactEvent.occurred_at >= since,
            ContactEvent.occurred_at < until,
            Organisation.type.in_(PAID_TYPES),
        )
        .order_by(ContactEvent.occurred_at, ContactEvent.id)
    ).all()  # fmt: skip
    kinds = [kind.consent_kind for kind in PAID_TYPES if kind.consent_kind is not None]
    consent_records = records_by_patient((contact.patient_id for contact in contacts), kinds)
    case_ids = sorted({contact.case_id for contact in contacts})
    treated = set(
        db.session.scalars(select(Treatment.case_id).where(Treatment.case_id.in_(case_ids)))
    ) if case_ids else set()  # fmt: skip
    by_type = {row.type: row for row in report.contacts}
    for contact in contacts:
        judged = judge(
            contact.type, contact.name, contact.initiated_by, clock.local_day(contact.occurred_at),
            contact.case_id in treated, consent_records.get(contact.patient_id, []),
        )  # fmt: skip
        row = by_type[contact.type]
        report.patient_ids.add(contact.patient_id)
        if judged.counts:
            row.reimbursable += 1
            figures = per_unit[contact.unit_id]
            if row.type is OrganisationType.EMPLOYER:
                figures.employer += 1
            else:
                figures.employment_service += 1
            continue
        row.not_reimbursable += 1
        failed = judged.failed
        conditions = {criterion.condition for criterion in failed}
        row.no_consent += Condition.CONSENT in conditions
        row.initiated_externally += Condition.INITIATED_BY_CARE in conditions
        row.no_treatment += Condition.TREATMENT in conditions
        report.reconciliation.append(ReconciliationItem(
            contact.unit_id, contact.patient_id, clock.local_day(contact.occurred_at), "contact",
            contact.id, f"{contact.kind.label}: {contact.name}",
            [criterion.text for criterion in failed],
        ))  # fmt: skip


def reconciliation_patients(actor: Actor, report: QuarterlyReport) -> dict[int, Patient]:
    """The patients the reconciliation list names, logged as read. The list is worked from a
    unit's own view, where its patients can be opened: only the current unit's items are
    listed by name; the other units' are counted (:meth:`QuarterlyReport.to_reconcile`)."""
    if actor.unit is None:
        return {}
    ids = {item.patient_id for item in report.reconciliation if item.unit_id == actor.unit.id}
    if not ids:
        return {}
    listed = list(db.session.scalars(in_unit(actor).where(Patient.id.in_(sorted(ids)))))
    journal.record_accesses(actor, listed, AccessAction.READ, "report")
    return {patient.id: patient for patient in listed}
