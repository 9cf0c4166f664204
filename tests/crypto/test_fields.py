"""Encrypted fields: values round-trip, the database sees only ciphertext, and every fault in
the stored bytes is refused with an error that says where, never what."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from coordinator.config import ConfigurationError
from coordinator.crypto import DecryptionError, Encrypted, EncryptedRow
from coordinator.crypto.envelope import OVERHEAD, open_sealed
from coordinator.crypto.fields import REGISTRY
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db
from coordinator.patients.models import Patient
from tests.conftest import TEST_KEYS, World, make_app
from tests.crypto.support import add_patient, overwrite, running, stored

AUTHENTICATION_FAILED = (
    "authentication failed: the value was altered, was copied from another row or column, "
    "or the key does not match"
)


class _TestBase(DeclarativeBase):
    """A metadata of this module's own: the migrations and the schema check never see it."""


class Record(EncryptedRow, _TestBase):
    """A model with the field kinds the application does not use yet (dates, documents)."""

    __tablename__ = "crypto_test_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    born = Encrypted(date)
    details = Encrypted(dict)
    note = Encrypted(str, nullable=True)


# Key rotation walks REGISTRY; this table exists only in the databases of the tests below.
REGISTRY.pop(Record)


@pytest.fixture
def records(app: Flask) -> None:
    with app.app_context():
        _TestBase.metadata.create_all(db.engine)


def _reload(model: type, row_id: int) -> Any:
    """The row as a new request would see it: a fresh session, nothing cached."""
    db.session.remove()
    row = db.session.get(model, row_id)
    assert row is not None
    return row


def test_text_values_round_trip_and_only_ciphertext_is_stored(app: Flask, world: World) -> None:
    written = {"personnummer": "198507099805", "first_name": "Åsa", "last_name": "Lindqvist"}
    with app.app_context():
        patient_id = add_patient(world.unit_a, **written).id
        db.session.commit()

        patient = _reload(Patient, patient_id)
        read = {name: getattr(patient, name) for name in written}
        raw = {name: stored("patients", name, patient_id) for name in written}

    assert read == written
    for name, plaintext in written.items():
        assert plaintext.encode() not in raw[name]
        assert len(raw[name]) == OVERHEAD + len(plaintext.encode())


def test_dates_and_documents_round_trip_and_only_ciphertext_is_stored(
    app: Flask, records: None
) -> None:
    details = {"diagnos": "F43.8", "omfattning": 50, "åtgärder": ["arbetsträning", "samtal"]}
    with app.app_context():
        record = Record()
        record.born = date(1985, 7, 9)
        record.details = details
        record.note = None
        db.session.add(record)
        db.session.commit()
        record_id = record.id

        again = _reload(Record, record_id)
        read = (again.born, again.details, again.note)
        raw_born = stored("crypto_test_records", "born", record_id)
        raw_details = stored("crypto_test_records", "details", record_id)

    assert read == (date(1985, 7, 9), details, None)
    assert b"1985" not in raw_born
    assert b"F43.8" not in raw_details
    assert "arbetsträning".encode() not in raw_details


def test_the_same_value_never_encrypts_to_the_same_bytes(app: Flask, world: World) -> None:
    with app.app_context():
        first = add_patient(world.unit_a, "198507099805", "Kim", "Berg")
        second = add_patient(world.unit_a, "199001011234", "Kim", "Berg")
        db.session.commit()
        before = stored("patients", "first_name", first.id)
        first.first_name = "Kim"  # the same value again
        db.session.commit()
        after = stored("patients", "first_name", first.id)
        other = stored("patients", "first_name", second.id)

    assert len({before, after, other}) == 3
    nonces = {value[3:15] for value in (before, after, other)}
    assert len(nonces) == 3


def test_the_stored_header_names_format_1_and_the_current_key_version(
    app: Flask, world: World, database_url: str, tmp_path: Path
) -> None:
    with app.app_context():
        patient_id = add_patient(world.unit_a, "198507099805", "Kim", "Berg").id
        db.session.commit()
        under_v1 = stored("patients", "last_name", patient_id)
    two_versions = KeyRing.parse(TEST_KEYS, source="test").with_new_version().dumps()
    newer = make_app(database_url, tmp_path / "newer", ENCRYPTION_KEYS=two_versions)
    with running(newer):
        patient = db.session.get(Patient, patient_id)
        assert patient is not None
        patient.last_name = "Berg"
        db.session.commit()
        under_v2 = stored("patients", "last_name", patient_id)

    assert under_v1[:3] == bytes([1, 0, 1])
    assert under_v2[:3] == bytes([1, 0, 2])


# -- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """Two patients' rows: the one the faults are made in, and another to copy from."""

    id: int
    uid: str
    other_id: int


@pytest.fixture
def two_patients(app: Flask, world: World) -> Stored:
    with app.app_context():
        victim = add_patient(world.unit_a, "198507099805", "Åsa", "Lindqvist")
        other = add_patient(world.unit_a, "199001011234", "Bo", "Ek")
        db.session.commit()
        return Stored(victim.id, victim.uid.hex, other.id)


def _flip_one_byte(value: bytes, _rows: Stored) -> bytes:
    position = OVERHEAD  # inside the ciphertext, past the header and nonce
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


def _truncate(value: bytes, _rows: Stored) -> bytes:
    return value[: OVERHEAD - 1]


def _copy_from_another_row(_value: bytes, rows: Stored) -> bytes:
    return stored("patients", "last_name", rows.other_id)


def _copy_from_another_column(_value: bytes, rows: Stored) -> bytes:
    return stored("patients", "first_name", rows.id)


def _unknown_key_version(value: bytes, _rows: Stored) -> bytes:
    return value[:1] + (7).to_bytes(2, "big") + value[3:]


def _unknown_format(value: bytes, _rows: Stored) -> bytes:
    return bytes([2]) + value[1:]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (_flip_one_byte, AUTHENTICATION_FAILED),
        (_truncate, "the stored value is truncated"),
        (_copy_from_another_row, AUTHENTICATION_FAILED),
        (_copy_from_another_column, AUTHENTICATION_FAILED),
        (_unknown_key_version, "key version 7 is not in the key ring"),
        (_unknown_format, "unknown storage format 2"),
    ],
    ids=["tampered", "truncated", "other-row", "other-column", "unknown-version", "unknown-format"],
)
def test_a_faulty_stored_value_is_refused_naming_where_it_is_not_what_it_holds(
    app: Flask,
    two_patients: Stored,
    fault: Callable[[bytes, Stored], bytes],
    reason: str,
) -> None:
    with app.app_context():
        original = stored("patients", "last_name", two_patients.id)
        overwrite("patients", "last_name", two_patients.id, fault(original, two_patients))
        patient = _reload(Patient, two_patients.id)

        with pytest.raises(DecryptionError) as raised:
            _ = patient.last_name
        first_name = patient.first_name  # the row's other values are unaffected

    error = raised.value
    assert str(error) == f"cannot decrypt patients.last_name of row {two_patients.uid}: {reason}"
    assert (error.table, error.column, error.row) == ("patients", "last_name", two_patients.uid)
    assert "Lindqvist" not in str(error)
    assert "Lindqvist" not in repr(error)
    assert first_name == "Åsa"


def test_an_app_with_other_keys_refuses_to_start_on_the_database(
    app: Flask, two_patients: Stored, database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_app(database_url, tmp_path / "other", ENCRYPTION_KEYS=KeyRing.generate().dumps())

    assert str(raised.value) == (
        "The configured key version 1 does not match this database (its canary does not "
        "decrypt). Coordinator will not start with the wrong keys."
    )


def test_a_value_does_not_open_with_another_key_ring(app: Flask, two_patients: Stored) -> None:
    with app.app_context():
        sealed = stored("patients", "last_name", two_patients.id)
    right = KeyRing.parse(TEST_KEYS, source="test")

    with pytest.raises(DecryptionError) as raised:
        open_sealed(KeyRing.generate(), "patients", "last_name", two_patients.uid, sealed)

    assert str(raised.value) == (
        f"cannot decrypt patients.last_name of row {two_patients.uid}: {AUTHENTICATION_FAILED}"
    )
    assert open_sealed(right, "patients", "last_name", two_patients.uid, sealed) == b"Lindqvist"


def test_a_retired_key_version_no_longer_decrypts(app: Flask, two_patients: Stored) -> None:
    with app.app_context():
        sealed = stored("patients", "last_name", two_patients.id)
    retired = KeyRing.parse(TEST_KEYS, source="test").with_new_version().with_retired([1])

    with pytest.raises(DecryptionError) as raised:
        open_sealed(retired, "patients", "last_name", two_patients.uid, sealed)

    assert raised.value.reason == "key version 1 is retired and no longer decrypts data"


def test_a_value_bound_to_one_row_identity_does_not_open_as_another(
    app: Flask, two_patients: Stored
) -> None:
    with app.app_context():
        sealed = stored("patients", "last_name", two_patients.id)
    keys = KeyRing.parse(TEST_KEYS, source="test")
    stranger = uuid.uuid4().hex

    with pytest.raises(DecryptionError) as raised:
        open_sealed(keys, "patients", "last_name", stranger, sealed)

    assert raised.value.row == stranger
    assert raised.value.reason == AUTHENTICATION_FAILED


def test_empty_and_wrongly_typed_values_are_refused_before_anything_is_stored(
    app: Flask, world: World
) -> None:
    with app.app_context():
        patient = Patient(unit_id=world.unit_a.id)
        with pytest.raises(ValueError, match=r"^patients.last_name cannot be empty$"):
            patient.last_name = None  # type: ignore[assignment]
        with pytest.raises(TypeError, match=r"^patients.last_name takes str$"):
            patient.last_name = 42  # type: ignore[assignment]
