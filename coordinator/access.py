"""Who may open which view: declared on every view, enforced in one place, denied by default.

Every view function carries an :class:`AccessRule`, set by one of the decorators below::

    @bp.get("/")
    @roles(Role.COORDINATOR, Role.MANAGER)
    def index(): ...

:func:`enforce` runs before every request. It signs out idle sessions, sends anonymous users to
sign-in, makes users with an administrator-chosen password replace it, refuses roles the rule
does not admit (403), makes unit roles pick a care unit, and leaves the acting user, role and
unit in ``g.actor`` for views to hand to services. A view without a rule is refused for
everyone, and :func:`check_all_views_declared` stops the app from starting with one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.auth import websession
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.navigation import current_path

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class AccessRule:
    """Who may open a view."""

    #: Roles admitted; empty together with ``public`` means anyone, signed in or not.
    roles: frozenset[Role]
    #: Open without signing in (the sign-in pages, static files).
    public: bool = False
    #: Coordinators and managers must have chosen a care unit first.
    needs_unit: bool = True


PUBLIC = AccessRule(roles=frozenset(), public=True, needs_unit=False)
#: A rule no one satisfies: what an undeclared view gets.
DENY = AccessRule(roles=frozenset())


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed explicitly to services, never fetched from the request by them."""

    user: User
    role: Role
    #: The care unit the user works in right now; None for administrators.
    unit: CareUnit | None
    #: Identifies the request (or command) in the access log.
    request_id: str = ""


def _declare(rule: AccessRule) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        view.access_rule = rule  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: View) -> View:
    """Open to everyone, signed in or not."""
    return _declare(PUBLIC)(view)


def signed_in(view: View) -> View:
    """Open to every signed-in user, before a care unit is chosen (account pages)."""
    return _declare(AccessRule(roles=frozenset(Role), needs_unit=False))(view)


def roles(*admitted: Role) -> Callable[[View], View]:
    """Open to the given roles; coordinators and managers need a current care unit."""
    return _declare(AccessRule(roles=frozenset(admitted)))


#: Endpoints a user who must replace their password may still reach.
_PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password", "auth.logout", "auth.set_language"})


def rule_for(app: Flask, endpoint: str) -> AccessRule:
    if endpoint == "static":
        return PUBLIC
    view = app.view_functions.get(endpoint)
    rule: AccessRule | None = getattr(view, "access_rule", None)
    return rule if rule is not None else DENY


def is_allowed(actor: Actor | None, endpoint: str) -> bool:
    """Whether ``actor`` may open ``endpoint`` — for building menus from the same rules."""
    rule = rule_for(current_app, endpoint)
    if rule.public:
        return True
    return actor is not None and actor.role in rule.roles


def current_actor() -> Actor:
    """The acting user of this request; only valid in views that are not public."""
    actor: Actor = g.actor
    return actor


def enforce() -> Response | None:
    """The one access check, run before every request."""
    if request.endpoint is None:
        return None  # no such route: Flask answers 404/405
    rule = rule_for(current_app, request.endpoint)
    at = clock.now()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if current_user.is_authenticated and websession.idle_expired(at, idle):
        websession.end()
        flash(
            _(
                "You were signed out after %(n)d minutes without activity.",
                n=current_app.config["SESSION_IDLE_MINUTES"],
            ),
            "info",
        )
    if rule.public:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=current_path()))
    websession.touch(at)
    user: User = current_user._get_current_object()
    actor = Actor(user=user, role=user.role, unit=_current_unit(user), request_id=uuid.uuid4().hex)
    g.actor = actor
    if user.must_change_password and request.endpoint not in _PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("auth.change_password"))
    if actor.role not in rule.roles:
        log.info("access refused user_id=%s endpoint=%s", user.id, request.endpoint)
        abort(403)
    if rule.needs_unit and actor.role.works_in_units and actor.unit is None:
        return redirect(url_for("auth.choose_unit", next=current_path()))
    return None


def _current_unit(user: User) -> CareUnit | None:
    """The unit chosen for this session, if the user still works there."""
    if not user.role.works_in_units:
        return None
    unit_id = websession.unit_id()
    unit = next((unit for unit in user.active_units if unit.id == unit_id), None)
    if unit is None and unit_id is not None:
        websession.clear_unit()  # membership revoked or unit closed since it was chosen
    return unit


def check_all_views_declared(app: Flask) -> None:
    """Refuse to start if any view lacks an access rule."""
    undeclared = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and getattr(view, "access_rule", None) is None
    )
    if undeclared:
        raise RuntimeError(f"views without an access rule: {', '.join(undeclared)}")


def init_app(app: Flask) -> None:
    """Register the check; it must run before CSRF validation so outsiders see 302/403 first."""
    app.before_request(enforce)
