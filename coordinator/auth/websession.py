"""What the signed cookie session holds for sign-in, and nothing else touches those keys.

The session carries: the half-finished sign-in (password given, second factor pending), the
current care unit, the time of the last request (idle timeout), and the interface language
chosen before signing in. Secrets never go in it: the cookie is signed, not encrypted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import session
from flask_login import login_user, logout_user

from coordinator.auth.models import CareUnit, User
from coordinator.extensions import db

_PENDING = "sign_in_pending"
_UNIT = "unit_id"
_LAST_SEEN = "last_seen"
_LOCALE = "locale"


def _restart(**keep: Any) -> None:
    """Empty the session (defeating fixation), keeping the chosen language."""
    locale = session.get(_LOCALE)
    session.clear()
    if locale:
        session[_LOCALE] = locale
    session.update(keep)


def begin_pending(user: User, at: datetime) -> None:
    """The password was right and a second factor is still to come."""
    _restart(**{_PENDING: {"user_id": user.id, "token": user.session_token, "at": at.timestamp()}})


def pending_user(at: datetime, max_age_seconds: int) -> User | None:
    """The user half-way through signing in, unless the step has expired or been replaced."""
    pending = session.get(_PENDING)
    if not pending or at.timestamp() - pending["at"] > max_age_seconds:
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or user.session_token != pending["token"]:
        return None
    return user


def has_pending() -> bool:
    return _PENDING in session


def start(user: User, unit: CareUnit | None, at: datetime) -> None:
    """Sign the user in: a fresh session, bound to their current session token."""
    _restart()
    login_user(user)
    session[_UNIT] = unit.id if unit else None
    touch(at)


def end() -> None:
    logout_user()
    _restart()


def touch(at: datetime) -> None:
    session[_LAST_SEEN] = at.timestamp()


def idle_expired(at: datetime, idle: timedelta) -> bool:
    last_seen = session.get(_LAST_SEEN)
    return last_seen is None or at.timestamp() - last_seen > idle.total_seconds()


def unit_id() -> int | None:
    value = session.get(_UNIT)
    return int(value) if value is not None else None


def set_unit(unit: CareUnit) -> None:
    session[_UNIT] = unit.id


def clear_unit() -> None:
    session[_UNIT] = None


def chosen_locale() -> str | None:
    return session.get(_LOCALE)


def set_chosen_locale(locale: str) -> None:
    session[_LOCALE] = locale
