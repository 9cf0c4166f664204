"""The consent printables: a form for the patient to sign, and a summary for the patient.

Both are in Swedish and both are access-log actions (*print*). A printed form carries a
reference the coordinator writes into the consent when the signed form comes back; the same
reference is the access-log entry's object id, which ties the paper to the print.
"""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from coordinator import clock, printing
from coordinator.access import Actor
from coordinator.consents import service
from coordinator.consents.models import Consent, ConsentKind
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients.models import Patient

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper


def _reference() -> str:
    return "S-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _coordinator_line(actor: Actor, patient: Patient) -> str:
    who = printing.coordinator_of(actor, patient)
    unit = actor.unit.name if actor.unit else ""
    return str(_l("Rehabilitation coordinator: %(name)s, %(unit)s", name=who.full_name, unit=unit))


def consent_form(
    actor: Actor, patient: Patient, kind: ConsentKind, recipient_name: str | None, purpose: str
) -> printing.Printed:
    """A consent form to sign, naming the recipient and the purpose."""
    reference = _reference()
    name = (recipient_name or "").strip()
    with printing.in_print_language():
        purpose = purpose.strip() or kind.default_purpose
        if kind is ConsentKind.COORDINATION:
            title = str(_l("Consent to coordination interventions"))
            statement = _l(
                "I agree that the care unit's rehabilitation coordinator gives me coordination "
                "interventions for the purpose above (Lag (2019:1297) om koordineringsinsatser "
                "för sjukskrivna patienter)."
            )
            about = [(_l("Purpose"), purpose)]
        else:
            title = str(_l("Consent to disclosure of information"))
            statement = _l(
                "I agree that the care unit discloses information about me to the recipient "
                "above, for the purpose above. Only what the purpose needs is disclosed."
            )
            recipient = f"{kind.label}: {name}" if name else kind.label
            about = [(_l("Recipient"), recipient), (_l("Purpose"), purpose)]
        story = [
            printing.text(actor.unit.name if actor.unit else "", printing.SMALL),
            printing.text(title, printing.TITLE),
            printing.facts([*printing.patient_facts(patient), *about]),
            printing.space(),
            printing.text(statement),
            printing.space(2),
            printing.text(
                _l(
                    "Consent is voluntary. You can withdraw it at any time by telling your "
                    "coordinator; it then no longer applies from that day."
                )
            ),
            printing.space(6),
            printing.text("[   ]  " + str(_l("Yes, I consent"))),
            printing.space(2),
            printing.text("[   ]  " + str(_l("No, I do not consent"))),
            printing.space(2),
            printing.text(_l("Valid until (optional): ____________________")),
            printing.space(6),
            printing.signature_lines([_l("Date"), _l("Signature"), _l("Name in block letters")]),
            printing.space(8),
            printing.text(_coordinator_line(actor, patient), printing.SMALL),
            printing.text(_l("Form reference: %(reference)s", reference=reference), printing.SMALL),
        ]
        data = printing.build(title, story, str(_l("Consent form")), printing.printed_at())
    journal.record_access(actor, patient, AccessAction.PRINT, "consent_form", reference)
    return printing.Printed(data, f"samtycke-{reference}.pdf", reference)


def consent_summary(actor: Actor, patient: Patient, notice_days: int) -> printing.Printed:
    """The patient's consents as they stand today, their history, and what was disclosed."""
    today = clock.today()
    records = service.records_of(patient)
    disclosures = service.disclosures_of(patient)
    with printing.in_print_language():
        title = str(_l("Your consents"))
        current = [
            (
                state.kind.label + (f": {state.decision.recipient.name}"
                                    if state.decision.recipient.name else ""),
                state.status.label,
                state.decision.consent.given_on.isoformat() if state.decision.consent else "",
                state.decision.consent.valid_until.isoformat()
                if state.decision.consent and state.decision.consent.valid_until else "",
            )
            for state in service.states(records, today, notice_days)
        ]  # fmt: skip
        story = [
            printing.text(actor.unit.name if actor.unit else "", printing.SMALL),
            printing.text(title, printing.TITLE),
            printing.facts([*printing.patient_facts(patient), (_l("Date"), today.isoformat())]),
            printing.heading(_l("Where your consents stand today")),
            printing.grid(
                [_l("Consent to"), _l("Status"), _l("Answered on"), _l("Valid until")], current
            ),
        ]
        if records:
            story += [
                printing.heading(_l("Everything you have answered")),
                printing.grid(
                    [_l("Date"), _l("Consent to"), _l("Answer"), _l("Purpose"), _l("Withdrawn")],
                    [_history_row(consent) for consent in reversed(records)],
                    widths_mm=(24, 38, 18, 62, 28),
                ),
            ]
        if disclosures:
            story += [
                printing.heading(_l("Information disclosed with your consent")),
                printing.grid(
                    [_l("Date"), _l("Recipient"), _l("What")],
                    [
                        (
                            d.disclosed_on.isoformat(),
                            d.recipient.label
                            + (f": {d.recipient_name}" if d.recipient_name else ""),
                            d.summary,
                        )
                        for d in disclosures
                    ],
                ),
            ]
        story += [
            printing.space(6),
            printing.text(
                _l(
                    "You can withdraw a consent at any time, and give one you refused before. "
                    "Talk to your coordinator."
                )
            ),
            printing.text(_coordinator_line(actor, patient)),
        ]
        data = printing.build(title, story, title, printing.printed_at())
    journal.record_access(actor, patient, AccessAction.PRINT, "consent_summary")
    return printing.Printed(data, "samtycken.pdf")


def _history_row(consent: Consent) -> tuple[str, str, str, str, str]:
    recipient = consent.kind.label
    if consent.recipient_name:
        recipient += f": {consent.recipient_name}"
    withdrawn = consent.withdrawal.withdrawn_on.isoformat() if consent.withdrawal else ""
    return (consent.given_on.isoformat(), recipient, consent.answer.label, consent.purpose,
            withdrawn)  # fmt: skip
