"""A realistic, clearly fictitious demo installation: two units and their staff.

Every name here is invented; the units are marked "(demo)". Later parts of the product add
demo patients to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coordinator.admin import service as admin_service
from coordinator.auth import service as auth_service
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role

UNITS = (
    admin_service.UnitDetails(
        "Vårdcentralen Exempelby (demo)", UnitKind.HEALTH_CENTRE, ProviderType.PUBLIC
    ),
    admin_service.UnitDetails(
        "Hälsocentralen Provdalen (demo)", UnitKind.HEALTH_CENTRE, ProviderType.PRIVATE
    ),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    title: str
    role: Role
    #: Indexes into :data:`UNITS`.
    units: tuple[int, ...]


USERS = (
    DemoUser("koordinator1", "Anna Demosson", "Arbetsterapeut", Role.COORDINATOR, (0,)),
    DemoUser("koordinator2", "Bertil Exempelsson", "Fysioterapeut", Role.COORDINATOR, (0,)),
    DemoUser("koordinator3", "Cecilia Testberg", "Kurator", Role.COORDINATOR, (1,)),
    DemoUser("chef1", "Dagmar Provander", "Verksamhetschef", Role.MANAGER, (0, 1)),
    DemoUser("admin", "Erik Demoadmin", "Systemförvaltare", Role.ADMIN, ()),
)


def is_loaded() -> bool:
    return User.find_by_username(USERS[0].username) is not None


def new_password() -> str:
    return secrets.token_urlsafe(12)


def load(password: str) -> None:
    """Create the demo units and users, all with ``password`` (no second factor)."""
    units: list[CareUnit] = [admin_service.create_unit(details) for details in UNITS]
    for demo in USERS:
        admin_service.create_user(
            demo.username,
            password,
            admin_service.UserDetails(
                full_name=demo.full_name,
                title=demo.title,
                role=demo.role,
                unit_ids=[units[index].id for index in demo.units],
            ),
            must_change_password=False,
        )


def reset_passwords(password: str) -> None:
    for demo in USERS:
        user = User.find_by_username(demo.username)
        if user is not None:
            auth_service.set_password(user, password)


def sign_ins() -> list[str]:
    """One line per demo user: username, role and units, for printing."""
    lines = []
    for demo in USERS:
        units = ", ".join(UNITS[index].name for index in demo.units) or "–"
        lines.append(f"  {demo.username:<13} {demo.role.value:<12} {units}")
    return lines
