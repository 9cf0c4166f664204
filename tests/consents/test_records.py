"""Recording answers and withdrawals: what the journal says, what is sealed, what is refused
(and then nothing is written), and who can reach a consent. (That records never change:
test_history.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from coordinator.access import Actor
from coordinator.consents import service
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentMethod,
    ConsentWithdrawal,
)
from coordinator.consents.service import AlreadyWithdrawn, ConsentInput, Recipient
from coordinator.errors import Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.consents.support import answer as record_answer
from tests.consents.support import give, june, logged, refuse, written
from tests.crypto.support import actor_for, stored
from tests.databases import is_postgres
from tests.patients.support import NOW, TODAY, entries, last_access_seq

pytestmark = pytest.mark.usefixtures("frozen")

PURPOSE = "Planera återgång i arbete med chefen."


# -- recording -----------------------------------------------------------------------------


def test_a_given_consent_is_recorded_journaled_and_logged(me: Actor, patient: Patient) -> None:
    mark = last_access_seq()

    consent = give(
        me, patient, ConsentKind.EMPLOYER, june(1), name=" ICA Maxi ", until=date(2026, 12, 31),
        method=ConsentMethod.WRITTEN, reference="DOK-4711", purpose=PURPOSE, note="Bara chefen.",
    )  # fmt: skip

    assert (consent.kind, consent.answer, consent.method) == (
        ConsentKind.EMPLOYER,
        ConsentAnswer.GIVEN,
        ConsentMethod.WRITTEN,
    )
    assert (consent.given_on, consent.valid_until, consent.recipient_name) == (
        june(1),
        date(2026, 12, 31),
        "ICA Maxi",
    )
    assert (consent.purpose, consent.form_reference, consent.note) == (
        PURPOSE,
        "DOK-4711",
        "Bara chefen.",
    )
    assert (consent.patient_id, consent.unit_id, consent.recorded_by_id) == (
        patient.id,
        patient.unit_id,
        me.user.id,
    )
    (entry,) = entries(patient, EntryKind.CONSENT_RECORDED)
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("create", "consent", consent.uid.hex),
    ]
    assert entry.body == (
        "Mottagare: ICA Maxi. Ändamål: Planera återgång i arbete med chefen. "
        "Svaret lämnades 2026-06-01 (Skriftligt). Giltigt till 2026-12-31. "
        "Undertecknad blankett: DOK-4711. Patientens ord: Bara chefen."
    )


def test_an_empty_purpose_is_the_kinds_standard_one_in_the_record_language(
    me: Actor, patient: Patient
) -> None:
    refusal = refuse(me, patient, ConsentKind.SOCIAL_INSURANCE, june(3), purpose=" ", note="  ")

    purpose = (
        "Information till Försäkringskassan om behovet av rehabilitering och deltagande i "
        "avstämningsmöten."
    )
    assert (refusal.answer, refusal.purpose, refusal.note) == (
        ConsentAnswer.REFUSED,
        purpose,
        None,
    )
    (entry,) = entries(patient, EntryKind.CONSENT_RECORDED)
    assert entry.body == f"Ändamål: {purpose} Svaret lämnades 2026-06-03 (Muntligt)."


#: The journal is written in the installation's language (Swedish) whoever records it: the
#: kind is named in Swedish too, never in the recording user's interface language (English
#: outside a request, as for the command line and the demo data).
RECORDED_HEADINGS = {
    "employer-given": (ConsentKind.EMPLOYER, ConsentAnswer.GIVEN, "Samtycke lämnat: Arbetsgivare"),
    "employer-refused": (
        ConsentKind.EMPLOYER, ConsentAnswer.REFUSED, "Samtycke avböjt: Arbetsgivare",
    ),
    "coordination-given": (
        ConsentKind.COORDINATION, ConsentAnswer.GIVEN, "Samtycke lämnat: Koordinering",
    ),
    "social-insurance-refused": (
        ConsentKind.SOCIAL_INSURANCE, ConsentAnswer.REFUSED, "Samtycke avböjt: Försäkringskassan",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "answer", "heading"), RECORDED_HEADINGS.values(), ids=RECORDED_HEADINGS.keys()
)
def test_the_heading_says_the_answer_and_the_kind_in_swedish(
    me: Actor, patient: Patient, kind: ConsentKind, answer: ConsentAnswer, heading: str
) -> None:
    record_answer(me, patient, kind, june(1), answer)

    (entry,) = entries(patient, EntryKind.CONSENT_RECORDED)
    assert entry.heading == heading


def test_the_withdrawal_heading_names_the_kind_in_swedish(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))
    service.withdraw(me, patient, consent, june(10), None)

    (entry,) = entries(patient, EntryKind.CONSENT_WITHDRAWN)
    assert entry.heading == "Samtycke återkallat: Arbetsgivare"


def test_the_disclosure_heading_names_the_recipient_in_swedish(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1))
    service.disclose(me, patient, Recipient(ConsentKind.EMPLOYER), june(10), "Sjukskrivningstid.")

    (entry,) = entries(patient, EntryKind.DISCLOSURE)
    assert entry.heading == "Uppgifter utlämnade till Arbetsgivare"


def test_the_texts_are_sealed_in_the_database(me: Actor, patient: Patient) -> None:
    consent = give(
        me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi", purpose=PURPOSE,
        method=ConsentMethod.WRITTEN, reference="DOK-4711", note="Bara chefen.",
    )  # fmt: skip
    withdrawal = service.withdraw(me, patient, consent, june(10), "Har bytt jobb.")
    db.session.commit()

    raw = {
        column: stored("consents", column, consent.id)
        for column in ("recipient_name", "purpose", "form_reference", "note")
    }
    assert [b"ICA" in raw["recipient_name"], b"chefen" in raw["purpose"]] == [False, False]
    assert [b"4711" in raw["form_reference"], b"chefen" in raw["note"]] == [False, False]
    assert b"jobb" not in stored("consent_withdrawals", "note", withdrawal.id)


#: Answers the service refuses, and the field it names.
REFUSED_ANSWERS: dict[str, tuple[dict[str, object], str, str]] = {
    "ends-before-given": (
        {"valid_until": june(9), "given_on": june(10)},
        "valid_until",
        "A consent cannot end before it was given.",
    ),
    "given-in-the-future": (
        {"given_on": TODAY + timedelta(days=1)},
        "given_on",
        "The date cannot be in the future.",
    ),
    "given-more-than-a-year-back": (
        {"given_on": TODAY - timedelta(days=367)},
        "given_on",
        "The date cannot be more than a year back.",
    ),
    "refusal-with-an-end": (
        {"answer": ConsentAnswer.REFUSED, "valid_until": date(2026, 12, 31)},
        "valid_until",
        "A refusal has no end date.",
    ),
    "written-without-reference": (
        {"method": ConsentMethod.WRITTEN, "form_reference": "   "},
        "form_reference",
        "Say where the signed form is kept.",
    ),
    "coordination-with-a-recipient": (
        {"kind": ConsentKind.COORDINATION, "recipient_name": "Anna Chef"},
        "recipient_name",
        "Consent to coordination has no recipient.",
    ),
    "an-agency-on-an-employer-consent": (
        {"recipient_name": "Försäkringskassan"},
        "recipient_name",
        "Försäkringskassan is not of the kind Employer; choose the kind Försäkringskassan.",
    ),
    "purpose-too-long": ({"purpose": "x" * 1001}, "purpose", "At most 1000 characters."),
}


@pytest.mark.parametrize(
    ("changes", "field", "message"), REFUSED_ANSWERS.values(), ids=REFUSED_ANSWERS.keys()
)
def test_a_bad_answer_is_refused_at_its_field_and_nothing_is_written(
    me: Actor, patient: Patient, changes: dict[str, object], field: str, message: str
) -> None:
    values: dict[str, object] = {
        "kind": ConsentKind.EMPLOYER, "answer": ConsentAnswer.GIVEN,
        "method": ConsentMethod.ORAL, "given_on": june(1),
    }  # fmt: skip
    before = written()

    with pytest.raises(InvalidField) as refused:
        service.record(me, patient, ConsentInput(**(values | changes)))  # type: ignore[arg-type]

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert written() == before


def test_an_answer_exactly_a_year_back_is_accepted(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, TODAY - timedelta(days=366))

    assert consent.given_on == date(2025, 6, 14)


def test_the_named_agency_is_accepted_on_its_own_kind(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.SOCIAL_INSURANCE, june(1), name="Försäkringskassan")

    assert consent.recipient_name == "Försäkringskassan"


# -- withdrawing ---------------------------------------------------------------------------


def test_a_withdrawal_is_recorded_beside_the_consent_journaled_and_logged(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")
    mark = last_access_seq()

    withdrawal = service.withdraw(me, patient, consent, june(10), " Har bytt jobb. ")

    assert (withdrawal.consent_id, withdrawal.withdrawn_on, withdrawal.note) == (
        consent.id,
        june(10),
        "Har bytt jobb.",
    )
    assert consent.withdrawal is withdrawal
    (entry,) = entries(patient, EntryKind.CONSENT_WITHDRAWN)
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("change", "consent", consent.uid.hex),
    ]
    assert entry.body == (
        "Mottagare: ICA Maxi. Samtycket som lämnades 2026-06-01 gäller inte längre från "
        "2026-06-10. Patientens ord: Har bytt jobb."
    )


def _withdrawn_once(me: Actor, patient: Patient) -> Consent:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))
    service.withdraw(me, patient, consent, june(10), None)
    return consent


#: Withdrawals the service refuses: (the consent, the day) → the error and its message.
REFUSED_WITHDRAWALS: dict[str, tuple[Callable[[Actor, Patient], Consent], date, type, str]] = {
    "a-refusal": (
        lambda me, p: refuse(me, p, ConsentKind.EMPLOYER, june(1)),
        june(10),
        AlreadyWithdrawn,
        "A refusal cannot be withdrawn; record the patient's new answer instead.",
    ),
    "twice": (
        _withdrawn_once,
        june(12),
        AlreadyWithdrawn,
        "This consent was already withdrawn on 2026-06-10.",
    ),
    "before-it-was-given": (
        lambda me, p: give(me, p, ConsentKind.EMPLOYER, june(5)),
        june(4),
        InvalidField,
        "A consent cannot be withdrawn before it was given.",
    ),
    "in-the-future": (
        lambda me, p: give(me, p, ConsentKind.EMPLOYER, june(5)),
        TODAY + timedelta(days=1),
        InvalidField,
        "The date cannot be in the future.",
    ),
}


@pytest.mark.parametrize(
    ("make", "day", "error", "message"),
    REFUSED_WITHDRAWALS.values(),
    ids=REFUSED_WITHDRAWALS.keys(),
)
def test_a_bad_withdrawal_is_refused_and_nothing_is_written(
    me: Actor,
    patient: Patient,
    make: Callable[[Actor, Patient], Consent],
    day: date,
    error: type[Exception],
    message: str,
) -> None:
    consent = make(me, patient)
    before = written()

    with pytest.raises(error) as refused:
        service.withdraw(me, patient, consent, day, "Ångrar mig.")

    assert str(refused.value) == message
    if isinstance(refused.value, InvalidField):
        assert refused.value.field == "withdrawn_on"
    assert written() == before


# -- reaching a consent ---------------------------------------------------------------------


def test_a_consent_is_reached_only_through_its_own_patient_in_the_actors_unit(
    world: World, me: Actor
) -> None:
    mine = patients.get_patient(me, uuid.UUID(world.patient_a.uid))
    consent = give(me, mine, ConsentKind.EMPLOYER, june(1))
    other = actor_for(world.coordinator_b, world.unit_b)
    theirs = patients.get_patient(other, uuid.UUID(world.patient_b.uid))
    before = written()

    with pytest.raises(NotFound):
        patients.get_patient(other, uuid.UUID(world.patient_a.uid))
    with pytest.raises(NotFound):
        service.open_consent(other, theirs, consent.uid)
    with pytest.raises(NotFound):
        service.withdraw(other, theirs, consent, june(10), None)

    assert written() == before
    mark = last_access_seq()
    assert service.open_consent(me, mine, consent.uid) is consent
    assert logged(mark) == [("read", "consent", consent.uid.hex)]


def test_a_manager_cannot_record_withdraw_or_disclose(world: World, me: Actor) -> None:
    patient = patients.get_patient(me, uuid.UUID(world.patient_a.uid))
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))
    manager = actor_for(world.manager, world.unit_a)
    before = written()

    with pytest.raises(Forbidden):
        give(manager, patient, ConsentKind.SOCIAL_INSURANCE, june(1))
    with pytest.raises(Forbidden):
        service.withdraw(manager, patient, consent, june(10), None)
    with pytest.raises(Forbidden):
        service.disclose(manager, patient, Recipient(ConsentKind.EMPLOYER), june(10), "Allt.")

    assert written() == before


@pytest.mark.skipif(
    not is_postgres(),
    reason="SQLite serialises writers (BEGIN IMMEDIATE): no commit can come in between",
)
def test_a_withdrawal_committed_by_someone_else_meanwhile_is_reported(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))
    db.session.commit()
    assert consent.withdrawal is None  # this request has read the consent ...
    with db.engine.connect() as other:  # ... when another request withdraws it and commits
        row = {"uid": uuid.uuid4(), "consent_id": consent.id, "withdrawn_on": june(9),
               "recorded_by_id": me.user.id, "recorded_at": NOW}  # fmt: skip
        other.execute(insert(ConsentWithdrawal.__table__).values(row))
        other.commit()
    before = written()

    with pytest.raises(AlreadyWithdrawn) as refused:
        service.withdraw(me, patient, consent, june(10), None)

    assert str(refused.value) == "This consent has just been withdrawn by someone else."
    assert written() == before
    db.session.commit()  # the request can still finish
