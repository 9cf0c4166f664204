"""Test data factories (factory_boy). Rows are committed, as a real request would leave them."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.passwords import hash_password
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient

#: The password every factory user gets.
PASSWORD = "correct horse battery staple"


def valid_personnummer(birth: str, serial: int) -> str:
    """A valid 12-digit personnummer: ``birth`` as YYYYMMDD, a three-digit serial, the check
    digit computed (Luhn over the ten-digit form)."""
    digits = f"{birth[2:]}{serial:03d}"
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(digits))
    return f"{birth}{serial:03d}{(10 - total % 10) % 10}"


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UnitFactory(_Factory):
    class Meta:
        model = CareUnit

    name = factory.Sequence(lambda n: f"Vårdcentralen Test {n}")
    kind = UnitKind.HEALTH_CENTRE
    provider_type = ProviderType.PUBLIC
    is_active = True


class UserFactory(_Factory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"Testperson {n}")
    title = "Arbetsterapeut"
    role = Role.COORDINATOR
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))
    is_active = True
    units = factory.LazyFunction(list)


class PatientFactory(_Factory):
    """A patient; pass ``unit_id``. Fields go through the real encryption."""

    class Meta:
        model = Patient
        sqlalchemy_session_persistence = "commit"

    personnummer = factory.Sequence(
        lambda n: valid_personnummer(f"1980{(n % 12) + 1:02d}{(n % 28) + 1:02d}", n % 1000)
    )
    first_name = factory.Sequence(lambda n: f"Förnamn{n}")
    last_name = factory.Sequence(lambda n: f"Efternamn{n}")

    @factory.post_generation
    def case(patient: Patient, create: bool, extracted: object, **fields: object) -> None:
        """Every patient has a current coordination case, as registration gives them."""
        if create:
            CaseFactory(patient_id=patient.id, unit_id=patient.unit_id, **fields)


class CaseFactory(_Factory):
    """A coordination case; pass ``patient_id`` and ``unit_id`` (PatientFactory does)."""

    class Meta:
        model = CoordinationCase

    status = CaseStatus.NEW
    coordinator_id = None
