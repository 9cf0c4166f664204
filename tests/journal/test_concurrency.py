"""Concurrent appenders, each with its own connection: the chain never forks or skips."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier, Event

import pytest
from flask import Flask
from sqlalchemy import select, text

from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, EntryKind
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.databases import is_postgres

THREADS = 8
APPENDS = 25


def _append_many(app: Flask, world: World, worker: int, start: Barrier) -> list[int]:
    """One worker: its own app context, so its own session and connection."""
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id=f"worker-{worker}")
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        db.session.commit()  # hold no transaction while waiting for the others
        start.wait(timeout=30)
        seqs = []
        for _ in range(APPENDS):
            entry = journal.record_access(actor, patient, AccessAction.READ)
            seqs.append(entry.seq)
            db.session.commit()  # one transaction per append, as one request each
        return seqs


def test_concurrent_appends_give_one_gapless_intact_chain(app: Flask, world: World) -> None:
    start = Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(_append_many, app, world, n, start) for n in range(THREADS)]
        handed_out = [future.result(timeout=300) for future in futures]

    with app.app_context():
        rows = db.session.execute(
            select(AccessLogEntry.seq, AccessLogEntry.request_id).order_by(AccessLogEntry.seq)
        ).all()
        verifications = journal.verify_all()

    total = THREADS * APPENDS
    assert [seq for seq, _ in rows] == list(range(1, total + 1))
    assert sorted(seq for seqs in handed_out for seq in seqs) == list(range(1, total + 1))
    assert all(seqs == sorted(seqs) for seqs in handed_out)  # each worker's own order kept
    assert Counter(request for _, request in rows) == {
        f"worker-{n}": APPENDS for n in range(THREADS)
    }
    assert [(v.chain.value, v.verified, v.broken) for v in verifications] == [
        ("access", total, None),
        ("case", 0, None),
    ]


def _write_notes(app: Flask, world: World, worker: int, start: Barrier) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id=f"writer-{worker}")
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        db.session.commit()
        start.wait(timeout=30)
        for number in range(5):
            journal.add_entry(actor, patient, EntryKind.NOTE, f"Not {worker}.{number}", "Text.")
            db.session.commit()


def test_concurrent_journal_entries_keep_both_chains_intact(app: Flask, world: World) -> None:
    """Each entry appends to the case chain and then the access chain in one transaction."""
    writers = 4
    start = Barrier(writers)
    with ThreadPoolExecutor(max_workers=writers) as pool:
        futures = [pool.submit(_write_notes, app, world, n, start) for n in range(writers)]
        for future in futures:
            future.result(timeout=300)

    with app.app_context():
        entries = db.session.scalars(select(CaseJournalEntry).order_by(CaseJournalEntry.seq)).all()
        headings = sorted(entry.heading for entry in entries)
        logged = db.session.scalars(
            select(AccessLogEntry.object_id).order_by(AccessLogEntry.seq)
        ).all()
        verifications = journal.verify_all()

    assert [entry.seq for entry in entries] == list(range(1, 21))
    assert headings == sorted(f"Not {w}.{n}" for w in range(writers) for n in range(5))
    assert sorted(logged, key=int) == [str(seq) for seq in range(1, 21)]
    assert [(v.verified, v.broken) for v in verifications] == [(20, None), (20, None)]


@pytest.mark.skipif(not is_postgres(), reason="SQLite has one write lock for the whole database")
def test_a_journal_entry_takes_the_access_log_head_before_its_own(app: Flask, world: World) -> None:
    """Heads are locked in one order: otherwise a request holding the access log's head (it
    logged a read) and a journal entry holding the case journal's could wait for each other."""
    holding, release = Event(), Event()

    def reader() -> None:
        with app.app_context():
            actor = actor_for(world.coordinator_a, world.unit_a, request_id="reader")
            patient = db.session.get(Patient, world.patient_a.id)
            journal.record_access(actor, patient, AccessAction.READ)  # holds the access head
            holding.set()
            release.wait(timeout=30)
            db.session.commit()

    def writer() -> int:
        with app.app_context():
            actor = actor_for(world.coordinator_a, world.unit_a, request_id="writer")
            patient = db.session.get(Patient, world.patient_a.id)
            assert patient is not None
            entry = journal.add_entry(actor, patient, EntryKind.NOTE, "Samtal", "Ringde.")
            db.session.commit()
            return entry.seq

    with ThreadPoolExecutor(max_workers=2) as pool, app.app_context():
        first = pool.submit(reader)
        assert holding.wait(timeout=30)
        second = pool.submit(writer)
        with db.engine.connect() as probe:
            for _ in range(200):  # until the writer waits for a lock (at most 10 s)
                waiting = probe.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
                probe.rollback()
                if waiting:
                    break
                time.sleep(0.05)
            # The waiting writer holds nothing yet: the case journal's head is free.
            free = probe.execute(
                text("SELECT chain FROM journal_heads WHERE chain = 'case' FOR UPDATE NOWAIT")
            ).scalar_one()
            probe.rollback()
        release.set()
        first.result(timeout=30)
        seq = second.result(timeout=30)
        verifications = journal.verify_all()

    assert (waiting, free, seq) == (1, "case", 1)
    assert [(v.chain.value, v.verified, v.broken) for v in verifications] == [
        ("access", 2, None),
        ("case", 1, None),
    ]
