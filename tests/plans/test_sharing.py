"""Sharing the plan with an external actor: only the version in force, only through the consent
gate (a refusal is logged and nothing else), and registered as a disclosure."""

from __future__ import annotations

import pytest
import time_machine

from coordinator.access import Actor
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.consents.service import ConsentMissing, ConsentStatus, Recipient
from coordinator.errors import Forbidden, NotFound
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients.models import Patient
from coordinator.plans import service
from coordinator.plans.service import NotInForce
from tests.conftest import World
from tests.consents.support import give, logged, with_one_more_access_entry
from tests.consents.support import written as consent_rows_written
from tests.crypto.support import actor_for
from tests.patients.support import TODAY, at, entries, last_access_seq
from tests.plans.support import agreed_plan, count, day, measure, plan_input, written

ICA = Recipient(ConsentKind.EMPLOYER, "ICA Maxi")
COOP = Recipient(ConsentKind.EMPLOYER, "Coop")


def everything_written() -> tuple[int, ...]:
    """The plans tables' counts and the consents tables' (disclosures among them)."""
    return (*written(), *consent_rows_written()[3:])


def test_sharing_without_employer_consent_is_refused_and_only_the_attempt_is_logged(
    me: Actor, active_patient: Patient
) -> None:
    agreed_plan(me, active_patient)
    db.session.commit()
    before, mark = everything_written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.share(me, active_patient, ICA, TODAY)

    assert (refused.value.decision.status, refused.value.kind) == (
        ConsentStatus.NONE,
        ConsentKind.EMPLOYER,
    )
    assert str(refused.value) == "The patient has given no consent for: Employer (ICA Maxi)."
    assert logged(mark) == [("denied", "plan_share", "employer")]
    assert everything_written() == with_one_more_access_entry(before)


def test_sharing_with_consent_registers_a_disclosure_journals_and_logs_it(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient, measure("Work-place visit"))
    consent = give(me, active_patient, ConsentKind.EMPLOYER, TODAY, name="ICA Maxi")
    frozen.move_to(at(day(2)))
    mark = last_access_seq()

    version, disclosure = service.share(me, active_patient, ICA, day(2))

    assert version is plan.in_force
    assert (disclosure.recipient, disclosure.recipient_name, disclosure.disclosed_on) == (
        ConsentKind.EMPLOYER,
        "ICA Maxi",
        day(2),
    )
    assert disclosure.summary == "Rehabiliteringsplan, version 1 godkänd 2026-06-15."
    assert (disclosure.consent_id, disclosure.patient_id, disclosure.recorded_by_id) == (
        consent.id,
        active_patient.id,
        me.user.id,
    )
    (entry,) = entries(active_patient, EntryKind.DISCLOSURE)
    assert (entry.heading, entry.body) == (
        "Uppgifter utlämnade till Arbetsgivare",
        "Mottagare: ICA Maxi. 2026-06-17: Rehabiliteringsplan, version 1 godkänd 2026-06-15. "
        "Med stöd av samtycket som lämnades 2026-06-15.",
    )
    assert logged(mark) == [
        ("create", "journal_entry", str(entry.seq)),
        ("disclose", "disclosure", disclosure.uid.hex),
    ]


def test_a_consent_naming_one_employer_does_not_cover_another(
    me: Actor, active_patient: Patient
) -> None:
    agreed_plan(me, active_patient)
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY, name="ICA Maxi")
    before, mark = everything_written(), last_access_seq()

    with pytest.raises(ConsentMissing) as refused:
        service.share(me, active_patient, COOP, TODAY)

    assert refused.value.decision.status is ConsentStatus.WRONG_RECIPIENT
    assert str(refused.value) == "The patient's consent for Employer covers only ICA Maxi."
    assert logged(mark) == [("denied", "plan_share", "employer")]
    assert everything_written() == with_one_more_access_entry(before)


def test_a_consent_naming_no_employer_covers_any_employer(
    me: Actor, active_patient: Patient
) -> None:
    agreed_plan(me, active_patient)
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)

    _, disclosure = service.share(me, active_patient, COOP, TODAY)

    assert disclosure.recipient_name == "Coop"


def test_the_version_shared_is_the_one_in_force_not_the_draft(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    plan = agreed_plan(me, active_patient)
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)
    frozen.move_to(at(day(3)))
    service.save(me, active_patient, plan_input(measure("New step")), based_on=1)

    version, disclosure = service.share(me, active_patient, ICA, day(3))

    assert (version.number, plan.latest.number) == (1, 2)
    assert disclosure.summary == "Rehabiliteringsplan, version 1 godkänd 2026-06-15."


def test_a_plan_not_agreed_cannot_be_shared(me: Actor, active_patient: Patient) -> None:
    service.save(me, active_patient, plan_input())
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)
    before, mark = everything_written(), last_access_seq()

    with pytest.raises(NotInForce) as refused:
        service.share(me, active_patient, ICA, TODAY)

    assert (refused.value.status_code, str(refused.value)) == (
        409,
        "Only a plan the patient has agreed to can be shared.",
    )
    assert everything_written() == before
    assert logged(mark) == []


def test_without_a_plan_there_is_nothing_to_share(me: Actor, active_patient: Patient) -> None:
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)
    before = everything_written()

    with pytest.raises(NotFound):
        service.share(me, active_patient, ICA, TODAY)

    assert everything_written() == before


def test_a_manager_cannot_share_a_plan(world: World, me: Actor, active_patient: Patient) -> None:
    agreed_plan(me, active_patient)
    give(me, active_patient, ConsentKind.EMPLOYER, TODAY)
    manager = actor_for(world.manager, world.unit_a)
    before = everything_written()

    with pytest.raises(Forbidden):
        service.share(manager, active_patient, ICA, TODAY)

    assert everything_written() == before
    assert count(Disclosure) == 0
