"""Verifying the chains: an intact history passes, and every kind of tampering is reported at
the exact entry where it happened."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import insert, select, update

from coordinator.cli import main
from coordinator.crypto import DecryptionError
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal import service as journal
from coordinator.journal.chain import Break
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry, ChainHead
from tests.conftest import World
from tests.journal.support import (
    ALTERED,
    CUT,
    MISSING,
    UNLINKED,
    sql,
    without_guards,
    write_history,
)

ACCESS = AccessLogEntry.__table__
CASE = CaseJournalEntry.__table__
HEADS = ChainHead.__table__


def _results() -> list[tuple[str, int, Break | None]]:
    return [(v.chain.value, v.verified, v.broken) for v in journal.verify_all()]


@pytest.fixture
def history(app: Flask, world: World) -> None:
    """Case journal entries 1-3; access-log entries 1-5."""
    with app.app_context():
        write_history(world)


def test_an_intact_history_verifies_with_its_length(app: Flask, history: None) -> None:
    with app.app_context():
        assert _results() == [("access", 5, None), ("case", 3, None)]


def test_empty_chains_are_intact(app: Flask) -> None:
    with app.app_context():
        assert _results() == [("access", 0, None), ("case", 0, None)]


def _edit(table: Any, seq: int, **values: Any) -> None:
    db.session.execute(update(table).where(table.c.seq == seq).values(**values))
    db.session.commit()


def _at_of(table: Any, seq: int) -> Any:
    return db.session.scalar(select(table.c.at).where(table.c.seq == seq))


ACCESS_EDITS: dict[str, tuple[Callable[[World], dict[str, Any]], str]] = {
    "action": (lambda w: {"action": "export"}, ALTERED),
    "user": (lambda w: {"user_id": w.coordinator_b.id}, ALTERED),
    "unit": (lambda w: {"unit_id": w.unit_b.id}, ALTERED),
    "patient": (lambda w: {"patient_id": w.patient_b.id}, ALTERED),
    "object": (lambda w: {"object_id": "2"}, ALTERED),
    "request": (lambda w: {"request_id": "someone-else"}, ALTERED),
    "time": (lambda w: {"at": _at_of(ACCESS, 3) - timedelta(seconds=1)}, ALTERED),
    "own-hash": (lambda w: {"hash": secrets.token_bytes(32)}, ALTERED),
    "link": (lambda w: {"prev_hash": secrets.token_bytes(32)}, UNLINKED),
    "key-version": (lambda w: {"key_version": 2}, "sealed with unknown key version 2"),
}


@pytest.mark.parametrize(("change", "reason"), ACCESS_EDITS.values(), ids=ACCESS_EDITS.keys())
def test_an_edited_access_entry_is_reported_at_its_seq(
    app: Flask,
    world: World,
    history: None,
    change: Callable[[World], dict[str, Any]],
    reason: str,
) -> None:
    with app.app_context():
        without_guards("access_log")
        _edit(ACCESS, 3, **change(world))

        assert _results() == [("access", 2, Break(3, reason)), ("case", 3, None)]


CASE_EDITS: dict[str, Callable[[World], dict[str, Any]]] = {
    "kind": lambda w: {"kind": "case_closed"},
    "author": lambda w: {"author_id": w.coordinator_b.id},
    "patient": lambda w: {"patient_id": w.patient_b.id},
    "digest": lambda w: {"content_digest": secrets.token_bytes(32)},
    "corrects": lambda w: {"corrects_seq": 1},
    "time": lambda w: {"at": _at_of(CASE, 2) + timedelta(days=1)},
}


@pytest.mark.parametrize("change", CASE_EDITS.values(), ids=CASE_EDITS.keys())
def test_an_edited_case_entry_is_reported_at_its_seq(
    app: Flask, world: World, history: None, change: Callable[[World], dict[str, Any]]
) -> None:
    with app.app_context():
        without_guards("case_journal")
        _edit(CASE, 2, **change(world))

        assert _results() == [("access", 5, None), ("case", 1, Break(2, ALTERED))]


def test_a_deleted_entry_in_the_middle_leaves_a_gap(app: Flask, history: None) -> None:
    with app.app_context():
        without_guards("access_log")
        sql("DELETE FROM access_log WHERE seq = 3")

        assert _results() == [("access", 2, Break(3, MISSING)), ("case", 3, None)]


def test_entries_renumbered_to_close_the_gap_no_longer_link(app: Flask, history: None) -> None:
    with app.app_context():
        without_guards("access_log")
        sql("DELETE FROM access_log WHERE seq = 3")
        sql("UPDATE access_log SET seq = 3 WHERE seq = 4")
        sql("UPDATE access_log SET seq = 4 WHERE seq = 5")

        assert _results() == [("access", 2, Break(3, UNLINKED)), ("case", 3, None)]


def test_a_forged_entry_appended_at_the_end_is_reported(app: Flask, history: None) -> None:
    """No guard needs to be off for this: inserting and moving the head forward are allowed."""
    with app.app_context():
        last = db.session.execute(select(ACCESS).where(ACCESS.c.seq == 5)).one()._asdict()
        forged = {**last, "seq": 6, "prev_hash": last["hash"], "request_id": "forged"}
        attackers_key = KeyRing.generate().seal_key(1, "access")
        forged["hash"] = chain.seal(
            attackers_key, [forged[name] for name in chain.ACCESS_FIELDS], last["hash"]
        )
        db.session.execute(insert(ACCESS).values(**forged))
        db.session.execute(
            update(HEADS).where(HEADS.c.chain == "access").values(seq=6, hash=forged["hash"])
        )
        db.session.commit()

        assert _results() == [("access", 5, Break(6, ALTERED)), ("case", 3, None)]


def test_a_copy_of_an_entry_replayed_at_the_end_is_reported(app: Flask, history: None) -> None:
    with app.app_context():
        last = db.session.execute(select(ACCESS).where(ACCESS.c.seq == 5)).one()._asdict()
        db.session.execute(insert(ACCESS).values(**{**last, "seq": 6, "prev_hash": last["hash"]}))
        db.session.commit()

        assert _results() == [("access", 5, Break(6, ALTERED)), ("case", 3, None)]


def test_two_entries_swapped_are_reported_where_the_order_breaks(app: Flask, history: None) -> None:
    with app.app_context():
        without_guards("access_log")
        sql("UPDATE access_log SET seq = 1000 WHERE seq = 2")
        sql("UPDATE access_log SET seq = 2 WHERE seq = 3")
        sql("UPDATE access_log SET seq = 3 WHERE seq = 1000")

        assert _results() == [("access", 1, Break(2, UNLINKED)), ("case", 3, None)]


def test_two_entries_contents_swapped_are_reported(app: Flask, history: None) -> None:
    """The rows keep their seq and links; what they say is exchanged."""
    with app.app_context():
        without_guards("access_log")
        columns = ("action", "object_type", "object_id", "at")
        second, third = (
            db.session.execute(select(*(ACCESS.c[c] for c in columns)).where(ACCESS.c.seq == s))
            .one()
            ._asdict()
            for s in (2, 3)
        )
        _edit(ACCESS, 2, **third)
        _edit(ACCESS, 3, **second)

        assert _results() == [("access", 1, Break(2, ALTERED)), ("case", 3, None)]


def test_entries_cut_off_the_end_are_reported_through_the_head(app: Flask, history: None) -> None:
    with app.app_context():
        without_guards("access_log")
        sql("DELETE FROM access_log WHERE seq >= 4")

        assert _results() == [("access", 3, Break(4, CUT)), ("case", 3, None)]


def test_a_chain_emptied_entirely_is_reported(app: Flask, history: None) -> None:
    with app.app_context():
        without_guards("access_log", "case_journal")
        sql("DELETE FROM access_log")
        sql("DELETE FROM case_journal")

        assert _results() == [("access", 0, Break(1, CUT)), ("case", 0, Break(1, CUT))]


def test_cutting_the_end_and_moving_the_head_back_is_reported(app: Flask, history: None) -> None:
    """Even with every guard off, the head's hash names the last entry that was there."""
    with app.app_context():
        without_guards("access_log", "journal_heads")
        sql("DELETE FROM access_log WHERE seq = 5")
        sql("UPDATE journal_heads SET seq = 4 WHERE chain = 'access'")

        assert _results() == [("access", 4, Break(5, CUT)), ("case", 3, None)]


# -- the encrypted text, which the chain covers through its digest -----------------------------


def test_a_text_copied_from_another_entry_does_not_open(app: Flask, history: None) -> None:
    """The triggers let heading and body be rewritten (key rotation re-encrypts them), so
    the database accepts this; the row binding makes the copy unreadable, never a silent swap."""
    with app.app_context():
        copy = "(SELECT body FROM case_journal WHERE seq = 1)"
        sql(f"UPDATE case_journal SET body = {copy} WHERE seq = 2")  # noqa: S608
        db.session.expire_all()
        entry = db.session.get(CaseJournalEntry, 2)
        assert entry is not None

        with pytest.raises(DecryptionError) as raised:
            _ = entry.body

    assert raised.value.reason.startswith("authentication failed")
    assert (raised.value.table, raised.value.column) == ("case_journal", "body")


@pytest.mark.parametrize(
    "replacement",
    [
        "(SELECT body FROM case_journal WHERE seq = 1)",  # another entry's text
        "(SELECT heading FROM case_journal WHERE seq = 2)",  # its own heading as its body
    ],
    ids=["other-entry", "other-column"],
)
def test_verification_reports_a_case_entry_whose_text_was_overwritten(
    app: Flask, history: None, replacement: str
) -> None:
    """docs/security.md: verify-journal "detects whatever got past" the ORM guard and the
    triggers. Overwriting a body gets past both (the triggers allow heading/body updates for
    key rotation) and leaves the entry unreadable, so verification must report it."""
    with app.app_context():
        sql(f"UPDATE case_journal SET body = {replacement} WHERE seq = 2")  # noqa: S608

        case = journal.verify_all()[1]

    assert case.broken is not None, "verify-journal says the case journal is intact"
    assert (case.verified, case.broken.seq) == (1, 2)


# -- the command ------------------------------------------------------------------------------


def test_the_command_reports_an_intact_journal_and_exits_0(
    history: None, command_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(main, ["verify-journal"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "access: 5 entries verified, chain intact",
        "case: 3 entries verified, chain intact",
    ]


def test_the_command_reports_the_first_break_and_exits_1(
    app: Flask, history: None, command_env: dict[str, str]
) -> None:
    with app.app_context():
        without_guards("access_log")
        _edit(ACCESS, 3, request_id="rewritten")

    result = CliRunner().invoke(main, ["verify-journal"], catch_exceptions=False)

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"access: BROKEN at entry 3: {ALTERED} (2 entries before it verified)",
        "case: 3 entries verified, chain intact",
    ]


def test_a_deleted_middle_entry_is_found_by_the_command(
    app: Flask, history: None, command_env: dict[str, str]
) -> None:
    with app.app_context():
        without_guards("case_journal")
        sql("DELETE FROM case_journal WHERE seq = 2")

    result = CliRunner().invoke(main, ["verify-journal"], catch_exceptions=False)

    assert result.exit_code == 1
    assert "case: BROKEN at entry 2: entry missing" in result.output
