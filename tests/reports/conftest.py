"""Fixtures of the reports tests: the patients tests' stopped clock, app context and acting
coordinator (``frozen``, ``context``, ``me``), unit B's coordinator, the manager of both units,
and the two units as rows (what the report functions take)."""

from __future__ import annotations

import pytest

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from tests.conftest import UnitRef, World
from tests.crypto.support import actor_for
from tests.plans.conftest import context, frozen, me

__all__ = ["context", "frozen", "manager", "me", "me_b", "unit_a", "unit_b"]


def _unit(ref: UnitRef) -> CareUnit:
    unit = db.session.get(CareUnit, ref.id)
    assert unit is not None
    return unit


@pytest.fixture
def manager(world: World, context: None) -> Actor:
    """The manager of both units, working in unit A."""
    return actor_for(world.manager, world.unit_a)


@pytest.fixture
def me_b(world: World, context: None) -> Actor:
    """Coordinator B working in unit B."""
    return actor_for(world.coordinator_b, world.unit_b)


@pytest.fixture
def unit_a(world: World, context: None) -> CareUnit:
    """Vårdcentralen Norr."""
    return _unit(world.unit_a)


@pytest.fixture
def unit_b(world: World, context: None) -> CareUnit:
    """Vårdcentralen Söder."""
    return _unit(world.unit_b)
