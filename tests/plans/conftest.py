"""Fixtures of the plans tests: the patients tests' stopped clock, app context and acting
coordinator (``frozen``, ``context``, ``me``), and a patient in active coordination."""

from __future__ import annotations

import pytest

from coordinator.access import Actor
from coordinator.patients.models import Patient
from tests.patients.conftest import context, frozen, me
from tests.patients.support import activate, register

__all__ = ["active_patient", "context", "frozen", "me"]


@pytest.fixture
def active_patient(frozen: object, me: Actor) -> Patient:
    """Lars Lind, registered today by coordinator A, consented to coordination, case active."""
    patient = register(me, "Lind", "Lars")
    activate(me, patient)
    return patient
