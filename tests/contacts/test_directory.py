"""The directory: organisations added and corrected by coordinators (type and name required,
the organisation number validated, no duplicates, stale edits refused), found by part of the
name, by number or by kind; contact persons with validated e-mail and phone, who may leave;
managers only read; and the personal data — the people, a sole trader's number — stored
encrypted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from coordinator.access import Actor
from coordinator.contacts import directory
from coordinator.contacts.directory import (
    DuplicateOrganisation,
    OrganisationInput,
    PersonInput,
    StaleEntry,
)
from coordinator.contacts.models import ContactPerson, Organisation, OrganisationType
from coordinator.errors import Forbidden, InvalidField
from coordinator.extensions import db
from tests.contacts.support import count, organisation, person, written
from tests.patients.support import NOW, TODAY, personnummer

pytestmark = pytest.mark.usefixtures("frozen")

EMPLOYER, SOCIAL_INSURANCE = OrganisationType.EMPLOYER, OrganisationType.SOCIAL_INSURANCE


def names(found: list[Organisation]) -> list[str]:
    return [o.name for o in found]


def committed_meanwhile(table: str, row_id: int) -> None:
    """Another request's commit to the row, from a connection of its own: the lock moves.
    (This session's transaction is ended first, keeping what it read: on SQLite one writer at
    a time.)"""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    with db.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET lock = lock + 1 WHERE id = :id"),  # noqa: S608
            {"id": row_id},
        )


# -- Organisations ---------------------------------------------------------------------------


def test_an_organisation_is_added_with_its_details(me: Actor) -> None:
    added = directory.create_organisation(
        me,
        OrganisationInput(
            SOCIAL_INSURANCE, "  Försäkringskassan,   Jönköping ", "2021005521",
            "Box 1\n551 11 Jönköping", "0771-524 524", "  Växeln öppen 8-16. ",
        ),
    )  # fmt: skip

    assert (added.type, added.name, added.name_key) == (
        SOCIAL_INSURANCE,
        "Försäkringskassan,   Jönköping",
        "försäkringskassan, jönköping",
    )
    assert (added.org_number, added.address, added.phone, added.notes) == (
        "202100-5521",
        "Box 1\n551 11 Jönköping",
        "0771-524 524",
        "Växeln öppen 8-16.",
    )
    assert (added.created_by_id, added.created_at, added.updated_at, added.lock) == (
        me.user.id,
        NOW,
        NOW,
        1,
    )
    assert added.persons == []


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("202100-5521", "202100-5521"),  # Försäkringskassan
        ("556016-0680", "556016-0680"),  # Ericsson
        ("5560160680", "556016-0680"),
        ("16556016-0680", "556016-0680"),
        ("", None),
        ("   ", None),
    ],
)
def test_a_valid_organisation_number_is_kept_in_its_standard_form(
    me: Actor, number: str, stored: str | None
) -> None:
    assert organisation(me, EMPLOYER, "Ericsson", org_number=number).org_number == stored


def test_a_sole_traders_personnummer_is_a_valid_organisation_number(me: Actor) -> None:
    number = personnummer("19800101", 123)

    added = organisation(me, EMPLOYER, "Anderssons Måleri", org_number=number)

    assert (number, added.org_number) == ("198001011231", "800101-1231")


BAD_ORGANISATIONS = {
    "no-type": (OrganisationInput(None, "ACME AB"), "type"),  # type: ignore[arg-type]
    "type-as-text": (OrganisationInput("employer", "ACME AB"), "type"),  # type: ignore[arg-type]
    "no-name": (OrganisationInput(EMPLOYER, "   "), "name"),
    "name-too-long": (OrganisationInput(EMPLOYER, "A" * 201), "name"),
    "bad-check-digit": (OrganisationInput(EMPLOYER, "ACME AB", "202100-5522"), "org_number"),
    "too-few-digits": (OrganisationInput(EMPLOYER, "ACME AB", "55601-0680"), "org_number"),
    "letters": (OrganisationInput(EMPLOYER, "ACME AB", "ACME-12345"), "org_number"),
    "bad-personnummer": (OrganisationInput(EMPLOYER, "ACME AB", "800101-1234"), "org_number"),
    "bad-phone": (OrganisationInput(EMPLOYER, "ACME AB", phone="ring växeln"), "phone"),
    "address-too-long": (OrganisationInput(EMPLOYER, "ACME AB", address="x" * 401), "address"),
    "notes-too-long": (OrganisationInput(EMPLOYER, "ACME AB", notes="x" * 1001), "notes"),
}


@pytest.mark.parametrize(("entry", "field"), BAD_ORGANISATIONS.values(), ids=BAD_ORGANISATIONS)
def test_an_invalid_organisation_is_refused_and_nothing_is_written(
    me: Actor, entry: OrganisationInput, field: str
) -> None:
    before = written()

    with pytest.raises(InvalidField) as refused:
        directory.create_organisation(me, entry)

    assert refused.value.field == field
    assert written() == before


def test_the_messages_name_what_is_wrong(me: Actor) -> None:
    messages = {}
    for key in ("no-type", "no-name", "name-too-long", "bad-check-digit", "bad-phone"):
        with pytest.raises(InvalidField) as refused:
            directory.create_organisation(me, BAD_ORGANISATIONS[key][0])
        messages[key] = str(refused.value)

    assert messages == {
        "no-type": "Choose the kind of organisation.",
        "no-name": "Enter the organisation's name.",
        "name-too-long": "At most 200 characters.",
        "bad-check-digit": (
            "That is not a valid organisation number; check the digits (e.g. 202100-5521)."
        ),
        "bad-phone": "Enter a phone number, e.g. 036-10 10 10.",
    }


def test_the_same_name_and_number_again_is_a_duplicate(me: Actor) -> None:
    first = organisation(me, SOCIAL_INSURANCE, "Försäkringskassan", org_number="202100-5521")
    before = written()

    with pytest.raises(DuplicateOrganisation) as refused:
        organisation(me, OrganisationType.OTHER, " FÖRSÄKRINGSKASSAN ", org_number="2021005521")

    assert (refused.value.field, refused.value.status_code, refused.value.existing) == (
        "name",
        409,
        first,
    )
    assert str(refused.value) == "Försäkringskassan is already in the directory."
    assert written() == before


def test_the_same_name_without_numbers_is_a_duplicate(me: Actor) -> None:
    organisation(me, EMPLOYER, "Kiosken")

    with pytest.raises(DuplicateOrganisation):
        organisation(me, EMPLOYER, "kiosken")


def test_the_same_name_with_another_number_or_none_is_another_organisation(me: Actor) -> None:
    first = organisation(me, EMPLOYER, "ICA Maxi", org_number="556016-0680")
    second = organisation(me, EMPLOYER, "ICA Maxi", org_number="202100-5521")
    third = organisation(me, EMPLOYER, "ICA Maxi")

    assert len({first.id, second.id, third.id}) == 3
    assert count(Organisation) == 3


def test_workplaces_of_one_employer_share_its_number(me: Actor) -> None:
    north = organisation(me, EMPLOYER, "Region Jönköping, Ryhov", org_number="232100-0057")
    south = organisation(me, EMPLOYER, "Region Jönköping, Värnamo", org_number="232100-0057")

    assert north.org_number == south.org_number == "232100-0057"


def test_an_organisation_is_corrected(frozen: time_machine.Traveller, me: Actor) -> None:
    added = organisation(me, EMPLOYER, "Acme", org_number="556016-0680", notes="Gammal.")
    an_hour_later = NOW + timedelta(hours=1)
    frozen.move_to(an_hour_later)

    corrected = directory.update_organisation(
        me, added, OrganisationInput(OrganisationType.OCCUPATIONAL_HEALTH, "ACME Hälsa", None,
                                     "Storgatan 1", None, None), expected_lock=1,
    )  # fmt: skip

    assert corrected is added
    assert (added.type, added.name, added.name_key, added.org_number) == (
        OrganisationType.OCCUPATIONAL_HEALTH,
        "ACME Hälsa",
        "acme hälsa",
        None,
    )
    assert (added.address, added.phone, added.notes) == ("Storgatan 1", None, None)
    assert (added.lock, added.created_at, added.updated_at) == (2, NOW, an_hour_later)


def test_a_correction_keeping_its_own_name_and_number_is_no_duplicate(me: Actor) -> None:
    added = organisation(me, EMPLOYER, "ACME AB", org_number="556016-0680")

    directory.update_organisation(
        me, added, OrganisationInput(EMPLOYER, "Acme AB", "5560160680", phone="036-12 34 56"), 1
    )

    assert (added.name, added.phone, added.lock) == ("Acme AB", "036-12 34 56", 2)


def test_a_correction_into_another_entry_is_a_duplicate(me: Actor) -> None:
    organisation(me, EMPLOYER, "ACME AB", org_number="556016-0680")
    other = organisation(me, EMPLOYER, "ACME Sverige", org_number="556016-0680")

    with pytest.raises(DuplicateOrganisation):
        directory.update_organisation(
            me, other, OrganisationInput(EMPLOYER, "acme ab", "556016-0680"), other.lock
        )

    assert (other.name, other.lock) == ("ACME Sverige", 1)
    assert names(directory.search("acme")) == ["ACME AB", "ACME Sverige"]


def test_an_invalid_correction_changes_nothing(me: Actor) -> None:
    added = organisation(me, EMPLOYER, "ACME AB", org_number="556016-0680")

    with pytest.raises(InvalidField) as refused:
        directory.update_organisation(
            me, added, OrganisationInput(EMPLOYER, "ACME AB", "556016-0681"), 1
        )

    assert refused.value.field == "org_number"
    assert (added.org_number, added.lock) == ("556016-0680", 1)


def test_a_correction_made_on_an_old_version_is_refused(me: Actor) -> None:
    added = organisation(me, EMPLOYER, "ACME AB")
    with_phone = OrganisationInput(EMPLOYER, "ACME AB", phone="036-1 11 11")
    directory.update_organisation(me, added, with_phone, 1)

    with pytest.raises(StaleEntry) as refused:
        directory.update_organisation(me, added, OrganisationInput(EMPLOYER, "Acme"), 1)

    assert refused.value.status_code == 409
    assert str(refused.value) == (
        "Someone else changed this entry a moment ago. The page now shows their change; "
        "check it and try again."
    )
    assert (added.name, added.phone, added.lock) == ("ACME AB", "036-1 11 11", 2)


def test_an_organisation_changed_while_the_request_runs_is_refused_when_written(
    me: Actor,
) -> None:
    added = organisation(me, EMPLOYER, "ACME AB")
    committed_meanwhile("organisations", added.id)

    with pytest.raises(StaleEntry):
        directory.update_organisation(me, added, OrganisationInput(EMPLOYER, "Acme"), None)

    db.session.rollback()
    db.session.expire_all()
    assert (added.name, added.lock) == ("ACME AB", 2)


# -- Searching -------------------------------------------------------------------------------


@pytest.fixture
def listed(me: Actor) -> dict[str, Organisation]:
    """A small directory."""
    entries = {
        "fk": (SOCIAL_INSURANCE, "Försäkringskassan, Jönköping", "202100-5521"),
        "af": (OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen", "202100-2114"),
        "ahlens": (EMPLOYER, "Åhléns Väst", "556016-0680"),
        "kommun": (OrganisationType.MUNICIPALITY, "Jönköpings kommun", "212000-0530"),
        "ostra": (EMPLOYER, "ÖSTRA BYGG AB", None),
        "under": (EMPLOYER, "A_B Konsult", None),
        "axb": (EMPLOYER, "AXB Konsult", None),
    }
    return {key: organisation(me, t, name, org_number=nr) for key, (t, name, nr) in entries.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jönk", ["Försäkringskassan, Jönköping", "Jönköpings kommun"]),
        ("JÖNKÖPING", ["Försäkringskassan, Jönköping", "Jönköpings kommun"]),
        ("  åhlé ", ["Åhléns Väst"]),
        ("ÅHLÉNS", ["Åhléns Väst"]),
        ("östra bygg", ["ÖSTRA BYGG AB"]),
        ("kassan,   jön", ["Försäkringskassan, Jönköping"]),
        ("a_b", ["A_B Konsult"]),  # "_" is a letter here, not a wildcard
        ("%", []),
        ("Volvo", []),
        (
            "",
            [
                "A_B Konsult", "Arbetsförmedlingen", "AXB Konsult", "Försäkringskassan, Jönköping",
                "Jönköpings kommun", "Åhléns Väst", "ÖSTRA BYGG AB",
            ],
        ),
    ],
)  # fmt: skip
def test_search_by_part_of_the_name_ignores_case(
    listed: dict[str, Organisation], query: str, expected: list[str]
) -> None:
    # (Compared as sets: where Å and Ö sort depends on the database's collation.)
    assert sorted(names(directory.search(query))) == sorted(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("556016-0680", ["Åhléns Väst"]),
        ("5560160680", ["Åhléns Väst"]),
        ("16556016-0680", ["Åhléns Väst"]),
        (" 202100-5521 ", ["Försäkringskassan, Jönköping"]),
        ("202100-2114", ["Arbetsförmedlingen"]),
        ("202100-5522", []),
    ],
)
def test_search_by_organisation_number_is_exact(
    listed: dict[str, Organisation], query: str, expected: list[str]
) -> None:
    assert names(directory.search(query)) == expected


def test_search_by_kind(listed: dict[str, Organisation]) -> None:
    assert sorted(names(directory.search(type_=EMPLOYER))) == [
        "AXB Konsult",
        "A_B Konsult",
        "Åhléns Väst",
        "ÖSTRA BYGG AB",
    ]
    assert names(directory.search("konsult", OrganisationType.MUNICIPALITY)) == []
    assert names(directory.search("jönk", OrganisationType.MUNICIPALITY)) == ["Jönköpings kommun"]
    assert names(directory.search("212000-0530", SOCIAL_INSURANCE)) == []


def test_search_returns_one_more_than_the_limit_to_tell_there_are_more(
    listed: dict[str, Organisation],
) -> None:
    assert len(directory.search("", limit=3)) == 4
    assert len(directory.search("konsult", limit=3)) == 2


# -- Who may change the directory ------------------------------------------------------------


def test_managers_read_the_directory_but_cannot_change_it(
    me: Actor, manager: Actor, listed: dict[str, Organisation]
) -> None:
    acme = listed["ahlens"]
    lena = person(me, acme)
    before = written()
    changes = {
        "create": lambda: directory.create_organisation(
            manager, OrganisationInput(EMPLOYER, "Chefens AB")
        ),
        "update": lambda: directory.update_organisation(
            manager, acme, OrganisationInput(EMPLOYER, "Chefens AB"), acme.lock
        ),
        "add-person": lambda: directory.add_person(manager, acme, PersonInput("Chef Chefsson")),
        "update-person": lambda: directory.update_person(
            manager, lena, PersonInput("Chef Chefsson"), TODAY, lena.lock
        ),
    }

    refusals = {}
    for name, change in changes.items():
        with pytest.raises(Forbidden) as refused:
            change()
        refusals[name] = (refused.value.status_code, str(refused.value))

    assert set(refusals.values()) == {(403, "Only coordinators change the directory.")}
    assert written() == before
    assert (acme.name, lena.name, lena.left_on) == ("Åhléns Väst", "Lena Ek", None)
    assert names(directory.search("åhl")) == ["Åhléns Väst"]


# -- Contact persons -------------------------------------------------------------------------


def test_a_contact_person_is_added_at_the_organisation(me: Actor) -> None:
    acme = organisation(me)

    added = directory.add_person(
        me, acme, PersonInput("  Lena Ek ", " HR-chef ", " 070-123 45 67 ", " Lena.Ek@ACME.se ")
    )

    assert (added.organisation_id, added.name, added.role, added.phone, added.email) == (
        acme.id,
        "Lena Ek",
        "HR-chef",
        "070-123 45 67",
        "Lena.Ek@acme.se",
    )
    assert (added.left_on, added.is_current, added.created_by_id, added.lock) == (
        None,
        True,
        me.user.id,
        1,
    )
    assert acme.persons == [added]


@pytest.mark.parametrize(
    "phone", ["036-10 10 10", "+46 36 10 10 10", "+46 (0)36-10 10 10", "12345"]
)
def test_phone_numbers_as_people_write_them_are_accepted(me: Actor, phone: str) -> None:
    assert person(me, organisation(me), phone=phone).phone == phone


BAD_PERSONS = {
    "no-name": (PersonInput(" "), "name", "Enter the person's name."),
    "email-without-at": (PersonInput("Lena Ek", email="lena.acme.se"), "email", None),
    "email-without-domain": (PersonInput("Lena Ek", email="lena@acme"), "email", None),
    "email-with-space": (PersonInput("Lena Ek", email="lena ek@acme.se"), "email", None),
    "phone-with-letters": (PersonInput("Lena Ek", phone="ring HR"), "phone", None),
    "phone-too-short": (PersonInput("Lena Ek", phone="12-34"), "phone", None),
    "phone-too-long": (PersonInput("Lena Ek", phone="0" * 41), "phone", "At most 40 characters."),
    "role-too-long": (PersonInput("Lena Ek", role="x" * 121), "role", "At most 120 characters."),
}


@pytest.mark.parametrize(("entry", "field", "message"), BAD_PERSONS.values(), ids=BAD_PERSONS)
def test_an_invalid_contact_person_is_refused_and_nothing_is_written(
    me: Actor, entry: PersonInput, field: str, message: str | None
) -> None:
    acme = organisation(me)
    before = written()

    with pytest.raises(InvalidField) as refused:
        directory.add_person(me, acme, entry)

    assert refused.value.field == field
    expected = {"email": "Enter a valid e-mail address.",
                "phone": "Enter a phone number, e.g. 036-10 10 10."}  # fmt: skip
    assert str(refused.value) == (message or expected[field])
    assert written() == before
    assert acme.persons == []


def test_a_person_who_left_is_kept_but_no_longer_offered(me: Actor) -> None:
    acme = organisation(me)
    lena, per = person(me, acme, "Lena Ek"), person(me, acme, "Per Berg", email=None)
    anna = person(me, acme, "anna Ahl", email=None)

    directory.update_person(
        me, lena, PersonInput("Lena Ek", "HR", "036-10 10 10", "lena.ek@acme.se"),
        date(2026, 6, 1), lena.lock,
    )  # fmt: skip

    assert (lena.left_on, lena.is_current, lena.lock) == (date(2026, 6, 1), False, 2)
    assert directory.current_persons(acme) == [anna, per]
    assert acme.persons == [lena, per, anna]


def test_a_person_cannot_leave_in_the_future(me: Actor) -> None:
    lena = person(me, organisation(me))

    with pytest.raises(InvalidField) as refused:
        directory.update_person(me, lena, PersonInput("Lena Ek"), date(2026, 6, 16), lena.lock)

    assert refused.value.field == "left_on"
    assert (lena.left_on, lena.lock) == (None, 1)


def test_a_person_corrected_on_an_old_version_is_refused(me: Actor) -> None:
    lena = person(me, organisation(me))
    directory.update_person(me, lena, PersonInput("Lena Ek", "HR-chef"), None, 1)

    with pytest.raises(StaleEntry):
        directory.update_person(me, lena, PersonInput("Lena Berg"), None, 1)

    assert (lena.name, lena.role, lena.lock) == ("Lena Ek", "HR-chef", 2)


def test_an_invalid_correction_of_a_person_changes_nothing(me: Actor) -> None:
    lena = person(me, organisation(me))

    with pytest.raises(InvalidField) as refused:
        directory.update_person(me, lena, PersonInput("Lena Ek", email="lena@"), None, 1)

    assert refused.value.field == "email"
    assert (lena.email, lena.lock) == ("lena.ek@acme.se", 1)


# -- Encryption at rest ----------------------------------------------------------------------

LENA = ("Lena Ekström", "HR-chef", "070-123 45 67", "lena.ekstrom@acme.se")


def test_contact_persons_are_stored_encrypted(me: Actor) -> None:
    acme = organisation(me)
    directory.add_person(me, acme, PersonInput(*LENA))
    db.session.commit()

    (row,) = db.session.execute(text("SELECT name, role, phone, email FROM contact_persons")).all()
    raw = b"\x00".join(bytes(value) for value in row)

    for value in LENA:
        assert value.encode() not in raw, value
    for part in ("Ekström", "ekstrom", "HR-chef", "123 45 67", "acme.se"):
        assert part.encode() not in raw, part
    db.session.expire_all()
    (again,) = db.session.scalars(select(ContactPerson)).all()
    assert (again.name, again.role, again.phone, again.email) == LENA


def test_the_organisation_number_and_notes_are_stored_encrypted(me: Actor) -> None:
    number = personnummer("19800101", 123)
    organisation(me, EMPLOYER, "Anderssons Måleri", org_number=number, notes="Ring Sven efter 16.")
    db.session.commit()

    (row,) = db.session.execute(
        text("SELECT name, org_number, org_number_bidx, notes FROM organisations")
    ).all()
    name, sealed = row[0], b"\x00".join(bytes(value) for value in row[1:])

    for value in (number, "800101-1231", "8001011231", "800101", "Sven"):
        assert value.encode() not in sealed, value
    assert name == "Anderssons Måleri"  # names stay in the clear: they are what is searched
    db.session.expire_all()
    assert names(directory.search(number)) == ["Anderssons Måleri"]
