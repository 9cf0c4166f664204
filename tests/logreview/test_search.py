"""Searching the access log: each filter alone and together, the manager's scope (entries made
in their units or to their units' patients), pages of 50 newest first, every patient shown
logged as a search of the log, and nothing shown that the page does not need.

Data (:func:`log`): units Norr and Söder (the manager's; they work in Norr) and Väster (not
theirs). Patients Tolvan (Norr), Sigrid (Norr, protected identity), Elva (Söder), Vera
(Väster). Accesses, in this order (Swedish summer time, UTC+2):

1. 06-01 09:00 Anna (Norr) reads Tolvan;
2. 06-01 09:30 Bo (Söder) reads Tolvan — another unit, a patient of Norr;
3. 06-01 10:00 Bo (Söder) reads Elva — Söder's own patient;
4. 06-02 23:30 Anna changes Tolvan — the last half hour of 2 June (21:30 UTC);
5. 06-03 00:10 Anna reads Sigrid — the first minutes of 3 June (22:10 UTC on 2 June);
6. 06-03 08:00 Anna prints Tolvan's plan;
7. 06-05 02:00 the command ``report-quarterly`` exports a report counting Tolvan, and
8. (same export) Elva;
9. 06-08 11:00 Cid (Väster) reads Vera — Väster's own;
10. 06-09 13:00 Anna (Norr) is refused sharing Vera's plan — made in Norr, a patient of Väster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from coordinator.auth.models import User
from coordinator.errors import Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.logreview import search
from tests.conftest import UnitRef, UserRef, World
from tests.crypto.support import actor_for
from tests.factories import PatientFactory, UserFactory, valid_personnummer
from tests.helpers import alert, field_errors, submit
from tests.logreview.support import (
    link_query,
    local,
    log_count,
    log_rows,
    log_seqs,
    logged,
    manager_of,
    mark,
    other_unit,
    patient_row,
    text_of,
    unit_row,
)
from tests.patients.support import NOW, last_access_seq

pytestmark = pytest.mark.usefixtures("frozen")

TOLVAN = "19410708-6995"
ELVA = "19811228-9874"
VERA = "19650405-2389"
SIGRID = valid_personnummer("19750312", 123)
#: What the page must never show of Sigrid, whose identity is protected.
SIGRID_SECRETS = ("Sigrid", "Hemlund", "Hemliga gatan 7", "F32.1")


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    """The clock stopped at 2026-06-15 10:00 (first, so the world is made then too)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@dataclass(frozen=True)
class Cast:
    norr: UnitRef
    soder: UnitRef
    vaster: UnitRef
    anna: UserRef
    bo: UserRef
    chef_vaster: UserRef
    tolvan: int
    elva: int
    sigrid: int
    vera: int


@pytest.fixture
def log(app: Flask, world: World, frozen: time_machine.Traveller) -> Cast:
    """The accesses of the module's docstring, through the journal service; the clock is back
    at 2026-06-15 10:00 afterwards."""
    with app.app_context():
        vaster = other_unit()
        chef_vaster = manager_of("chef.vaster", vaster)
        cid = UserFactory(username="koord.c", units=[unit_row(vaster)])
        sigrid = PatientFactory(unit_id=world.unit_a.id, personnummer=SIGRID, first_name="Sigrid",
                                last_name="Hemlund", is_protected=True,
                                address="Hemliga gatan 7", diagnosis="F32.1")  # fmt: skip
        vera = PatientFactory(unit_id=vaster.id, personnummer=VERA, first_name="Vera",
                              last_name="Västlund")  # fmt: skip
        tolvan, elva = patient_row(world.patient_a.id), patient_row(world.patient_b.id)
        for ref, name in ((world.coordinator_a, "Anna Berg"), (world.coordinator_b, "Bo Ek")):
            user = db.session.get(User, ref.id)
            assert user is not None
            user.full_name = name
        anna = actor_for(world.coordinator_a, world.unit_a)
        bo = actor_for(world.coordinator_b, world.unit_b)
        cid_actor = actor_for(cid, vaster)
        steps: list[tuple[datetime, Callable[[], object]]] = [
            (local(6, 1, 9), lambda: journal.record_access(anna, tolvan, AccessAction.READ)),
            (local(6, 1, 9, 30), lambda: journal.record_access(bo, tolvan, AccessAction.READ)),
            (local(6, 1, 10), lambda: journal.record_access(bo, elva, AccessAction.READ)),
            (local(6, 2, 23, 30), lambda: journal.record_access(anna, tolvan, AccessAction.CHANGE)),
            (local(6, 3, 0, 10), lambda: journal.record_access(anna, sigrid, AccessAction.READ)),
            (local(6, 3, 8), lambda: journal.record_access(
                anna, tolvan, AccessAction.PRINT, "plan")),
            (local(6, 5, 2), lambda: journal.record_export(
                None, [tolvan.id, elva.id], "quarterly:2026Q2", "report-quarterly")),
            (local(6, 8, 11), lambda: journal.record_access(cid_actor, vera, AccessAction.READ)),
            (local(6, 9, 13), lambda: journal.record_access(
                anna, vera, AccessAction.DENIED, "plan_share", "employer")),
        ]  # fmt: skip
        for moment, step in steps:
            frozen.move_to(moment)
            step()
        frozen.move_to(NOW)
        db.session.commit()
        assert last_access_seq() == 10
        assert tolvan.id < elva.id  # the export's entries go by patient: 7 Tolvan, 8 Elva
        return Cast(world.unit_a, world.unit_b, vaster, world.coordinator_a, world.coordinator_b,
                    chef_vaster, tolvan.id, elva.id, sigrid.id, vera.id)  # fmt: skip


def _search(client: FlaskClient, **arguments: object) -> TestResponse:
    """The search form posted with ``arguments`` (and the form's CSRF token)."""
    return submit(client, "/log/search", {k: str(v) for k, v in arguments.items()})


# -- Filters ---------------------------------------------------------------------------------

Arguments = Callable[[Cast], dict[str, object]]

FILTERS: dict[str, tuple[Arguments, list[int]]] = {
    # The unit alone: the current one, the manager's other one, all of theirs.
    "unit-norr": (lambda c: {"unit": c.norr.id}, [10, 7, 6, 5, 4, 2, 1]),
    "unit-soder": (lambda c: {"unit": c.soder.id}, [8, 3, 2]),
    "unit-all": (lambda c: {"unit": "all"}, [10, 8, 7, 6, 5, 4, 3, 2, 1]),
    # Each other filter alone, in the current unit (no unit chosen).
    "user": (lambda c: {"user": c.anna.id}, [10, 6, 5, 4, 1]),
    "personnummer": (lambda c: {"personnummer": TOLVAN}, [7, 6, 4, 2, 1]),
    "personnummer-12-digits": (lambda c: {"personnummer": "194107086995"}, [7, 6, 4, 2, 1]),
    "action": (lambda c: {"action": "read"}, [5, 2, 1]),
    "first-day": (lambda c: {"first": "2026-06-03"}, [10, 7, 6, 5]),
    "last-day": (lambda c: {"last": "2026-06-02"}, [4, 2, 1]),
    # 23:30 on 2 June is in the day, 00:10 on 3 June is not (and vice versa).
    "period-2-june": (lambda c: {"first": "2026-06-02", "last": "2026-06-02"}, [4]),
    "period-3-june": (lambda c: {"first": "2026-06-03", "last": "2026-06-03"}, [6, 5]),
    # Combined.
    "user-all-units": (lambda c: {"user": c.bo.id, "unit": "all"}, [3, 2]),
    "user-in-norr": (lambda c: {"user": c.bo.id}, [2]),
    "user-personnummer": (lambda c: {"user": c.anna.id, "personnummer": TOLVAN}, [6, 4, 1]),
    "action-all-units": (lambda c: {"action": "read", "unit": "all"}, [5, 3, 2, 1]),
    "user-action-period": (
        lambda c: {
            "user": c.anna.id,
            "action": "read",
            "first": "2026-06-02",
            "last": "2026-06-03",
        },
        [5],
    ),
    "personnummer-action-unit": (
        lambda c: {"personnummer": ELVA, "action": "export", "unit": c.soder.id},
        [8],
    ),
    "everything-no-hit": (
        lambda c: {
            "user": c.anna.id,
            "personnummer": TOLVAN,
            "action": "print",
            "first": "2026-06-04",
            "last": "2026-06-30",
            "unit": "all",
        },
        [],
    ),
}


@pytest.mark.parametrize(("arguments", "expected"), FILTERS.values(), ids=FILTERS.keys())
def test_each_filter_alone_and_combined_finds_exactly_its_entries_newest_first(
    log: Cast, manager_client: FlaskClient, arguments: Arguments, expected: list[int]
) -> None:
    response = _search(manager_client, **arguments(log))

    assert response.status_code == 200, response.text
    assert log_seqs(response) == expected
    count = log_count(response)
    assert count is not None
    assert int(count.split()[0]) == len(expected)


def test_the_rows_show_time_user_unit_action_what_and_patient_in_swedish(
    log: Cast, manager_client: FlaskClient
) -> None:
    rows = log_rows(_search(manager_client, unit=log.norr.id))

    tolvan = "19410708-6995 Tolvan Tolvansson"
    assert rows[2] == ["2026-06-01 09:30", "Bo Ek", "Vårdcentralen Söder", "Läst",
                       "Patientuppgifter", tolvan]  # fmt: skip
    assert rows[4] == ["2026-06-02 23:30", "Anna Berg", "Vårdcentralen Norr", "Ändrad",
                       "Patientuppgifter", tolvan]  # fmt: skip
    assert rows[6] == ["2026-06-03 08:00", "Anna Berg", "Vårdcentralen Norr", "Utskriven",
                       "Rehabiliteringsplan", tolvan]  # fmt: skip
    assert rows[10] == ["2026-06-09 13:00", "Anna Berg", "Vårdcentralen Norr", "Nekad",
                        "Delning av planen", "19650405-2389 Vera Västlund"]  # fmt: skip


def test_a_system_commands_entry_names_the_command_instead_of_a_user(
    log: Cast, manager_client: FlaskClient
) -> None:
    rows = log_rows(_search(manager_client, unit="all"))

    assert rows[7] == ["2026-06-05 02:00", "Systemkörning (report-quarterly)", "–", "Exporterad",
                       "Rapport", "19410708-6995 Tolvan Tolvansson"]  # fmt: skip
    assert rows[8][:3] == ["2026-06-05 02:00", "Systemkörning (report-quarterly)", "–"]


def test_a_protected_patient_is_masked_and_nothing_but_the_row_is_shown(
    log: Cast, manager_client: FlaskClient
) -> None:
    response = _search(manager_client, unit=log.norr.id)

    printed = f"{SIGRID[:8]}-{SIGRID[8:]}"
    assert log_rows(response)[5] == ["2026-06-03 00:10", "Anna Berg", "Vårdcentralen Norr",
                                     "Läst", "Patientuppgifter",
                                     f"{printed} Skyddad personuppgift"]  # fmt: skip
    for secret in SIGRID_SECRETS:
        assert secret not in response.text
    # What an entry points at is not shown either (here: the refused recipient).
    assert "employer" not in response.text


# -- Scope -----------------------------------------------------------------------------------


@pytest.fixture
def context(app: Flask) -> Iterator[None]:
    """An app context for calling the service directly."""
    with app.app_context():
        yield


def _seqs(results: search.Results) -> list[int]:
    return [row.entry.seq for row in results.rows]


def test_entries_made_elsewhere_are_found_only_for_the_units_own_patients(
    world: World, log: Cast, context: None
) -> None:
    manager = actor_for(world.manager, world.unit_a)
    norr = unit_row(log.norr)

    by_bo = search.search(manager, search.Query(units=[norr], user_id=log.bo.id))

    # Bo, working in Söder, read Tolvan of Norr (2) and Elva of Söder (3): only 2 is Norr's.
    assert _seqs(by_bo) == [2]
    row = by_bo.rows[0]
    assert (row.patient.id, row.user and row.user.id, row.unit and row.unit.id) == (
        log.tolvan, log.bo.id, log.soder.id)  # fmt: skip
    # Made in Norr to Väster's patient: Norr's entry.
    denied = search.search(manager, search.Query(units=[norr], action=AccessAction.DENIED))
    assert _seqs(denied) == [10]
    # For Väster's manager: Cid's read, Norr's refusal concerning their patient Vera, and the
    # search just made in Norr that showed Vera (12; 11 logged Tolvan, shown by the first).
    chef_vaster = actor_for(log.chef_vaster, log.vaster)
    vaster = search.search(chef_vaster, search.Query(units=[unit_row(log.vaster)]))
    assert (_seqs(vaster), vaster.total, vaster.page, vaster.pages) == ([12, 10, 9], 3, 1, 1)


def test_the_service_refuses_units_that_are_not_the_managers_and_non_managers(
    world: World, log: Cast, context: None
) -> None:
    manager = actor_for(world.manager, world.unit_a)
    mark_before = last_access_seq()

    with pytest.raises(NotFound):
        search.search(manager, search.Query(units=[unit_row(log.vaster)]))
    with pytest.raises(NotFound):
        search.search(manager, search.Query(units=[unit_row(log.norr), unit_row(log.vaster)]))
    with pytest.raises(NotFound):
        search.search(manager, search.Query(units=[]))
    with pytest.raises(NotFound):  # Vera is Väster's
        search.search(manager, search.Query(units=[unit_row(log.norr)], personnummer=VERA))
    with pytest.raises(InvalidField) as malformed:
        search.search(manager, search.Query(units=[unit_row(log.norr)], personnummer="12345"))
    assert malformed.value.field == "personnummer"
    coordinator = actor_for(world.coordinator_a, world.unit_a)
    with pytest.raises(Forbidden):
        search.search(coordinator, search.Query(units=[unit_row(log.norr)]))
    assert last_access_seq() == mark_before


def test_the_period_is_made_of_swedish_days(world: World, log: Cast, context: None) -> None:
    """In summer 2 June in Sweden runs from 1 June 22:00 to 2 June 22:00 UTC: entry 5, at
    22:10 UTC on 2 June, is on the 3rd."""
    manager = actor_for(world.manager, world.unit_a)
    norr = unit_row(log.norr)

    def found(first: date, last: date) -> list[int]:
        return _seqs(search.search(manager, search.Query(units=[norr], first=first, last=last)))

    assert found(date(2026, 6, 2), date(2026, 6, 2)) == [4]
    assert found(date(2026, 6, 3), date(2026, 6, 3)) == [6, 5]
    assert found(date(2026, 6, 1), date(2026, 6, 1)) == [2, 1]
    assert found(date(2026, 5, 1), date(2026, 5, 31)) == []


# -- Refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["12345", "Tolvansson", "19410708-69951"])
def test_a_malformed_number_is_a_bad_request_on_its_field_and_nothing_is_logged(
    app: Flask, log: Cast, manager_client: FlaskClient, number: str
) -> None:
    before = mark(app)

    response = _search(manager_client, personnummer=number)

    assert response.status_code == 400
    assert field_errors(response) == {"personnummer": "Inte ett giltigt personnummer."}
    assert log_seqs(response) == []
    assert logged(app, before) == []


def test_a_number_with_a_wrong_check_digit_is_refused_on_its_field_too(
    app: Flask, log: Cast, manager_client: FlaskClient
) -> None:
    """As on the log extract's page: the number cannot be anyone's, which the field says —
    not "no patient with that personnummer", which reads as if the number were fine."""
    before = mark(app)

    response = _search(manager_client, personnummer="19410708-6996")

    assert log_seqs(response) == []
    assert logged(app, before) == []
    assert response.status_code == 400
    assert list(field_errors(response)) == ["personnummer"]


def test_a_patient_of_another_unit_is_not_found_like_an_unregistered_number(
    app: Flask, log: Cast, manager_client: FlaskClient
) -> None:
    before = mark(app)

    vera = _search(manager_client, personnummer=VERA, unit="all")  # Väster's patient
    elva = _search(manager_client, personnummer=ELVA)  # Söder's, not the current unit's
    unregistered = _search(manager_client, personnummer="19121212-1212", unit="all")

    assert (vera.status_code, elva.status_code, unregistered.status_code) == (404, 404, 404)
    assert alert(vera) == "Ingen patient med det personnumret på de valda enheterna."
    assert alert(vera) == alert(elva) == alert(unregistered)
    assert log_seqs(vera) == log_seqs(elva) == []
    assert "Västlund" not in vera.text
    assert logged(app, before) == []


def test_another_managers_unit_is_not_found(
    app: Flask, log: Cast, manager_client: FlaskClient
) -> None:
    before = mark(app)

    response = _search(manager_client, unit=log.vaster.id)

    assert log_seqs(response) == []
    assert "Västlund" not in response.text
    assert logged(app, before) == []
    assert response.status_code == 404


def test_a_coordinator_may_not_search_the_log(
    app: Flask, log: Cast, coordinator_client: FlaskClient
) -> None:
    before = mark(app)

    response = _search(coordinator_client, unit=log.norr.id)

    assert response.status_code == 403
    assert log_seqs(response) == []
    assert logged(app, before) == []


# -- Logging ---------------------------------------------------------------------------------


def _searched(cast: Cast, manager: UserRef, *patients: int) -> list[tuple[str, str, int, int, int]]:
    """One SEARCH of the access log per patient, by ``manager`` working in Norr."""
    return sorted(("search", "access_log", patient, manager.id, cast.norr.id)
                  for patient in patients)  # fmt: skip


def test_every_page_view_logs_each_patient_it_shows_exactly_once(
    app: Flask, world: World, log: Cast, manager_client: FlaskClient
) -> None:
    first_mark = mark(app)
    _search(manager_client, unit=log.norr.id)
    first = sorted(logged(app, first_mark))
    second_mark = mark(app)
    again = _search(manager_client, unit=log.norr.id)
    second = sorted(logged(app, second_mark))

    shown = (log.tolvan, log.sigrid, log.vera)
    assert first == second == _searched(log, world.manager, *shown)
    # The second view lists the first's three searches too (made in Norr, newest first).
    assert log_seqs(again) == [13, 12, 11, 10, 7, 6, 5, 4, 2, 1]
    all_mark = mark(app)
    _search(manager_client, unit="all")
    assert sorted(logged(app, all_mark)) == _searched(log, world.manager, *shown, log.elva)


def test_a_search_for_a_patient_logs_that_patient_once_with_or_without_hits(
    app: Flask, world: World, log: Cast, manager_client: FlaskClient
) -> None:
    hits_mark = mark(app)
    hits = _search(manager_client, personnummer=TOLVAN)
    with_hits = logged(app, hits_mark)
    none_mark = mark(app)
    none = _search(manager_client, personnummer=TOLVAN, action="disclose")
    without_hits = logged(app, none_mark)

    assert log_seqs(hits) == [7, 6, 4, 2, 1]
    assert (none.status_code, log_seqs(none), log_count(none)) == (200, [], "0 poster")
    assert with_hits == without_hits == _searched(log, world.manager, log.tolvan)


@pytest.mark.parametrize(
    "path", ["/log/search", "/log/search?unit=&user=&personnummer=&action=&first=&last="]
)
def test_the_empty_form_searches_nothing_and_logs_nothing(
    app: Flask, log: Cast, manager_client: FlaskClient, path: str
) -> None:
    before = mark(app)

    response = manager_client.get(path)

    assert response.status_code == 200
    assert 'name="personnummer"' in response.text
    assert (log_seqs(response), log_count(response)) == ([], None)
    assert logged(app, before) == []


# -- Pages -----------------------------------------------------------------------------------


@pytest.fixture
def many(app: Flask, world: World, frozen: time_machine.Traveller) -> list[int]:
    """Anna's 125 accesses to Tolvan on 10 June, a minute apart: every 25th a change (seqs 1,
    26, 51, 76, 101), the 120 others reads. Returns the reads' seqs, newest first."""
    with app.app_context():
        anna = actor_for(world.coordinator_a, world.unit_a)
        tolvan = patient_row(world.patient_a.id)
        for i in range(125):
            frozen.move_to(local(6, 10, 8) + timedelta(minutes=i))
            action = AccessAction.CHANGE if i % 25 == 0 else AccessAction.READ
            journal.record_access(anna, tolvan, action)
        frozen.move_to(NOW)
        db.session.commit()
    return [seq for seq in range(125, 0, -1) if (seq - 1) % 25 != 0]


def test_results_come_fifty_a_page_newest_first_and_the_pager_keeps_the_filters(
    app: Flask, world: World, many: list[int], manager_client: FlaskClient
) -> None:
    filters = {"unit": str(world.unit_a.id), "user": str(world.coordinator_a.id), "action": "read"}
    searched = [("search", "access_log", world.patient_a.id, world.manager.id, world.unit_a.id)]

    views = []
    for page in (1, 3, 99):
        before = mark(app)
        views.append(_search(manager_client, **filters, page=page))
        assert logged(app, before) == searched  # Tolvan, once per page view
    first, third, beyond = views

    assert len(many) == 120
    assert log_seqs(first) == many[:50]
    assert log_seqs(third) == many[100:120]
    assert log_seqs(beyond) == many[100:120]  # past the end: the last page
    assert [log_count(view) for view in views] == ["120 poster"] * 3
    assert ["Sida 1 av 3" in first.text, "Sida 3 av 3" in third.text,
            "Sida 3 av 3" in beyond.text] == [True, True, True]  # fmt: skip
    to_second = {**filters, "page": "2"}
    assert (link_query(first, "prev"), link_query(first, "next")) == (None, to_second)
    assert (link_query(third, "prev"), link_query(third, "next")) == (to_second, None)
    assert (link_query(beyond, "prev"), link_query(beyond, "next")) == (to_second, None)
    following = _search(manager_client, **(link_query(first, "next") or {}))
    assert log_seqs(following) == many[50:100]


def test_results_without_a_page_are_the_first_page(
    world: World, many: list[int], manager_client: FlaskClient
) -> None:
    response = _search(manager_client, user=world.coordinator_a.id, action="read")

    assert log_seqs(response) == many[:50]
    assert text_of(response.text).count("Sida 1 av 3") == 1
