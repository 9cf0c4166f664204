"""Consents: recording and withdrawing them, and the one gate every disclosure goes through.

* :func:`check` — what the patient's records say about a recipient on a day (no side effects);
* :func:`require` — the gate: returns the consent in force, or logs the denied attempt in the
  access log and raises :class:`ConsentMissing` with the reason;
* :func:`disclose` — register information handed to a recipient (through :func:`require`);
* :func:`record`, :func:`withdraw` — a new answer from the patient, or a consent taken back;
* :func:`panel` — the patient page's consent panel (logged as a read).

Rules. For a recipient on a day, the records that *cover* it are those of its kind that name
no recipient or name this one. Of those given on or before the day, the latest decides: a
refusal refuses, a consent withdrawn on or before the day or expired before it does not hold.
A new answer is always a new record, so the latest one is the patient's current word.

The patient is always loaded through :mod:`coordinator.patients.service` first (unit scoping);
consents are only ever reached through their patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from coordinator import clock
from coordinator.access import Actor
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentMethod,
    ConsentWithdrawal,
    Disclosure,
)
from coordinator.errors import DomainError, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.identity import normalise_name
from coordinator.patients.models import Patient
from coordinator.patients.permissions import require_coordinator
from coordinator.validation import past_day, text

#: Longest texts accepted.
NAME_MAX = 200
PURPOSE_MAX = 1000
NOTE_MAX = 1000
SUMMARY_MAX = 2000


class ConsentStatus(StrEnum):
    """Where a recipient stands on a day: one allows, the others say why not."""

    GIVEN = "given"
    NONE = "none"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    #: The only consent for the recipient was given after the day in question.
    NOT_YET_GIVEN = "not_yet_given"
    #: Consents of the kind exist, but name another recipient.
    WRONG_RECIPIENT = "wrong_recipient"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])


_STATUS_LABELS = {
    ConsentStatus.GIVEN: _l("Given"),
    ConsentStatus.NONE: _l("None"),
    ConsentStatus.REFUSED: _l("Refused"),
    ConsentStatus.WITHDRAWN: _l("Withdrawn"),
    ConsentStatus.EXPIRED: _l("Expired"),
    ConsentStatus.NOT_YET_GIVEN: _l("Not yet given"),
    ConsentStatus.WRONG_RECIPIENT: _l("Other recipient"),
}


@dataclass(frozen=True)
class Recipient:
    """Who would receive the information: a kind, and optionally a recipient by name."""

    kind: ConsentKind
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.kind.label} ({self.name})" if self.name else self.kind.label


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`check`: allowed or not, why, and the record that decided it."""

    recipient: Recipient
    on: date
    status: ConsentStatus
    #: The consent in force (allowed), or the record behind the refusal; None if none exists.
    consent: Consent | None

    @property
    def allowed(self) -> bool:
        return self.status is ConsentStatus.GIVEN

    @property
    def message(self) -> str:
        """Why not, for the user (empty when allowed)."""
        consent, who = self.consent, str(self.recipient)
        if self.status is ConsentStatus.GIVEN:
            return ""
        if consent is None or self.status is ConsentStatus.NONE:
            return str(_l("The patient has given no consent for: %(who)s.", who=who))
        texts = {
            ConsentStatus.REFUSED: _l(
                "The patient refused consent for %(who)s on %(date)s.",
                who=who, date=consent.given_on.isoformat(),
            ),
            ConsentStatus.WITHDRAWN: _l(
                "The patient withdrew the consent for %(who)s on %(date)s.",
                who=who,
                date=consent.withdrawal.withdrawn_on.isoformat() if consent.withdrawal else "",
            ),
            ConsentStatus.EXPIRED: _l(
                "The consent for %(who)s expired on %(date)s.",
                who=who, date=consent.valid_until.isoformat() if consent.valid_until else "",
            ),
            ConsentStatus.NOT_YET_GIVEN: _l(
                "The consent for %(who)s was given on %(date)s, after %(day)s.",
                who=who, date=consent.given_on.isoformat(), day=self.on.isoformat(),
            ),
            ConsentStatus.WRONG_RECIPIENT: _l(
                "The patient's consent for %(kind)s covers only %(named)s.",
                kind=self.recipient.kind.label, named=consent.recipient_name or "",
            ),
        }  # fmt: skip
        return str(texts[self.status])


class ConsentMissing(DomainError):
    """The gate refused: no valid consent covers the recipient on the day."""

    status_code = 409

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision

    @property
    def kind(self) -> ConsentKind:
        """The kind of consent that would allow it (the page links to recording one)."""
        return self.decision.recipient.kind


class AlreadyWithdrawn(DomainError):
    status_code = 409


# -- The check and the gate ----------------------------------------------------------------


def _covers(consent: Consent, recipient: Recipient) -> bool:
    if consent.kind is not recipient.kind:
        return False
    if consent.recipient_name is None:
        return True
    if recipient.name is None:
        return False
    return normalise_name(consent.recipient_name) == normalise_name(recipient.name)


def decide(records: Iterable[Consent], recipient: Recipient, on: date) -> Decision:
    """The decision for ``recipient`` on day ``on`` from the patient's ``records``."""
    of_kind = [consent for consent in records if consent.kind is recipient.kind]
    covering = [consent for consent in of_kind if _covers(consent, recipient)]
    if not covering:
        # "Covers only X" is said of a consent given to X; a refusal to X allows nothing.
        named = next((c for c in of_kind if c.answer is ConsentAnswer.GIVEN), None)
        status = ConsentStatus.WRONG_RECIPIENT if named else ConsentStatus.NONE
        return Decision(recipient, on, status, named)
    in_force = [consent for consent in covering if consent.given_on <= on]
    if not in_force:
        first = min(covering, key=lambda consent: consent.given_on)
        return Decision(recipient, on, ConsentStatus.NOT_YET_GIVEN, first)
    latest = max(in_force, key=lambda consent: (consent.given_on, consent.id))
    if latest.answer is ConsentAnswer.REFUSED:
        status = ConsentStatus.REFUSED
    elif latest.withdrawal is not None and latest.withdrawal.withdrawn_on <= on:
        status = ConsentStatus.WITHDRAWN
    elif latest.valid_until is not None and latest.valid_until < on:
        status = ConsentStatus.EXPIRED
    else:
        status = ConsentStatus.GIVEN
    return Decision(recipient, on, status, latest)


def records_of(patient: Patient, kinds: Sequence[ConsentKind] | None = None) -> list[Consent]:
    """The patient's consent records (with their withdrawals), oldest first."""
    query = select(Consent).where(Consent.patient_id == patient.id)
    if kinds is not None:
        query = query.where(Consent.kind.in_(kinds))
    return list(db.session.scalars(query.order_by(Consent.given_on, Consent.id)))


def check(patient: Patient, recipient: Recipient, on: date) -> Decision:
    """Whether a valid consent covers ``recipient`` on day ``on`` (reads only; logs nothing)."""
    return decide(records_of(patient, [recipient.kind]), recipient, on)


def require(
    actor: Actor, patient: Patient, recipient: Recipient, on: date, attempt: str
) -> Consent:
    """The gate every feature calls before acting on a consent: coordination, disclosure,
    sharing a plan, an external report. Returns the consent in force on day ``on``.

    A refusal is logged in the access log (action *denied*, ``attempt`` naming what was
    tried) — the only thing written, and kept even though the request then fails.
    """
    decision = check(patient, recipient, on)
    if not decision.allowed or decision.consent is None:
        journal.record_access(actor, patient, AccessAction.DENIED, attempt, recipient.kind.value)
        raise ConsentMissing(decision)
    return decision.consent


# -- Recording answers -------------------------------------------------------------------


@dataclass
class ConsentInput:
    """What the record-consent form collects."""

    kind: ConsentKind
    answer: ConsentAnswer
    method: ConsentMethod
    given_on: date
    purpose: str = ""
    recipient_name: str | None = None
    form_reference: str | None = None
    valid_until: date | None = None
    note: str | None = None


#: National agencies recognised by name: naming one as the recipient of another kind of
#: consent is a mistake the form catches (Lag 2019:1297 § 3 names Försäkringskassan).
_AGENCIES = {
    "försäkringskassan": ConsentKind.SOCIAL_INSURANCE,
    "fk": ConsentKind.SOCIAL_INSURANCE,
    "arbetsförmedlingen": ConsentKind.EMPLOYMENT_SERVICE,
    "af": ConsentKind.EMPLOYMENT_SERVICE,
}


def _check_recipient_name(kind: ConsentKind, name: str | None) -> None:
    if name is None:
        return
    if kind is ConsentKind.COORDINATION:
        raise InvalidField("recipient_name", _l("Consent to coordination has no recipient."))
    agency = _AGENCIES.get(normalise_name(name))
    if agency is not None and agency is not kind:
        raise InvalidField(
            "recipient_name",
            _l("%(name)s is not of the kind %(kind)s; choose the kind %(agency)s.",
               name=name, kind=kind.label, agency=agency.label),
        )  # fmt: skip


def _validated(entry: ConsentInput, today: date) -> ConsentInput:
    name = text(entry.recipient_name, "recipient_name", NAME_MAX)
    _check_recipient_name(entry.kind, name)
    past_day(entry.given_on, "given_on", today)
    if entry.valid_until is not None:
        if entry.answer is ConsentAnswer.REFUSED:
            raise InvalidField("valid_until", _l("A refusal has no end date."))
        if entry.valid_until < entry.given_on:
            raise InvalidField("valid_until", _l("A consent cannot end before it was given."))
    reference = text(entry.form_reference, "form_reference", NAME_MAX)
    if entry.method is ConsentMethod.WRITTEN and reference is None:
        raise InvalidField("form_reference", _l("Say where the signed form is kept."))
    return ConsentInput(
        kind=entry.kind,
        answer=entry.answer,
        method=entry.method,
        given_on=entry.given_on,
        purpose=text(entry.purpose, "purpose", PURPOSE_MAX) or "",
        recipient_name=name,
        form_reference=reference,
        valid_until=entry.valid_until,
        note=text(entry.note, "note", NOTE_MAX),
    )


def record(actor: Actor, patient: Patient, entry: ConsentInput) -> Consent:
    """Record the patient's answer (given or refused) as a new consent record."""
    require_coordinator(actor)
    entry = _validated(entry, clock.today())
    consent = Consent(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        kind=entry.kind,
        answer=entry.answer,
        method=entry.method,
        given_on=entry.given_on,
        valid_until=entry.valid_until,
        recorded_by_id=actor.user.id,
        recorded_at=clock.now(),
    )
    consent.recipient_name = entry.recipient_name
    consent.form_reference = entry.form_reference
    consent.note = entry.note
    # An empty purpose is the kind's standard one, in the record's language (as the journal).
    with in_record_language():
        consent.purpose = entry.purpose or entry.kind.default_purpose
    db.session.add(consent)
    db.session.flush()
    _journal_answer(actor, patient, consent)
    journal.record_access(actor, patient, AccessAction.CREATE, "consent", consent.uid.hex)
    return consent


def _journal_answer(actor: Actor, patient: Patient, consent: Consent) -> None:
    given = consent.answer is ConsentAnswer.GIVEN
    heading = (
        _l("Consent given: %(kind)s", kind=consent.kind.lazy_label)
        if given
        else _l("Consent refused: %(kind)s", kind=consent.kind.lazy_label)
    )
    journal.record_event(
        actor,
        patient,
        EntryKind.CONSENT_RECORDED,
        heading,
        _l("Recipient: %(name)s.", name=consent.recipient_name) if consent.recipient_name else "",
        _l("Purpose: %(purpose)s", purpose=consent.purpose),
        _l("Answered on %(date)s (%(method)s).", method=consent.method.lazy_label,
           date=consent.given_on.isoformat()),
        _l("Valid until %(date)s.", date=consent.valid_until.isoformat())
        if consent.valid_until else "",
        _l("Signed form: %(reference)s.", reference=consent.form_reference)
        if consent.form_reference else "",
        _l("The patient's words: %(note)s", note=consent.note) if consent.note else "",
    )  # fmt: skip


def open_consent(actor: Actor, patient: Patient, consent_uid: uuid.UUID) -> Consent:
    """One of ``patient``'s consents, logged as read (404 for any other)."""
    consent = db.session.scalars(
        select(Consent).where(Consent.patient_id == patient.id, Consent.uid == consent_uid)
    ).first()
    if consent is None:
        raise NotFound()
    journal.record_access(actor, patient, AccessAction.READ, "consent", consent.uid.hex)
    return consent


def withdraw(
    actor: Actor, patient: Patient, consent: Consent, withdrawn_on: date, note: str | None
) -> ConsentWithdrawal:
    """The patient takes a given consent back; from ``withdrawn_on`` it allows nothing."""
    require_coordinator(actor)
    if consent.patient_id != patient.id:
        raise NotFound()
    if consent.answer is ConsentAnswer.REFUSED:
        raise AlreadyWithdrawn(
            _l("A refusal cannot be withdrawn; record the patient's new answer instead.")
        )
    if consent.withdrawal is not None:
        raise AlreadyWithdrawn(_already_withdrawn(consent.withdrawal))
    past_day(withdrawn_on, "withdrawn_on", clock.today())
    if withdrawn_on < consent.given_on:
        raise InvalidField("withdrawn_on", _l("A consent cannot be withdrawn before it was given."))
    withdrawal = ConsentWithdrawal(
        consent_id=consent.id,
        withdrawn_on=withdrawn_on,
        recorded_by_id=actor.user.id,
        recorded_at=clock.now(),
    )
    withdrawal.note = text(note, "note", NOTE_MAX)
    try:
        # Added inside the savepoint: a flush before it would fail outside it and take the
        # whole transaction down with it.
        with db.session.begin_nested():
            db.session.add(withdrawal)
            db.session.flush()
    except IntegrityError as error:  # someone withdrew it a moment ago
        raise AlreadyWithdrawn(
            _l("This consent has just been withdrawn by someone else.")
        ) from error
    db.session.refresh(consent, ["withdrawal"])
    journal.record_event(
        actor,
        patient,
        EntryKind.CONSENT_WITHDRAWN,
        _l("Consent withdrawn: %(kind)s", kind=consent.kind.lazy_label),
        _l("Recipient: %(name)s.", name=consent.recipient_name) if consent.recipient_name else "",
        _l("The consent given on %(given)s no longer holds from %(date)s.",
           given=consent.given_on.isoformat(), date=withdrawn_on.isoformat()),
        _l("The patient's words: %(note)s", note=withdrawal.note) if withdrawal.note else "",
    )  # fmt: skip
    journal.record_access(actor, patient, AccessAction.CHANGE, "consent", consent.uid.hex)
    return withdrawal


def _already_withdrawn(withdrawal: ConsentWithdrawal) -> str:
    return str(
        _l("This consent was already withdrawn on %(date)s.",
           date=withdrawal.withdrawn_on.isoformat())
    )  # fmt: skip


# -- Disclosures -------------------------------------------------------------------------


def disclose(
    actor: Actor,
    patient: Patient,
    recipient: Recipient,
    on: date,
    summary: str,
    attempt: str = "disclosure",
    *,
    in_journal: bool = True,
) -> Disclosure:
    """Register information given to ``recipient`` on day ``on``; refused without consent.

    ``attempt`` names what is disclosed in the access log when the gate refuses (a plan
    shared is ``plan_share``). ``in_journal=False`` is for a caller whose own journal entry
    tells of the disclosure (a logged contact): one event, one entry.
    """
    require_coordinator(actor)
    if not recipient.kind.is_disclosure:
        raise InvalidField("recipient", _l("Choose who received the information."))
    name = text(recipient.name, "recipient_name", NAME_MAX)
    what = text(summary, "summary", SUMMARY_MAX)
    if what is None:
        raise InvalidField("summary", _l("Say in short what was disclosed."))
    past_day(on, "disclosed_on", clock.today())
    recipient = Recipient(recipient.kind, name)
    consent = require(actor, patient, recipient, on, attempt)
    disclosure = Disclosure(
        patient_id=patient.id,
        unit_id=patient.unit_id,
        consent_id=consent.id,
        recipient=recipient.kind,
        disclosed_on=on,
        recorded_by_id=actor.user.id,
        recorded_at=clock.now(),
    )
    disclosure.recipient_name = name
    disclosure.summary = what
    db.session.add(disclosure)
    db.session.flush()
    if in_journal:
        _journal_disclosure(actor, patient, disclosure, consent)
    journal.record_access(actor, patient, AccessAction.DISCLOSE, "disclosure", disclosure.uid.hex)
    return disclosure


def _journal_disclosure(
    actor: Actor, patient: Patient, disclosure: Disclosure, consent: Consent
) -> None:
    name, on, what = disclosure.recipient_name, disclosure.disclosed_on, disclosure.summary
    journal.record_event(
        actor,
        patient,
        EntryKind.DISCLOSURE,
        _l("Information disclosed to %(who)s", who=disclosure.recipient.lazy_label),
        _l("Recipient: %(name)s.", name=name) if name else "",
        _l("On %(date)s: %(summary)s", date=on.isoformat(), summary=what),
        _l("With the consent given on %(date)s.", date=consent.given_on.isoformat()),
    )


def disclosures_of(patient: Patient) -> list[Disclosure]:
    """The patient's registered disclosures, newest first."""
    return list(
        db.session.scalars(
            select(Disclosure)
            .where(Disclosure.patient_id == patient.id)
            .order_by(Disclosure.disclosed_on.desc(), Disclosure.id.desc())
        )
    )


# -- The panel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    """One line of the panel: a kind (and named recipient) and where it stands today."""

    decision: Decision
    #: The consent ends within the notice period.
    expires_soon: bool = False

    @property
    def kind(self) -> ConsentKind:
        return self.decision.recipient.kind

    @property
    def status(self) -> ConsentStatus:
        return self.decision.status


@dataclass(frozen=True)
class Panel:
    states: list[ConsentState]
    #: Every record, newest first.
    history: list[Consent]
    disclosures: list[Disclosure]

    @property
    def withdrawn(self) -> list[ConsentState]:
        """Lines whose consent the patient has taken back: shown prominently."""
        return [state for state in self.states if state.status is ConsentStatus.WITHDRAWN]

    @property
    def allows_coordination(self) -> bool:
        """A valid coordination consent holds today (what starting coordination needs)."""
        return any(s.kind is ConsentKind.COORDINATION and s.decision.allowed for s in self.states)


def states(records: Sequence[Consent], today: date, notice_days: int) -> list[ConsentState]:
    """Per kind, one line for consents naming no recipient and one per recipient named."""
    horizon = today + timedelta(days=notice_days)
    lines = []
    for kind in ConsentKind:
        recipients: dict[str, Recipient] = {}
        for consent in records:
            if consent.kind is kind:
                name = consent.recipient_name
                key = normalise_name(name) if name else ""
                recipients.setdefault(key, Recipient(kind, name))
        for recipient in recipients.values() or [Recipient(kind)]:
            decision = decide(records, recipient, today)
            soon = bool(
                decision.allowed
                and decision.consent is not None
                and decision.consent.valid_until is not None
                and decision.consent.valid_until <= horizon
            )
            lines.append(ConsentState(decision, soon))
    return lines


def panel(actor: Actor, patient: Patient, today: date, notice_days: int) -> Panel:
    """The consent panel of the patient page (logged as a read of the consents)."""
    records = records_of(patient)
    journal.record_access(actor, patient, AccessAction.READ, "consents")
    return Panel(
        states=states(records, today, notice_days),
        history=sorted(records, key=lambda c: (c.given_on, c.id), reverse=True),
        disclosures=disclosures_of(patient),
    )
