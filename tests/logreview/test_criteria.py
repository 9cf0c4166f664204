"""The sampling criteria of a log check (coordinator.logreview.criteria), each on constructed
entries with the exact set it must pick; then the same rules on entries read from a real
database (scope, cases, blind-indexed surnames) and the reproducible draw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask import Flask

from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.logreview import criteria
from coordinator.logreview.criteria import Access, CaseSpan, Context, Rules
from coordinator.logreview.models import Criterion
from coordinator.patients.models import CaseStatus, CoordinationCase
from tests.conftest import World
from tests.crypto.support import actor_for, add_patient
from tests.factories import UserFactory, valid_personnummer
from tests.patients.support import at

RULES = Rules()
#: A Monday.
MONDAY = date(2026, 6, 15)
COORDINATOR, OTHER, MANAGER = 11, 12, 13
UNIT, OTHER_UNIT = 1, 2
PATIENT, PATIENT_2 = 101, 102


def access(
    seq: int,
    when: datetime,
    *,
    user: int = COORDINATOR,
    unit: int | None = UNIT,
    role: Role | None = Role.COORDINATOR,
    patient: int = PATIENT,
    request: str | None = None,
    patient_unit: int = UNIT,
    protected: bool = False,
    surname: bytes | None = None,
) -> Access:
    return Access(
        seq, when, user, unit, role, patient, AccessAction.READ, "patient",
        request or f"request-{seq}", patient_unit, protected, surname,
    )  # fmt: skip


def test_protected_identity_picks_the_entries_of_protected_patients() -> None:
    entries = [
        access(1, at(MONDAY), protected=True),
        access(2, at(MONDAY), patient=PATIENT_2),
        access(3, at(MONDAY, 11), protected=True, user=OTHER),
    ]

    assert criteria.protected_identity(entries, Context(), RULES) == {1, 3}


def test_outside_caseload_is_another_coordinators_case_or_another_units_patient() -> None:
    context = Context(
        cases={
            PATIENT: [CaseSpan(OTHER, at(MONDAY - timedelta(days=30)), None)],
            # Two cases, one of them the coordinator's: inside the caseload.
            PATIENT_2: [
                CaseSpan(OTHER, at(MONDAY - timedelta(days=90)), MONDAY - timedelta(days=60)),
                CaseSpan(COORDINATOR, at(MONDAY - timedelta(days=30)), None),
            ],
            # Nobody has taken the case yet: a new patient anyone in the unit may screen.
            103: [CaseSpan(None, at(MONDAY - timedelta(days=2)), None)],
        }
    )
    entries = [
        access(1, at(MONDAY)),  # the other coordinator's patient
        access(2, at(MONDAY), patient=PATIENT_2),  # their own
        access(3, at(MONDAY), patient=103),  # unassigned
        access(4, at(MONDAY), patient=104, patient_unit=OTHER_UNIT),  # another unit's patient
        access(5, at(MONDAY), user=OTHER),  # the responsible coordinator
        access(6, at(MONDAY), user=MANAGER, role=Role.MANAGER),  # managers have no caseload
    ]

    assert criteria.outside_caseload(entries, context, RULES) == {1, 4}


def test_outside_working_hours_is_before_seven_from_eighteen_or_at_the_weekend() -> None:
    saturday, sunday = MONDAY + timedelta(days=5), MONDAY + timedelta(days=6)
    entries = [
        access(1, at(MONDAY, 6, 59)),
        access(2, at(MONDAY, 7, 0)),
        access(3, at(MONDAY, 17, 59)),
        access(4, at(MONDAY, 18, 0)),
        access(5, at(saturday, 10)),
        access(6, at(sunday, 12)),
        access(7, at(MONDAY + timedelta(days=4), 12)),  # Friday
    ]

    assert criteria.outside_working_hours(entries, Context(), RULES) == {1, 4, 5, 6}


def test_the_working_day_follows_local_time_not_utc() -> None:
    # 05:30 UTC in June is 07:30 in Stockholm: inside; 16:30 UTC is 18:30: outside.
    entries = [
        access(1, datetime(2026, 6, 15, 5, 30, tzinfo=UTC)),
        access(2, datetime(2026, 6, 15, 16, 30, tzinfo=UTC)),
    ]

    assert criteria.outside_working_hours(entries, Context(), RULES) == {2}


def test_working_hours_are_configurable() -> None:
    entries = [access(1, at(MONDAY, 7, 30)), access(2, at(MONDAY, 16, 30))]

    rules = Rules(day_start=8, day_end=16)

    assert criteria.outside_working_hours(entries, Context(), rules) == {1, 2}


def _opened(
    first_seq: int, user: int, start: datetime, patients: int, gap: timedelta
) -> list[Access]:
    return [
        access(first_seq + i, start + i * gap, user=user, patient=1000 + i) for i in range(patients)
    ]


def test_many_patients_is_a_burst_of_different_patients_within_the_window() -> None:
    rules = Rules(burst_patients=4, burst_minutes=10)
    # Four patients in nine minutes: a burst. Four in twelve minutes: not.
    burst = _opened(1, COORDINATOR, at(MONDAY, 9), 4, timedelta(minutes=3))
    slow = _opened(11, OTHER, at(MONDAY, 9), 4, timedelta(minutes=4))

    assert criteria.many_patients(burst + slow, Context(), rules) == {1, 2, 3, 4}


def test_many_patients_counts_different_patients_not_entries() -> None:
    rules = Rules(burst_patients=3, burst_minutes=10)
    start = at(MONDAY, 9)
    # One patient opened five times, then a second: two patients, no burst.
    entries = [access(i, start + timedelta(minutes=i)) for i in range(1, 6)]
    entries.append(access(6, start + timedelta(minutes=6), patient=PATIENT_2))

    assert criteria.many_patients(entries, Context(), rules) == set()


def test_many_patients_leaves_list_pages_out() -> None:
    rules = Rules(burst_patients=3, burst_minutes=10)
    start = at(MONDAY, 9)
    # A list page logs every patient it shows under one request: not "opening" them.
    listing = [access(i, start, patient=1000 + i, request="list-page") for i in range(1, 6)]
    # Then three patients opened one by one within two minutes: a burst.
    opened = _opened(10, COORDINATOR, start + timedelta(minutes=1), 3, timedelta(minutes=1))

    assert criteria.many_patients(listing + opened, Context(), rules) == {10, 11, 12}


def test_same_surname_compares_the_blind_indexes_of_the_users_names() -> None:
    berg, lind = b"b" * 32, b"l" * 32
    context = Context(surnames={COORDINATOR: frozenset({berg}), OTHER: frozenset({lind})})
    entries = [
        access(1, at(MONDAY), surname=berg),
        access(2, at(MONDAY), surname=lind),
        access(3, at(MONDAY), user=OTHER, surname=lind),
        access(4, at(MONDAY), user=MANAGER, surname=berg),  # no names known for this user
    ]

    assert criteria.same_surname(entries, context, RULES) == {1, 3}


def test_possible_surnames_are_every_run_of_words_after_the_first() -> None:
    assert criteria.possible_surnames("Anna  Berg Lind") == ["berg", "berg lind", "lind"]
    assert criteria.possible_surnames("Madonna") == []


def test_after_closing_is_an_access_after_every_case_was_closed() -> None:
    closed_on = MONDAY - timedelta(days=10)
    context = Context(
        cases={
            PATIENT: [CaseSpan(COORDINATOR, at(MONDAY - timedelta(days=100)), closed_on)],
            # Closed, then a new case opened on MONDAY at 09:00.
            PATIENT_2: [
                CaseSpan(COORDINATOR, at(MONDAY - timedelta(days=100)), closed_on),
                CaseSpan(COORDINATOR, at(MONDAY, 9), None),
            ],
        }
    )
    entries = [
        access(1, at(closed_on, 16)),  # on the closing day: not after
        access(2, at(closed_on + timedelta(days=1), 8)),  # the day after
        access(3, at(MONDAY, 8), patient=PATIENT_2),  # before the new case was opened
        access(4, at(MONDAY, 10), patient=PATIENT_2),  # the new case is open
        access(5, at(MONDAY), patient=103),  # no case at all
    ]

    assert criteria.after_closing(entries, context, RULES) == {2, 3}


def test_the_draw_takes_the_random_entries_and_up_to_the_limit_per_criterion() -> None:
    entries = [access(seq, at(MONDAY, 10)) for seq in range(1, 21)]
    entries += [access(seq, at(MONDAY, 20)) for seq in range(21, 31)]  # outside hours
    entries += [access(31, at(MONDAY, 10), protected=True)]
    rules = Rules(random=3, per_criterion=4)
    chosen = {Criterion.RANDOM, Criterion.OUTSIDE_WORKING_HOURS, Criterion.PROTECTED_IDENTITY}

    sample = criteria.draw(entries, Context(), rules, chosen, "seed-1")

    evening = {
        seq for seq in sample.reasons if Criterion.OUTSIDE_WORKING_HOURS in sample.reasons[seq]
    }
    at_random = {seq for seq, why in sample.reasons.items() if Criterion.RANDOM in why}
    assert len(at_random) == 3
    assert Criterion.PROTECTED_IDENTITY in sample.reasons[31]
    # Four evening entries drawn for the criterion besides any the random draw already took.
    assert len(evening - at_random) == 4
    assert len(sample.entries) == len(sample.reasons)
    assert [entry.seq for entry in sample.entries] == sorted(sample.reasons)
    assert sample.matched == {
        Criterion.RANDOM: 31,
        Criterion.PROTECTED_IDENTITY: 1,
        Criterion.OUTSIDE_WORKING_HOURS: 10,
    }
    assert sample.population == 31


def test_the_draw_is_reproducible_from_its_seed() -> None:
    entries = [access(seq, at(MONDAY, 6 + seq % 14)) for seq in range(1, 200)]
    chosen = set(Criterion)

    first = criteria.draw(entries, Context(), RULES, chosen, "abc")
    again = criteria.draw(entries, Context(), RULES, chosen, "abc")
    other = criteria.draw(entries, Context(), RULES, chosen, "abd")

    assert first.reasons == again.reasons
    assert first.reasons != other.reasons


def test_a_criterion_not_chosen_draws_nothing() -> None:
    entries = [access(1, at(MONDAY, 22)), access(2, at(MONDAY, 10), protected=True)]

    sample = criteria.draw(entries, Context(), RULES, {Criterion.PROTECTED_IDENTITY}, "s")

    assert sample.reasons == {2: [Criterion.PROTECTED_IDENTITY]}
    assert sample.matched == {Criterion.PROTECTED_IDENTITY: 1}


# -- on a real database -----------------------------------------------------------------------


@pytest.fixture
def context_app(app: Flask, world: World) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.mark.parametrize("listed", [2000, 0], ids=["cases-by-listed-ids", "cases-by-subquery"])
def test_scope_and_context_read_the_entries_cases_and_surnames_from_the_database(
    context_app: Flask, world: World, monkeypatch: pytest.MonkeyPatch, listed: int
) -> None:
    monkeypatch.setattr(criteria, "_LISTED_PATIENTS", listed)
    berg = UserFactory(username="berg", full_name="Karin Berg", units=[])
    db.session.add(berg)
    db.session.commit()
    coordinator = actor_for(world.coordinator_a, world.unit_a)
    namesake = actor_for(berg, world.unit_a)
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    relative = add_patient(world.unit_a, valid_personnummer("19700101", 123), "Per", "Berg")
    stranger = add_patient(world.unit_b, valid_personnummer("19700102", 124), "Eva", "Lind")
    stranger.is_protected = True
    closed = CoordinationCase(
        patient_id=relative.id, unit_id=world.unit_a.id, status=CaseStatus.CLOSED,
        coordinator_id=world.coordinator_a.id, opened_at=at(date(2026, 1, 5)),
        closed_on=date(2026, 5, 29),
    )  # fmt: skip
    db.session.add(closed)
    db.session.commit()
    with time_machine.travel(at(date(2026, 5, 31), 23, 50), tick=False):
        journal.record_access(coordinator, relative, AccessAction.READ)  # the day before
    with time_machine.travel(at(MONDAY - timedelta(days=14), 21), tick=False):
        namesake_entry = journal.record_access(namesake, relative, AccessAction.READ)
        other_entry = journal.record_access(other_unit, stranger, AccessAction.READ)
        mine_elsewhere = journal.record_access(coordinator, stranger, AccessAction.READ)
    db.session.commit()

    entries = criteria.scope([world.unit_a.id], date(2026, 6, 1), MONDAY)
    context = criteria.context(entries, [world.unit_a.id], date(2026, 6, 1), MONDAY)

    # The entry of unit B's coordinator to unit B's patient is out of unit A's scope.
    assert [entry.seq for entry in entries] == [namesake_entry.seq, mine_elsewhere.seq]
    assert other_entry.seq not in {entry.seq for entry in entries}
    assert criteria.same_surname(entries, context, RULES) == {namesake_entry.seq}
    assert criteria.protected_identity(entries, context, RULES) == {mine_elsewhere.seq}
    # Karin Berg is not the coordinator of the relative's case; unit B's patient is elsewhere.
    assert criteria.outside_caseload(entries, context, RULES) == {
        namesake_entry.seq,
        mine_elsewhere.seq,
    }
    assert criteria.outside_working_hours(entries, context, RULES) == {
        namesake_entry.seq,
        mine_elsewhere.seq,
    }
    assert criteria.after_closing(entries, context, RULES) == {namesake_entry.seq}
    assert context.cases[relative.id] == [
        CaseSpan(world.coordinator_a.id, at(date(2026, 1, 5)), date(2026, 5, 29))
    ]


def test_system_commands_are_not_in_scope(context_app: Flask, world: World) -> None:
    with time_machine.travel(at(MONDAY), tick=False):
        journal.record_export(None, [world.patient_a.id], "quarterly:2026Q2", "report-quarterly")
    db.session.commit()

    assert criteria.scope([world.unit_a.id], MONDAY, MONDAY) == []
