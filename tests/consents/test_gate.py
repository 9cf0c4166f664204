"""The consent gate: what the patient's records allow for a recipient on a day (``check`` and
``decide``), the gate every feature goes through (``require``: a refusal is logged and nothing
else), activation of coordination behind it, and disclosures registered through it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from coordinator.access import Actor
from coordinator.consents import service
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.consents.service import ConsentMissing, ConsentStatus, Recipient
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients.models import CaseStatus, Patient
from tests.consents.support import (
    count,
    give,
    june,
    logged,
    refuse,
    with_one_more_access_entry,
    written,
)
from tests.patients.support import TODAY, access_log, entries, last_access_seq

pytestmark = pytest.mark.usefixtures("frozen")

EMPLOYER = Recipient(ConsentKind.EMPLOYER)
ICA = Recipient(ConsentKind.EMPLOYER, "ICA Maxi")
COOP = Recipient(ConsentKind.EMPLOYER, "Coop")
COORDINATION = Recipient(ConsentKind.COORDINATION)
SOCIAL_INSURANCE = Recipient(ConsentKind.SOCIAL_INSURANCE)


def status(patient: Patient, recipient: Recipient, on: date) -> ConsentStatus:
    return service.check(patient, recipient, on).status


# -- check ---------------------------------------------------------------------------------


def test_without_any_consent_nothing_is_allowed(patient: Patient) -> None:
    decision = service.check(patient, EMPLOYER, TODAY)

    assert (decision.status, decision.consent, decision.allowed) == (
        ConsentStatus.NONE,
        None,
        False,
    )
    assert decision.message == "The patient has given no consent for: Employer."


def test_a_given_consent_allows_and_is_the_consent_in_force(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))

    decision = service.check(patient, EMPLOYER, TODAY)

    assert (decision.status, decision.allowed, decision.message) == (ConsentStatus.GIVEN, True, "")
    assert decision.consent is consent
    assert (decision.recipient, decision.on) == (EMPLOYER, TODAY)


def test_a_refusal_refuses(me: Actor, patient: Patient) -> None:
    refusal = refuse(me, patient, ConsentKind.EMPLOYER, june(1), note="Vill inte.")

    decision = service.check(patient, EMPLOYER, TODAY)

    assert (decision.status, decision.consent) == (ConsentStatus.REFUSED, refusal)
    assert decision.message == "The patient refused consent for Employer on 2026-06-01."


def test_a_withdrawal_blocks_its_day_and_later_but_not_the_days_before(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))
    service.withdraw(me, patient, consent, june(10), None)

    days = {day: status(patient, EMPLOYER, june(day)) for day in (1, 9, 10, 11, 15)}

    assert days == {
        1: ConsentStatus.GIVEN,
        9: ConsentStatus.GIVEN,
        10: ConsentStatus.WITHDRAWN,
        11: ConsentStatus.WITHDRAWN,
        15: ConsentStatus.WITHDRAWN,
    }
    decision = service.check(patient, EMPLOYER, june(10))
    assert decision.consent is consent
    assert decision.message == "The patient withdrew the consent for Employer on 2026-06-10."


def test_a_consent_holds_up_to_and_including_its_last_day(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1), until=june(10))

    days = {day: status(patient, EMPLOYER, june(day)) for day in (10, 11)}

    assert days == {10: ConsentStatus.GIVEN, 11: ConsentStatus.EXPIRED}
    expired = service.check(patient, EMPLOYER, june(11))
    assert expired.message == "The consent for Employer expired on 2026-06-10."


def test_a_consent_does_not_cover_the_days_before_it_was_given(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(10))

    decision = service.check(patient, EMPLOYER, june(9))

    assert (decision.status, decision.consent) == (ConsentStatus.NOT_YET_GIVEN, consent)
    assert decision.message == (
        "The consent for Employer was given on 2026-06-10, after 2026-06-09."
    )
    assert status(patient, EMPLOYER, june(10)) is ConsentStatus.GIVEN


def test_a_named_consent_covers_that_recipient_only(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")

    to_coop = service.check(patient, COOP, TODAY)
    unnamed = service.check(patient, EMPLOYER, TODAY)

    assert (to_coop.status, to_coop.consent) == (ConsentStatus.WRONG_RECIPIENT, consent)
    assert to_coop.message == "The patient's consent for Employer covers only ICA Maxi."
    assert unnamed.status is ConsentStatus.WRONG_RECIPIENT
    assert status(patient, ICA, TODAY) is ConsentStatus.GIVEN


def test_a_refusal_naming_one_recipient_says_nothing_about_another(
    me: Actor, patient: Patient
) -> None:
    refuse(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")

    to_coop = service.check(patient, COOP, TODAY)

    assert (to_coop.status, to_coop.consent) == (ConsentStatus.NONE, None)
    assert to_coop.message == "The patient has given no consent for: Employer (Coop)."
    assert status(patient, ICA, TODAY) is ConsentStatus.REFUSED


@pytest.mark.parametrize("written_as", ["ica maxi", "  ICA   MAXI ", "Ica\tMaxi"])
def test_names_are_compared_without_case_and_extra_spaces(
    me: Actor, patient: Patient, written_as: str
) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")

    assert status(patient, Recipient(ConsentKind.EMPLOYER, written_as), TODAY) is (
        ConsentStatus.GIVEN
    )


def test_a_consent_naming_no_recipient_covers_every_recipient_of_its_kind(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1))

    assert [service.check(patient, r, TODAY).consent for r in (ICA, COOP, EMPLOYER)] == [
        consent,
        consent,
        consent,
    ]


def test_the_latest_answer_wins(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1))
    refusal = refuse(me, patient, ConsentKind.EMPLOYER, june(10))
    refuse(me, patient, ConsentKind.SOCIAL_INSURANCE, june(1))
    consent = give(me, patient, ConsentKind.SOCIAL_INSURANCE, june(10))

    assert service.check(patient, EMPLOYER, june(12)).consent is refusal
    assert [status(patient, EMPLOYER, june(d)) for d in (5, 12)] == [
        ConsentStatus.GIVEN,
        ConsentStatus.REFUSED,
    ]
    assert service.check(patient, SOCIAL_INSURANCE, june(12)).consent is consent
    assert [status(patient, SOCIAL_INSURANCE, june(d)) for d in (5, 12)] == [
        ConsentStatus.REFUSED,
        ConsentStatus.GIVEN,
    ]


def test_of_two_answers_on_the_same_day_the_one_recorded_last_wins(
    me: Actor, patient: Patient
) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(10))
    refuse(me, patient, ConsentKind.EMPLOYER, june(10))

    assert status(patient, EMPLOYER, june(10)) is ConsentStatus.REFUSED


def test_a_consent_of_another_kind_does_not_cover(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1))
    give(me, patient, ConsentKind.COORDINATION, june(1))

    decision = service.check(patient, SOCIAL_INSURANCE, TODAY)

    assert (decision.status, decision.consent) == (ConsentStatus.NONE, None)
    assert decision.message == "The patient has given no consent for: Försäkringskassan."


def test_decide_judges_only_the_records_it_is_given(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1), until=june(10))
    records = service.records_of(patient)

    assert service.decide([], EMPLOYER, TODAY).status is ConsentStatus.NONE
    assert [service.decide(records, EMPLOYER, june(d)).status for d in (1, 10, 11)] == [
        ConsentStatus.GIVEN,
        ConsentStatus.GIVEN,
        ConsentStatus.EXPIRED,
    ]
    assert service.decide(records, EMPLOYER, june(5)).consent is consent


# -- require: the gate ---------------------------------------------------------------------

#: A history of the patient's answers, and where the employer stands on 12 June after it.
HISTORIES: dict[str, tuple[Callable[[Actor, Patient], object], ConsentStatus]] = {
    "none": (lambda me, p: None, ConsentStatus.NONE),
    "refused": (
        lambda me, p: refuse(me, p, ConsentKind.EMPLOYER, june(1)),
        ConsentStatus.REFUSED,
    ),
    "withdrawn": (
        lambda me, p: service.withdraw(
            me, p, give(me, p, ConsentKind.EMPLOYER, june(1)), june(12), None
        ),
        ConsentStatus.WITHDRAWN,
    ),
    "expired": (
        lambda me, p: give(me, p, ConsentKind.EMPLOYER, june(1), until=june(11)),
        ConsentStatus.EXPIRED,
    ),
    "not-yet-given": (
        lambda me, p: give(me, p, ConsentKind.EMPLOYER, june(13)),
        ConsentStatus.NOT_YET_GIVEN,
    ),
    "named-coop": (
        lambda me, p: give(me, p, ConsentKind.EMPLOYER, june(1), name="Coop"),
        ConsentStatus.WRONG_RECIPIENT,
    ),
    "other-kind": (
        lambda me, p: give(me, p, ConsentKind.SOCIAL_INSURANCE, june(1)),
        ConsentStatus.NONE,
    ),
}


@pytest.mark.parametrize(("history", "expected"), HISTORIES.values(), ids=HISTORIES.keys())
def test_the_gate_refuses_logs_the_attempt_and_writes_nothing_else(
    me: Actor,
    patient: Patient,
    history: Callable[[Actor, Patient], object],
    expected: ConsentStatus,
) -> None:
    history(me, patient)
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.require(me, patient, ICA, june(12), "plan_sharing")

    assert (refused.value.decision.status, refused.value.kind) == (expected, ConsentKind.EMPLOYER)
    assert refused.value.decision.recipient == ICA
    assert (refused.value.status_code, str(refused.value)) == (409, refused.value.decision.message)
    assert logged(mark) == [("denied", "plan_sharing", "employer")]
    (entry,) = access_log(mark)
    assert (entry.user_id, entry.patient_id, entry.unit_id) == (
        me.user.id,
        patient.id,
        patient.unit_id,
    )
    assert written() == with_one_more_access_entry(before)


def test_the_gate_lets_a_valid_consent_through_without_writing_anything(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")
    before = written()

    assert service.require(me, patient, ICA, june(12), "plan_sharing") is consent
    assert written() == before


# -- activation of coordination ------------------------------------------------------------


def test_coordination_cannot_start_without_consent(me: Actor, patient: Patient) -> None:
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        cases.activate(me, patient)

    assert (refused.value.decision.status, refused.value.kind) == (
        ConsentStatus.NONE,
        ConsentKind.COORDINATION,
    )
    db.session.expire_all()
    case = cases.current_case(patient)
    assert case is not None
    assert (case.status, case.version) == (CaseStatus.NEW, 1)
    assert logged(mark) == [("denied", "case_activation", "coordination")]
    assert written() == with_one_more_access_entry(before)


def test_coordination_cannot_start_on_a_withdrawn_consent(me: Actor, patient: Patient) -> None:
    consent = give(me, patient, ConsentKind.COORDINATION, june(1))
    service.withdraw(me, patient, consent, june(14), "Orkar inte just nu.")
    mark = last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        cases.activate(me, patient)

    assert refused.value.decision.status is ConsentStatus.WITHDRAWN
    assert refused.value.decision.consent is consent
    assert logged(mark) == [("denied", "case_activation", "coordination")]
    case = cases.current_case(patient)
    assert case is not None
    assert case.status is CaseStatus.NEW


def test_coordination_starts_with_a_valid_consent(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.COORDINATION, june(1))
    mark = last_access_seq()

    case = cases.activate(me, patient)

    assert (case.status, case.version) == (CaseStatus.ACTIVE, 2)
    assert ("denied", "case_activation", "coordination") not in logged(mark)


# -- disclosures ---------------------------------------------------------------------------


def test_a_disclosure_with_consent_is_registered_journaled_and_logged(
    me: Actor, patient: Patient
) -> None:
    consent = give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")
    mark = last_access_seq()

    disclosure = service.disclose(me, patient, ICA, june(12), " Plan för återgång i arbete. ")

    assert (disclosure.consent_id, disclosure.recipient, disclosure.disclosed_on) == (
        consent.id,
        ConsentKind.EMPLOYER,
        june(12),
    )
    assert (disclosure.recipient_name, disclosure.summary) == (
        "ICA Maxi",
        "Plan för återgång i arbete.",
    )
    assert (disclosure.patient_id, disclosure.unit_id, disclosure.recorded_by_id) == (
        patient.id,
        patient.unit_id,
        me.user.id,
    )
    (entry,) = entries(patient, EntryKind.DISCLOSURE)
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("disclose", "disclosure", disclosure.uid.hex),
    ]
    assert entry.body == (
        "Mottagare: ICA Maxi. 2026-06-12: Plan för återgång i arbete. "
        "Med stöd av samtycket som lämnades 2026-06-01."
    )


def test_a_disclosure_without_consent_is_refused_and_only_the_attempt_is_logged(
    me: Actor, patient: Patient
) -> None:
    give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi")
    before, mark = written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.disclose(me, patient, COOP, june(12), "Sjukskrivningens längd.")

    assert (refused.value.decision.status, refused.value.kind) == (
        ConsentStatus.WRONG_RECIPIENT,
        ConsentKind.EMPLOYER,
    )
    assert logged(mark) == [("denied", "disclosure", "employer")]
    assert written() == with_one_more_access_entry(before)
    assert count(Disclosure) == 0
