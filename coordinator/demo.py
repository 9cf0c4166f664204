"""A realistic, clearly fictitious demo installation: two units, their staff and patients.

Every name here is invented; the units are marked "(demo)", the patients' family names end in
"demo". The personnummer are made up (valid in shape and check digit, belonging to no one we
know of). Each unit has a few hand-written patients, below, and some sixty in all with the
generated caseload of :mod:`coordinator.demo_caseload`. Patients, certificates, cases and case
journals are stored through the real services, so they are encrypted and logged like any other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from coordinator import demo_caseload
from coordinator.access import Actor
from coordinator.admin import service as admin_service
from coordinator.auth import service as auth_service
from coordinator.auth.models import CareUnit, ProviderType, UnitKind, User
from coordinator.auth.roles import Role
from coordinator.patients.service import PatientDetails
from coordinator.reports import settings as reports_settings

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
    """A hand-written patient with case notes, beside the generated caseload."""

    #: Index into :data:`UNITS`.
    unit: int
    #: Index into :data:`USERS` of the coordinator who registers them and writes the notes.
    coordinator: int
    story: demo_caseload.Story


def _details(first_name: str, last_name: str, occupation: str) -> PatientDetails:
    return PatientDetails(first_name, last_name, phone="070-174 06 05", occupation=occupation)


PATIENTS = (
    DemoPatient(0, 0, demo_caseload.Story(
        _details("Sofia", "Lindqvistdemo", "Undersköterska"),
        "197803152383", "F43.8A", "Dr. Karin Provläkare", ((-20, -7, 100), (-6, 21, 100)),
        replace(demo_caseload.ACTIVE, follow_up_in=13), demo_caseload.MONTH.why, notes=(
            ("Första kontakt", "Sjukskriven 100 % sedan tre veckor för utmattningssyndrom. Vill "
             "gärna tillbaka till sitt arbete som undersköterska men orkar inte heltid än."),
            ("Planering", "Vi kom överens om ett trepartssamtal med arbetsgivaren om två veckor."),
        ),
        employer="Exempelby kommun, äldreomsorgen",
    )),
    DemoPatient(0, 1, demo_caseload.Story(
        _details("Omar", "Haddaddemo", "Lagerarbetare"),
        "199001012385", "M54.5", "Dr. Johan Exempelman", ((-26, -13, 100), (-12, 15, 100)),
        replace(demo_caseload.OFFERED, follow_up_in=3), demo_caseload.MONTH.why, notes=(
            ("Telefonkontakt", "Ländryggssmärta efter lyft på lagret. Sjukgymnastik pågår; "
             "patienten oroar sig för att förlora sin tjänst."),
        ),
        employer="Nordlager Logistik AB",
    )),
    DemoPatient(1, 2, demo_caseload.Story(
        _details("Margareta", "Ekdemo", "Lärare"),
        "196512244424", "F32.1", "Dr. Maria Låtsasson", ((-48, -35, 100), (-34, 27, 50)),
        demo_caseload.ACTIVE, demo_caseload.PART_TIME.why, notes=(
            ("Första kontakt", "Depression, sjukskriven 50 %. Arbetar som lärare; önskar "
             "anpassade arbetsuppgifter under våren."),
        ),
        employer="Provdalsskolan",
    )),
    DemoPatient(1, 2, demo_caseload.Story(
        _details("Jukka", "Virtanendemo", "Busschaufför"),
        "197104192732", "S13", "Dr. Per Påhittad", ((-33, -20, 100), (-19, 11, 50)),
        replace(demo_caseload.OFFERED, follow_up_in=1), demo_caseload.MONTH.why, notes=(
            ("Första kontakt", "Whiplashskada efter en trafikolycka. Sjukskriven 50 %; "
             "nackvärken gör det svårt att köra ett helt pass."),
        ),
        employer="Regionbuss Provdalen",
    )),
)  # fmt: skip


def is_loaded() -> bool:
    return User.find_by_username(USERS[0].username) is not None


def new_password() -> str:
    return secrets.token_urlsafe(12)


#: Inhabitants aged 16–67 in each demo unit's area (fictitious, of a small town's size).
POPULATIONS = (14_200, 9_600)


def load(password: str) -> None:
    """Create the demo units, their staff (all with ``password``, no second factor) and their
    caseloads: the hand-written patients, then the generated ones."""
    units: list[CareUnit] = [admin_service.create_unit(details) for details in UNITS]
    users = [_create_user(demo, password, units) for demo in USERS]
    for index, unit in enumerate(units):
        coordinators = [
            user
            for user, demo in zip(users, USERS, strict=True)
            if demo.role is Role.COORDINATOR and index in demo.units
        ]
        for patient in PATIENTS:
            if patient.unit == index:
                actor = _actor(users[patient.coordinator], unit)
                demo_caseload.enact(actor, patient.story, coordinators)
        for number, story in enumerate(demo_caseload.caseloads()[index]):
            coordinator = coordinators[number % len(coordinators)]
            demo_caseload.enact(_actor(coordinator, unit), story, coordinators)
    manager = next(user for user in users if user.role is Role.MANAGER)
    for unit, population in zip(units, POPULATIONS, strict=True):
        # The quarterly report's rate per 1000 inhabitants aged 16–67 of the unit's area.
        reports_settings.set_population(
            Actor(user=manager, role=Role.MANAGER, unit=unit, request_id="cli:demo-data"),
            unit.id,
            population,
        )


def _create_user(demo: DemoUser, password: str, units: list[CareUnit]) -> User:
    return admin_service.create_user(
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


def _actor(user: User, unit: CareUnit) -> Actor:
    return Actor(user=user, role=Role.COORDINATOR, unit=unit, request_id="cli:demo-data")


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
