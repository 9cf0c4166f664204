"""Sample checks of the access log (*stickprovskontroller*): drawn, judged, signed, kept.

A manager draws a sample for a period and some of their units by the criteria of
:mod:`coordinator.logreview.criteria`; the check stores the criteria, their parameters, the
seed and how many entries each criterion matched, and a copy of every sampled entry. The
reviewer who drew it judges each entry (justified, needs follow-up, unjustified, with a
comment) and signs. Signing seals the check — an HMAC over everything it says, comments
included — and the database refuses any later change (migration 0008); opening a check
re-computes the seal, so an alteration that got past the triggers shows.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import ColumnElement, func, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.crypto import keys
from coordinator.errors import DomainError, Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.chain import canonical
from coordinator.journal.models import AccessAction
from coordinator.logreview import criteria
from coordinator.logreview.models import (
    Criterion,
    Finding,
    LogCheck,
    LogCheckItem,
    log_check_units,
)
from coordinator.patients.models import Patient
from coordinator.reports.scope import require_manager, require_own_units

#: The longest period one check covers.
MAX_PERIOD_DAYS = 366
COMMENT_MAX = 1000
#: What the seal's key is derived for.
_SEAL_PURPOSE = "log-check"


class CheckRefused(DomainError):
    default_message = _l("The sample check could not be saved.")


@dataclass(frozen=True)
class Draft:
    """What the reviewer asks for."""

    units: Sequence[CareUnit]
    first: date
    last: date
    criteria: frozenset[Criterion]


def draw(actor: Actor, draft: Draft, rules: criteria.Rules) -> LogCheck:
    """Draw a sample by ``draft`` and store it as an unsigned check."""
    require_manager(actor)
    if actor.unit is None:
        raise NotFound()
    require_own_units(actor, draft.units)
    if draft.first > draft.last:
        raise InvalidField("last", _l("The period must end on or after its first day."))
    if draft.last > clock.today():
        raise InvalidField("last", _l("The period cannot end in the future."))
    if (draft.last - draft.first).days >= MAX_PERIOD_DAYS:
        raise InvalidField("first", _l("A check covers at most one year."))
    if not draft.criteria:
        raise InvalidField("criteria", _l("Choose at least one criterion."))
    unit_ids = sorted(unit.id for unit in draft.units)
    entries = criteria.scope(unit_ids, draft.first, draft.last)
    seed = secrets.token_hex(8)
    found = criteria.context(entries, unit_ids, draft.first, draft.last)
    sample = criteria.draw(entries, found, rules, draft.criteria, seed)
    if not sample.entries:
        raise CheckRefused(_l("No accesses in the period met the chosen criteria."))
    check = LogCheck(
        reviewer_id=actor.user.id,
        unit_id=actor.unit.id,
        role=actor.role,
        period_start=draft.first,
        period_end=draft.last,
        population=sample.population,
        criteria=json.dumps(_documented(draft, rules, seed, sample), sort_keys=True),
        drawn_at=clock.now(),
    )
    db.session.add(check)
    db.session.flush()
    db.session.execute(
        log_check_units.insert(), [{"check_id": check.id, "unit_id": u} for u in unit_ids]
    )
    db.session.add_all(
        LogCheckItem(
            check_id=check.id, position=position, access_seq=entry.seq, at=entry.at,
            user_id=entry.user_id, access_unit_id=entry.unit_id, access_role=entry.role,
            patient_id=entry.patient_id, action=entry.action, object_type=entry.object_type,
            request_id=entry.request_id,
            reasons=",".join(sample.reasons[entry.seq]),
        )
        for position, entry in enumerate(sample.entries, start=1)
    )  # fmt: skip
    db.session.flush()
    db.session.expire(check)
    return check


def _documented(
    draft: Draft, rules: criteria.Rules, seed: str, sample: criteria.Sample
) -> dict[str, object]:
    """The check's criteria as stored: enough to explain — and repeat — the draw."""
    return {
        "criteria": [criterion.value for criterion in Criterion if criterion in draft.criteria],
        "matched": {criterion.value: count for criterion, count in sample.matched.items()},
        "random": rules.random,
        "per_criterion": rules.per_criterion,
        "working_day": [rules.day_start, rules.day_end],
        "burst": {"patients": rules.burst_patients, "minutes": rules.burst_minutes},
        "seed": seed,
    }


# -- reading -----------------------------------------------------------------------------------


def _within(units: Sequence[CareUnit]) -> ColumnElement[bool]:
    """Checks that cover only ``units``. A check covering another unit too lists that unit's
    patients, whom a manager of only some of its units may not see."""
    elsewhere = select(log_check_units.c.check_id).where(
        log_check_units.c.unit_id.not_in([unit.id for unit in units])
    )
    return LogCheck.id.not_in(elsewhere)


def get(actor: Actor, check_id: int) -> LogCheck:
    """A check covering only ``actor``'s units (its patients are logged when shown:
    :func:`patients_of`)."""
    require_manager(actor)
    check = db.session.scalars(
        select(LogCheck).where(LogCheck.id == check_id, _within(actor.user.active_units))
    ).first()
    if check is None:
        raise NotFound()
    return check


def patients_of(actor: Actor, check: LogCheck) -> dict[int, Patient]:
    """The sampled patients by id, for showing the check: each logged as read."""
    ids = {item.patient_id for item in check.items}
    patients = db.session.scalars(select(Patient).where(Patient.id.in_(ids))).all()
    journal.record_accesses(actor, patients, AccessAction.READ, "log_check")
    return {patient.id: patient for patient in patients}


@dataclass(frozen=True)
class CheckSummary:
    check: LogCheck
    findings: Mapping[Finding, int]
    unjudged: int


def history(actor: Actor, units: Sequence[CareUnit]) -> list[CheckSummary]:
    """The checks covering only ``units``, newest first, with their findings counted."""
    require_manager(actor)
    checks = db.session.scalars(
        select(LogCheck).where(_within(units)).order_by(LogCheck.drawn_at.desc())
    ).all()
    counts: dict[int, dict[Finding | None, int]] = {check.id: {} for check in checks}
    rows = db.session.execute(
        select(LogCheckItem.check_id, LogCheckItem.finding, func.count())
        .where(LogCheckItem.check_id.in_(list(counts)))
        .group_by(LogCheckItem.check_id, LogCheckItem.finding)
    )
    for check_id, finding, count in rows:
        counts[check_id][finding] = count
    return [
        CheckSummary(
            check,
            {finding: counts[check.id].get(finding, 0) for finding in Finding},
            counts[check.id].get(None, 0),
        )
        for check in checks
    ]


def last_signed(unit: CareUnit) -> datetime | None:
    """When a check covering ``unit`` was last signed."""
    return db.session.scalar(
        select(func.max(LogCheck.signed_at))
        .join(log_check_units, log_check_units.c.check_id == LogCheck.id)
        .where(log_check_units.c.unit_id == unit.id)
    )


def is_due(last: datetime | None, interval_days: int) -> bool:
    """Whether a check is due when the last one was signed at ``last`` (:func:`last_signed`)."""
    return last is None or clock.now() - last > timedelta(days=interval_days)


# -- judging and signing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    finding: Finding | None
    comment: str


def _own_draft(actor: Actor, check: LogCheck) -> None:
    if check.reviewer_id != actor.user.id:
        raise Forbidden(_l("Only the reviewer who drew the check judges and signs it."))
    if check.is_signed:
        raise CheckRefused(_l("The check is signed and can no longer be changed."))


def judge(actor: Actor, check: LogCheck, judgements: Mapping[int, Judgement]) -> int:
    """Save the reviewer's findings (item id → judgement) on an unsigned check; returns the
    number of items changed."""
    _own_draft(actor, check)
    items = {item.id: item for item in check.items}
    if set(judgements) - set(items):
        raise NotFound()
    for judgement in judgements.values():
        if len(judgement.comment) > COMMENT_MAX:
            raise CheckRefused(_l("A comment is at most %(n)d characters.", n=COMMENT_MAX))
    changed = 0
    for item_id, judgement in judgements.items():
        item = items[item_id]
        comment = judgement.comment.strip() or None
        if item.finding != judgement.finding or item.comment != comment:
            item.finding = judgement.finding
            item.comment = comment
            changed += 1
    db.session.flush()
    return changed


def sign(actor: Actor, check: LogCheck, summary: str) -> None:
    """Sign ``check``: every item must be judged; the check is sealed and final."""
    _own_draft(actor, check)
    summary = summary.strip()
    if len(summary) > COMMENT_MAX:
        raise InvalidField("summary", _l("The summary is at most %(n)d characters.", n=COMMENT_MAX))
    db.session.refresh(check)
    open_items = sum(1 for item in check.items if item.finding is None)
    if open_items:
        raise CheckRefused(
            ngettext(
                "%(num)d sampled entry is not judged yet.",
                "%(num)d sampled entries are not judged yet.",
                open_items,
            )
        )
    check.summary = summary or None
    check.signed_at = clock.now()
    keyring = keys()
    check.key_version = keyring.current
    check.seal = _seal(check, check.items, keyring.current)
    db.session.flush()


def _seal(check: LogCheck, items: Iterable[LogCheckItem], version: int) -> bytes:
    key = keys().seal_key(version, _SEAL_PURPOSE)
    message = b"\x1e".join(
        [
            canonical(
                (
                    check.id, check.uid, check.reviewer_id, check.unit_id, check.role,
                    check.period_start, check.period_end, check.criteria, check.population,
                    check.drawn_at, check.signed_at, check.summary,
                    ",".join(str(unit.id) for unit in sorted(check.units, key=lambda u: u.id)),
                )
            ),
            *(
                canonical(
                    (
                        item.id, item.uid, item.position, item.access_seq, item.at, item.user_id,
                        item.access_unit_id, item.access_role, item.patient_id, item.action,
                        item.object_type, item.request_id, item.reasons, item.finding,
                        item.comment,
                    )
                )
                for item in items
            ),
        ]
    )  # fmt: skip
    return hmac.digest(key, message, "sha256")


def is_intact(check: LogCheck) -> bool:
    """Whether a signed check still says what was signed."""
    if check.seal is None or check.key_version is None:
        return False
    expected = _seal(check, check.items, check.key_version)
    return hmac.compare_digest(expected, check.seal)


def documented(check: LogCheck) -> dict[str, object]:
    """The stored criteria of ``check``, parsed."""
    value: dict[str, object] = json.loads(check.criteria)
    return value


def matched_counts(check: LogCheck) -> list[tuple[Criterion, int]]:
    """Per chosen criterion, how many entries in scope it matched when drawn."""
    stored = documented(check)
    matched: dict[str, int] = stored["matched"]  # type: ignore[assignment]
    return [(Criterion(code), matched.get(code, 0)) for code in stored["criteria"]]  # type: ignore[attr-defined]
