"""Labelled enums: every member has its own label, even when another enum shares its value."""

from __future__ import annotations

import pytest
from flask import Flask

from coordinator.contacts.models import Channel
from coordinator.labels import Labelled, register
from coordinator.plans.models import AgreementMethod


def test_members_of_different_enums_with_the_same_value_keep_their_own_labels(app: Flask) -> None:
    assert Channel.PHONE == AgreementMethod.PHONE == "phone"  # equal as strings
    with app.test_request_context():  # the installation's language: Swedish
        assert (Channel.PHONE.label, AgreementMethod.PHONE.label) == ("Telefon", "Per telefon")
        assert (Channel.MEETING.label, AgreementMethod.MEETING.label) == ("Möte", "Vid möte")


class _Colour(Labelled):
    RED = "red"
    BLUE = "blue"


def test_an_enum_must_label_each_of_its_members() -> None:
    with pytest.raises(ValueError, match="_Colour"):
        register(_Colour, {_Colour.RED: "Red"})
    with pytest.raises(ValueError, match="_Colour"):
        register(_Colour, {_Colour.RED: "Red", _Colour.BLUE: "Blue", Channel.PHONE: "Phone"})
