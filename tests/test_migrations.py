"""Migrations build the schema the models describe, and can be undone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import (
    Date,
    Integer,
    LargeBinary,
    String,
    Uuid,
    column,
    insert,
    inspect,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import DatabaseError

from coordinator import clock
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.contacts.models import (
    Channel,
    ContactEvent,
    ContactKind,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.crypto import runtime
from coordinator.crypto.envelope import seal
from coordinator.database import UTCDateTime
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, EntryKind
from coordinator.patients.models import CoordinationCase, Patient
from tests.conftest import make_app
from tests.crypto.support import actor_for
from tests.databases import DatabaseFactory
from tests.factories import PatientFactory, UnitFactory, UserFactory
from tests.migration_support import opened as _opened
from tests.migration_support import schema_differences as _differences


@pytest.fixture
def empty_app(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Flask]:
    url = databases.empty()
    app = make_app(url, tmp_path / "instance")
    yield app
    with app.app_context():
        db.engine.dispose()
    databases.drop(url)


def _actor_in_old_schema(unit: CareUnit, full_name: str = "Kim Koordinator") -> Actor:
    """A coordinator of ``unit`` written with plain SQL — the model has columns an earlier
    revision's users table lacks — and an actor that refers to it without loading it."""
    user_id = db.session.execute(
        insert(User.__table__).values(
            uid=uuid.uuid4(), username="kim", full_name=full_name, role="coordinator",
            password_hash="-", session_token="-", must_change_password=False,
            password_changed_at=clock.now(), is_active=True, created_at=clock.now(),
        )
    ).inserted_primary_key[0]  # fmt: skip
    user = User(id=user_id, full_name=full_name, role=Role.COORDINATOR)
    return Actor(user=user, role=Role.COORDINATOR, unit=unit, request_id="migration-test")


#: The patients table as revisions 0003 to 0005 have it — the columns a patient needs there.
_OLD_PATIENTS = table(
    "patients",
    column("id", Integer),
    column("uid", Uuid),
    column("unit_id", Integer),
    column("personnummer", LargeBinary),
    column("personnummer_bidx", LargeBinary),
    column("first_name", LargeBinary),
    column("last_name", LargeBinary),
    column("last_name_bidx", LargeBinary),
    column("employer_name", LargeBinary),
    column("employment", String),
    column("occupation", LargeBinary),
    column("created_at", UTCDateTime),
)


def _patient_in_old_schema(
    unit: CareUnit,
    personnummer: str,
    first_name: str = "Anna",
    last_name: str = "Andersson",
    employer: str | None = None,
    employment: str = "employed",
    occupation: str | None = None,
) -> Patient:
    """A patient of ``unit`` written with plain SQL, sealed as the application seals — the
    model has columns an earlier revision's patients table lacks — with its coordination case,
    and a patient object that refers to it without loading it."""
    uid, version = uuid.uuid4(), runtime.keys().current
    values = {
        "uid": uid,
        "unit_id": unit.id,
        "personnummer": Patient.personnummer.encrypt(uid.hex, personnummer),
        "personnummer_bidx": Patient.personnummer.blind_index(personnummer, version),
        "first_name": Patient.first_name.encrypt(uid.hex, first_name),
        "last_name": Patient.last_name.encrypt(uid.hex, last_name),
        "last_name_bidx": Patient.last_name.blind_index(last_name, version),
        "created_at": clock.now(),
        "employment": employment,
    }
    if occupation is not None:
        values["occupation"] = Patient.occupation.encrypt(uid.hex, occupation)
    if employer is not None:
        values["employer_name"] = seal(
            runtime.keys(), "patients", "employer_name", uid.hex, employer.encode("utf-8")
        )
    patient_id = db.session.execute(
        insert(_OLD_PATIENTS).values(values).returning(_OLD_PATIENTS.c.id)
    ).scalar_one()
    _case_in_old_schema(patient_id, unit.id)
    return Patient(id=patient_id, uid=uid, unit_id=unit.id)


#: The coordination cases table as revisions 0003 to 0006 have it (no ``activated_at``).
_OLD_CASES = table(
    "coordination_cases",
    column("id", Integer),
    column("uid", Uuid),
    column("patient_id", Integer),
    column("unit_id", Integer),
    column("status", String),
    column("opened_at", UTCDateTime),
    column("screening_decision", String),
    column("screened_at", UTCDateTime),
    column("closed_on", Date),
    column("outcome", String),
    column("version", Integer),
)


def _case_in_old_schema(patient_id: int, unit_id: int, **values: Any) -> int:
    """A coordination case written with plain SQL (the model has columns 0003–0006 lack)."""
    row = {"uid": uuid.uuid4(), "patient_id": patient_id, "unit_id": unit_id, "status": "new",
           "opened_at": clock.now(), "version": 1, **values}  # fmt: skip
    return int(db.session.execute(
        insert(_OLD_CASES).values(row).returning(_OLD_CASES.c.id)
    ).scalar_one())  # fmt: skip


def _columns(table_name: str) -> set[str]:
    return {found["name"] for found in inspect(db.session.connection()).get_columns(table_name)}


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()

        assert _differences(empty_app) == []


def test_every_migration_can_be_undone_and_redone(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()
        assert _differences(empty_app) == []


def test_0004_keeps_both_journal_chains_and_their_guards_and_admits_the_new_values(
    empty_app: Flask,
) -> None:
    """0004 widens two CHECK constraints; on SQLite that rebuilds both journal tables."""
    with empty_app.app_context():
        upgrade(revision="0003")
        unit = UnitFactory()
        actor = _actor_in_old_schema(unit)
        user = actor.user
        patient = _patient_in_old_schema(unit, "194107086995")
        journal.add_entry(actor, patient, EntryKind.NOTE, "Första kontakt", "Samtal.")
        journal.record_access(actor, patient, AccessAction.READ)
        db.session.commit()

        upgrade()

        chains = [(v.chain.value, v.verified, v.is_intact) for v in journal.verify_all()]
        assert chains == [("access", 2, True), ("case", 1, True)]
        actor = actor_for(user, unit)
        patient = db.session.get(Patient, patient.id)
        journal.record_access(actor, patient, AccessAction.DENIED, "disclosure", "employer")
        journal.add_entry(actor, patient, EntryKind.DISCLOSURE, "Utlämnat", "Till FK.")
        db.session.commit()
        assert [(v.verified, v.is_intact) for v in journal.verify_all()] == [(4, True), (2, True)]
        for statement in (
            "UPDATE access_log SET object_type = 'x'",
            "DELETE FROM access_log",
            "UPDATE case_journal SET kind = 'note'",
            "DELETE FROM case_journal",
        ):
            with pytest.raises(DatabaseError):
                db.session.execute(text(statement))
            db.session.rollback()


def test_0005_keeps_existing_users_without_a_phone_and_can_be_undone(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade(revision="0004")
        user_id = _actor_in_old_schema(UnitFactory(), "Kim Koordinator").user.id
        db.session.commit()

        upgrade(revision="0005")

        assert db.session.execute(
            text("SELECT full_name, phone FROM users WHERE id = :id"), {"id": user_id}
        ).one() == ("Kim Koordinator", None)
        db.session.rollback()
        plans = {"mappings", "rehab_plans", "plan_versions", "measures", "plan_follow_ups"}
        assert plans <= set(inspect(db.engine).get_table_names())

        downgrade(revision="0004")

        assert "rehab_plans" not in inspect(db.engine).get_table_names()
        assert (
            db.session.execute(
                text("SELECT full_name FROM users WHERE id = :id"), {"id": user_id}
            ).scalar_one()
            == "Kim Koordinator"
        )


def test_0006_keeps_the_text_of_patients_without_an_employer_in_their_occupation(
    empty_app: Flask,
) -> None:
    """The self-employed name their own firm, the unemployed a former employer: neither is an
    employer to link, and the text is not lost."""
    with empty_app.app_context():
        upgrade(revision="0005")
        unit = UnitFactory()
        own_firm = _patient_in_old_schema(
            unit, "194107086995", "Anna", "Ek", employer="Salong Saxen",
            employment="self_employed", occupation="Frisör",
        )  # fmt: skip
        former = _patient_in_old_schema(
            unit, "198112289874", "Bo", "Ek", employer="Butiken AB", employment="unemployed"
        )
        db.session.commit()

        upgrade(revision="0006")

        assert db.session.execute(text("SELECT count(*) FROM organisations")).scalar_one() == 0
        rows = db.session.execute(
            text("SELECT id, employer_id, occupation FROM patients ORDER BY id")
        ).all()
        uids = {own_firm.id: own_firm.uid, former.id: former.uid}
        assert [
            (row.employer_id, _opened("patients", "occupation", uids[row.id], row.occupation))
            for row in rows
        ] == [(None, "Frisör, Salong Saxen"), (None, "Butiken AB")]


def test_0006_moves_free_text_employers_into_the_directory_and_back(empty_app: Flask) -> None:
    """Each distinct employer text (case and spacing aside) becomes one employer organisation.

    On SQLite, adding the links and dropping the text rebuild the patients table while the
    coordination cases refer to its rows: the migrations run with foreign keys off for that.
    """
    with empty_app.app_context():
        upgrade(revision="0005")
        unit = UnitFactory()
        written = [
            _patient_in_old_schema(unit, "194107086995", "Anna", "Ek", employer="ACME AB"),
            _patient_in_old_schema(unit, "198112289874", "Bo", "Ek", employer=" acme  ab"),
            _patient_in_old_schema(unit, "197001011236", "Cia", "Ek", employer="Kommunen"),
            _patient_in_old_schema(unit, "196505055556", "Dan", "Ek"),
        ]
        db.session.commit()
        uids = {patient.id: patient.uid for patient in written}
        referring = text("SELECT id, patient_id FROM coordination_cases ORDER BY id")
        cases = db.session.execute(referring).all()
        assert sorted(patient_id for _, patient_id in cases) == sorted(uids)
        db.session.rollback()

        upgrade(revision="0006")

        organisations = db.session.execute(
            text(
                "SELECT id, type, name, name_key, org_number, created_by_id, lock "
                "FROM organisations ORDER BY id"
            )
        ).all()
        assert [tuple(row[1:]) for row in organisations] == [
            ("employer", "ACME AB", "acme ab", None, None, 1),
            ("employer", "Kommunen", "kommunen", None, None, 1),
        ]
        acme, kommunen = (row.id for row in organisations)
        patients = db.session.execute(
            text("SELECT id, employer_id, first_name FROM patients ORDER BY id")
        ).all()
        assert [(row.id, row.employer_id) for row in patients] == [
            (written[0].id, acme),
            (written[1].id, acme),
            (written[2].id, kommunen),
            (written[3].id, None),
        ]
        names = [
            _opened("patients", "first_name", uids[row.id], row.first_name) for row in patients
        ]
        assert names == ["Anna", "Bo", "Cia", "Dan"]
        assert {"employer_id", "employer_manager_id"} <= _columns("patients")
        assert "employer_name" not in _columns("patients")
        assert db.session.execute(referring).all() == cases
        db.session.rollback()

        downgrade(revision="0005")

        assert {"organisations", "contact_persons", "contact_events"}.isdisjoint(
            inspect(db.session.connection()).get_table_names()
        )
        assert "employer_id" not in _columns("patients")
        patients = db.session.execute(
            text("SELECT id, employer_name FROM patients ORDER BY id")
        ).all()
        employers = [
            _opened("patients", "employer_name", uids[row.id], row.employer_name)
            for row in patients
        ]
        assert employers == ["ACME AB", "ACME AB", "Kommunen", None]
        assert db.session.execute(referring).all() == cases
        db.session.rollback()


def test_0006_lets_only_key_rotation_rewrite_a_contact(empty_app: Flask) -> None:
    """Contacts are history: the database refuses to change or delete them, and lets key
    rotation write new ciphertext of their sealed columns."""
    with empty_app.app_context():
        upgrade()
        unit = UnitFactory()
        user = UserFactory(units=[unit])
        patient = PatientFactory(unit_id=unit.id, personnummer="194107086995")
        case = db.session.query(CoordinationCase).filter_by(patient_id=patient.id).one()
        employer = Organisation(type=OrganisationType.EMPLOYER, name="ACME AB", name_key="acme ab")
        db.session.add(employer)
        db.session.flush()
        contact = ContactEvent(
            patient_id=patient.id,
            unit_id=unit.id,
            case_id=case.id,
            organisation_id=employer.id,
            occurred_at=clock.now() - timedelta(hours=1),
            channel=Channel.PHONE,
            kind=ContactKind.INFORMATION,
            initiated_by=Initiator.CARE,
            recorded_by_id=user.id,
        )
        contact.notes = "Chefen ringde om arbetstider."
        contact.next_step = "Ring tillbaka."
        db.session.add(contact)
        db.session.commit()
        contact_id, uid = contact.id, contact.uid
        stored = "SELECT kind, notes, next_step FROM contact_events"
        before = db.session.execute(text(stored)).all()
        db.session.rollback()

        for statement in (
            "UPDATE contact_events SET kind = 'other'",
            "UPDATE contact_events SET occurred_at = recorded_at",
            "UPDATE contact_events SET notes = next_step, channel = 'email'",
            "DELETE FROM contact_events",
            # SQLite has no TRUNCATE; on PostgreSQL it would skip the row triggers.
            *(
                ["TRUNCATE contact_events CASCADE", "TRUNCATE plan_follow_ups CASCADE"]
                if db.engine.dialect.name == "postgresql"
                else []
            ),
        ):
            with pytest.raises(DatabaseError) as refused:
                db.session.execute(text(statement))
            db.session.rollback()
            assert any(
                message in str(refused.value)
                for message in (
                    "contact_events is history",
                    "contact_events is append-only",
                    "plan_follow_ups is append-only",
                )
            ), str(refused.value)
            assert db.session.execute(text(stored)).all() == before
            db.session.rollback()

        notes = ContactEvent.notes.encrypt(uid.hex, "Chefen ringde om arbetstider.")
        next_step = ContactEvent.next_step.encrypt(uid.hex, "Ring tillbaka.")
        db.session.execute(text("UPDATE contact_events SET notes = notes"))
        db.session.execute(update(ContactEvent.__table__).values(notes=notes, next_step=next_step))
        db.session.commit()

        row = db.session.execute(text(stored)).one()
        assert (row.kind, bytes(row.notes), bytes(row.next_step)) == (
            "information",
            notes,
            next_step,
        )
        assert [
            _opened("contact_events", name, uid, sealed)
            for name, sealed in (("notes", row.notes), ("next_step", row.next_step))
        ] == ["Chefen ringde om arbetstider.", "Ring tillbaka."]
        assert contact_id == db.session.execute(text("SELECT id FROM contact_events")).scalar_one()


def test_0007_dates_the_activation_of_cases_that_were_offered_and_went_on(
    empty_app: Flask,
) -> None:
    """Cases offered coordination and then active, or closed with another outcome than a
    refusal, get the screening time as activation time; the others stay without one."""
    screened = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with empty_app.app_context():
        upgrade(revision="0006")
        unit = UnitFactory()
        patient_id = _patient_in_old_schema(unit, "194107086995").id
        offer = {"screening_decision": "offer", "screened_at": screened}
        closed = {"status": "closed", "closed_on": date(2026, 5, 1)}
        ids = {
            "active": _case_in_old_schema(patient_id, unit.id, status="active", **offer),
            "returned": _case_in_old_schema(
                patient_id, unit.id, **closed, outcome="returned_full_time", **offer
            ),
            "declined": _case_in_old_schema(
                patient_id, unit.id, **closed, outcome="declined", **offer
            ),
            "offered": _case_in_old_schema(patient_id, unit.id, status="offered", **offer),
            "not_needed": _case_in_old_schema(
                patient_id, unit.id, screening_decision="not_needed", screened_at=screened
            ),
        }
        db.session.commit()

        upgrade(revision="0007")

        cases = table("coordination_cases", column("id", Integer),
                      column("activated_at", UTCDateTime))  # fmt: skip
        activated = dict(db.session.execute(select(cases.c.id, cases.c.activated_at)).all())
        expected = {"active": screened, "returned": screened, "declined": None,
                    "offered": None, "not_needed": None}  # fmt: skip
        assert {name: activated[case_id] for name, case_id in ids.items()} == expected
