"""In a request, access-log entries are appended just before the commit: the chain head's lock
is then held for the commit alone, so requests on several app instances do not queue on it for
as long as each takes to render. Outside a request (commands) they are appended at once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from coordinator.database import commit_request
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.databases import is_postgres


def _logged(app: Flask) -> list[tuple[int, str, str]]:
    with app.app_context():
        return [
            (row.seq, row.action.value, row.request_id)
            for row in db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq))
        ]


def _head_is_free(app: Flask) -> bool:
    """Whether another connection could take the access log's head right now."""
    with app.app_context(), db.engine.connect() as other:
        try:
            other.execute(
                text("SELECT chain FROM journal_heads WHERE chain = 'access' FOR UPDATE NOWAIT")
            ).one()
        except OperationalError:
            return False
        finally:
            other.rollback()
        return True


def test_a_request_appends_its_reads_when_it_commits(app: Flask, world: World) -> None:
    with app.test_request_context("/"):
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="request-1")
        patient = db.session.get(Patient, world.patient_a.id)
        journal.record_access(actor, patient, AccessAction.READ)
        journal.record_access(actor, patient, AccessAction.READ, "plan")
        pending = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
        head_free = _head_is_free(app) if is_postgres() else None
        response = commit_request(app.response_class(status=200))

    assert pending == 0
    # PostgreSQL: the reads took no lock (SQLite has one write lock, taken at BEGIN).
    assert head_free is (True if is_postgres() else None)
    assert response.status_code == 200
    assert _logged(app) == [(1, "read", "request-1"), (2, "read", "request-1")]
    with app.app_context():
        assert [(v.verified, v.broken) for v in journal.verify_all()] == [(2, None), (0, None)]


def test_a_failed_request_keeps_its_reads_and_drops_its_changes(app: Flask, world: World) -> None:
    with app.test_request_context("/"):
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="request-2")
        patient = db.session.get(Patient, world.patient_a.id)
        journal.record_access(actor, patient, AccessAction.READ)
        journal.record_access(actor, patient, AccessAction.CHANGE)
        journal.record_access(actor, patient, AccessAction.DENIED, "contact", "employer")
        commit_request(app.response_class(status=500))

    assert _logged(app) == [(1, "read", "request-2"), (2, "denied", "request-2")]


def test_a_command_appends_at_once(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="command:test")
        patient = db.session.get(Patient, world.patient_a.id)
        seq = journal.record_access(actor, patient, AccessAction.READ).seq
        in_transaction = db.session.scalar(select(func.count()).select_from(AccessLogEntry))
        db.session.commit()

    assert (seq, in_transaction) == (1, 1)
