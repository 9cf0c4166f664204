"""The rules for managing users and care units."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock
from coordinator.auth import service as auth_service
from coordinator.auth import throttle
from coordinator.auth.models import (
    CareUnit,
    ProviderType,
    UnitKind,
    User,
    new_session_token,
    normalise_username,
)
from coordinator.auth.roles import Role
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db

log = logging.getLogger(__name__)


class UsernameTaken(DomainError):
    status_code = 409
    default_message = _l("That username is already in use.")


class UnitNameTaken(DomainError):
    status_code = 409
    default_message = _l("A care unit with that name already exists.")


class AssignmentRefused(DomainError):
    """A role and unit combination that would break a rule."""


@dataclass(frozen=True)
class UserDetails:
    """What an administrator decides about a user."""

    full_name: str
    title: str | None
    role: Role
    unit_ids: Sequence[int]
    is_active: bool = True
    phone: str | None = None


@dataclass(frozen=True)
class UnitDetails:
    name: str
    kind: UnitKind
    provider_type: ProviderType
    is_active: bool = True


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def locks(users: Sequence[User]) -> dict[int, datetime]:
    """When the sign-in lock of each locked user ends, keyed by user id (one query)."""
    return throttle.locks_for({user.id: user.username for user in users}, clock.now())


def _units(unit_ids: Sequence[int]) -> list[CareUnit]:
    wanted = set(unit_ids)
    units = list(db.session.scalars(select(CareUnit).where(CareUnit.id.in_(wanted))))
    if len(units) != len(wanted):
        raise NotFound(_l("A chosen care unit does not exist."))
    return units


def _check_assignment(role: Role, units: Sequence[CareUnit]) -> None:
    if role is Role.ADMIN and units:
        # Separation of duties: whoever manages accounts does not work with patients.
        raise AssignmentRefused(_l("An administrator cannot work in care units."))
    if role.works_in_units and not units:
        raise AssignmentRefused(_l("Coordinators and managers must work in at least one unit."))


def create_user(
    username: str, password: str, details: UserDetails, *, must_change_password: bool = True
) -> User:
    """Create a user. When an administrator chose the password, the user must replace it."""
    username = normalise_username(username)
    if User.find_by_username(username) is not None:
        raise UsernameTaken()
    units = _units(details.unit_ids)
    _check_assignment(details.role, units)
    user = User(
        username=username,
        full_name=details.full_name.strip(),
        title=(details.title or "").strip() or None,
        phone=(details.phone or "").strip() or None,
        role=details.role,
        units=units,
        is_active=details.is_active,
        password_hash="",
    )
    auth_service.set_password(user, password, must_change=must_change_password)
    db.session.add(user)
    db.session.flush()
    log.info("user created user_id=%s role=%s", user.id, user.role.value)
    return user


def update_user(user: User, details: UserDetails, *, acting_user: User) -> None:
    units = _units(details.unit_ids)
    _check_assignment(details.role, units)
    if user.id == acting_user.id and (details.role is not user.role or not details.is_active):
        raise AssignmentRefused(_l("You cannot change your own role or deactivate yourself."))
    losing_admin = (
        user.role is Role.ADMIN
        and user.is_active
        and (details.role is not Role.ADMIN or not details.is_active)
    )
    if losing_admin and User.count_active_admins() <= 1:
        raise AssignmentRefused(_l("The last active administrator cannot be removed."))
    if user.is_active and not details.is_active:
        user.session_token = new_session_token()  # ends their sessions now
    user.full_name = details.full_name.strip()
    user.title = (details.title or "").strip() or None
    user.phone = (details.phone or "").strip() or None
    user.role = details.role
    user.units = units
    user.is_active = details.is_active
    log.info("user updated user_id=%s by user_id=%s", user.id, acting_user.id)


def reset_password(user: User, password: str) -> None:
    """An administrator sets a temporary password; the user must replace it at sign-in."""
    auth_service.set_password(user, password, must_change=True)


def list_units() -> list[CareUnit]:
    return list(db.session.scalars(select(CareUnit).order_by(CareUnit.name)))


def get_unit(unit_id: int) -> CareUnit:
    unit = db.session.get(CareUnit, unit_id)
    if unit is None:
        raise NotFound()
    return unit


def _check_unit_name(name: str, unit: CareUnit | None = None) -> str:
    name = name.strip()
    existing = db.session.scalar(select(CareUnit).where(CareUnit.name == name))
    if existing is not None and existing is not unit:
        raise UnitNameTaken()
    return name


def create_unit(details: UnitDetails) -> CareUnit:
    unit = CareUnit(
        name=_check_unit_name(details.name),
        kind=details.kind,
        provider_type=details.provider_type,
        is_active=details.is_active,
    )
    db.session.add(unit)
    db.session.flush()
    log.info("care unit created unit_id=%s", unit.id)
    return unit


def update_unit(unit: CareUnit, details: UnitDetails) -> None:
    unit.name = _check_unit_name(details.name, unit)
    unit.kind = details.kind
    unit.provider_type = details.provider_type
    unit.is_active = details.is_active
    log.info("care unit updated unit_id=%s", unit.id)
