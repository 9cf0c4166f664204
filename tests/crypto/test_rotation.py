"""Key rotation: everything re-encrypted under a new version, the old one retired, and a run
killed halfway finished by the next one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select, text

from coordinator import clock, create_app
from coordinator.auth.models import User
from coordinator.consents import service as consents
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentMethod,
    Disclosure,
)
from coordinator.crypto import runtime
from coordinator.crypto.envelope import key_version, seal
from coordinator.crypto.keys import KeyRing, KeyStatus
from coordinator.crypto.models import EncryptionCanary
from coordinator.crypto.rotation import RotationRefused, rotate
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, CaseJournalEntry, EntryKind
from coordinator.patients.models import Patient
from coordinator.patients.service import find_by_personnummer
from tests.conftest import TEST_KEYS, PatientRef, UnitRef, UserRef, World, make_app
from tests.crypto.support import (
    SEALED_COLUMNS,
    actor_for,
    add_patient,
    running,
    stored,
    versions_in_database,
)
from tests.databases import DatabaseFactory
from tests.factories import PatientFactory, UnitFactory, UserFactory

#: The ``coordinator`` command of this virtual environment.
COORDINATOR = Path(sys.executable).parent / "coordinator"


def _ring(text: str) -> KeyRing:
    return KeyRing.parse(text, source="test")


def _key_file(instance: Path) -> KeyRing:
    return _ring((instance / "encryption_keys").read_text())


@dataclass
class Written:
    """What the tests wrote, in plaintext, to compare with what comes back."""

    patients: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    entries: dict[int, tuple[str, str]] = field(default_factory=dict)
    totp: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def values(self) -> int:
        """How many encrypted values that makes."""
        secrets = sum(value is not None for pair in self.totp.values() for value in pair)
        return 3 * len(self.patients) + 2 * len(self.entries) + secrets


def _write(world: World, patients: int) -> Written:
    """Patients in both units, case journal entries (one a correction) and TOTP secrets."""
    assert patients >= 5, "the searches below look for patient number 4"
    written = Written()
    for patient in db.session.scalars(select(Patient)):  # the world's own patients
        written.patients[patient.id] = (patient.personnummer, patient.first_name, patient.last_name)
    units = [world.unit_a, world.unit_b]
    rows = []
    for number in range(patients):
        values = (f"19800101{number:04d}", f"Förnamn {number}", f"Efternamn{number % 7}")
        patient = Patient(unit_id=units[number % 2].id)
        patient.personnummer, patient.first_name, patient.last_name = values
        rows.append((patient, values))
    db.session.add_all([patient for patient, _ in rows])
    db.session.flush()
    written.patients.update({patient.id: values for patient, values in rows})
    actor = actor_for(world.coordinator_a, world.unit_a, request_id="rotation-test")
    first, second = rows[0][0], rows[2][0]
    texts = [
        (first, "Första kontakt", "Samtal om återgång i arbete, 50 %."),
        (first, "Plan", "Arbetsträning tre dagar i veckan."),
        (second, "Kontakt med arbetsgivare", "Arbetsgivaren är positiv."),
    ]
    entries = [journal.add_entry(actor, p, EntryKind.NOTE, h, b) for p, h, b in texts]
    correction = journal.add_entry(
        actor, first, EntryKind.NOTE, "Plan", "Arbetsträning två dagar.", corrects=entries[1]
    )
    for entry, (_, heading, body) in zip(entries, texts, strict=True):
        written.entries[entry.seq] = (heading, body)
    written.entries[correction.seq] = ("Plan", "Arbetsträning två dagar.")
    journal.record_access(actor, second, AccessAction.READ)
    for ref, secret, pending in (
        (world.coordinator_a, pyotp.random_base32(), None),
        (world.coordinator_b, None, pyotp.random_base32()),
        (world.manager, pyotp.random_base32(), pyotp.random_base32()),
    ):
        user = db.session.get(User, ref.id)
        assert user is not None
        user.totp_secret, user.totp_pending_secret = secret, pending
        written.totp[ref.id] = (secret, pending)
    db.session.commit()
    return written


def _assert_everything_reads_back(written: Written) -> None:
    db.session.remove()
    patients = {p.id: p for p in db.session.scalars(select(Patient))}
    assert {
        patient_id: (p.personnummer, p.first_name, p.last_name)
        for patient_id, p in patients.items()
    } == written.patients
    entries = db.session.scalars(select(CaseJournalEntry).order_by(CaseJournalEntry.seq))
    assert {entry.seq: (entry.heading, entry.body) for entry in entries} == written.entries
    for user_id, secrets in written.totp.items():
        user = db.session.get(User, user_id)
        assert user is not None
        assert (user.totp_secret, user.totp_pending_secret) == secrets


def _assert_search_works(world: World, written: Written) -> None:
    """Search by personnummer (10 digits) and by last name (another case) finds the rows."""
    actor = actor_for(world.coordinator_a, world.unit_a)
    found = find_by_personnummer(actor, "800101-0004")
    assert found is not None
    assert (found.personnummer, found.first_name) == ("198001010004", "Förnamn 4")
    same_name = db.session.scalars(
        select(Patient).where(Patient.last_name.equals("EFTERNAMN4")).order_by(Patient.id)
    ).all()
    expected = sorted(i for i, values in written.patients.items() if values[2] == "Efternamn4")
    assert [p.id for p in same_name] == expected
    assert len(expected) >= 1
    db.session.rollback()


# -- in process, keys from the instance key file ----------------------------------------------


@pytest.fixture
def keyed_instance(tmp_path: Path) -> Path:
    """An instance folder whose key file holds the test key ring (the one the database fits)."""
    instance = tmp_path / "file-keyed"
    instance.mkdir(mode=0o700)
    runtime.save(_ring(TEST_KEYS), instance)
    return instance


@pytest.fixture
def file_keyed_app(database_url: str, keyed_instance: Path, world: World) -> Iterator[Flask]:
    app = make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_rotation_reencrypts_everything_and_retires_the_old_version(
    file_keyed_app: Flask, keyed_instance: Path, world: World, database_url: str
) -> None:
    progress: list[tuple[str, int, int]] = []
    with file_keyed_app.app_context():
        written = _write(world, patients=5)
        assert versions_in_database() == Counter({1: written.values})

        report = rotate(batch_size=2, progress=lambda *step: progress.append(step))

        assert versions_in_database() == Counter({2: written.values})
        assert runtime.keys().active_versions == (2,)
        sealed_under = {
            key_version(stored("patients", column, patient_id))
            for patient_id in written.patients
            for column in ("personnummer", "first_name", "last_name")
        }
        canaries = db.session.scalars(select(EncryptionCanary.version)).all()
        _assert_everything_reads_back(written)
        _assert_search_works(world, written)
        verifications = journal.verify_all()

    assert (report.added, report.current, report.retired) == (2, 2, [1])
    assert report.reencrypted == Counter({"patients": 7, "case_journal": 4, "users": 3})
    assert report.remaining == Counter()
    assert report.instructions == ""
    assert [step for step in progress if step[0] == "patients"] == [
        ("patients", 2, 7),
        ("patients", 4, 7),
        ("patients", 6, 7),
        ("patients", 7, 7),
    ]
    assert [step for step in progress if step[0] == "users"] == [("users", 2, 4), ("users", 4, 4)]
    assert sealed_under == {2}
    assert sorted(canaries) == [1, 2]
    assert [(v.chain.value, v.verified, v.broken) for v in verifications] == [
        ("access", 5, None),
        ("case", 4, None),
    ]
    keys = _key_file(keyed_instance)
    assert (keys.versions, keys.active_versions) == ((1, 2), (2,))
    assert keys.master(1).status is KeyStatus.RETIRED
    assert stat.S_IMODE((keyed_instance / "encryption_keys").stat().st_mode) == 0o600
    # A restarted app loads the rotated key file, passes the canary check and reads everything.
    with running(make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")):
        assert runtime.keys().current == 2
        _assert_everything_reads_back(written)
        _assert_search_works(world, written)


def test_rotation_reencrypts_consents_through_their_append_only_guards(
    file_keyed_app: Flask, world: World
) -> None:
    """The history triggers refuse every change to a consent but its sealed columns."""
    with file_keyed_app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        today, employer = clock.today(), ConsentKind.EMPLOYER
        consent = consents.record(actor, patient, consents.ConsentInput(
            employer, ConsentAnswer.GIVEN, ConsentMethod.WRITTEN, today, purpose="Anpassning.",
            recipient_name="ICA Maxi", form_reference="Dokument 17", note="Bara chefen.",
        ))  # fmt: skip
        consents.disclose(actor, patient, consents.Recipient(employer, "ICA Maxi"), today, "50 %.")
        consents.withdraw(actor, patient, consent, today, "Ångrar sig.")
        consent_id = consent.id
        db.session.commit()

        report = rotate()
        db.session.expire_all()

        again = db.session.get(Consent, consent_id)
        assert again is not None
        assert again.withdrawal is not None
        columns = ("recipient_name", "purpose", "form_reference", "note")
        sealed_under = {key_version(stored("consents", c, consent_id)) for c in columns}
        disclosure = db.session.scalars(select(Disclosure)).one()
        read_back = (
            again.recipient_name, again.purpose, again.form_reference, again.note,
            again.withdrawal.note, disclosure.recipient_name, disclosure.summary,
        )  # fmt: skip

    moved = {table: report.reencrypted[table] for table in ("consents", "consent_withdrawals",
                                                            "disclosures")}  # fmt: skip
    assert moved == {"consents": 1, "consent_withdrawals": 1, "disclosures": 1}
    assert sealed_under == {2}
    assert read_back == ("ICA Maxi", "Anpassning.", "Dokument 17", "Bara chefen.", "Ångrar sig.",
                         "ICA Maxi", "50 %.")  # fmt: skip


def test_blind_indexes_are_recomputed_under_the_new_version(
    file_keyed_app: Flask, keyed_instance: Path, world: World
) -> None:
    with file_keyed_app.app_context():
        patient_id = add_patient(world.unit_a, "198507099805", "Åsa", "Åström").id
        db.session.commit()
        before = stored("patients", "personnummer_bidx", patient_id)

        rotate()

        after = stored("patients", "personnummer_bidx", patient_id)
        expected = Patient.personnummer.blind_index("198507099805", 2)

    assert before != after
    assert after == expected


def test_a_rotation_in_progress_is_resumed_not_restarted(
    database_url: str, keyed_instance: Path, world: World
) -> None:
    """The key file already holds a second active version: an earlier run added it and stopped."""
    runtime.save(_ring(TEST_KEYS).with_new_version(), keyed_instance)
    with running(make_app(database_url, keyed_instance, ENCRYPTION_KEYS="")):
        written = _write(world, patients=5)  # written under version 2 already
        under_v1 = add_patient(world.unit_a, "199001011234", "Bo", "Ek")
        db.session.commit()
        # A row written before the rotation began: its values sealed under version 1.
        old = {
            column: _seal_v1(column, under_v1.uid.hex, value)
            for column, value in (
                ("personnummer", "199001011234"),
                ("first_name", "Bo"),
                ("last_name", "Ek"),
            )
        }
        db.session.execute(
            text(
                "UPDATE patients SET personnummer = :personnummer, first_name = :first_name, "
                "last_name = :last_name WHERE id = :id"
            ),
            {**old, "id": under_v1.id},
        )
        db.session.commit()
        before = versions_in_database()

        report = rotate(batch_size=3)

        after = versions_in_database()
        written.patients[under_v1.id] = ("199001011234", "Bo", "Ek")
        _assert_everything_reads_back(written)

    # The world's two patients were written before too, by the app fixture's version-1 keys.
    assert before == Counter({2: written.values - 9, 1: 9})
    assert (report.added, report.current, report.retired) == (None, 2, [1])
    assert report.reencrypted == Counter({"patients": 3, "case_journal": 0, "users": 0})
    assert after == Counter({2: written.values})
    assert _key_file(keyed_instance).active_versions == (2,)


def _seal_v1(column: str, row: str, value: str) -> bytes:
    return seal(_ring(TEST_KEYS), "patients", column, row, value.encode())


# -- keys from the environment ----------------------------------------------------------------


def test_with_keys_from_the_environment_a_new_version_must_be_added_there_first(
    app: Flask, world: World
) -> None:
    with app.app_context():
        written = _write(world, patients=5)

        with pytest.raises(RotationRefused) as refused:
            rotate()

        versions = versions_in_database()
        canaries = db.session.scalars(select(EncryptionCanary.version)).all()

    assert str(refused.value) == (
        "The keys come from COORDINATOR_ENCRYPTION_KEYS (or the file its _FILE names): add a "
        "new version there, restart every app instance with it, then run rotate-keys to "
        "re-encrypt."
    )
    assert versions == Counter({1: written.values})
    assert canaries == [1]


def test_with_a_new_version_in_the_environment_rotation_reencrypts_and_says_what_to_retire(
    database_url: str, tmp_path: Path, app: Flask, world: World
) -> None:
    with app.app_context():
        written = _write(world, patients=5)
    two_versions = _ring(TEST_KEYS).with_new_version()
    env_app = make_app(database_url, tmp_path / "env-keyed", ENCRYPTION_KEYS=two_versions.dumps())
    with running(env_app):
        _assert_search_works_for_both_versions(world)
        report = rotate()
        versions = versions_in_database()
        _assert_search_works(world, written)

    assert (report.added, report.current, report.retired) == (None, 2, [])
    assert report.instructions == (
        'No value uses version(s) 1 any more: mark them "status": "retired" in '
        "COORDINATOR_ENCRYPTION_KEYS."
    )
    assert versions == Counter({2: written.values})
    retired = two_versions.with_retired([1]).dumps()
    with running(make_app(database_url, tmp_path / "retired", ENCRYPTION_KEYS=retired)):
        _assert_everything_reads_back(written)


def _assert_search_works_for_both_versions(world: World) -> None:
    """Mid-rotation, rows indexed under either active version are found."""
    fresh = add_patient(world.unit_a, "199912312345", "Ny", "Nyström")  # under version 2
    db.session.commit()
    assert key_version(stored("patients", "last_name", fresh.id)) == 2
    matches = db.session.scalars(select(Patient).where(Patient.last_name.equals("NYSTRÖM"))).all()
    assert [p.first_name for p in matches] == ["Ny"]
    old = db.session.scalars(select(Patient).where(Patient.last_name.equals("efternamn1"))).all()
    assert [p.first_name for p in old] == ["Förnamn 1"]  # indexed under version 1
    db.session.delete(fresh)
    db.session.commit()


# -- a real run of the command, killed halfway and run again ----------------------------------


@pytest.fixture
def installation(
    tmp_path: Path, databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, str]]:
    """An empty instance folder and an empty database, chosen through the environment."""
    instance = tmp_path / "installation"
    url = databases.empty()
    monkeypatch.setenv("COORDINATOR_INSTANCE", str(instance))
    monkeypatch.setenv("DATABASE_URL", url)
    for variable in (
        "COORDINATOR_SECRET_KEY",
        "COORDINATOR_ENCRYPTION_KEYS",
        "COORDINATOR_DEMO_PASSWORD",
    ):
        monkeypatch.delenv(variable, raising=False)
    yield instance, url
    databases.drop(url)


def _coordinator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(COORDINATOR), *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _world_in(app: Flask) -> World:
    with running(app):
        unit_a, unit_b = UnitFactory(name="Enhet A"), UnitFactory(name="Enhet B")
        users = [
            UserFactory(username="koord.a", units=[unit_a]),
            UserFactory(username="koord.b", units=[unit_b]),
            UserFactory(username="chef", units=[unit_a, unit_b]),
            UserFactory(username="admin"),
        ]
        patients = [PatientFactory(unit_id=unit_a.id), PatientFactory(unit_id=unit_b.id)]
        return World(
            UnitRef.of(unit_a),
            UnitRef.of(unit_b),
            *(UserRef.of(u) for u in users),
            *(PatientRef.of(p) for p in patients),
        )


def _rows_under(version: int) -> dict[str, int]:
    """Per table, the rows with at least one value sealed with ``version``."""
    rows: dict[str, int] = {}
    for table, columns in SEALED_COLUMNS.items():
        query = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (test constants)
        rows[table] = sum(
            any(value is not None and key_version(bytes(value)) == version for value in row)
            for row in db.session.execute(text(query))
        )
    db.session.rollback()
    return rows


def test_a_rotation_killed_halfway_is_finished_by_the_next_run(
    installation: tuple[Path, str],
) -> None:
    instance, _ = installation
    initialised = _coordinator("init")
    assert initialised.returncode == 0, initialised.stderr
    app = create_app({"PASSWORD_HASH_PROFILE": "CHEAPEST"})
    world = _world_in(app)
    with running(app):
        written = _write(world, patients=3000)

    interrupted: list[str] = []
    with subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
        [str(COORDINATOR), "rotate-keys", "--batch-size", "10"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as rotation:
        assert rotation.stdout is not None
        try:
            for line in rotation.stdout:
                interrupted.append(line)
                if line.startswith("  patients: "):
                    break
        finally:
            rotation.kill()  # SIGKILL: no cleanup, no last commit
        rotation.wait(timeout=60)
    assert interrupted, "rotate-keys printed nothing"
    assert interrupted[-1].startswith("  patients: "), "".join(interrupted)
    assert rotation.returncode == -signal.SIGKILL

    keys_meanwhile = _key_file(instance)
    with running(create_app()):
        mixed = versions_in_database()
        left_under_v1 = _rows_under(1)
    assert keys_meanwhile.active_versions == (2, 1)  # both readable while the work is unfinished
    assert set(mixed) == {1, 2}, mixed
    assert sum(mixed.values()) == written.values
    assert 0 < left_under_v1["patients"] < 3000

    resumed = _coordinator("rotate-keys")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = [line for line in resumed.stdout.splitlines() if not line.startswith("  ")]
    assert summary == [
        "resuming the rotation to key version 2",
        "re-encrypting:",
        *(f"re-encrypted {left_under_v1[t]} rows in {t}" for t in sorted(left_under_v1)),
        "retired key version(s) 1",
    ]
    keys = _key_file(instance)
    assert (keys.versions, keys.active_versions) == ((1, 2), (2,))
    assert keys.master(1).status is KeyStatus.RETIRED
    assert stat.S_IMODE((instance / "encryption_keys").stat().st_mode) == 0o600
    with running(create_app()):
        assert versions_in_database() == Counter({2: written.values})
        _assert_everything_reads_back(written)
        _assert_search_works(world, written)
    verified = _coordinator("verify-journal")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines() == [
        "access: 5 entries verified, chain intact",
        "case: 4 entries verified, chain intact",
    ]
