"""The access matrix's world: two care units, each with a patient and everything that hangs off
a patient, built once through the services and put back into the app's database before every
test (:class:`Restorer`).

Every unit has its own coordinator, its own manager (of that unit only), a member of staff for
the administrator's pages, an organisation with a contact person in the (shared) directory, a
sample check of its access log drawn by its manager and a chain verification run its manager
started; a manager of both units has drawn a check covering both. The patient has consented to
coordination, their case is active, the mapping is signed (version 1), the plan is agreed
(version 1, one measure), a treatment is registered, and the organisation is their employer.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, ProviderType, User
from coordinator.auth.roles import Role
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.consents.service import ConsentInput
from coordinator.consents.service import record as record_consent
from coordinator.contacts import directory
from coordinator.contacts.models import OrganisationType
from coordinator.contacts.service import set_employer
from coordinator.extensions import db
from coordinator.logreview import chainstatus, checks
from coordinator.logreview.criteria import Rules
from coordinator.logreview.models import Criterion
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.plans import mapping, treatments
from coordinator.plans import service as plans
from coordinator.plans.models import (
    MAPPING_SECTIONS,
    AgreementMethod,
    ResponsibleActor,
    ReturnBelief,
    ReturnGoal,
    TreatmentKind,
    TreatmentProvider,
)
from tests.conftest import UserRef
from tests.databases import POSTGRES_URL
from tests.factories import UnitFactory, UserFactory, valid_personnummer

#: What a request ended in, as the matrix names it.
OK = "ok"  # admitted: 2xx, a redirect that is not to sign-in, or (POST) a form's 4xx answer
FORBIDDEN = "403"
NOT_FOUND = "404"
SIGN_IN = "sign-in"  # 302 to /auth/login?next=<the requested path>


@dataclass(frozen=True)
class UnitObjects:
    """One care unit and the objects of it the routes address."""

    unit_id: int
    #: The unit's coordinator and manager: both units' coordinators and unit A's manager are
    #: the matrix's users; unit B's manager draws unit B's check and starts its chain run.
    coordinator_id: int
    manager_id: int
    #: A coordinator of the unit for the administrator's user pages (never signed in).
    staff_id: int
    patient_uid: str
    personnummer: str
    #: The patient's consent to coordination.
    consent_uid: str
    treatment_uid: str
    #: The measure of the agreed plan (version 1).
    measure_uid: str
    mapping_number: int
    version_number: int
    organisation_uid: str
    person_uid: str
    check_id: int
    run_id: int

    def values(self) -> dict[str, str]:
        """The placeholders a request of the matrix may use, for this unit's objects."""
        return {
            "unit": str(self.unit_id),
            "patient": self.patient_uid,
            "personnummer": self.personnummer,
            "organisation": self.organisation_uid,
            "coordinator": str(self.coordinator_id),
        }


@dataclass(frozen=True)
class MatrixWorld:
    a: UnitObjects
    b: UnitObjects
    coordinator_a: UserRef
    coordinator_b: UserRef
    #: Manager of unit A only (the shared world's manager has both units).
    manager_a: UserRef
    admin: UserRef
    #: A sample check covering both units, drawn by a manager of both (not a matrix user).
    joint_check_id: int


def _actor(user_id: int, unit: CareUnit | None) -> Actor:
    user = db.session.get(User, user_id)
    assert user is not None
    return Actor(user=user, role=user.role, unit=unit, request_id="matrix-world")


def _patient_file(coordinator: Actor, personnummer: str, last_name: str) -> dict[str, str]:
    """A patient registered, consented, activated, mapped, planned and treated; their ids."""
    today = clock.today()
    patient = patients.register_patient(
        coordinator, personnummer, patients.PatientDetails("Test", last_name)
    )
    consent = record_consent(
        coordinator, patient,
        ConsentInput(ConsentKind.COORDINATION, ConsentAnswer.GIVEN, ConsentMethod.ORAL, today),
    )  # fmt: skip
    cases.activate(coordinator, patient)
    sections: dict[str, str | None] = {name: "Beskrivet." for name in MAPPING_SECTIONS}
    signed = mapping.save(
        coordinator, patient, mapping.MappingInput(sections, ReturnBelief.CONFIDENT),
        expected_lock=0, based_on=0, sign=True,
    )  # fmt: skip
    measure = plans.MeasureInput("Arbetsplatsbesök", ResponsibleActor.CARE_UNIT)
    goal = plans.PlanInput(
        ReturnGoal.OWN_JOB, 100, today, today + timedelta(days=90), measures=[measure]
    )
    plan = plans.save(coordinator, patient, goal)
    plans.agree(
        coordinator, patient, 1,
        plans.Agreement(today, AgreementMethod.MEETING, today + timedelta(days=14)),
    )  # fmt: skip
    kbt = treatments.TreatmentInput(
        TreatmentKind.KBT, TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC
    )
    treatment = treatments.record(coordinator, patient, kbt)
    organisation = directory.create_organisation(
        coordinator, directory.OrganisationInput(OrganisationType.EMPLOYER, f"{last_name} AB")
    )
    person = directory.add_person(coordinator, organisation, directory.PersonInput("Lena Ek", "HR"))
    set_employer(coordinator, patient, organisation, person)
    db.session.commit()
    return {
        "patient_uid": str(patient.uid),
        "consent_uid": str(consent.uid),
        "treatment_uid": str(treatment.uid),
        "measure_uid": str(plan.current.measures[0].uid),
        "mapping_number": str(signed.number),
        "version_number": str(plan.current.number),
        "organisation_uid": str(organisation.uid),
        "person_uid": str(person.uid),
    }


def _unit(app: Flask, name: str, tag: str, personnummer: str, last_name: str) -> UnitObjects:
    unit = UnitFactory(name=name)
    coordinator = UserFactory(username=f"koord.{tag}", units=[unit])
    manager = UserFactory(username=f"chef.{tag}", role=Role.MANAGER, units=[unit])
    staff = UserFactory(username=f"personal.{tag}", units=[unit])
    ids = _patient_file(_actor(coordinator.id, unit), personnummer, last_name)
    boss = _actor(manager.id, unit)
    today = clock.today()
    draft = checks.Draft([unit], today - timedelta(days=1), today, frozenset({Criterion.RANDOM}))
    check = checks.draw(boss, draft, Rules.from_config(app.config))
    db.session.commit()
    run = chainstatus.start(boss)
    chainstatus.carry_out(run.id)
    db.session.commit()
    return UnitObjects(
        unit_id=unit.id, coordinator_id=coordinator.id, manager_id=manager.id, staff_id=staff.id,
        patient_uid=ids["patient_uid"], personnummer=personnummer,
        consent_uid=ids["consent_uid"], treatment_uid=ids["treatment_uid"],
        measure_uid=ids["measure_uid"], mapping_number=int(ids["mapping_number"]),
        version_number=int(ids["version_number"]), organisation_uid=ids["organisation_uid"],
        person_uid=ids["person_uid"], check_id=check.id, run_id=run.id,
    )  # fmt: skip


def build_world(app: Flask) -> MatrixWorld:
    """The two units and the users of the matrix, committed. Call inside an app context."""
    a = _unit(app, "Vårdcentralen Norr", "a", valid_personnummer("19750612", 123), "Norrsson")
    b = _unit(app, "Vårdcentralen Söder", "b", valid_personnummer("19820304", 456), "Södersson")
    admin = UserFactory(username="admin", role=Role.ADMIN)
    both = [db.session.get(CareUnit, a.unit_id), db.session.get(CareUnit, b.unit_id)]
    chief = UserFactory(username="chef.ab", role=Role.MANAGER, units=both)
    today = clock.today()
    draft = checks.Draft(both, today - timedelta(days=1), today, frozenset({Criterion.RANDOM}))
    joint = checks.draw(_actor(chief.id, both[0]), draft, Rules.from_config(app.config))
    db.session.commit()

    def ref(user_id: int) -> UserRef:
        user = db.session.get(User, user_id)
        assert user is not None
        return UserRef.of(user)

    return MatrixWorld(
        a=a, b=b, coordinator_a=ref(a.coordinator_id), coordinator_b=ref(b.coordinator_id),
        manager_a=ref(a.manager_id), admin=UserRef.of(admin), joint_check_id=joint.id,
    )  # fmt: skip


def outcome(method: str, path: str, response: TestResponse) -> str:
    """What ``response`` to ``method path`` means in the matrix's terms; anything else (a 5xx,
    a GET refused as a bad request, a sign-in redirect that would not come back to ``path``)
    is named by its status and location, so it matches no expectation."""
    status = response.status_code
    location = response.headers.get("Location", "")
    target = urlsplit(location)
    if status == 302 and target.path == "/auth/login" and "next" in parse_qs(target.query):
        back = parse_qs(target.query)["next"]
        return SIGN_IN if back == [path] else f"sign-in with next={back}"
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return NOT_FOUND
    if 200 <= status < 300 or (status in (302, 303) and target.path != "/auth/unit"):
        return OK
    if method == "POST" and 400 <= status < 500:
        return OK  # admitted; the form or the service said no (a field message, a conflict)
    return f"{status} {location}".strip()


class Restorer:
    """Puts a template database's rows back into the database an app works on, as fast as the
    engine allows, so every test starts from the same world without a new app.

    SQLite: the template's file is copied over the app's (its connections closed first).
    PostgreSQL: creating a database per test costs a checkpoint, and truncating every table new
    files (seconds on a busy server), so the template's rows are taken once with ``COPY … TO``
    and written back after deleting every row, with the guards' triggers (and the foreign-key
    triggers) not firing in that transaction (``session_replication_role = replica``: the tests
    connect as a superuser), and every sequence set back to where it stood.
    """

    def __init__(self, template_url: str) -> None:
        self.template_url = template_url
        self.tables: dict[str, bytes] = {}
        self.sequences: list[tuple[str, int, bool]] = []
        if POSTGRES_URL is not None:
            self._take()

    def _take(self) -> None:
        engine = create_engine(self.template_url)
        try:
            with engine.connect() as connection:
                names = connection.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                ).scalars()
                driver = connection.connection.driver_connection
                for name in names:
                    with driver.cursor() as cursor, cursor.copy(f'COPY "{name}" TO STDOUT') as copy:
                        self.tables[name] = b"".join(bytes(chunk) for chunk in copy)
                rows = connection.exec_driver_sql(
                    "SELECT sequencename, coalesce(last_value, start_value), last_value IS NOT NULL"
                    " FROM pg_sequences WHERE schemaname = 'public'"
                )
                self.sequences = [(name, value, called) for name, value, called in rows]
        finally:
            engine.dispose()

    def restore(self, app: Flask) -> None:
        with app.app_context():
            db.session.remove()
            if POSTGRES_URL is None:
                db.engine.dispose()  # no connection open while the file is replaced
                self._copy_file(db.engine.url.database)
                return
            with db.engine.begin() as connection:
                connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for name in self.tables:
                    connection.exec_driver_sql(f'DELETE FROM "{name}"')  # noqa: S608 (pg_tables' names)
                driver = connection.connection.driver_connection
                for name, rows in self.tables.items():
                    if rows:
                        with (
                            driver.cursor() as cursor,
                            cursor.copy(f'COPY "{name}" FROM STDIN') as copy,
                        ):
                            copy.write(rows)
                for name, value, called in self.sequences:
                    connection.execute(
                        text("SELECT setval(:name, :value, :called)"),
                        {"name": f'"{name}"', "value": value, "called": called},
                    )

    def _copy_file(self, target: str | None) -> None:
        assert target is not None
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(str(make_url(self.template_url).database), target)


class SavedSession:
    """A client's signed-in session cookie, to give it back the same session before each test
    (the user's session token is in the template, so the restored database accepts it)."""

    def __init__(self, client: FlaskClient, name: str) -> None:
        cookie = client.get_cookie(name)
        assert cookie is not None, "not signed in"
        self.name = name
        self.cookie = cookie

    def restore(self, client: FlaskClient) -> None:
        cookie = self.cookie
        client.set_cookie(
            self.name, cookie.value, domain=cookie.domain, path=cookie.path,
            secure=cookie.secure, httponly=cookie.http_only, samesite=cookie.same_site,
        )  # fmt: skip
