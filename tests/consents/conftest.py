"""Fixtures of the consents tests: the patients tests' stopped clock, app context and acting
coordinator (``frozen``, ``context``, ``me``), and a patient of coordinator A's own."""

from __future__ import annotations

import pytest

from coordinator.access import Actor
from coordinator.patients.models import Patient
from tests.patients.conftest import context, frozen, me
from tests.patients.support import register

__all__ = ["context", "frozen", "me", "patient"]


@pytest.fixture
def patient(frozen: object, me: Actor) -> Patient:
    """Lars Lind, registered today by coordinator A: a new case, no consents yet."""
    return register(me, "Lind", "Lars")
