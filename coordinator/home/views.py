"""The start page: where each role begins its day."""

from __future__ import annotations

from flask import Blueprint, render_template

from coordinator.access import current_actor, roles
from coordinator.admin import service as admin_service
from coordinator.auth.roles import Role

bp = Blueprint("home", __name__)


@bp.get("/")
@roles(Role.COORDINATOR, Role.MANAGER, Role.ADMIN)
def index() -> str:
    actor = current_actor()
    if actor.role is Role.ADMIN:
        return render_template(
            "home/admin.html", users=admin_service.list_users(), units=admin_service.list_units()
        )
    return render_template("home/index.html", actor=actor)
