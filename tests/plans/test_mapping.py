"""The mapping (*kartläggning*): a draft saved and edited in place, signed into the case journal
once complete, a new version started from a signed one; only in an active case, only by a
coordinator; every text encrypted, every action logged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from coordinator.access import Actor
from coordinator.consents.models import ConsentKind
from coordinator.errors import Forbidden, NotFound
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients.models import CaseOutcome, Patient, ScreeningDecision
from coordinator.plans import mapping
from coordinator.plans.common import NotUnderWay, StaleEdit
from coordinator.plans.mapping import Incomplete, MappingInput
from coordinator.plans.models import MAPPING_SECTIONS, Mapping, ReturnBelief
from tests.conftest import World
from tests.consents.support import give, logged
from tests.crypto.support import actor_for, stored
from tests.patients.support import NOW, TODAY, entries, last_access_seq, register
from tests.plans.support import count, written

#: What the patient told the coordinator, section by section.
TOLD = {
    "work_situation": "Undersköterska på Solgårdens äldreboende, heltid, tunga lyft.",
    "life_situation": "Bor med två barn, delad vårdnad.",
    "health": "Ont i ländryggen sedan i vintras, sover dåligt.",
    "obstacles": "Kan inte lyfta, rädd att bli sämre.",
    "resources": "Bra stöd från chefen, vill tillbaka.",
    "own_goal": "Tillbaka på 50 % före semestern.",
    "risk_factors": "Tidigare sjukskrivning 2024.",
}

#: The journal entry signing TOLD with the belief "unsure" writes (the record's language).
SIGNED_BODY = "\n".join(
    [
        "Arbetssituation: Undersköterska på Solgårdens äldreboende, heltid, tunga lyft.",
        "Livssituation: Bor med två barn, delad vårdnad.",
        "Hälsan som patienten beskriver den: Ont i ländryggen sedan i vintras, sover dåligt.",
        "Hinder för återgång i arbete: Kan inte lyfta, rädd att bli sämre.",
        "Resurser för återgång i arbete: Bra stöd från chefen, vill tillbaka.",
        "Patientens eget mål: Tillbaka på 50 % före semestern.",
        "Riskfaktorer för lång sjukskrivning: Tidigare sjukskrivning 2024.",
        "Tro på återgång i arbete: Osäker",
    ]
)


def complete(**changes: str | None) -> MappingInput:
    """Every section filled in as TOLD (with ``changes``), the patient unsure of returning."""
    return MappingInput({**TOLD, **changes}, ReturnBelief.UNSURE)


def draft(**sections: str | None) -> MappingInput:
    return MappingInput(dict(sections))


def sections_of(saved: Mapping) -> dict[str, str | None]:
    return {name: getattr(saved, name) for name in MAPPING_SECTIONS}


def stored_sections(saved: Mapping) -> dict[str, bytes | None]:
    return {
        name: db.session.execute(
            text(f"SELECT {name} FROM mappings WHERE id = :id"),  # noqa: S608 (test constants)
            {"id": saved.id},
        ).scalar_one()
        for name in (*MAPPING_SECTIONS, "return_belief")
    }


def later(frozen: time_machine.Traveller, minutes: int = 5) -> None:
    """The next request comes a few minutes later."""
    frozen.shift(timedelta(minutes=minutes))


# -- Drafts --------------------------------------------------------------------------------


def test_a_draft_is_saved_without_being_signed_or_journaled(
    me: Actor, active_patient: Patient
) -> None:
    mark = last_access_seq()

    saved = mapping.save(
        me, active_patient, draft(work_situation=" Undersköterska. ", health=""), expected_lock=None
    )

    assert (saved.number, saved.lock, saved.is_signed, saved.signed_by_id) == (1, 1, False, None)
    assert sections_of(saved) == {name: None for name in MAPPING_SECTIONS} | {
        "work_situation": "Undersköterska."
    }
    assert (saved.belief, saved.created_by_id, saved.updated_by_id) == (
        None,
        me.user.id,
        me.user.id,
    )
    assert (saved.patient_id, saved.unit_id) == (active_patient.id, active_patient.unit_id)
    assert logged(mark) == [("create", "mapping", saved.uid.hex)]
    assert entries(active_patient, EntryKind.PLAN_CHANGED) == []


def test_a_draft_is_edited_in_place(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    first = mapping.save(me, active_patient, draft(health="Ont i ryggen."), expected_lock=None)
    db.session.commit()
    later(frozen)
    mark = last_access_seq()

    again = mapping.save(
        me,
        active_patient,
        MappingInput(
            {"health": "Ont i ryggen och nacken.", "own_goal": "Heltid."}, ReturnBelief.CONFIDENT
        ),
        expected_lock=first.lock,
    )

    assert (again.id, again.number, again.lock, again.is_signed) == (first.id, 1, 2, False)
    assert (again.health, again.own_goal, again.belief) == (
        "Ont i ryggen och nacken.",
        "Heltid.",
        ReturnBelief.CONFIDENT,
    )
    assert again.updated_at == NOW + timedelta(minutes=5)
    assert count(Mapping) == 1
    assert logged(mark) == [("change", "mapping", first.uid.hex)]
    assert entries(active_patient, EntryKind.PLAN_CHANGED) == []


def test_a_section_emptied_in_the_draft_is_emptied(me: Actor, active_patient: Patient) -> None:
    first = mapping.save(me, active_patient, complete(), expected_lock=None)

    again = mapping.save(me, active_patient, complete(health="   "), expected_lock=first.lock)

    assert again.health is None
    assert again.own_goal == TOLD["own_goal"]


# -- Signing -------------------------------------------------------------------------------

INCOMPLETE: dict[str, MappingInput] = {
    **{f"no-{name}": complete(**{name: None}) for name in MAPPING_SECTIONS},
    "blank-health": complete(health="  \n "),
    "no-belief": MappingInput(dict(TOLD), None),
}


@pytest.mark.parametrize("entry", INCOMPLETE.values(), ids=INCOMPLETE.keys())
def test_signing_needs_every_section_and_the_belief(
    me: Actor, active_patient: Patient, entry: MappingInput
) -> None:
    before = written()

    with pytest.raises(Incomplete) as refused:
        mapping.save(me, active_patient, entry, expected_lock=None, sign=True)

    assert str(refused.value) == (
        "Fill in every section and the patient's belief in return to work before signing "
        "(write “nothing to note” where that is the answer)."
    )
    assert written() == before


def test_an_incomplete_draft_is_not_signed_and_stays_as_it_was(
    me: Actor, active_patient: Patient
) -> None:
    saved = mapping.save(me, active_patient, complete(risk_factors=None), expected_lock=None)
    db.session.commit()
    before = written()

    with pytest.raises(Incomplete):
        mapping.save(
            me,
            active_patient,
            complete(risk_factors=None, health="Ändrat."),
            expected_lock=1,
            sign=True,
        )

    db.session.rollback()
    assert written() == before
    db.session.refresh(saved)
    assert (saved.is_signed, saved.health, saved.lock) == (False, TOLD["health"], 1)


def test_signing_fixes_the_mapping_and_writes_it_to_the_case_journal(
    me: Actor, active_patient: Patient
) -> None:
    mark = last_access_seq()

    signed = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)

    assert (signed.number, signed.is_signed, signed.signed_at, signed.signed_by_id) == (
        1,
        True,
        NOW,
        me.user.id,
    )
    assert sections_of(signed) == TOLD
    assert signed.belief is ReturnBelief.UNSURE
    (entry,) = entries(active_patient, EntryKind.PLAN_CHANGED)
    assert (entry.heading, entry.body) == ("Kartläggning signerad (version 1)", SIGNED_BODY)
    assert (entry.author_id, entry.patient_id) == (me.user.id, active_patient.id)
    assert logged(mark) == [
        ("create", "mapping", signed.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_signing_a_saved_draft_signs_that_draft(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    saved = mapping.save(me, active_patient, complete(health="Ont."), expected_lock=None)
    db.session.commit()
    later(frozen)
    mark = last_access_seq()

    signed = mapping.save(me, active_patient, complete(), expected_lock=saved.lock, sign=True)

    assert (signed.id, signed.number, signed.signed_at) == (saved.id, 1, NOW + timedelta(minutes=5))
    assert count(Mapping) == 1
    (entry,) = entries(active_patient, EntryKind.PLAN_CHANGED)
    assert entry.body == SIGNED_BODY
    assert logged(mark) == [
        ("change", "mapping", saved.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_saving_after_signing_starts_version_2_and_leaves_version_1_as_signed(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    first = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)
    db.session.commit()
    signed_bytes = stored_sections(first)
    journal_before = entries(active_patient)
    later(frozen)
    mark = last_access_seq()

    second = mapping.save(
        me,
        active_patient,
        complete(own_goal="Tillbaka på 75 % i augusti.", risk_factors=None),
        expected_lock=first.lock,
    )
    db.session.commit()

    assert (second.number, second.is_signed, second.lock) == (2, False, 1)
    assert second.id != first.id
    assert sections_of(second) == TOLD | {
        "own_goal": "Tillbaka på 75 % i augusti.",
        "risk_factors": None,
    }
    assert logged(mark) == [("create", "mapping", second.uid.hex)]
    assert entries(active_patient) == journal_before
    db.session.expire_all()
    case = cases.current_case(active_patient)
    assert case is not None
    assert [m.number for m in mapping.mappings_of(case)] == [1, 2]
    assert mapping.latest_of(case) is second
    assert (first.is_signed, first.signed_at, first.lock) == (True, NOW, 1)
    assert sections_of(first) == TOLD
    assert stored_sections(first) == signed_bytes


def test_signing_version_2_writes_its_own_journal_entry(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    first = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)
    later(frozen)

    second = mapping.save(
        me, active_patient, complete(health="Bättre."), expected_lock=first.lock, sign=True
    )

    assert (second.number, second.is_signed) == (2, True)
    headings = [e.heading for e in entries(active_patient, EntryKind.PLAN_CHANGED)]
    assert headings == ["Kartläggning signerad (version 1)", "Kartläggning signerad (version 2)"]


# -- Refusals ------------------------------------------------------------------------------


def test_a_stale_draft_is_refused_and_nothing_is_written(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    opened = mapping.save(me, active_patient, draft(health="Ont."), expected_lock=None)
    db.session.commit()
    read_lock = opened.lock
    later(frozen)
    mapping.save(me, active_patient, draft(health="Ont i ryggen."), expected_lock=read_lock)
    db.session.commit()
    before, saved_bytes = written(), stored_sections(opened)

    with pytest.raises(StaleEdit):
        mapping.save(me, active_patient, complete(), expected_lock=read_lock, sign=True)

    db.session.rollback()
    assert written() == before
    assert stored_sections(opened) == saved_bytes
    assert (opened.lock, opened.health, opened.is_signed) == (2, "Ont i ryggen.", False)


def test_a_new_version_on_a_stale_signed_mapping_is_refused(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    opened = mapping.save(me, active_patient, complete(), expected_lock=None)
    db.session.commit()
    read_lock = opened.lock
    later(frozen)
    mapping.save(me, active_patient, complete(), expected_lock=read_lock, sign=True)
    db.session.commit()
    before = written()

    with pytest.raises(StaleEdit):
        mapping.save(me, active_patient, complete(health="Bättre."), expected_lock=read_lock)

    db.session.rollback()
    assert written() == before
    assert count(Mapping) == 1


def _new(me: Actor, patient: Patient) -> None:
    """Registered: a new case."""


def _offered(me: Actor, patient: Patient) -> None:
    cases.decide_screening(me, patient, ScreeningDecision.OFFER, "Erbjuds koordinering.")


def _consented_not_activated(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.COORDINATION, TODAY)


def _closed(me: Actor, patient: Patient) -> None:
    give(me, patient, ConsentKind.COORDINATION, TODAY)
    cases.activate(me, patient)
    cases.close(me, patient, CaseOutcome.RETURNED_FULL_TIME, TODAY)


NOT_ACTIVE: dict[str, Callable[[Actor, Patient], None]] = {
    "new": _new,
    "offered": _offered,
    "consented-not-activated": _consented_not_activated,
    "closed": _closed,
}


@pytest.mark.parametrize("history", NOT_ACTIVE.values(), ids=NOT_ACTIVE.keys())
@pytest.mark.parametrize("sign", [False, True], ids=["draft", "sign"])
def test_mapping_needs_coordination_under_way(
    frozen: object, me: Actor, history: Callable[[Actor, Patient], None], sign: bool
) -> None:
    patient = register(me, "Berg", "Bo")
    history(me, patient)
    before = written()

    with pytest.raises(NotUnderWay) as refused:
        mapping.save(me, patient, complete(), expected_lock=None, sign=sign)

    assert refused.value.status_code == 409
    assert written() == before


def test_a_manager_cannot_map(world: World, active_patient: Patient) -> None:
    manager = actor_for(world.manager, world.unit_a)
    before = written()

    with pytest.raises(Forbidden):
        mapping.save(manager, active_patient, complete(), expected_lock=None, sign=True)

    assert written() == before


# -- Storage and reading -------------------------------------------------------------------


def test_every_section_and_the_belief_are_stored_encrypted(
    me: Actor, active_patient: Patient
) -> None:
    saved = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)
    db.session.commit()

    raw = {
        name: stored("mappings", name, saved.id) for name in (*MAPPING_SECTIONS, "return_belief")
    }

    for name, value in TOLD.items():
        assert value.encode() not in raw[name], name
        assert value.split()[0].encode() not in raw[name], name
    assert b"unsure" not in raw["return_belief"]
    db.session.expire_all()
    again = db.session.get(Mapping, saved.id)
    assert again is not None
    assert (sections_of(again), again.belief) == (TOLD, ReturnBelief.UNSURE)


def test_opening_a_version_is_logged_as_read(me: Actor, active_patient: Patient) -> None:
    saved = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)
    mark = last_access_seq()

    opened = mapping.open_mapping(me, active_patient, 1)

    assert opened is saved
    assert logged(mark) == [("read", "mapping", saved.uid.hex)]
    with pytest.raises(NotFound):
        mapping.open_mapping(me, active_patient, 2)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE mappings SET number = 5 WHERE id = :id",
        "UPDATE mappings SET signed_at = NULL WHERE id = :id",
        "DELETE FROM mappings WHERE id = :id",
    ],
    ids=["number", "unsign", "delete"],
)
def test_the_database_refuses_to_change_a_signed_mapping(
    me: Actor, active_patient: Patient, statement: str
) -> None:
    signed = mapping.save(me, active_patient, complete(), expected_lock=None, sign=True)
    db.session.commit()
    before = stored_sections(signed), signed.number, signed.signed_at
    db.session.rollback()

    with pytest.raises(DatabaseError) as refused:
        db.session.execute(text(statement), {"id": signed.id})
    db.session.rollback()

    assert any(
        message in str(refused.value)
        for message in ("mappings is history", "mappings is append-only")
    ), str(refused.value)
    db.session.expire_all()
    assert (stored_sections(signed), signed.number, signed.signed_at) == before


def test_the_database_lets_a_draft_change(me: Actor, active_patient: Patient) -> None:
    saved = mapping.save(me, active_patient, complete(), expected_lock=None)
    db.session.commit()

    db.session.execute(text("UPDATE mappings SET lock = 7 WHERE id = :id"), {"id": saved.id})
    db.session.commit()

    db.session.expire_all()
    assert saved.lock == 7
