"""The guards: the database refuses to rewrite history, and so does the ORM before it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from coordinator.database import AppendOnlyError
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry, CaseJournalEntry, ChainHead
from tests.conftest import World
from tests.journal.support import NOTES, write_history

CASE = CaseJournalEntry.__table__


@pytest.fixture
def history(app: Flask, world: World) -> None:
    """Case journal entries 1-3; access-log entries 1-5."""
    with app.app_context():
        write_history(world)


def _snapshot() -> tuple[object, ...]:
    access = db.session.execute(
        select(AccessLogEntry.seq, AccessLogEntry.request_id, AccessLogEntry.hash).order_by(
            AccessLogEntry.seq
        )
    ).all()
    case = db.session.execute(
        select(CaseJournalEntry.seq, CaseJournalEntry.patient_id, CaseJournalEntry.hash).order_by(
            CaseJournalEntry.seq
        )
    ).all()
    heads = db.session.execute(select(ChainHead.chain, ChainHead.seq, ChainHead.hash)).all()
    db.session.rollback()
    return tuple(access), tuple(case), tuple(sorted(heads))


#: Statements the database must refuse, and what its refusal says on each engine.
REFUSED = {
    "update-access-log": (
        "UPDATE access_log SET request_id = 'rewritten' WHERE seq = 2",
        ("access_log is append-only",),
    ),
    "update-every-access-entry": (
        "UPDATE access_log SET action = 'read'",
        ("access_log is append-only",),
    ),
    "delete-access-entry": ("DELETE FROM access_log WHERE seq = 5", ("access_log is append-only",)),
    "delete-access-log": ("DELETE FROM access_log", ("access_log is append-only",)),
    "move-case-entry-to-other-patient": (
        "UPDATE case_journal SET patient_id = patient_id + 1 WHERE seq = 1",
        ("case_journal is append-only",),
    ),
    "change-case-entry-kind": (
        "UPDATE case_journal SET kind = 'case_closed' WHERE seq = 2",
        ("case_journal is append-only",),
    ),
    "rewrite-text-and-digest": (
        "UPDATE case_journal SET body = heading, content_digest = hash WHERE seq = 2",
        ("case_journal is append-only",),
    ),
    "delete-case-entry": (
        "DELETE FROM case_journal WHERE seq = 3",
        ("case_journal is append-only",),
    ),
    "delete-head": (
        "DELETE FROM journal_heads WHERE chain = 'access'",
        ("journal heads are permanent", "journal_heads is append-only"),
    ),
    "move-head-back": (
        "UPDATE journal_heads SET seq = 3 WHERE chain = 'access'",
        ("journal heads only move forward",),
    ),
}


@pytest.mark.parametrize(("statement", "messages"), REFUSED.values(), ids=REFUSED.keys())
def test_the_database_refuses_to_rewrite_history(
    app: Flask, history: None, statement: str, messages: tuple[str, ...]
) -> None:
    with app.app_context():
        before = _snapshot()

        with pytest.raises(DatabaseError) as refused:
            db.session.execute(text(statement))
        db.session.rollback()

        assert _snapshot() == before
        assert [(v.verified, v.broken) for v in journal.verify_all()] == [(5, None), (3, None)]
    assert any(message in str(refused.value) for message in messages), str(refused.value)


def test_re_encrypting_a_case_entrys_heading_and_body_is_allowed(app: Flask, history: None) -> None:
    """What key rotation does: new ciphertext of the same text, nothing else touched."""
    with app.app_context():
        entry = db.session.get(CaseJournalEntry, 2)
        assert entry is not None
        row = entry.uid.hex
        heading = CaseJournalEntry.heading.encrypt(row, NOTES[1][0])
        body = CaseJournalEntry.body.encrypt(row, NOTES[1][1])
        old = (entry._heading_sealed, entry._body_sealed)  # type: ignore[attr-defined]
        db.session.rollback()

        db.session.execute(update(CASE).where(CASE.c.seq == 2).values(heading=heading))
        db.session.execute(update(CASE).where(CASE.c.seq == 2).values(body=body))
        db.session.commit()
        db.session.expire_all()

        again = db.session.get(CaseJournalEntry, 2)
        assert again is not None
        stored = (again._heading_sealed, again._body_sealed)  # type: ignore[attr-defined]
        read = (again.heading, again.body)
        verified = [(v.verified, v.broken) for v in journal.verify_all()]

    assert stored == (heading, body)
    assert stored != old
    assert read == NOTES[1]
    assert verified == [(5, None), (3, None)]


def test_moving_a_head_forward_is_allowed(app: Flask, history: None) -> None:
    """Appending does exactly this; the verification then notices entries missing at the end."""
    with app.app_context():
        db.session.execute(text("UPDATE journal_heads SET seq = 9 WHERE chain = 'access'"))
        db.session.commit()

        access = journal.verify_all()[0]

    assert (access.verified, access.broken is not None and access.broken.seq) == (5, 6)


# -- the ORM guard ----------------------------------------------------------------------------


def test_the_orm_refuses_to_change_an_access_entry(app: Flask, history: None) -> None:
    with app.app_context():
        entry = db.session.get(AccessLogEntry, 4)
        assert entry is not None
        entry.action = AccessAction.EXPORT

        with pytest.raises(AppendOnlyError, match=r"^AccessLogEntry entries are never changed$"):
            db.session.flush()
        db.session.rollback()

        again = db.session.get(AccessLogEntry, 4)
        assert again is not None
        assert again.action is AccessAction.READ


def test_the_orm_refuses_to_delete_an_access_entry(app: Flask, history: None) -> None:
    with app.app_context():
        entry = db.session.get(AccessLogEntry, 4)
        assert entry is not None
        db.session.delete(entry)

        with pytest.raises(AppendOnlyError, match=r"^AccessLogEntry entries are never deleted$"):
            db.session.commit()
        db.session.rollback()

        count = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
        assert count == 5


def test_the_orm_refuses_to_change_a_case_entrys_text(app: Flask, history: None) -> None:
    with app.app_context():
        entry = db.session.get(CaseJournalEntry, 1)
        assert entry is not None
        entry.body = "Något helt annat."

        with pytest.raises(AppendOnlyError, match=r"^CaseJournalEntry entries are never changed$"):
            db.session.commit()
        db.session.rollback()

        again = db.session.get(CaseJournalEntry, 1)
        assert again is not None
        assert again.body == NOTES[0][1]


def test_the_orm_refuses_to_delete_a_case_entry(app: Flask, history: None) -> None:
    with app.app_context():
        entry = db.session.get(CaseJournalEntry, 3)
        assert entry is not None
        db.session.delete(entry)

        with pytest.raises(AppendOnlyError, match=r"^CaseJournalEntry entries are never deleted$"):
            db.session.flush()
        db.session.rollback()

        assert db.session.get(CaseJournalEntry, 3) is not None


def test_reading_entries_through_the_orm_is_not_a_change(app: Flask, history: None) -> None:
    with app.app_context():
        entries = db.session.scalars(select(CaseJournalEntry)).all()
        texts = [(entry.heading, entry.body) for entry in entries]  # decrypts, caches
        db.session.commit()  # flushes: nothing dirty, nothing refused

    assert texts == list(NOTES)
