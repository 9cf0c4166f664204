"""Consent lists across patients: the managers' funnel and the coordinators' Today items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import lazyload

from coordinator.access import Actor
from coordinator.consents.models import Consent, ConsentAnswer, ConsentKind, ConsentWithdrawal
from coordinator.consents.service import Recipient, decide, states
from coordinator.errors import NotFound
from coordinator.extensions import db
from coordinator.patients import today
from coordinator.patients.models import CaseStatus


@dataclass(frozen=True)
class FunnelRow:
    """Answers recorded in a period for one kind of consent, and what became of them."""

    kind: ConsentKind
    #: Answers recorded (the patient was asked): given + refused.
    asked: int
    given: int
    refused: int
    #: Of those given, how many the patient has since withdrawn.
    withdrawn: int

    @staticmethod
    def _share(part: int, whole: int) -> int | None:
        return round(100 * part / whole) if whole else None

    @property
    def given_share(self) -> int | None:
        return self._share(self.given, self.asked)

    @property
    def refused_share(self) -> int | None:
        return self._share(self.refused, self.asked)

    @property
    def withdrawn_share(self) -> int | None:
        return self._share(self.withdrawn, self.given)


def funnel(actor: Actor, start: date, end: date) -> list[FunnelRow]:
    """Per kind, the answers recorded in the actor's unit with an answer date in
    ``start``–``end``.

    Counts only, no patient is identified: a refusal is information (patients often have good
    reasons to keep their employer out), not a failure.
    """
    if actor.unit is None or not actor.role.works_in_units:
        raise NotFound()
    unit_id = actor.unit.id
    given = Consent.answer == ConsentAnswer.GIVEN
    rows = db.session.execute(
        select(
            Consent.kind,
            func.count(),
            func.count(case((given, 1))),
            func.count(ConsentWithdrawal.id),
        )
        .outerjoin(ConsentWithdrawal, ConsentWithdrawal.consent_id == Consent.id)
        .where(Consent.unit_id == unit_id, Consent.given_on.between(start, end))
        .group_by(Consent.kind)
    ).all()
    counts = {kind: (asked, yes, withdrawn) for kind, asked, yes, withdrawn in rows}
    return [
        FunnelRow(kind, asked, yes, asked - yes, withdrawn)
        for kind in ConsentKind
        for asked, yes, withdrawn in [counts.get(kind, (0, 0, 0))]
    ]


# -- Today ---------------------------------------------------------------------------------


def records_by_patient(
    patient_ids: Iterable[int], kinds: Iterable[ConsentKind] | None = None
) -> dict[int, list[Consent]]:
    """The consent records of several patients at once (optionally of some kinds), each
    patient's oldest first — for deciding (the recorder is not loaded)."""
    ids = sorted(set(patient_ids))
    grouped: dict[int, list[Consent]] = defaultdict(list)
    if not ids:
        return grouped
    query = (
        select(Consent).where(Consent.patient_id.in_(ids)).options(lazyload(Consent.recorded_by))
    )
    if kinds is not None:
        query = query.where(Consent.kind.in_(list(kinds)))
    records = db.session.scalars(query.order_by(Consent.patient_id, Consent.given_on, Consent.id))
    for consent in records:
        grouped[consent.patient_id].append(consent)
    return grouped


def expiring(patient_ids: Iterable[int], day: date, notice: int) -> list[tuple[date, int, str]]:
    """Consents of ``patient_ids`` that end within ``notice`` days of ``day`` and have not
    been renewed: (end date, patient id, what ends), soonest first."""
    horizon = day + timedelta(days=notice)
    wanted = sorted(set(patient_ids))
    if not wanted:
        return []
    # Only patients with a consent ending soon are read in full (a renewal may supersede it).
    candidates = db.session.scalars(
        select(Consent.patient_id).where(
            Consent.patient_id.in_(wanted),
            Consent.answer == ConsentAnswer.GIVEN,
            Consent.valid_until.between(day, horizon),
        )
    ).all()
    items: list[tuple[date, int, str]] = []
    for patient_id, records in records_by_patient(candidates).items():
        for state in states(records, day, notice):
            consent = state.decision.consent
            if state.expires_soon and consent is not None and consent.valid_until is not None:
                note = _l("%(kind)s ends %(date)s", kind=str(state.decision.recipient),
                          date=consent.valid_until.isoformat())  # fmt: skip
                items.append((consent.valid_until, patient_id, str(note)))
    items.sort()
    return items


@today.provider
def consents_expiring(context: today.Context) -> Iterable[today.Group]:
    """Consents that end within the notice period and have not been renewed."""
    notice = current_app.config["CONSENT_EXPIRY_NOTICE_DAYS"]
    in_queue = [row.patient_id for row in context.rows]
    if not in_queue:
        return
    items = expiring(in_queue, context.today, notice)
    yield today.Group(
        "consents-expiring",
        str(_l("Consents ending within %(n)d days", n=notice)),
        [(patient_id, note) for _, patient_id, note in items],
    )


@today.provider
def active_without_consent(context: today.Context) -> Iterable[today.Group]:
    """Active cases whose coordination consent no longer holds (withdrawn or expired):
    coordination must stop or the consent be renewed (Lag 2019:1297 § 2)."""
    active = [row.patient_id for row in context.rows if row.status is CaseStatus.ACTIVE]
    by_patient = records_by_patient(active, [ConsentKind.COORDINATION])
    items = []
    coordination = Recipient(ConsentKind.COORDINATION)
    for patient_id in active:
        decision = decide(by_patient.get(patient_id, []), coordination, context.today)
        if not decision.allowed:
            items.append((patient_id, decision.status.label))
    yield today.Group(
        "active-without-consent",
        str(_l("Active cases without a valid coordination consent")),
        items,
    )
