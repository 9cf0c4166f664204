"""Data as each release of the schema wrote it, for the migration tests.

A database created at an earlier revision has tables the head models no longer describe (a
column added, retyped or dropped since), so the ORM cannot write them. The writers here use
plain SQL against the columns the database has at that moment (reflected: a value for a column
the revision lacks is an error, not silently dropped), with the head models' types where a
column kept its name and kind, so timestamps, uuids and enums are stored as the application
stores them. Values are sealed with the application's real encryption and journal entries are
appended through the real chain code: the rows the application itself wrote at that release.

Each :class:`Release` writes the data its revision introduced. A writer also runs at a later
revision (a database started there has that data too): it then writes through that revision's
columns, as the application of that revision would have (``Schema.since``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import LargeBinary, TableClause, column, func, insert, inspect, select, table
from sqlalchemy import update as sql_update
from sqlalchemy.types import TypeEngine

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth import throttle
from coordinator.auth.models import CareUnit, User, new_session_token
from coordinator.auth.passwords import hash_password
from coordinator.auth.roles import Role
from coordinator.consents.models import Consent, ConsentWithdrawal, Disclosure
from coordinator.contacts.models import ContactEvent, ContactPerson, Organisation
from coordinator.crypto import runtime
from coordinator.crypto.envelope import open_sealed, seal
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.logreview import checks
from coordinator.logreview.models import LogCheck, LogCheckItem
from coordinator.patients.certificates import refresh_summary
from coordinator.patients.identity import normalise_name
from coordinator.patients.models import Certificate, CoordinationCase, Patient
from coordinator.plans.models import FollowUp, Measure, PlanVersion, Treatment
from coordinator.plans.models import Mapping as PlanMapping
from tests.factories import PASSWORD


def schema_differences(app: Flask) -> list[object]:
    """How the schema of ``app``'s database differs from the models' (empty: they agree)."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, db.metadata))


def opened(table_name: str, column_name: str, uid: uuid.UUID, sealed: bytes | None) -> str | None:
    """A sealed value opened with the installation's keys (None stays None)."""
    if sealed is None:
        return None
    keys = runtime.keys()
    return open_sealed(keys, table_name, column_name, uid.hex, bytes(sealed)).decode("utf-8")


# -- the schema at a revision ------------------------------------------------------------------


class Schema:
    """The database's tables as they are at ``revision``, for writing with plain SQL."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        self._tables: dict[str, TableClause] = {}

    def since(self, revision: str) -> bool:
        """Whether this schema has what ``revision`` introduced."""
        return self.revision >= revision

    def table(self, name: str) -> TableClause:
        if name not in self._tables:
            found = inspect(db.session.connection()).get_columns(name)
            self._tables[name] = table(
                name, *(column(c["name"], _type(name, c["name"], c["type"])) for c in found)
            )
        return self._tables[name]

    def insert(self, name: str, /, **values: Any) -> int:
        """Insert one row; returns its id (0 for tables keyed otherwise)."""
        written = self.table(name)
        statement = insert(written).values(values)
        if "id" not in written.c:
            db.session.execute(statement)
            return 0
        return int(db.session.execute(statement.returning(written.c.id)).scalar_one())

    def update(self, name: str, row_id: int, /, **values: Any) -> None:
        written = self.table(name)
        db.session.execute(sql_update(written).where(written.c.id == row_id).values(values))

    def value(self, name: str, wanted: str, /, **where: Any) -> Any:
        """One column of the one row matching ``where``."""
        read = self.table(name)
        conditions = [read.c[key] == value for key, value in where.items()]
        return db.session.execute(select(read.c[wanted]).where(*conditions)).scalar_one()


def _type(table_name: str, column_name: str, reflected: TypeEngine[Any]) -> TypeEngine[Any]:
    """The head model's type of a column (how the application binds it), unless the column
    was another kind of value at this revision (e.g. a TOTP secret kept as text before 0002
    sealed it) or is gone from the models."""
    head = db.metadata.tables[table_name].c.get(column_name)
    if head is None or (isinstance(head.type, LargeBinary) != isinstance(reflected, LargeBinary)):
        return reflected
    return head.type


# -- what has been written -----------------------------------------------------------------------


@dataclass
class Dataset:
    """Ids and values the writers share, and the times the checks expect to find again."""

    now: datetime
    today: date
    totp_secret: str = field(default_factory=pyotp.random_base32)
    #: The manager's TOTP enrolment, started and not confirmed.
    pending_secret: str = field(default_factory=pyotp.random_base32)
    units: dict[str, CareUnit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    patients: dict[str, Patient] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def new(cls) -> Dataset:
        return cls(now=clock.now(), today=clock.today())

    @property
    def registered_at(self) -> datetime:
        return self.now - timedelta(days=60)

    @property
    def screened_at(self) -> datetime:
        return self.now - timedelta(days=25)

    @property
    def activated_at(self) -> datetime:
        return self.now - timedelta(days=20)

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def actor(self, username: str, unit: str | None, revision: str) -> Actor:
        user = self.users[username]
        place = self.units[unit] if unit else None
        return Actor(user=user, role=user.role, unit=place, request_id=f"release-{revision}")

    def case_id(self, schema: Schema, patient: str) -> int:
        return int(schema.value("coordination_cases", "id", patient_id=self.patients[patient].id))


def sealed(model: type[Any], name: str, uid: uuid.UUID, value: str) -> bytes:
    """``value`` sealed as the application seals ``model.name`` for the row ``uid``."""
    encrypted: bytes = getattr(model, name).encrypt(uid.hex, value)
    return encrypted


# -- 0001: users, care units, sign-in throttling -----------------------------------------------

#: username → (full name, title, role, units).
USERS = {
    "kim": ("Kim Koordinator", "Arbetsterapeut", Role.COORDINATOR, ("norr",)),
    "bo": ("Bo Bengtsson", "Fysioterapeut", Role.COORDINATOR, ("soder",)),
    "chef": ("Cecilia Chef", "Verksamhetschef", Role.MANAGER, ("norr", "soder")),
    "admin": ("Ada Admin", None, Role.ADMIN, ()),
}
UNITS = {
    "norr": ("Vårdcentralen Norr", "health_centre", "public"),
    "soder": ("Rehabmottagningen Söder", "clinic", "private"),
}
#: A username someone mistyped until it was locked: the row outlives every upgrade.
LOCKED_NAME = "kim.koordinatr"


def write_0001(schema: Schema, data: Dataset) -> None:
    """Units, users with real password hashes (Kim enrolled in TOTP, the manager halfway), and
    failed sign-ins: two of Kim's (cleared when Kim signs in) and a locked typo."""
    for key, (name, kind, provider) in UNITS.items():
        unit_id = schema.insert("care_units", name=name, kind=kind, provider_type=provider,
                                is_active=True, created_at=data.now)  # fmt: skip
        data.units[key] = CareUnit(id=unit_id, name=name)
    totp = pyotp.TOTP(data.totp_secret)
    for username, (full_name, title, role, units) in USERS.items():
        uid = uuid.uuid4()
        values: dict[str, Any] = {
            "username": username, "full_name": full_name, "title": title, "role": role.value,
            "password_hash": hash_password(PASSWORD), "session_token": new_session_token(),
            "must_change_password": False, "password_changed_at": data.now, "is_active": True,
            "created_at": data.now - timedelta(days=400),
        }  # fmt: skip
        if schema.since("0002"):  # a row identity, which the sealed TOTP secrets are bound to
            values["uid"] = uid
        if username == "kim":
            values["totp_secret"] = _totp_secret(schema, uid, "totp_secret", data.totp_secret)
            values["totp_enrolled_at"] = data.now - timedelta(days=300)
            values["totp_last_timestep"] = totp.timecode(data.now - timedelta(days=1))
        if username == "chef":
            values["totp_pending_secret"] = _totp_secret(
                schema, uid, "totp_pending_secret", data.pending_secret
            )
        user_id = schema.insert("users", **values)
        data.users[username] = User(id=user_id, full_name=full_name, role=role)
        for unit in units:
            schema.insert("user_units", user_id=user_id, unit_id=data.units[unit].id)
    for name, failures, locked_until in (
        ("kim", 2, None),
        (LOCKED_NAME, 5, data.now + timedelta(days=1)),
    ):
        schema.insert("login_throttles", key=throttle.key_for(name), failure_count=failures,
                      last_failure_at=data.now - timedelta(minutes=5),
                      locked_until=locked_until)  # fmt: skip


def _totp_secret(schema: Schema, uid: uuid.UUID, name: str, secret: str) -> str | bytes:
    """Plain text in 0001; from 0002 on sealed to the user's row."""
    return sealed(User, name, uid, secret) if schema.since("0002") else secret


# -- 0002: patients and both journals ----------------------------------------------------------

#: key → (personnummer, first name, last name, unit, registered by).
PATIENTS = {
    "tolvan": ("194107086995", "Tolvan", "Tolvansson", "norr", "kim"),
    "elva": ("198112289874", "Elva", "Elvasson", "norr", "kim"),
    "sven": ("196505055556", "Sven", "Svensson", "soder", "bo"),
}


def write_0002(schema: Schema, data: Dataset) -> None:
    """Three registered patients (sealed, blind-indexed), each registration logged; Kim reads
    two of them and signs a note on Tolvan's journal."""
    version = runtime.keys().current
    for key, (personnummer, first_name, last_name, unit, registrar) in PATIENTS.items():
        uid, unit_id = uuid.uuid4(), data.units[unit].id
        patient_id = schema.insert(
            "patients",
            uid=uid,
            unit_id=unit_id,
            personnummer=sealed(Patient, "personnummer", uid, personnummer),
            personnummer_bidx=Patient.personnummer.blind_index(personnummer, version),
            first_name=sealed(Patient, "first_name", uid, first_name),
            last_name=sealed(Patient, "last_name", uid, last_name),
            last_name_bidx=Patient.last_name.blind_index(last_name, version),
            created_at=data.registered_at,
        )
        if schema.since("0003"):  # registration opens the patient's coordination case
            schema.insert("coordination_cases", uid=uuid.uuid4(), patient_id=patient_id,
                          unit_id=unit_id, status="new", opened_at=data.registered_at,
                          version=1)  # fmt: skip
        patient = data.patients[key] = Patient(id=patient_id, uid=uid, unit_id=unit_id)
        actor = data.actor(registrar, unit, "0002")
        journal.record_access(actor, patient, AccessAction.CREATE, "patient", uid.hex)
    kim = data.actor("kim", "norr", "0002")
    for key in ("tolvan", "elva"):
        patient = data.patients[key]
        journal.record_access(kim, patient, AccessAction.READ, "patient", patient.uid.hex)
    journal.add_entry(kim, data.patients["tolvan"], EntryKind.NOTE, "Första samtal",
                      "Tolvan berättar om stress på arbetet och sömnsvårigheter.")  # fmt: skip


# -- 0003: patient details, certificates, coordination cases -----------------------------------


def write_0003(schema: Schema, data: Dataset) -> None:
    """Tolvan's details and employer, two certificates with the sick-leave summary they give,
    and Tolvan's case screened and offered coordination; Elva is unemployed."""
    kim = data.actor("kim", "norr", "0003")
    tolvan = data.patients["tolvan"]
    details: dict[str, Any] = {
        "phone": sealed(Patient, "phone", tolvan.uid, "070-123 45 67"),
        "email": sealed(Patient, "email", tolvan.uid, "tolvan@example.se"),
        "address": sealed(Patient, "address", tolvan.uid, "Storgatan 1, 123 45 Norrby"),
        "employment": "employed",
        "occupation": sealed(Patient, "occupation", tolvan.uid, "Undersköterska"),
    }
    if schema.since("0006"):  # employers are organisations in the directory
        details["employer_id"] = schema.insert(
            "organisations", uid=uuid.uuid4(), type="employer", name="ACME AB",
            name_key=normalise_name("ACME AB"), created_by_id=kim.user.id,
            created_at=data.now, updated_at=data.now, lock=1,
        )  # fmt: skip
    else:
        # Gone from the models (0006 moved it into the directory): sealed as they sealed it.
        details["employer_name"] = seal(
            runtime.keys(), "patients", "employer_name", tolvan.uid.hex, b"ACME AB"
        )
    certificates = [
        SimpleNamespace(start_on=data.day(-50), end_on=data.day(-21), degree=100),
        SimpleNamespace(start_on=data.day(-20), end_on=data.day(30), degree=50),
    ]
    for number, certificate in enumerate(certificates, start=1):
        uid = uuid.uuid4()
        certificate.created_at = data.now - timedelta(days=50 - number)
        certificate.diagnosis_code = "F43.8"
        certificate.id = schema.insert(
            "certificates", uid=uid, patient_id=tolvan.id, start_on=certificate.start_on,
            end_on=certificate.end_on, degree=certificate.degree,
            diagnosis_code=sealed(Certificate, "diagnosis_code", uid, "F43.8"),
            doctor=sealed(Certificate, "doctor", uid, "Dr Berg"), source="manual",
            created_by_id=kim.user.id, created_at=certificate.created_at,
        )  # fmt: skip
        journal.record_access(kim, tolvan, AccessAction.CREATE, "certificate", certificate.id)
        heading = f"Intyg {certificate.start_on} – {certificate.end_on}, {certificate.degree} %"
        journal.add_entry(kim, tolvan, EntryKind.CERTIFICATE_ADDED, heading,
                          "Diagnos F43.8. Utfärdat av Dr Berg.")  # fmt: skip
    summary = SimpleNamespace()
    refresh_summary(summary, certificates)  # type: ignore[arg-type]
    details |= {name: value for name, value in vars(summary).items() if name != "diagnosis"}
    details["diagnosis"] = sealed(Patient, "diagnosis", tolvan.uid, summary.diagnosis)
    schema.update("patients", tolvan.id, **details)
    schema.update("patients", data.patients["elva"].id, employment="unemployed")
    case_id = data.case_id(schema, "tolvan")
    case_uid = schema.value("coordination_cases", "uid", id=case_id)
    schema.update(
        "coordination_cases", case_id, coordinator_id=kim.user.id, assigned_at=data.screened_at,
        status="offered", screening_decision="offer", screened_at=data.screened_at,
        screening_reason=sealed(CoordinationCase, "screening_reason", case_uid,
                                "Lång sjukskrivning med stressrelaterad diagnos."),
        follow_up_on=data.day(14), version=3,
    )  # fmt: skip
    journal.add_entry(kim, tolvan, EntryKind.SCREENING_DECIDED, "Bedömning: erbjuds koordinering",
                      "Lång sjukskrivning med stressrelaterad diagnos.")  # fmt: skip
    schema.update("users", kim.user.id, today_seen_at=data.now - timedelta(hours=2))


# -- 0004: consents, withdrawals, disclosures --------------------------------------------------


def write_0004(schema: Schema, data: Dataset) -> None:
    """Tolvan consents to coordination, to contact with the employer (written, for a time) and
    with Försäkringskassan (withdrawn later); information goes to the employer; a disclosure
    to the municipality is refused; the case becomes active."""
    kim = data.actor("kim", "norr", "0004")
    tolvan = data.patients["tolvan"]
    given = {
        "coordination": ("oral", None, "Samordning av rehabiliteringen", None),
        "employer": ("written", "ACME AB", "Planera återgång med arbetsgivaren", "SA-17"),
        "social_insurance": ("digital", None, "Underlag till Försäkringskassan", None),
    }
    for kind, (method, recipient, purpose, form) in given.items():
        uid = uuid.uuid4()
        data.ids[f"consent_{kind}"] = schema.insert(
            "consents", uid=uid, patient_id=tolvan.id, unit_id=tolvan.unit_id, kind=kind,
            answer="given", method=method, given_on=data.day(-22),
            recipient_name=recipient and sealed(Consent, "recipient_name", uid, recipient),
            purpose=sealed(Consent, "purpose", uid, purpose),
            form_reference=form and sealed(Consent, "form_reference", uid, form),
            valid_until=data.day(180) if kind == "employer" else None,
            recorded_by_id=kim.user.id, recorded_at=data.now - timedelta(days=22),
        )  # fmt: skip
        journal.add_entry(kim, tolvan, EntryKind.CONSENT_RECORDED, "Samtycke registrerat",
                          purpose)  # fmt: skip
    uid = uuid.uuid4()
    note = sealed(ConsentWithdrawal, "note", uid, "Sköter kontakten själv.")
    schema.insert("consent_withdrawals", uid=uid, consent_id=data.ids["consent_social_insurance"],
                  withdrawn_on=data.day(-5), recorded_by_id=kim.user.id, recorded_at=data.now,
                  note=note)  # fmt: skip
    journal.add_entry(kim, tolvan, EntryKind.CONSENT_WITHDRAWN, "Samtycke återkallat",
                      "Försäkringskassan: sköter kontakten själv.")  # fmt: skip
    uid = uuid.uuid4()
    disclosure = schema.insert(
        "disclosures", uid=uid, patient_id=tolvan.id, unit_id=tolvan.unit_id,
        consent_id=data.ids["consent_employer"], recipient="employer",
        recipient_name=sealed(Disclosure, "recipient_name", uid, "ACME AB"),
        disclosed_on=data.day(-10), recorded_by_id=kim.user.id, recorded_at=data.now,
        summary=sealed(Disclosure, "summary", uid, "Arbetsförmåga och plan för återgång"),
    )  # fmt: skip
    journal.record_access(kim, tolvan, AccessAction.DISCLOSE, "disclosure", disclosure)
    journal.add_entry(kim, tolvan, EntryKind.DISCLOSURE, "Utlämnat till ACME AB",
                      "Arbetsförmåga och plan för återgång.")  # fmt: skip
    journal.record_access(kim, tolvan, AccessAction.DENIED, "disclosure", "municipality")
    activation: dict[str, Any] = {"status": "active", "version": 4}
    if schema.since("0007"):  # the activation's time is kept
        activation["activated_at"] = data.activated_at
    schema.update("coordination_cases", data.case_id(schema, "tolvan"), **activation)
    journal.add_entry(kim, tolvan, EntryKind.CASE_UPDATED, "Koordinering påbörjad",
                      "Patienten har samtyckt till koordinering.")  # fmt: skip


# -- 0005: mapping, plan, measures, follow-up, treatment ---------------------------------------


def write_0005(schema: Schema, data: Dataset) -> None:
    """Kim's work phone; Tolvan's signed mapping and an agreed plan with two measures, one
    follow-up and a KBT treatment."""
    kim = data.actor("kim", "norr", "0005")
    tolvan, case_id = data.patients["tolvan"], data.case_id(schema, "tolvan")
    schema.update("users", kim.user.id, phone="010-123 45 00")
    owned = {"patient_id": tolvan.id, "unit_id": tolvan.unit_id, "case_id": case_id}
    uid = uuid.uuid4()
    schema.insert(
        "mappings", uid=uid, **owned, number=1, created_by_id=kim.user.id,
        created_at=data.now - timedelta(days=19), updated_by_id=kim.user.id,
        updated_at=data.now - timedelta(days=19), signed_by_id=kim.user.id,
        signed_at=data.now - timedelta(days=19), lock=2,
        work_situation=sealed(PlanMapping, "work_situation", uid, "Heltid på avdelning 4."),
        obstacles=sealed(PlanMapping, "obstacles", uid, "Stress, sömnbrist."),
        own_goal=sealed(PlanMapping, "own_goal", uid, "Tillbaka till mitt jobb."),
    )  # fmt: skip
    plan_id = schema.insert("rehab_plans", uid=uuid.uuid4(), **owned,
                            next_follow_up_on=data.day(14), created_by_id=kim.user.id,
                            created_at=data.now - timedelta(days=18), updated_by_id=kim.user.id,
                            updated_at=data.now - timedelta(days=3), lock=3)  # fmt: skip
    uid = uuid.uuid4()
    version_id = data.ids["plan_version"] = schema.insert(
        "plan_versions", uid=uid, plan_id=plan_id, number=1, goal="own_job", goal_degree=100,
        starts_on=data.day(-18), target_on=data.day(60), created_by_id=kim.user.id,
        created_at=data.now - timedelta(days=18), agreed_on=data.day(-18),
        agreement_method="meeting", agreed_recorded_by_id=kim.user.id,
        goal_text=sealed(PlanVersion, "goal_text", uid, "Undersköterska på heltid igen"),
    )  # fmt: skip
    for position, (actor, name, description, status, due) in enumerate((
        ("employer", "ACME AB", "Anpassade arbetsuppgifter", "ongoing", 30),
        ("care_unit", None, "KBT hos vårdcentralens psykolog", "planned", 45),
    ), start=1):  # fmt: skip
        uid = uuid.uuid4()
        data.ids[f"measure_{position}"] = schema.insert(
            "measures", uid=uid, version_id=version_id, position=position, actor=actor,
            actor_name=name and sealed(Measure, "actor_name", uid, name),
            description=sealed(Measure, "description", uid, description), status=status,
            starts_on=data.day(-14), due_on=data.day(due),
        )  # fmt: skip
    uid = uuid.uuid4()
    schema.insert("plan_follow_ups", uid=uid, plan_id=plan_id, version_id=version_id,
                  held_on=data.day(-3), next_on=data.day(14), ended_plan=False,
                  recorded_by_id=kim.user.id, recorded_at=data.now - timedelta(days=3),
                  notes=sealed(FollowUp, "notes", uid, "Går framåt."))  # fmt: skip
    uid = uuid.uuid4()
    schema.insert("treatments", uid=uid, **owned, kind=sealed(Treatment, "kind", uid, "kbt"),
                  provider="own_unit", provider_type="public", started_on=data.day(-14),
                  sessions=4, created_by_id=kim.user.id, created_at=data.now,
                  updated_at=data.now, lock=1)  # fmt: skip
    for kind, heading in (
        (EntryKind.PLAN_CHANGED, "Kartläggning signerad"),
        (EntryKind.PLAN_CREATED, "Rehabiliteringsplan upprättad"),
        (EntryKind.PLAN_CHANGED, "Planen överenskommen med patienten"),
        (EntryKind.PLAN_CHANGED, "Uppföljning av planen"),
        (EntryKind.PLAN_CHANGED, "Behandling registrerad: KBT"),
    ):
        journal.add_entry(kim, tolvan, kind, heading, f"{heading}.")


# -- 0006: directory, contact persons, contacts -------------------------------------------------


def write_0006(schema: Schema, data: Dataset) -> None:
    """Försäkringskassan in the directory; Tolvan's manager at ACME AB; two contacts, one about
    the employer measure with a next step."""
    kim = data.actor("kim", "norr", "0006")
    tolvan, case_id = data.patients["tolvan"], data.case_id(schema, "tolvan")
    version, uid = runtime.keys().current, uuid.uuid4()
    insurance = schema.insert(
        "organisations", uid=uid, type="social_insurance", name="Försäkringskassan",
        name_key=normalise_name("Försäkringskassan"),
        org_number=sealed(Organisation, "org_number", uid, "202100-5521"),
        org_number_bidx=Organisation.org_number.blind_index("202100-5521", version),
        created_by_id=kim.user.id, created_at=data.now, updated_at=data.now, lock=1,
    )  # fmt: skip
    employer = int(schema.value("organisations", "id", name_key="acme ab"))
    uid = uuid.uuid4()
    manager = schema.insert(
        "contact_persons", uid=uid, organisation_id=employer, created_by_id=kim.user.id,
        created_at=data.now, lock=1, name=sealed(ContactPerson, "name", uid, "Lena Larsson"),
        role=sealed(ContactPerson, "role", uid, "Närmaste chef"),
    )  # fmt: skip
    schema.update("patients", tolvan.id, employer_manager_id=manager)
    for organisation, person, days_ago, channel, kind, initiated_by, notes, step in (
        (employer, manager, 2, "phone", "planning", "care", "Chefen ordnar anpassningar.",
         "Boka trepartsmöte"),
        (insurance, None, 1, "letter", "information", "external", "FK begär planen.", None),
    ):  # fmt: skip
        uid = uuid.uuid4()
        contact = schema.insert(
            "contact_events", uid=uid, patient_id=tolvan.id, unit_id=tolvan.unit_id,
            case_id=case_id, organisation_id=organisation, contact_person_id=person,
            occurred_at=data.now - timedelta(days=days_ago), channel=channel, kind=kind,
            initiated_by=initiated_by, measure_id=data.ids["measure_1"] if person else None,
            next_step_on=data.day(7) if step else None, recorded_by_id=kim.user.id,
            recorded_at=data.now, notes=sealed(ContactEvent, "notes", uid, notes),
            next_step=step and sealed(ContactEvent, "next_step", uid, step),
        )  # fmt: skip
        journal.record_access(kim, tolvan, AccessAction.CREATE, "contact", contact)
        journal.add_entry(kim, tolvan, EntryKind.CONTACT_LOGGED, "Kontakt loggad", notes)


# -- 0007: report settings, an exported report -------------------------------------------------


def write_0007(schema: Schema, data: Dataset) -> None:
    """The manager's targets and Norr's population; a quarterly report exported (logged per
    patient counted)."""
    chef = data.actor("chef", "norr", "0007")
    norr = data.units["norr"].id
    for indicator, target in (("plan_coverage", 80), ("days_to_first_contact", 14)):
        schema.insert("indicator_targets", unit_id=norr, indicator=indicator, target=target,
                      set_by_id=chef.user.id, set_at=data.now)  # fmt: skip
    schema.insert("unit_populations", unit_id=norr, population=12000, set_by_id=chef.user.id,
                  set_at=data.now)  # fmt: skip
    patients = [data.patients["tolvan"].id, data.patients["elva"].id]
    journal.record_export(chef, patients, "quarterly")


# -- 0008: access-log follow-up ----------------------------------------------------------------


def write_0008(schema: Schema, data: Dataset) -> None:
    """Last night's verification of both chains, and a signed sample check of Norr's accesses
    with two items copied from the access log."""
    heads = dict(db.session.execute(select(schema.table("journal_heads").c.chain,
                                           schema.table("journal_heads").c.seq)).all())  # fmt: skip
    started = data.now - timedelta(hours=8)
    schema.insert("chain_verifications", started_at=started, updated_at=started,
                  finished_at=started, total=sum(heads.values()), done=sum(heads.values()),
                  access_verified=heads["access"], case_verified=heads["case"])  # fmt: skip
    chef = data.actor("chef", "norr", "0008")
    uid, norr = uuid.uuid4(), data.units["norr"]
    check = SimpleNamespace(
        uid=uid, reviewer_id=chef.user.id, unit_id=norr.id, role="manager",
        period_start=data.day(-30), period_end=data.today, population=heads["access"],
        criteria=json.dumps({"criteria": ["random"], "random": 2}, sort_keys=True),
        drawn_at=data.now - timedelta(hours=1),
    )  # fmt: skip
    check.id = schema.insert("log_checks", **vars(check))
    schema.insert("log_check_units", check_id=check.id, unit_id=norr.id)
    log = schema.table("access_log")
    items = []
    for position, entry in enumerate(
        db.session.execute(select(log).order_by(log.c.seq).limit(2)), start=1
    ):
        item = SimpleNamespace(
            uid=uuid.uuid4(), check_id=check.id, position=position, access_seq=entry.seq,
            at=entry.at, user_id=entry.user_id, access_unit_id=entry.unit_id,
            access_role=entry.role, patient_id=entry.patient_id, action=entry.action,
            object_type=entry.object_type, request_id=entry.request_id, reasons="random",
            finding="justified",
        )  # fmt: skip
        comment = "Registrering av ny patient."
        sealed_comment = sealed(LogCheckItem, "comment", item.uid, comment)
        item.id = schema.insert("log_check_items", **vars(item), comment=sealed_comment)
        item.comment = comment
        items.append(item)
    # Signing fixes the check: its content is sealed (the HMAC the application computes).
    version = runtime.keys().current
    check.signed_at, check.summary, check.units = data.now, "Inga avvikelser.", [norr]
    seal = checks._seal(check, items, version)  # type: ignore[arg-type]
    schema.update("log_checks", check.id, signed_at=check.signed_at, key_version=version,
                  summary=sealed(LogCheck, "summary", uid, check.summary), seal=seal)  # fmt: skip
    data.ids["log_check"] = check.id


# -- the releases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A revision and the data it introduced: the rows that data is at head, by table; the
    entries it appends to each chain; what Tolvan's page shows of it."""

    revision: str
    write: Callable[[Schema, Dataset], None]
    rows: Mapping[str, int]
    access: int
    case: int
    shown: tuple[str, ...] = ()


RELEASES = (
    Release("0001", write_0001,
            {"care_units": 2, "users": 4, "user_units": 4, "login_throttles": 2}, 0, 0),
    Release("0002", write_0002, {"patients": 3, "coordination_cases": 3}, 6, 1, (
        "Patienter Tolvan Tolvansson 19410708-6995",
        "Första samtal Tolvan berättar om stress på arbetet och sömnsvårigheter.",
    )),
    Release("0003", write_0003, {"certificates": 2, "organisations": 1}, 5, 3, (
        "Adress Storgatan 1, 123 45 Norrby Telefon 070-123 45 67 E-post tolvan@example.se",
        "Sysselsättning Anställd, Undersköterska Arbetsgivare ACME AB",
        "Erbjud koordinering",
        "Lång sjukskrivning med stressrelaterad diagnos.",
        "50 % F43.8 Andra specificerade reaktioner på svår stress Dr Berg",
    )),
    Release("0004", write_0004, {"consents": 3, "consent_withdrawals": 1, "disclosures": 1}, 8, 6, (
        "Koordinering Aktiv",
        "Planera återgång med arbetsgivaren",
        "blankett: SA-17",
        "Sköter kontakten själv.",
        "Arbetsförmåga och plan för återgång",
    )),
    Release("0005", write_0005, {"mappings": 1, "rehab_plans": 1, "plan_versions": 1,
                                 "measures": 2, "plan_follow_ups": 1, "treatments": 1}, 5, 5, (
        "Kartläggning Signerad",
        "Eget arbete, 100 %",
        "Behandlingar KBT (kognitiv beteendeterapi)",
    )),
    Release("0006", write_0006, {"organisations": 1, "contact_persons": 1, "contact_events": 2},
            4, 2, (
        "Arbetsgivare ACME AB · chef Lena Larsson",
        "Lena Larsson, Närmaste chef Chefen ordnar anpassningar.",
        "Nästa steg: Boka trepartsmöte",
        "FK begär planen.",
    )),
    Release("0007", write_0007, {"indicator_targets": 2, "unit_populations": 1}, 2, 0),
    Release("0008", write_0008, {"chain_verifications": 1, "log_checks": 1,
                                 "log_check_units": 1, "log_check_items": 2}, 0, 0),
)  # fmt: skip


def count(table_name: str) -> int:
    return int(db.session.execute(select(func.count()).select_from(table(table_name))).scalar_one())
