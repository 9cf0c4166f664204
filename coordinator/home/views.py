"""The start page: where each role begins its day. A coordinator's is Today, the work queue."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, render_template, session

from coordinator.access import Actor, current_actor, roles
from coordinator.admin import service as admin_service
from coordinator.auth.roles import Role
from coordinator.logreview import chainstatus, checks
from coordinator.patients import today
from coordinator.patients.filters import url_for_filters
from coordinator.patients.screening import ScreeningRules

bp = Blueprint("home", __name__)

#: Session key holding the previous Today visit, so reloading the page keeps "new" items.
_SINCE = "today_since"


@bp.get("/")
@roles(Role.COORDINATOR, Role.MANAGER, Role.ADMIN)
def index() -> str:
    actor = current_actor()
    if actor.role is Role.ADMIN:
        return render_template(
            "home/admin.html", users=admin_service.list_users(), units=admin_service.list_units()
        )
    if actor.role is Role.MANAGER:
        return _manager_start(actor)
    since = _since_last_visit()
    groups = today.queue(actor, since, ScreeningRules.from_config(current_app.config))
    return render_template(
        "home/today.html", actor=actor, groups=groups, since=since, list_url=url_for_filters
    )


def _manager_start(actor: Actor) -> str:
    """A manager's start page: the tiles, and what needs their attention in the log
    follow-up — a broken chain not yet acknowledged, a sample check due for their unit."""
    interval = current_app.config["LOG_CHECK_INTERVAL_DAYS"]
    assert actor.unit is not None  # noqa: S101 (managers choose a unit first)
    last_check = checks.last_signed(actor.unit)
    return render_template(
        "home/index.html", actor=actor, alarm=chainstatus.alarm(), last_check=last_check,
        check_due=checks.is_due(last_check, interval), interval=interval,
    )  # fmt: skip


def _since_last_visit() -> datetime:
    """The visit before this sign-in session's first: fixed for the whole session."""
    remembered = session.get(_SINCE)
    if remembered:
        return datetime.fromisoformat(remembered)
    since = today.start_visit(current_actor())
    session[_SINCE] = since.isoformat()
    return since
