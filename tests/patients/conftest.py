"""Fixtures of the patients tests: a stopped clock, an app context, the acting coordinator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask

from coordinator.access import Actor
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.patients.support import NOW


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    """The clock stopped at NOW (request it first, so the world is made at NOW too);
    ``frozen.move_to(...)`` moves it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def context(app: Flask) -> Iterator[None]:
    """An app context for calling services directly (not for tests that also use a client)."""
    with app.app_context():
        yield


@pytest.fixture
def me(world: World, context: None) -> Actor:
    """Coordinator A working in unit A."""
    return actor_for(world.coordinator_a, world.unit_a)
