"""The status of the journal chains: verification runs, their progress, and the alarm.

A run is a :class:`ChainVerification` row. The web starts one and carries it out on a thread
of its own (a region's log takes tens of seconds), writing progress to the row after every
batch so any app instance can show it; the nightly ``coordinator verify-journal`` runs one in
the foreground. A run that found a break raises an alarm on every manager's start page until
a manager acknowledges it with a comment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from coordinator import clock
from coordinator.access import Actor
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.chain import Verification
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry, Chain, ChainHead
from coordinator.logreview.models import ChainAlarmAcknowledgement, ChainVerification
from coordinator.reports.scope import require_manager

log = logging.getLogger(__name__)

#: A run whose progress has not moved for this long was interrupted (its process ended).
STALLED_AFTER = timedelta(minutes=5)
COMMENT_MAX = 1000


class VerificationRefused(DomainError):
    default_message = _l("The verification could not be started.")


def latest() -> ChainVerification | None:
    """The most recent run, finished or not."""
    return db.session.scalars(
        select(ChainVerification).order_by(ChainVerification.id.desc()).limit(1)
    ).first()


def latest_finished() -> ChainVerification | None:
    return db.session.scalars(
        select(ChainVerification)
        .where(ChainVerification.finished_at.is_not(None))
        .order_by(ChainVerification.id.desc())
        .limit(1)
    ).first()


def is_running(run: ChainVerification) -> bool:
    return not run.is_finished and clock.now() - run.updated_at < STALLED_AFTER


def alarm() -> ChainVerification | None:
    """The latest finished run that found a break no manager has acknowledged yet.

    It stays until acknowledged, even if a later run finds the chain intact (a break that
    went away unexplained still needs explaining). A later run finding the same break (same
    chain, entry and reason) as an acknowledged one raises no new alarm: the nightly run on a
    chain under investigation does not nag every morning.
    """
    broken = db.session.scalars(
        select(ChainVerification)
        .where(
            ChainVerification.finished_at.is_not(None), ChainVerification.broken_chain.is_not(None)
        )
        .order_by(ChainVerification.id)
    ).all()
    acknowledged: set[tuple[object, ...]] = set()
    pending = None
    for run in broken:
        key = (run.broken_chain, run.broken_seq, run.broken_reason)
        if run.acknowledgement is not None:
            acknowledged.add(key)
            if pending is not None and key == (pending.broken_chain, pending.broken_seq,
                                               pending.broken_reason):  # fmt: skip
                pending = None
        elif key not in acknowledged:
            pending = run
    return pending


def _entries_to_check() -> int:
    """Entries in both chains as kept (purged entries are not checked)."""
    access = db.session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0
    case = db.session.scalar(select(func.count()).select_from(CaseJournalEntry)) or 0
    return access + case


def start(actor: Actor | None) -> ChainVerification:
    """Record a new run (committed, so other instances see it); refused while one runs."""
    if actor is not None:
        require_manager(actor)
    current = latest()
    if current is not None and is_running(current):
        raise VerificationRefused(_l("A verification is already running."))
    now = clock.now()
    run = ChainVerification(
        started_at=now,
        updated_at=now,
        started_by_id=actor.user.id if actor else None,
        total=_entries_to_check(),
        done=0,
    )
    db.session.add(run)
    db.session.commit()
    return run


@dataclass(frozen=True)
class Outcome:
    run: ChainVerification
    #: Each chain's verification (empty when the run could not finish).
    results: list[Verification]


def carry_out(run_id: int, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Verify both chains, recording progress and the result (the first break) in run
    ``run_id``."""
    run = db.session.get(ChainVerification, run_id)
    if run is None:
        raise NotFound()
    to_check = run.total
    counted: dict[Chain, int] = {}

    def advance(chain: Chain, done: int) -> None:
        counted[chain] = done
        total = sum(counted.values())
        db.session.execute(
            update(ChainVerification)
            .where(ChainVerification.id == run_id)
            .values(done=total, updated_at=clock.now())
        )
        db.session.commit()
        if progress is not None:
            progress(total, to_check)

    values: dict[str, object] = {}
    results: list[Verification] = []
    try:
        results = journal.verify_all(progress=advance)
    except Exception as error:  # the run must end visibly, whatever stopped it
        log.exception("chain verification %s failed", run_id)
        db.session.rollback()
        values["error"] = type(error).__name__
    else:
        for result in results:
            values[f"{result.chain.value}_verified"] = result.verified
            if result.broken is not None and "broken_chain" not in values:
                values.update(
                    broken_chain=result.chain,
                    broken_seq=result.broken.seq,
                    broken_reason=result.broken.reason[:200],
                )
        values["done"] = sum(result.verified for result in results)
    now = clock.now()
    db.session.execute(
        update(ChainVerification)
        .where(ChainVerification.id == run_id)
        .values(finished_at=now, updated_at=now, **values)
    )
    db.session.commit()
    db.session.expire_all()
    finished = db.session.get(ChainVerification, run_id)
    assert finished is not None  # noqa: S101 (committed above)
    if finished.is_broken:
        log.error(
            "journal chain broken: chain=%s seq=%s", finished.broken_chain, finished.broken_seq
        )
    return Outcome(finished, results)


#: Threads of runs started from the web, by run id (joined at shutdown and by tests).
_threads: dict[int, threading.Thread] = {}


def start_in_background(app: Flask, actor: Actor) -> ChainVerification:
    """Start a run from the web and carry it out on a thread of its own."""
    run = start(actor)

    def work() -> None:
        with app.app_context():
            try:
                carry_out(run.id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"verify-journal-{run.id}", daemon=True)
    _threads[run.id] = thread
    thread.start()
    return run


def wait(run_id: int, timeout: float | None = None) -> None:
    """Wait until the background run ``run_id`` of this process has ended."""
    thread = _threads.pop(run_id, None)
    if thread is not None:
        thread.join(timeout)


def wait_all(timeout: float | None = None) -> None:
    """Wait for every background run of this process (before the database goes away)."""
    for run_id in list(_threads):
        wait(run_id, timeout)


def get(actor: Actor, run_id: int) -> ChainVerification:
    require_manager(actor)
    run = db.session.get(ChainVerification, run_id)
    if run is None:
        raise NotFound()
    return run


def history(limit: int = 20) -> list[ChainVerification]:
    return list(
        db.session.scalars(
            select(ChainVerification).order_by(ChainVerification.id.desc()).limit(limit)
        )
    )


def acknowledge(actor: Actor, run: ChainVerification, comment: str) -> ChainAlarmAcknowledgement:
    """Acknowledge the alarm of a broken run with what was done about it."""
    require_manager(actor)
    comment = comment.strip()
    if not run.is_broken:
        raise VerificationRefused(_l("This verification found no break to acknowledge."))
    if run.acknowledgement is not None:
        raise VerificationRefused(_l("The alarm has already been acknowledged."))
    if not comment:
        raise VerificationRefused(_l("Say what was done about the break."))
    if len(comment) > COMMENT_MAX:
        raise VerificationRefused(_l("The comment is at most %(n)d characters.", n=COMMENT_MAX))
    acknowledgement = ChainAlarmAcknowledgement(
        verification_id=run.id,
        user_id=actor.user.id,
        unit_id=actor.unit.id if actor.unit else None,
        at=clock.now(),
        comment=comment,
    )
    db.session.add(acknowledgement)
    db.session.flush()
    db.session.expire(run)
    return acknowledgement


def bases() -> dict[Chain, int]:
    """Where each kept chain begins (entries before were archived and purged)."""
    return {
        chain: base
        for chain, base in db.session.execute(select(ChainHead.chain, ChainHead.base_seq))
    }
