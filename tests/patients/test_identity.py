"""Personnummer and samordningsnummer: shapes, centuries, check digits, dates, age and sex."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from coordinator.access import Actor
from coordinator.auth.models import User
from coordinator.extensions import db
from coordinator.patients.identity import (
    InvalidIdentityNumber,
    normalise_name,
    parse_identity_number,
)
from coordinator.patients.models import Patient
from coordinator.patients.service import InvalidPersonnummer, PatientDetails, register_patient
from tests.conftest import World

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("written", "normalised", "born"),
    [
        ("19121212-1212", "191212121212", date(1912, 12, 12)),
        ("191212121212", "191212121212", date(1912, 12, 12)),
        (" 1912 1212-1212 ", "191212121212", date(1912, 12, 12)),
        # Ten digits: the century that puts the birth date in the last hundred years…
        ("121212-1212", "201212121212", date(2012, 12, 12)),
        ("1212121212", "201212121212", date(2012, 12, 12)),
        # …and "+" from the year the person turns 100.
        ("121212+1212", "191212121212", date(1912, 12, 12)),
        # Born tomorrow a hundred years ago: 1926, not a future 2026.
        ("261124-1239", "192611241239", date(1926, 11, 24)),
        # Born today: 2026.
        ("261123-1230", "202611231230", date(2026, 11, 23)),
    ],
)
def test_every_common_spelling_gives_the_twelve_digit_form_and_the_birth_date(
    written: str, normalised: str, born: date
) -> None:
    number = parse_identity_number(written, TODAY)

    assert (number.normalised, number.birth_date) == (normalised, born)
    assert str(number) == f"{normalised[:8]}-{normalised[8:]}"


def test_a_samordningsnummer_has_its_day_plus_sixty() -> None:
    number = parse_identity_number("701063-2391", TODAY)

    assert number.normalised == "197010632391"
    assert number.is_coordination_number is True
    assert number.birth_date == date(1970, 10, 3)
    assert number.age(TODAY) == 56


def test_age_and_legal_sex_come_from_the_number() -> None:
    man = parse_identity_number("19121212-1212", TODAY)
    woman = parse_identity_number("850709-9805", TODAY)

    assert (man.is_male, man.age(TODAY), man.is_coordination_number) == (True, 113, False)
    assert (woman.is_male, woman.age(TODAY)) == (False, 41)
    assert woman.age(date(2027, 7, 8)) == 41
    assert woman.age(date(2027, 7, 9)) == 42


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("19121212-1213", "the number fails its check digit or names no real date"),
        ("990230-1234", "the number fails its check digit or names no real date"),
        ("12-34", "a personnummer has 10 or 12 digits, e.g. 19121212-1212"),
        ("19121212+1212", "the + separator is only used with a 10-digit number"),
        ("20301010-1230", "the birth date is in the future"),
        ("", "a personnummer has 10 or 12 digits, e.g. 19121212-1212"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(written: str, why: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as refused:
        parse_identity_number(written, TODAY)

    assert str(refused.value) == why


def test_names_compare_without_case_spacing_or_unicode_form() -> None:
    assert normalise_name("  ÅSA   Åström ") == "åsa åström"
    assert normalise_name("A\u030asa") == normalise_name("Åsa")


def test_registering_a_patient_refuses_a_wrong_check_digit_and_writes_nothing(
    app: Flask, world: World
) -> None:
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        assert user is not None
        actor = Actor(user=user, role=user.role, unit=user.units[0], request_id="test")
        before = db.session.scalar(select(func.count()).select_from(Patient))

        with pytest.raises(InvalidPersonnummer) as refused:
            register_patient(actor, "19121212-1213", PatientDetails("Tolvan", "Tolvansson"))

        # Outside a request (commands, imports) messages are in English.
        assert str(refused.value.message) == (
            "That is not a valid personnummer or samordningsnummer; check the digits."
        )
        assert db.session.scalar(select(func.count()).select_from(Patient)) == before
        registered = register_patient(actor, "121212+1212", PatientDetails("Tolvan", "Tolvansson"))
        assert registered.personnummer == "191212121212"
