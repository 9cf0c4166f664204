"""Appending to the journals: numbered without gaps, linked, sealed, the head kept up to date."""

from __future__ import annotations

import hmac

import pytest
from flask import Flask
from sqlalchemy import func, select

from coordinator.auth.roles import Role
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal import service as journal
from coordinator.journal.models import (
    AccessAction,
    AccessLogEntry,
    CaseJournalEntry,
    Chain,
    ChainHead,
    EntryKind,
)
from coordinator.journal.service import InvalidEntry
from coordinator.patients.models import Patient
from tests.conftest import TEST_KEYS, World
from tests.crypto.support import actor_for, stored
from tests.journal.support import NOTES, write_history

KEYS = KeyRing.parse(TEST_KEYS, source="test")


def _head(which: Chain) -> tuple[int, bytes]:
    head = db.session.get(ChainHead, which)
    assert head is not None
    db.session.refresh(head)
    return head.seq, head.hash


def _counts() -> tuple[int, int, tuple[int, bytes], tuple[int, bytes]]:
    return (
        db.session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0,
        db.session.scalar(select(func.count()).select_from(CaseJournalEntry)) or 0,
        _head(Chain.ACCESS),
        _head(Chain.CASE),
    )


def test_access_entries_are_numbered_from_one_linked_and_sealed(app: Flask, world: World) -> None:
    with app.app_context():
        write_history(world)
        entries = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all()
        head = _head(Chain.ACCESS)
        recomputed = [
            chain.seal(
                KEYS.seal_key(1, "access"),
                [getattr(entry, name) for name in chain.ACCESS_FIELDS],
                entry.prev_hash,
            )
            for entry in entries
        ]
        summary = [
            (e.seq, e.action, e.object_type, e.object_id, e.key_version, e.request_id)
            for e in entries
        ]
        links = [(e.prev_hash, e.hash) for e in entries]

    assert summary == [
        (1, AccessAction.CREATE, "journal_entry", "1", 1, "history"),
        (2, AccessAction.CREATE, "journal_entry", "2", 1, "history"),
        (3, AccessAction.CREATE, "journal_entry", "3", 1, "history"),
        (4, AccessAction.READ, "patient", None, 1, "history"),
        (5, AccessAction.READ, "case_journal", None, 1, "history"),
    ]
    assert links[0][0] == chain.GENESIS == bytes(32)
    assert [prev for prev, _ in links[1:]] == [own for _, own in links[:-1]]
    assert [own for _, own in links] == recomputed
    assert len(set(recomputed)) == 5
    assert head == (5, links[-1][1])


def test_case_entries_are_their_own_chain_with_its_own_key(app: Flask, world: World) -> None:
    with app.app_context():
        write_history(world)
        entries = db.session.scalars(select(CaseJournalEntry).order_by(CaseJournalEntry.seq)).all()
        head = _head(Chain.CASE)
        expected = []
        prev = chain.GENESIS
        for entry in entries:
            fields = [getattr(entry, name) for name in chain.CASE_FIELDS]
            expected.append(chain.seal(KEYS.seal_key(1, "case"), fields, prev))
            prev = expected[-1]
        hashes = [entry.hash for entry in entries]
        with_access_key = chain.seal(
            KEYS.seal_key(1, "access"),
            [getattr(entries[0], name) for name in chain.CASE_FIELDS],
            chain.GENESIS,
        )

    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert hashes == expected
    assert hashes[0] != with_access_key
    assert head == (3, hashes[-1])


def test_a_batch_of_accesses_is_one_append_of_consecutive_entries(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.manager, world.unit_a, request_id="list-page")
        patients = db.session.scalars(select(Patient).order_by(Patient.id)).all()
        journal.record_accesses(actor, patients, AccessAction.READ)
        db.session.commit()
        entries = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all()
        logged = [(e.seq, e.patient_id, e.object_id, e.user_id, e.role) for e in entries]
        head_seq = _head(Chain.ACCESS)[0]
        uids = [p.uid.hex for p in patients]

    assert logged == [
        (1, world.patient_a.id, uids[0], world.manager.id, Role.MANAGER),
        (2, world.patient_b.id, uids[1], world.manager.id, Role.MANAGER),
    ]
    assert head_seq == 2


def test_a_journal_entry_is_stored_encrypted_signed_and_logged(app: Flask, world: World) -> None:
    heading, body = "Avstämningsmöte", "Försäkringskassan deltog. Sjukskrivning 50 % till 1/3."
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="note-1")
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        entry = journal.add_entry(actor, patient, EntryKind.CONTACT_LOGGED, f"  {heading} ", body)
        db.session.commit()
        seq = entry.seq
        signed = (entry.author_id, entry.unit_id, entry.role, entry.patient_id, entry.kind)
        raw_heading = stored("case_journal", "heading", seq, key="seq")
        raw_body = stored("case_journal", "body", seq, key="seq")
        digest = entry.content_digest
        db.session.remove()
        again = db.session.get(CaseJournalEntry, seq)
        assert again is not None
        read = (again.heading, again.body, again.corrects_seq)
        logged = db.session.scalars(select(AccessLogEntry)).one()
        access = (logged.action, logged.object_type, logged.object_id, logged.request_id)

    assert seq == 1
    assert signed == (
        world.coordinator_a.id,
        world.unit_a.id,
        Role.COORDINATOR,
        world.patient_a.id,
        EntryKind.CONTACT_LOGGED,
    )
    assert read == (heading, body, None)  # the heading trimmed
    for text, raw in ((heading, raw_heading), (body, raw_body)):
        assert text.encode() not in raw
        assert raw[:3] == bytes([1, 0, 1])
    assert "Försäkringskassan".encode() not in raw_body
    assert digest == hmac.digest(
        KEYS.seal_key(1, "case-content"), f"{heading}\x1f{body}".encode(), "sha256"
    )
    assert access == (AccessAction.CREATE, "journal_entry", "1", "note-1")


def test_a_correction_points_to_the_entry_it_corrects(app: Flask, world: World) -> None:
    with app.app_context():
        history = write_history(world)
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, history.patient_id)
        wrong = db.session.get(CaseJournalEntry, 2)
        assert patient is not None
        assert wrong is not None
        correction = journal.add_entry(
            actor, patient, EntryKind.NOTE, "Plan", "Arbetsträning två dagar.", corrects=wrong
        )
        db.session.commit()
        result = (correction.seq, correction.kind, correction.corrects_seq)
        original = (wrong.heading, wrong.body)
        verifications = journal.verify_all()

    assert result == (4, EntryKind.CORRECTION, 2)
    assert original == NOTES[1]  # the corrected entry stays as it was
    assert [(v.verified, v.broken) for v in verifications] == [(6, None), (4, None)]


def test_a_correction_of_another_patients_entry_is_refused(app: Flask, world: World) -> None:
    with app.app_context():
        write_history(world)
        before = _counts()
        actor = actor_for(world.coordinator_b, world.unit_b)
        other = db.session.get(Patient, world.patient_b.id)
        entry = db.session.get(CaseJournalEntry, 1)
        assert other is not None
        assert entry is not None

        with pytest.raises(InvalidEntry):
            journal.add_entry(actor, other, EntryKind.NOTE, "Rättelse", "Text.", corrects=entry)
        db.session.commit()

        assert _counts() == before


@pytest.mark.parametrize(
    ("heading", "body"),
    [("", "Text."), ("   ", "Text."), ("Rubrik", ""), ("Rubrik", " \n "), ("R" * 121, "Text.")],
    ids=["empty-heading", "blank-heading", "empty-body", "blank-body", "heading-too-long"],
)
def test_an_incomplete_entry_is_refused_and_nothing_is_written(
    app: Flask, world: World, heading: str, body: str
) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None

        with pytest.raises(InvalidEntry):
            journal.add_entry(actor, patient, EntryKind.NOTE, heading, body)
        db.session.commit()

        assert _counts() == (0, 0, (0, bytes(32)), (0, bytes(32)))


def test_the_longest_heading_allowed_is_accepted(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        entry = journal.add_entry(actor, patient, EntryKind.NOTE, "R" * 120, "Text.")
        db.session.commit()

        assert entry.seq == 1


def test_the_timeline_is_newest_first_and_logged_as_a_read(app: Flask, world: World) -> None:
    with app.app_context():
        history = write_history(world)
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="timeline")
        patient = db.session.get(Patient, history.patient_id)
        assert patient is not None

        entries = journal.timeline(actor, patient)
        db.session.commit()
        shown = [(entry.seq, entry.heading) for entry in entries]
        last = db.session.scalars(
            select(AccessLogEntry).order_by(AccessLogEntry.seq.desc())
        ).first()
        assert last is not None
        logged = (last.seq, last.action, last.object_type, last.request_id)

    assert shown == [(3, NOTES[2][0]), (2, NOTES[1][0]), (1, NOTES[0][0])]
    assert logged == (6, AccessAction.READ, "case_journal", "timeline")


def test_an_append_rolled_back_leaves_no_gap(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        journal.record_access(actor, patient, AccessAction.READ)
        db.session.commit()
        journal.record_access(actor, patient, AccessAction.EXPORT)
        db.session.rollback()
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        entry = journal.record_access(actor, patient, AccessAction.PRINT)
        db.session.commit()
        seq = entry.seq
        seqs = db.session.scalars(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq)).all()
        verifications = journal.verify_all()

    assert seq == 2
    assert seqs == [1, 2]
    assert [(v.chain, v.verified, v.broken) for v in verifications] == [
        (Chain.ACCESS, 2, None),
        (Chain.CASE, 0, None),
    ]
