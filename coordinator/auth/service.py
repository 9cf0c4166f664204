"""The rules of signing in: passwords, second factor, lock-out, sessions, care units.

Nothing here reads the request or the web session; the views pass in what the user typed and
keep the web session themselves (``coordinator.auth.websession``).
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import datetime

import pyotp
from flask import current_app
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.auth import breached, passwords, throttle
from coordinator.auth.models import CareUnit, User, new_session_token
from coordinator.errors import DomainError, Forbidden
from coordinator.extensions import db

log = logging.getLogger(__name__)


class SignInFailed(DomainError):
    """Wrong name or password. Deliberately one message for every cause."""

    status_code = 401
    default_message = _l("Wrong username or password.")


class AccountLocked(DomainError):
    status_code = 429

    def __init__(self, until: datetime) -> None:
        wait = format_timedelta(until - clock.now(), threshold=1.0, add_direction=False)
        super().__init__(
            _l(
                "Too many failed attempts: sign-in with this username is locked for %(wait)s. "
                "Try again later or ask your administrator to unlock it.",
                wait=wait,
            )
        )


class InvalidCode(DomainError):
    status_code = 401
    default_message = _l("The code is wrong or has expired. Enter the current code from your app.")


class WrongPassword(DomainError):
    status_code = 400
    default_message = _l("The current password is wrong.")


class PasswordRejected(DomainError):
    status_code = 400


class NotInUnit(Forbidden):
    default_message = _l("You do not work in that care unit.")


# --- passwords ---------------------------------------------------------------------------


def authenticate(username: str, password: str) -> User:
    """Return the active user with this name and password, or raise.

    A failure is counted against the typed name whether or not such a user exists; the caller
    must let the request commit (the sign-in view does, by rendering the form again) so that
    the count sticks.
    """
    at = clock.now()
    _refuse_if_locked(username, at)
    user = User.find_by_username(username)
    password_ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        _count_failure(username, at)
        raise SignInFailed()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def check_password_policy(user: User, password: str) -> None:
    """Raise :class:`PasswordRejected` unless the password may be used by this user."""
    config = current_app.config
    if len(password) < config["PASSWORD_MIN_LENGTH"]:
        raise PasswordRejected(
            _l("The password must be at least %(n)d characters.", n=config["PASSWORD_MIN_LENGTH"])
        )
    if len(password) > config["PASSWORD_MAX_LENGTH"]:
        raise PasswordRejected(
            _l("The password may be at most %(n)d characters.", n=config["PASSWORD_MAX_LENGTH"])
        )
    if password.strip().lower() == user.username:
        raise PasswordRejected(_l("The password must not be your username."))
    if breached.is_personal(password, _personal_words(user)):
        raise PasswordRejected(_l("The password must not be built on your name or username."))
    if breached.is_common(password):
        raise PasswordRejected(
            _l("That password is among those most often seen in leaks. Choose another.")
        )
    if breached.is_repetitive(password):
        raise PasswordRejected(
            _l("The password repeats a few characters. A few words of your own are better.")
        )


def _personal_words(user: User) -> list[str]:
    """The user's username and name, whole and word by word (``anna.berg`` → ``anna``, ``berg``)."""
    words = [user.username, user.full_name or ""]
    for whole in (user.username, user.full_name or ""):
        words.extend(part for part in re.split(r"[\W_]+", whole) if len(part) >= 3)
    return words


def sign_out(user: User) -> None:
    """End the user's sessions on the server: a copy of the cookie is worth nothing afterwards.

    A session is bound to the user's session token, so this ends their sessions on other
    devices too (OWASP ASVS 3.3.1; on a shared computer that is the point).
    """
    user.session_token = new_session_token()
    log.info("signed out user_id=%s", user.id)


def set_password(user: User, password: str, *, must_change: bool = False) -> None:
    """Give the user a new password and sign out every session they have."""
    check_password_policy(user, password)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = clock.now()
    user.must_change_password = must_change
    user.session_token = new_session_token()
    log.info("password set user_id=%s by_admin=%s", user.id, must_change)


def change_password(user: User, current: str, new: str) -> None:
    """The user replaces their own password; every other session of theirs ends."""
    at = clock.now()
    _refuse_if_locked(user.username, at)
    if not passwords.verify_password(user.password_hash, current):
        _count_failure(user.username, at)
        raise WrongPassword()
    if passwords.verify_password(user.password_hash, new):
        raise PasswordRejected(_l("The new password must differ from the current one."))
    set_password(user, new)


# --- second factor -----------------------------------------------------------------------


def pending_totp_secret(user: User) -> str:
    """The secret being enrolled, created on first use and kept until confirmed."""
    if user.totp_pending_secret is None:
        user.totp_pending_secret = pyotp.random_base32()
    return user.totp_pending_secret


def totp_provisioning_uri(user: User, secret: str) -> str:
    issuer = current_app.config["TOTP_ISSUER"]
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _accepted_timestep(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code matches, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_second_factor(user: User, code: str) -> None:
    """Accept a TOTP code once; wrong, expired and replayed codes count as failures."""
    if user.totp_secret is None:
        raise ValueError("verify_second_factor needs an enrolled user")
    at = clock.now()
    _refuse_if_locked(user.username, at)
    step = _accepted_timestep(user.totp_secret, code.strip(), at)
    replayed = (
        step is not None
        and user.totp_last_timestep is not None
        and (step <= user.totp_last_timestep)
    )
    if step is None or replayed:
        _count_failure(user.username, at)
        raise InvalidCode()
    user.totp_last_timestep = step


def enrol_totp(user: User, code: str, password: str) -> None:
    """Turn on the second factor once the user proves both their password and the new app."""
    secret = user.totp_pending_secret
    if secret is None:
        raise DomainError(_l("Start the enrolment again."))
    at = clock.now()
    _refuse_if_locked(user.username, at)
    if not passwords.verify_password(user.password_hash, password):
        _count_failure(user.username, at)
        raise WrongPassword()
    step = _accepted_timestep(secret, code.strip(), at)
    if step is None:
        raise InvalidCode()
    user.totp_secret = secret
    user.totp_pending_secret = None
    user.totp_enrolled_at = at
    user.totp_last_timestep = step
    log.info("totp enrolled user_id=%s", user.id)


def reset_totp(user: User) -> None:
    """Remove the second factor (lost phone); the user may enrol again after signing in."""
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enrolled_at = None
    user.totp_last_timestep = None
    user.session_token = new_session_token()
    log.info("totp reset user_id=%s", user.id)


# --- sessions and units ------------------------------------------------------------------


def complete_sign_in(user: User) -> None:
    """All factors passed: the failure count resets and the sign-in is stamped."""
    throttle.clear(user.username)
    user.last_sign_in_at = clock.now()
    log.info("sign-in user_id=%s", user.id)


def user_for_session(session_id: str) -> User | None:
    """The active user a session cookie names, if its token is still current."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return user if hmac.compare_digest(user.session_token, token) else None


def unit_for(user: User, unit_id: int) -> CareUnit:
    """The active care unit ``unit_id`` if the user works there; otherwise :class:`NotInUnit`."""
    unit = next((unit for unit in user.active_units if unit.id == unit_id), None)
    if unit is None:
        raise NotInUnit()
    return unit


def default_unit(user: User) -> CareUnit | None:
    """The unit chosen without asking: the only one, if the user works in exactly one."""
    units = user.active_units
    return units[0] if len(units) == 1 else None


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise DomainError(_l("That language is not available."))
    user.locale = locale


def unlock(user: User) -> None:
    throttle.clear(user.username)


def locked_until(user: User) -> datetime | None:
    return throttle.locked_until(user.username, clock.now())


def all_units() -> list[CareUnit]:
    return list(db.session.scalars(select(CareUnit).order_by(CareUnit.name)))


# --- lock-out ----------------------------------------------------------------------------


def _refuse_if_locked(username: str, at: datetime) -> None:
    until = throttle.locked_until(username, at)
    if until is not None:
        raise AccountLocked(until)
    throttle.forget_expired_lock(username, at)


def _count_failure(username: str, at: datetime) -> None:
    until = throttle.record_failure(username, at)
    log.info("sign-in failure%s", " (now locked)" if until else "")
    if until is not None:
        raise AccountLocked(until)
