"""Helpers for the encryption and journal tests: actors, patients, and the stored bytes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import text

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.consents.models import Consent  # noqa: F401 (registers its fields)
from coordinator.contacts.models import Organisation  # noqa: F401 (registers its fields)
from coordinator.crypto.envelope import key_version
from coordinator.crypto.fields import REGISTRY
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry  # noqa: F401 (registers its fields)
from coordinator.patients.models import Patient
from coordinator.plans.models import Mapping  # noqa: F401 (registers its fields)

#: Every encrypted column in the schema, by table — from the models' own declarations, so a
#: new encrypted field is covered by the rotation and raw-storage tests without editing them.
SEALED_COLUMNS = {
    model.__tablename__: tuple(field.name for field in fields)  # type: ignore[attr-defined]
    for model, fields in REGISTRY.items()
}


@contextmanager
def running(app: Flask) -> Iterator[None]:
    """The app context of a test's extra app; closes its database connections at the end."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def actor_for(user: Any, unit: Any | None = None, request_id: str = "test-request") -> Actor:
    """An actor built from the database rows of ``user`` and ``unit`` (refs with an ``id``).

    Call inside an app context: the rows belong to that context's session.
    """
    row = db.session.get(User, user.id)
    assert row is not None
    place = db.session.get(CareUnit, unit.id) if unit is not None else None
    return Actor(user=row, role=row.role, unit=place, request_id=request_id)


def add_patient(unit: Any, personnummer: str, first_name: str, last_name: str) -> Patient:
    """Write a patient straight through the model (no access-log entry), and flush."""
    patient = Patient(unit_id=unit.id)
    patient.personnummer = personnummer
    patient.first_name = first_name
    patient.last_name = last_name
    db.session.add(patient)
    db.session.flush()
    return patient


def stored(table: str, column: str, row_id: int, key: str = "id") -> bytes:
    """The bytes in the database for one column of one row, read with plain SQL."""
    value = db.session.execute(
        text(f"SELECT {column} FROM {table} WHERE {key} = :id"),  # noqa: S608 (test constants)
        {"id": row_id},
    ).scalar_one()
    return bytes(value)


def overwrite(table: str, column: str, row_id: int, value: bytes | None) -> None:
    """Replace one stored value with plain SQL and commit (what an attacker with the DB does)."""
    db.session.execute(
        text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),  # noqa: S608
        {"value": value, "id": row_id},
    )
    db.session.commit()
    db.session.expire_all()


def versions_in_database() -> Counter[int]:
    """How many stored encrypted values there are under each key version (from the headers)."""
    versions: Counter[int] = Counter()
    for table, columns in SEALED_COLUMNS.items():
        query = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608
        for row in db.session.execute(text(query)):
            versions.update(key_version(bytes(value)) for value in row if value is not None)
    db.session.rollback()
    return versions
