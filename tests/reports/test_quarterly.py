"""The quarterly report under the state agreement, on a small fixed data set (see
:func:`tests.reports.support.quarter_data`): the quarter's bounds, completed treatments per
kind by gender and provider type (KBT needs its sessions), employer and Arbetsförmedlingen
contacts judged by the reimbursement rule with the reasons counted, the amount at the default
and a custom rate, the per-unit figures with the per-1000 rate, and the reconciliation list.

Services speak the command line's language (English) outside a request: the reasons below are
the source texts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.contacts.models import OrganisationType
from coordinator.errors import InvalidField
from coordinator.plans.models import TreatmentKind
from coordinator.reports import settings
from coordinator.reports.quarterly import QuarterlyReport, quarter_bounds, quarterly_report
from tests.reports.support import QuarterData, quarter_data

pytestmark = pytest.mark.usefixtures("frozen")

NO_TREATMENT = "No treatment under the agreement is recorded in the case."
NO_COMPLETION = "No completion date."


def no_consent_before(given: str, day: str) -> str:
    return f"No consent: The consent for Employer (ACME AB) was given on {given}, after {day}."


@pytest.fixture
def data(me: Actor, me_b: Actor, frozen: time_machine.Traveller) -> QuarterData:
    return quarter_data(me, me_b, frozen)


def treatment_rows(report: QuarterlyReport) -> dict[TreatmentKind, tuple[int, ...]]:
    """Each kind's (women, men, other, public, private, total)."""
    return {
        row.kind: (row.women, row.men, row.other, row.public, row.private, row.total)
        for row in report.treatments
    }


def contact_rows(report: QuarterlyReport) -> list[tuple[object, ...]]:
    """Each type's (type, reimbursable, not, no consent, initiated externally, no treatment,
    amount)."""
    return [
        (row.type, row.reimbursable, row.not_reimbursable, row.no_consent,
         row.initiated_externally, row.no_treatment, row.amount)
        for row in report.contacts
    ]  # fmt: skip


def no_treatments(**counted: tuple[int, ...]) -> dict[TreatmentKind, tuple[int, ...]]:
    """Every kind with nothing counted, except those given (by enum name)."""
    rows: dict[TreatmentKind, tuple[int, ...]] = {kind: (0,) * 6 for kind in TreatmentKind}
    rows.update({TreatmentKind[name]: value for name, value in counted.items()})
    return rows


# -- Quarters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "quarter", "first", "last"),
    [
        (2026, 1, date(2026, 1, 1), date(2026, 3, 31)),
        (2026, 2, date(2026, 4, 1), date(2026, 6, 30)),
        (2026, 3, date(2026, 7, 1), date(2026, 9, 30)),
        (2026, 4, date(2026, 10, 1), date(2026, 12, 31)),
        (2028, 1, date(2028, 1, 1), date(2028, 3, 31)),
    ],
)
def test_a_quarter_runs_from_its_first_to_its_last_day(
    year: int, quarter: int, first: date, last: date
) -> None:
    assert quarter_bounds(year, quarter) == (first, last)


@pytest.mark.parametrize("quarter", [0, 5, -1])
def test_a_quarter_other_than_one_to_four_is_refused(quarter: int) -> None:
    with pytest.raises(InvalidField) as refused:
        quarter_bounds(2026, quarter)

    assert refused.value.field == "quarter"


def test_the_report_of_a_bad_quarter_is_refused(unit_a: CareUnit) -> None:
    with pytest.raises(InvalidField):
        quarterly_report([unit_a], 2026, 5)


# -- Completed treatments ----------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_completed_treatments_count_by_kind_gender_and_provider_type(unit_a: CareUnit) -> None:
    report = quarterly_report([unit_a], 2026, 2)

    # MMR1 Anna (public); KBT Bo, 12 sessions (public); IKBT Eli at a private provider.
    # Not: Bo's KBT of 9 sessions, Anna's open PDT, her EMDR completed in March, Eli's
    # March treatment without dates, and unit B's MMR2.
    assert [row.kind for row in report.treatments] == list(TreatmentKind)
    assert treatment_rows(report) == no_treatments(
        MMR1=(1, 0, 0, 1, 0, 1), KBT=(0, 1, 0, 1, 0, 1), IKBT=(0, 0, 1, 0, 1, 1)
    )
    assert report.treatments_total == 3


@pytest.mark.usefixtures("data")
def test_a_treatment_counts_in_the_quarter_it_was_completed_in(unit_a: CareUnit) -> None:
    first = quarterly_report([unit_a], 2026, 1)
    third = quarterly_report([unit_a], 2026, 3)

    # Anna's EMDR, completed 20 March (recorded in June); her MMR1 started in March but was
    # completed in May, so it is Q2's.
    assert treatment_rows(first) == no_treatments(EMDR=(1, 0, 0, 1, 0, 1))
    assert treatment_rows(third) == no_treatments()


@pytest.mark.usefixtures("data")
def test_kbt_counts_from_the_minimum_number_of_sessions(unit_a: CareUnit) -> None:
    at_nine = quarterly_report([unit_a], 2026, 2, kbt_min_sessions=9)
    at_thirteen = quarterly_report([unit_a], 2026, 2, kbt_min_sessions=13)

    assert treatment_rows(at_nine)[TreatmentKind.KBT] == (0, 2, 0, 2, 0, 2)
    assert treatment_rows(at_thirteen)[TreatmentKind.KBT] == (0, 0, 0, 0, 0, 0)


# -- Contacts ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_employer_and_af_contacts_are_judged_by_the_reimbursement_rule(unit_a: CareUnit) -> None:
    report = quarterly_report([unit_a], 2026, 2)

    # Employer: 10 May counts; 1 April (consent from 1 May), 12 May (initiated by the
    # employer) and Dan's 15 May (no consent, no treatment: counted under both) do not.
    # Arbetsförmedlingen: 20 May counts; 2 June (initiated by Bo) does not.
    assert contact_rows(report) == [
        (OrganisationType.EMPLOYER, 1, 3, 2, 1, 1, 3000),
        (OrganisationType.EMPLOYMENT_SERVICE, 1, 1, 0, 1, 0, 3000),
    ]
    assert report.amount == 6000


@pytest.mark.usefixtures("data")
def test_the_amount_follows_the_rate(unit_a: CareUnit) -> None:
    report = quarterly_report([unit_a], 2026, 2, rate=2500)

    assert [row.amount for row in report.contacts] == [2500, 2500]
    assert report.amount == 5000


def test_contacts_with_other_actors_are_not_in_the_report(
    unit_a: CareUnit, data: QuarterData
) -> None:
    report = quarterly_report([unit_a], 2026, 2)

    # Bo's call to Försäkringskassan and Anna's to an "other" organisation are in the quarter
    # but are neither counted nor listed: only six of the eight contacts of Q2 are judged.
    assert [row.type for row in report.contacts] == [
        OrganisationType.EMPLOYER, OrganisationType.EMPLOYMENT_SERVICE,
    ]  # fmt: skip
    assert sum(row.reimbursable + row.not_reimbursable for row in report.contacts) == 6
    listed = {item.id for item in report.reconciliation if item.kind == "contact"}
    assert data.contacts["bo_fk"].id not in listed
    assert data.contacts["anna_other"].id not in listed


def test_a_contact_belongs_to_the_quarter_of_its_swedish_date(
    unit_a: CareUnit, data: QuarterData
) -> None:
    first = quarterly_report([unit_a], 2026, 1)

    # 31 March 23:30 in Stockholm (21:30 UTC) is Q1; 1 April 00:30 (31 March 22:30 UTC) is Q2.
    assert contact_rows(first) == [
        (OrganisationType.EMPLOYER, 0, 1, 1, 0, 0, 0),
        (OrganisationType.EMPLOYMENT_SERVICE, 0, 0, 0, 0, 0, 0),
    ]
    assert [item.id for item in first.reconciliation if item.kind == "contact"] == [
        data.contacts["anna_q1"].id
    ]


# -- Units -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_per_unit_figures_with_the_rate_per_thousand_inhabitants(
    manager: Actor, unit_a: CareUnit, unit_b: CareUnit
) -> None:
    settings.set_population(manager, unit_a.id, 20000)
    settings.set_population(manager, unit_a.id, 24000)  # the latest is in force

    report = quarterly_report([unit_a, unit_b], 2026, 2)

    # A: MMR1 (pain), KBT and IKBT (mental); employer 10 May, AF 20 May. 3 / 24000 * 1000 =
    # 0.125, rounded half up. B: Stina's MMR2 and her employer contact; no population.
    assert [
        (f.unit.id, f.pain, f.mental, f.treatments, f.employer, f.employment_service, f.amount,
         f.population, f.per_thousand)
        for f in report.per_unit
    ] == [
        (unit_a.id, 1, 2, 3, 1, 1, 6000, 24000, Decimal("0.13")),
        (unit_b.id, 1, 0, 1, 1, 0, 3000, None, None),
    ]  # fmt: skip
    assert report.amount == 9000
    assert treatment_rows(report)[TreatmentKind.MMR2] == (1, 0, 0, 1, 0, 1)
    assert contact_rows(report)[0] == (OrganisationType.EMPLOYER, 2, 3, 2, 1, 1, 6000)
    assert (report.population, report.per_thousand) == (None, None)


@pytest.mark.usefixtures("data")
def test_the_rate_per_thousand_of_all_units_needs_every_population(
    manager: Actor, unit_a: CareUnit, unit_b: CareUnit
) -> None:
    settings.set_population(manager, unit_a.id, 24000)
    settings.set_population(manager, unit_b.id, 1000)

    report = quarterly_report([unit_a, unit_b], 2026, 2)

    assert [f.per_thousand for f in report.per_unit] == [Decimal("0.13"), Decimal("1.00")]
    # 4 treatments / 25000 * 1000.
    assert (report.population, report.per_thousand) == (25000, Decimal("0.16"))


def test_another_units_records_are_not_in_the_report(unit_b: CareUnit, data: QuarterData) -> None:
    report = quarterly_report([unit_b], 2026, 2)

    assert treatment_rows(report) == no_treatments(MMR2=(1, 0, 0, 1, 0, 1))
    assert contact_rows(report) == [
        (OrganisationType.EMPLOYER, 1, 0, 0, 0, 0, 3000),
        (OrganisationType.EMPLOYMENT_SERVICE, 0, 0, 0, 0, 0, 0),
    ]
    assert report.reconciliation == []
    assert report.patient_ids == {data.stina.id}


# -- Reconciliation ----------------------------------------------------------------------------


def test_the_reconciliation_lists_what_was_recorded_but_does_not_count(
    unit_a: CareUnit, data: QuarterData
) -> None:
    report = quarterly_report([unit_a], 2026, 2)
    contact, treatment = data.contacts, data.treatments

    assert [
        (item.kind, item.id, item.patient_id, item.unit_id, item.on, item.reasons)
        for item in report.reconciliation
    ] == [
        ("treatment", treatment["emdr_q1"].id, data.anna.id, unit_a.id, date(2026, 3, 20),
         ["Completed 2026-03-20: it counts in 2026 Q1, which may already have been reported."]),
        ("contact", contact["anna_before_consent"].id, data.anna.id, unit_a.id,
         date(2026, 4, 1), [no_consent_before("2026-05-01", "2026-04-01")]),
        ("treatment", treatment["pdt_open"].id, data.anna.id, unit_a.id, date(2026, 5, 1),
         [NO_COMPLETION]),
        ("contact", contact["anna_external"].id, data.anna.id, unit_a.id, date(2026, 5, 12),
         ["Initiated by the external party; only contacts the care unit initiated count."]),
        ("contact", contact["dan_untreated"].id, data.dan.id, unit_a.id, date(2026, 5, 15),
         ["No consent: The patient has given no consent for: Employer (ACME AB).",
          NO_TREATMENT]),
        ("contact", contact["bo_af_patient"].id, data.bo.id, unit_a.id, date(2026, 6, 2),
         ["Initiated by the patient; only contacts the care unit initiated count."]),
        ("treatment", treatment["kbt_short"].id, data.bo.id, unit_a.id, date(2026, 6, 5),
         ["KBT counts from 10 sessions; 9 recorded."]),
    ]  # fmt: skip


def test_a_treatment_completed_after_the_quarter_is_not_listed(
    unit_a: CareUnit, data: QuarterData
) -> None:
    report = quarterly_report([unit_a], 2026, 1)

    # Anna's MMR1 started on 2 March but was completed on 20 May: it counts in Q2, and Q1 has
    # nothing to fix about it. Eli's treatment recorded on 25 March without dates is listed on
    # its recording day.
    assert [(item.kind, item.id, item.on, item.reasons) for item in report.reconciliation] == [
        ("treatment", data.treatments["psych_march"].id, date(2026, 3, 25), [NO_COMPLETION]),
        ("contact", data.contacts["anna_q1"].id, date(2026, 3, 31),
         [no_consent_before("2026-05-01", "2026-03-31")]),
    ]  # fmt: skip


def test_a_treatment_counted_drops_off_the_reconciliation(
    unit_a: CareUnit, data: QuarterData
) -> None:
    report = quarterly_report([unit_a], 2026, 2, kbt_min_sessions=9)

    listed = [(item.kind, item.id) for item in report.reconciliation]
    assert ("treatment", data.treatments["kbt_short"].id) not in listed
    assert len(listed) == 6
