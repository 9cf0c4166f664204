"""Patient views. Only the entry point exists so far; it proves who may reach patient data:
coordinators and managers of the current unit, never administrators."""

from __future__ import annotations

from flask import Blueprint, render_template

from coordinator.access import current_actor, roles
from coordinator.auth.roles import Role

bp = Blueprint("patients", __name__, url_prefix="/patients")

#: Who may see patient data. Administrators are left out on purpose (separation of duties).
PATIENT_ROLES = (Role.COORDINATOR, Role.MANAGER)


@bp.get("/")
@roles(*PATIENT_ROLES)
def index() -> str:
    return render_template("patients/index.html", unit=current_actor().unit)
