"""A realistic, clearly fictitious demo installation: two units, their staff and patients.

Every name here is invented; the units are marked "(demo)". The personnummer are made up (valid
in shape and check digit, belonging to no one we know of). Patients and their case journals
are stored through the real services, so they are encrypted and logged like any other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coordinator.access import Actor
from coordinator.admin import service as admin_service
from coordinator.auth import service as auth_service
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import service as patients

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


@dataclass(frozen=True)
class DemoPatient:
    personnummer: str
    first_name: str
    last_name: str
    #: Index into :data:`UNITS`.
    unit: int
    #: Index into :data:`USERS` of the coordinator who writes the notes.
    coordinator: int
    notes: tuple[tuple[str, str], ...]


PATIENTS = (
    DemoPatient("197803152383", "Sofia", "Lindqvistdemo", 0, 0, (
        ("Första kontakt", "Sjukskriven 100 % sedan tre veckor för utmattningssyndrom. Vill "
         "gärna tillbaka till sitt arbete som undersköterska men orkar inte heltid än."),
        ("Planering", "Vi kom överens om ett trepartssamtal med arbetsgivaren om två veckor."),
    )),
    DemoPatient("199001012385", "Omar", "Haddaddemo", 0, 1, (
        ("Telefonkontakt", "Ländryggssmärta efter lyft på lagret. Sjukgymnastik pågår; patienten "
         "oroar sig för att förlora sin tjänst."),
    )),
    DemoPatient("196512244424", "Margareta", "Ekdemo", 1, 2, (
        ("Första kontakt", "Depression, sjukskriven 50 %. Arbetar som lärare; önskar anpassade "
         "arbetsuppgifter under våren."),
    )),
)  # fmt: skip


def is_loaded() -> bool:
    return User.find_by_username(USERS[0].username) is not None


def new_password() -> str:
    return secrets.token_urlsafe(12)


def load(password: str) -> None:
    """Create the demo units and users, all with ``password`` (no second factor)."""
    units: list[CareUnit] = [admin_service.create_unit(details) for details in UNITS]
    users: list[User] = []
    for demo in USERS:
        user = admin_service.create_user(
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
        users.append(user)
    for demo_patient in PATIENTS:
        actor = Actor(
            user=users[demo_patient.coordinator],
            role=Role.COORDINATOR,
            unit=units[demo_patient.unit],
            request_id="cli:demo-data",
        )
        patient = patients.register_patient(
            actor, demo_patient.personnummer, demo_patient.first_name, demo_patient.last_name
        )
        for heading, body in demo_patient.notes:
            journal.add_entry(actor, patient, EntryKind.NOTE, heading, body)


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
