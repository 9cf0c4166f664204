"""Fixtures of the contacts tests: the patients tests' stopped clock, app context and acting
coordinator (``frozen``, ``context``, ``me``), the plans tests' patient in active coordination
(``active_patient``), a manager, and Lars Lind's employer in the directory."""

from __future__ import annotations

import pytest

from coordinator.access import Actor
from coordinator.contacts.models import ContactPerson, Organisation
from tests.conftest import World
from tests.contacts.support import organisation, person
from tests.crypto.support import actor_for
from tests.plans.conftest import active_patient, context, frozen, me

__all__ = ["active_patient", "boss", "context", "employer", "frozen", "hr", "manager", "me"]


@pytest.fixture
def manager(world: World, context: None) -> Actor:
    """The manager of both units, working in unit A."""
    return actor_for(world.manager, world.unit_a)


@pytest.fixture
def employer(frozen: object, me: Actor) -> Organisation:
    """ACME AB, an employer in the directory (no organisation number)."""
    return organisation(me)


@pytest.fixture
def hr(me: Actor, employer: Organisation) -> ContactPerson:
    """Lena Ek in HR at ACME AB."""
    return person(me, employer)


@pytest.fixture
def boss(me: Actor, employer: Organisation) -> ContactPerson:
    """Per Berg, a manager (*chef*) at ACME AB."""
    return person(me, employer, "Per Berg", "Chef", "070-123 45 67", "per.berg@acme.se")
