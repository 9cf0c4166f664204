"""Blind indexes: exact search over encrypted values, through one indexed query."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.patients.models import Patient
from coordinator.patients.service import (
    InvalidPersonnummer,
    PatientDetails,
    find_by_personnummer,
    register_patient,
)
from tests.conftest import TEST_KEYS, World
from tests.crypto.support import actor_for, add_patient, stored


@pytest.fixture
def registered(app: Flask, world: World) -> int:
    """A patient of unit A registered through the service, written as 10 digits with a dash."""
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = register_patient(actor, "850709-9805", PatientDetails("Åsa", "Åström"))
        db.session.commit()
        return patient.id


@pytest.mark.parametrize(
    "written",
    [
        "850709-9805",
        "198507099805",
        "19850709-9805",
        "8507099805",
        " 1985 0709 9805 ",
        "850709 9805",
    ],
)
def test_a_patient_is_found_however_the_personnummer_is_written(
    app: Flask, world: World, registered: int, written: str
) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        found = find_by_personnummer(actor, written)
        assert found is not None
        found_id = found.id
        personnummer = found.personnummer

    assert found_id == registered
    assert personnummer == "198507099805"  # stored in the 12-digit form


def test_a_near_miss_finds_nobody(app: Flask, world: World, registered: int) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        other_serial = find_by_personnummer(actor, "850709-9806")
        hundred_years_older = find_by_personnummer(actor, "850709+9805")  # born 1885

    assert other_serial is None
    assert hundred_years_older is None


def test_a_malformed_personnummer_is_refused(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        with pytest.raises(InvalidPersonnummer):
            find_by_personnummer(actor, "8507-09")


def test_another_units_patient_is_not_found_and_nothing_is_logged(
    app: Flask, world: World, registered: int
) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_b, world.unit_b)
        logged_before = db.session.scalar(select(func.count()).select_from(AccessLogEntry))

        found = find_by_personnummer(actor, "850709-9805")
        logged_after = db.session.scalar(select(func.count()).select_from(AccessLogEntry))

    assert found is None
    assert logged_after == logged_before


def test_a_found_patient_is_logged_as_a_search(app: Flask, world: World, registered: int) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a, request_id="search-1")
        find_by_personnummer(actor, "198507099805")
        db.session.commit()
        entry = db.session.scalars(
            select(AccessLogEntry).order_by(AccessLogEntry.seq.desc())
        ).first()
        assert entry is not None
        logged = (entry.action, entry.patient_id, entry.user_id, entry.unit_id, entry.request_id)

    assert logged == (
        AccessAction.SEARCH,
        registered,
        world.coordinator_a.id,
        world.unit_a.id,
        "search-1",
    )


@pytest.mark.parametrize(
    "written", ["Åström", "ÅSTRÖM", "åström", "  åström ", "A\u030astro\u0308m"]
)
def test_last_names_match_regardless_of_case_spacing_and_unicode_form(
    app: Flask, world: World, registered: int, written: str
) -> None:
    with app.app_context():
        found = db.session.scalars(select(Patient).where(Patient.last_name.equals(written))).all()
        found_ids = [patient.id for patient in found]

    assert found_ids == [registered]


def test_a_different_name_is_not_a_match(app: Flask, world: World, registered: int) -> None:
    with app.app_context():
        found = db.session.scalars(select(Patient).where(Patient.last_name.equals("Astrom"))).all()

    assert found == []


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_search_is_one_query_on_the_blind_index(
    app: Flask, world: World, registered: int
) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        with _statements() as statements:
            found = find_by_personnummer(actor, "850709-9805")
        assert found is not None

    on_patients = [s for s in statements if "patients" in s]
    assert len(on_patients) == 1
    query = " ".join(on_patients[0].split())
    assert query.startswith("SELECT ")
    assert "FROM patients WHERE" in query
    assert "patients.personnummer_bidx IN (" in query
    assert "patients.unit_id = " in query


def test_the_blind_index_is_the_hmac_under_the_current_version_only(
    app: Flask, world: World, registered: int
) -> None:
    keys = KeyRing.parse(TEST_KEYS, source="test").with_new_version()

    def index(version: int, column: str, normalised: str) -> bytes:
        key = keys.blind_index_key(version, "patients", column)
        return hmac.digest(key, normalised.encode(), "sha256")

    with app.app_context():
        personnummer = stored("patients", "personnummer_bidx", registered)
        last_name = stored("patients", "last_name_bidx", registered)

    assert personnummer == index(1, "personnummer", "198507099805")
    assert personnummer != index(2, "personnummer", "198507099805")
    assert last_name == index(1, "last_name", "åström")
    assert last_name != index(2, "last_name", "åström")
    # Derived per column: the same text gives another index in another column.
    assert index(1, "personnummer", "x") != index(1, "last_name", "x")


def test_equal_values_have_equal_indexes_and_different_values_different_ones(
    app: Flask, world: World
) -> None:
    with app.app_context():
        first = add_patient(world.unit_a, "198507099805", "Kim", "Berg")
        second = add_patient(world.unit_b, "198507099805", "Bo", "BERG")
        third = add_patient(world.unit_a, "199001011234", "Kim", "Ek")
        db.session.commit()
        indexes = [
            (
                stored("patients", "personnummer_bidx", p.id),
                stored("patients", "last_name_bidx", p.id),
            )
            for p in (first, second, third)
        ]

    assert indexes[0] == indexes[1]
    assert indexes[0][0] != indexes[2][0]
    assert indexes[0][1] != indexes[2][1]
