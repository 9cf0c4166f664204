"""Who may change patient data: one rule, checked by every service that writes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from coordinator.access import Actor
from coordinator.auth.roles import Role
from coordinator.errors import Forbidden


def require_coordinator(actor: Actor) -> None:
    """Only coordinators change patient data; managers read (and are logged doing so).

    The views declare the same through their access rules; the services check again so that
    no other caller (a command, a later feature) can skip it.
    """
    if actor.role is not Role.COORDINATOR:
        raise Forbidden(_l("Only coordinators can change patient data."))
