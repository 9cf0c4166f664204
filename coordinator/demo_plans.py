"""Mappings, plans and treatments for the demo's active cases, written through the services:
some signed, some agreed with measures under way or past their due date, some cases still
without a plan (what the Today page then lists)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.patients.models import Patient
from coordinator.plans import mapping, service, treatments
from coordinator.plans.models import (
    AgreementMethod,
    MeasureStatus,
    ResponsibleActor,
    ReturnBelief,
    ReturnGoal,
    TreatmentKind,
    TreatmentProvider,
)

_MAPPING = {
    "work_situation": "Arbetar heltid; höga krav och lite egen kontroll. Chefen är positiv till "
    "anpassningar.",
    "life_situation": "Sambo, två barn i skolåldern. Ekonomin ansträngd under sjukskrivningen.",
    "health": "Sover dåligt, orkar mindre än förut, koncentrationen sviktar.",
    "obstacles": "Oro för att återfalla; långa resor till arbetet.",
    "resources": "Stöd hemifrån, motiverad, tidigare god arbetsförmåga.",
    "own_goal": "Tillbaka i eget arbete på halvtid inom två månader.",
    "risk_factors": "Tidigare sjukskrivning för samma besvär.",
}


def _measures(employer: str | None, start: date) -> list[service.MeasureInput]:
    items = [
        service.MeasureInput("Samtal med rehabkoordinator varannan vecka",
                             ResponsibleActor.CARE_UNIT, None, start, start + timedelta(days=56),
                             MeasureStatus.ONGOING),
        service.MeasureInput("Daglig promenad och sömnrutiner", ResponsibleActor.PATIENT, None,
                             start, start + timedelta(days=28), MeasureStatus.PLANNED),
    ]  # fmt: skip
    if employer:
        items.append(service.MeasureInput(
            "Arbetsplatsbesök och anpassade arbetsuppgifter", ResponsibleActor.EMPLOYER,
            employer, start + timedelta(days=7), start + timedelta(days=21),
        ))  # fmt: skip
    return items


def add(actor: Actor, patient: Patient, seed: str, today: date) -> None:
    """For an active case: most get a mapping, about half a plan, some a treatment."""
    rng = random.Random(seed + "plans")  # noqa: S311 (fiction, not secrets)
    if rng.random() < 0.7:
        signed = rng.random() < 0.8
        entry = mapping.MappingInput(dict(_MAPPING), ReturnBelief.UNSURE)
        mapping.save(actor, patient, entry, expected_lock=None, sign=signed)
    if rng.random() < 0.55:
        # Started a month ago: the employer's measure is then past its due date.
        start = today - timedelta(days=rng.choice((3, 10, 30)))
        employer = patient.employer.name if patient.employer is not None else None
        service.save(actor, patient, service.PlanInput(
            ReturnGoal.OWN_JOB, rng.choice((50, 100)), start, start + timedelta(days=90),
            "Tillbaka i mitt vanliga arbete.", "25 % efter fyra veckor\n50 % efter åtta veckor",
            _measures(employer, start),
        ))  # fmt: skip
        if rng.random() < 0.75:
            agreement = service.Agreement(start, AgreementMethod.MEETING,
                                          today + timedelta(days=rng.randrange(3, 21)))  # fmt: skip
            service.agree(actor, patient, 1, agreement)
    if rng.random() < 0.3:
        sessions = rng.choice((4, 9, 12))
        treatments.record(actor, patient, treatments.TreatmentInput(
            TreatmentKind.KBT, TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC,
            today - timedelta(days=sessions * 7), today - timedelta(days=1) if sessions > 9
            else None, sessions,
        ))  # fmt: skip
