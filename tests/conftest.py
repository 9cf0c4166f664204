"""Fixtures: an app on a fresh, migrated database per test; users and clients per role."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings

from coordinator import create_app
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.crypto.keys import KeyRing
from coordinator.crypto.runtime import write_canary
from coordinator.extensions import db
from coordinator.logreview import chainstatus
from coordinator.patients.models import Patient
from tests.databases import DatabaseFactory
from tests.factories import PatientFactory, UnitFactory, UserFactory
from tests.helpers import sign_in, submit

# Property-based tests (hypothesis) run derandomised, so CI and a developer see the same examples,
# and keep no example database. Each test builds one app and tries its examples in it.
settings.register_profile(
    "coordinator",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("coordinator")

#: The key ring of this test run: real keys, generated once, never written to disk.
TEST_KEYS = KeyRing.generate().dumps()


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    """An app as production builds it, with cheap password hashing (same code path)."""
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": TEST_KEYS,
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        **overrides,
    }
    return create_app(config)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """The database factory, with its template migrated to head by the real migrations."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    template = factory.empty()
    app = make_app(template, tmp_path_factory.mktemp("template-instance"))
    with app.app_context():
        upgrade()
        write_canary()
        db.session.commit()
        db.engine.dispose()
    factory.set_template(template)
    yield factory
    factory.drop(template)


@pytest.fixture
def database_url(databases: DatabaseFactory) -> Iterator[str]:
    url = databases.copy_of_template()
    yield url
    databases.drop(url)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path / "instance")
    yield app
    chainstatus.wait_all()  # a verification started from a page must end before its database
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class UnitRef:
    """What tests need to know about a unit, usable outside any app context."""

    id: int
    name: str

    @classmethod
    def of(cls, unit: CareUnit) -> UnitRef:
        return cls(id=unit.id, name=unit.name)


@dataclass(frozen=True)
class UserRef:
    id: int
    username: str
    role: Role

    @classmethod
    def of(cls, user: User) -> UserRef:
        return cls(id=user.id, username=user.username, role=user.role)


@dataclass(frozen=True)
class PatientRef:
    id: int
    uid: str
    unit_id: int

    @classmethod
    def of(cls, patient: Patient) -> PatientRef:
        return cls(id=patient.id, uid=str(patient.uid), unit_id=patient.unit_id)


@dataclass(frozen=True)
class World:
    """Two care units and one user per role: the cast most tests need."""

    unit_a: UnitRef
    unit_b: UnitRef
    #: Coordinator of unit A only.
    coordinator_a: UserRef
    #: Coordinator of unit B only.
    coordinator_b: UserRef
    #: Manager of both units.
    manager: UserRef
    admin: UserRef
    #: A patient of each unit.
    patient_a: PatientRef
    patient_b: PatientRef


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        unit_a = UnitFactory(name="Vårdcentralen Norr")
        unit_b = UnitFactory(name="Vårdcentralen Söder")
        users = [
            UserFactory(username="koord.a", units=[unit_a]),
            UserFactory(username="koord.b", units=[unit_b]),
            UserFactory(username="chef", role=Role.MANAGER, units=[unit_a, unit_b]),
            UserFactory(username="admin", role=Role.ADMIN),
        ]
        patient_a = PatientFactory(
            unit_id=unit_a.id,
            personnummer="194107086995",
            first_name="Tolvan",
            last_name="Tolvansson",
        )
        patient_b = PatientFactory(
            unit_id=unit_b.id, personnummer="198112289874", first_name="Elva", last_name="Elvasson"
        )
        return World(
            UnitRef.of(unit_a),
            UnitRef.of(unit_b),
            *(UserRef.of(u) for u in users),
            PatientRef.of(patient_a),
            PatientRef.of(patient_b),
        )


@pytest.fixture
def signed_in_client(app: Flask) -> Callable[..., FlaskClient]:
    """A client signed in as ``user`` through the real forms (and in ``unit`` if given)."""

    def make(user: UserRef, unit: UnitRef | None = None) -> FlaskClient:
        client = app.test_client()
        response = sign_in(client, user.username)
        assert response.status_code == 302, response.text
        if unit is not None:
            chosen = submit(client, "/auth/unit", {"unit": str(unit.id)})
            assert chosen.status_code == 302, chosen.text
        return client

    return make


@pytest.fixture
def coordinator_client(world: World, signed_in_client: Callable[..., FlaskClient]) -> FlaskClient:
    return signed_in_client(world.coordinator_a)


@pytest.fixture
def manager_client(world: World, signed_in_client: Callable[..., FlaskClient]) -> FlaskClient:
    return signed_in_client(world.manager, world.unit_a)


@pytest.fixture
def admin_client(world: World, signed_in_client: Callable[..., FlaskClient]) -> FlaskClient:
    return signed_in_client(world.admin)


@pytest.fixture
def command_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> dict[str, str]:
    """The environment the command reads: this test's database and keys."""
    environment = {
        "COORDINATOR_INSTANCE": str(tmp_path / "cli-instance"),
        "DATABASE_URL": database_url,
        "COORDINATOR_SECRET_KEY": secrets.token_hex(32),
        "COORDINATOR_ENCRYPTION_KEYS": TEST_KEYS,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    os.makedirs(environment["COORDINATOR_INSTANCE"], mode=0o700)
    return environment
