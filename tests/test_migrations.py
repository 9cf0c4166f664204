"""Migrations build the schema the models describe, and can be undone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import DatabaseError

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.models import Patient
from tests.conftest import make_app
from tests.crypto.support import actor_for
from tests.databases import DatabaseFactory
from tests.factories import PatientFactory, UnitFactory


@pytest.fixture
def empty_app(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Flask]:
    url = databases.empty()
    app = make_app(url, tmp_path / "instance")
    yield app
    with app.app_context():
        db.engine.dispose()
    databases.drop(url)


def _differences(app: Flask) -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, db.metadata))


def _actor_in_old_schema(unit: CareUnit, full_name: str = "Kim Koordinator") -> Actor:
    """A coordinator of ``unit`` written with plain SQL — the model has columns an earlier
    revision's users table lacks — and an actor that refers to it without loading it."""
    user_id = db.session.execute(
        insert(User.__table__).values(
            uid=uuid.uuid4(), username="kim", full_name=full_name, role="coordinator",
            password_hash="-", session_token="-", must_change_password=False,
            password_changed_at=clock.now(), is_active=True, created_at=clock.now(),
        )
    ).inserted_primary_key[0]  # fmt: skip
    user = User(id=user_id, full_name=full_name, role=Role.COORDINATOR)
    return Actor(user=user, role=Role.COORDINATOR, unit=unit, request_id="migration-test")


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()

        assert _differences(empty_app) == []


def test_every_migration_can_be_undone_and_redone(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()
        assert _differences(empty_app) == []


def test_0004_keeps_both_journal_chains_and_their_guards_and_admits_the_new_values(
    empty_app: Flask,
) -> None:
    """0004 widens two CHECK constraints; on SQLite that rebuilds both journal tables."""
    with empty_app.app_context():
        upgrade(revision="0003")
        unit = UnitFactory()
        actor = _actor_in_old_schema(unit)
        user = actor.user
        patient = PatientFactory(unit_id=unit.id, personnummer="194107086995")
        journal.add_entry(actor, patient, EntryKind.NOTE, "Första kontakt", "Samtal.")
        journal.record_access(actor, patient, AccessAction.READ)
        db.session.commit()

        upgrade()

        chains = [(v.chain.value, v.verified, v.is_intact) for v in journal.verify_all()]
        assert chains == [("access", 2, True), ("case", 1, True)]
        actor = actor_for(user, unit)
        patient = db.session.get(Patient, patient.id)
        journal.record_access(actor, patient, AccessAction.DENIED, "disclosure", "employer")
        journal.add_entry(actor, patient, EntryKind.DISCLOSURE, "Utlämnat", "Till FK.")
        db.session.commit()
        assert [(v.verified, v.is_intact) for v in journal.verify_all()] == [(4, True), (2, True)]
        for statement in (
            "UPDATE access_log SET object_type = 'x'",
            "DELETE FROM access_log",
            "UPDATE case_journal SET kind = 'note'",
            "DELETE FROM case_journal",
        ):
            with pytest.raises(DatabaseError):
                db.session.execute(text(statement))
            db.session.rollback()


def test_0005_keeps_existing_users_without_a_phone_and_can_be_undone(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade(revision="0004")
        user_id = _actor_in_old_schema(UnitFactory(), "Kim Koordinator").user.id
        db.session.commit()

        upgrade(revision="0005")

        assert db.session.execute(
            text("SELECT full_name, phone FROM users WHERE id = :id"), {"id": user_id}
        ).one() == ("Kim Koordinator", None)
        db.session.rollback()
        plans = {"mappings", "rehab_plans", "plan_versions", "measures", "plan_follow_ups"}
        assert plans <= set(inspect(db.engine).get_table_names())

        downgrade(revision="0004")

        assert "rehab_plans" not in inspect(db.engine).get_table_names()
        assert (
            db.session.execute(
                text("SELECT full_name FROM users WHERE id = :id"), {"id": user_id}
            ).scalar_one()
            == "Kim Koordinator"
        )
