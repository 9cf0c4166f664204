"""Everything the patient page shows, gathered (and logged) in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from coordinator.access import Actor
from coordinator.consents import service as consents
from coordinator.contacts import service as contacts
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, CaseJournalEntry
from coordinator.patients import cases, certificates
from coordinator.patients.diagnoses import Diagnosis, UnknownDiagnosis, lookup
from coordinator.patients.identity import IdentityNumber
from coordinator.patients.models import Certificate, CoordinationCase, Gender, Patient
from coordinator.patients.screening import ScreeningRules, SickLeaveSummary, Signal, signals
from coordinator.patients.service import gender_of, identity_of
from coordinator.patients.sickleave import SickLeaveCase
from coordinator.plans.overview import PlanOverview
from coordinator.plans.overview import overview as plan_overview

#: How many of the latest contacts the patient page shows (the contacts page has them all).
CONTACTS_SHOWN = 5


@dataclass(frozen=True)
class CaseView:
    """A sick-leave case with its certificates, for the timeline."""

    case: SickLeaveCase
    certificates: list[Certificate]
    #: Days certified up to today (or the whole case once it has ended).
    days_to_date: int
    current_degree: int
    is_ongoing: bool
    milestones: dict[int, date]
    overlaps: list[tuple[Certificate, Certificate]]


@dataclass(frozen=True)
class Overview:
    patient: Patient
    identity: IdentityNumber
    gender: Gender
    case: CoordinationCase | None
    earlier_cases: list[CoordinationCase]
    sick_leave: list[CaseView]
    signals: list[Signal]
    diagnoses: dict[str, Diagnosis]
    entries: list[CaseJournalEntry]
    consents: consents.Panel
    plans: PlanOverview
    contacts: contacts.Timeline

    @property
    def current_sick_leave(self) -> CaseView | None:
        return self.sick_leave[-1] if self.sick_leave else None


def _case_view(case: SickLeaveCase, by_id: dict[int, Certificate], today: date) -> CaseView:
    shown = [by_id[p.ref] for p in case.periods if p.ref in by_id]
    overlapping = [
        (by_id[a.ref], by_id[b.ref])
        for a, b in case.overlaps()
        if a.ref in by_id and b.ref in by_id
    ]
    return CaseView(
        case=case,
        certificates=shown,
        days_to_date=case.covered_days(until=today),
        current_degree=case.current_degree(today),
        is_ongoing=case.is_ongoing(today),
        milestones=case.milestones(),
        overlaps=overlapping,
    )


def overview(
    actor: Actor,
    patient: Patient,
    today: date,
    rules: ScreeningRules,
    consent_notice_days: int,
    kbt_min_sessions: int,
) -> Overview:
    """The patient page's content; certificates, consents, plans, contacts and journal are
    logged as read."""
    registered = certificates.certificates_of(patient)
    journal.record_access(actor, patient, AccessAction.READ, "certificates")
    by_id = {certificate.id: certificate for certificate in registered}
    sick_leave = [
        _case_view(case, by_id, today)
        for case in certificates.sick_leave_cases(patient, registered)
    ]
    diagnoses: dict[str, Diagnosis] = {}
    for certificate in registered:
        code = certificate.diagnosis_code
        if code not in diagnoses:
            try:
                diagnoses[code] = lookup(code)
            except UnknownDiagnosis:  # a code removed from a later catalogue edition
                diagnoses[code] = Diagnosis(code, "")
    all_cases = cases.history(patient)
    return Overview(
        patient=patient,
        identity=identity_of(patient),
        gender=gender_of(patient),
        case=all_cases[0] if all_cases else None,
        earlier_cases=all_cases[1:],
        sick_leave=sick_leave,
        signals=signals(SickLeaveSummary.of(patient, patient.diagnosis), today, rules),
        diagnoses=diagnoses,
        entries=journal.timeline(actor, patient),
        consents=consents.panel(actor, patient, today, consent_notice_days),
        plans=plan_overview(actor, patient, today, kbt_min_sessions),
        contacts=contacts.timeline(actor, patient, limit=CONTACTS_SHOWN),
    )
