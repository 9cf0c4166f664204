"""Bad input at scale, the forms of managers and administrators through the app: users and
care units (administrator), the log follow-up's search, sample checks and log extracts, and
the reports' settings and filters (manager of units A and B, working in A).

Users, units and the log checks' comments are kept in the clear: besides the length limits,
they refuse control characters (PostgreSQL cannot store NUL in text). Dates that bound a
search must lie between 1900 and 2199 (the ends of the calendar overflowed the search's day
arithmetic). Never a 500."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.logreview.checks import COMMENT_MAX
from coordinator.logreview.models import Criterion, LogCheck, LogCheckItem
from coordinator.patients.models import Patient
from coordinator.reports import settings as report_settings
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.helpers import alert, field_errors
from tests.patients.conftest import frozen  # noqa: F401 (the stopped clock, by name below)
from tests.patients.support import TODAY
from tests.security.bad_input import (
    ODD_VALUES,
    SAMPLE,
    FormCase,
    OddCase,
    Session,
    TextField,
    free_text,
    never_a_server_error,
    try_every_form,
    try_odd_values,
)

pytestmark = pytest.mark.usefixtures("frozen")

USER = [
    TextField("full_name", 120, required=True, plain=True),
    TextField("title", 80, plain=True),
    TextField("phone", 40, plain=True),
]
UNIT = [TextField("name", 120, required=True, plain=True)]
_PASSWORD = "Blåbärssylt på tisdagar, 1987!"
_usernames = itertools.count(1)


def _user_fields(user: User | None) -> dict[str, Any]:
    return {f.name: getattr(user, f.name) for f in USER} if user else {}


def _admin_forms(admin: Session, world: World) -> list[FormCase]:
    state = {"username": ""}

    def a_new_username() -> None:
        state["username"] = f"ny.{next(_usernames)}"

    def created(_actor: Actor) -> dict[str, Any]:
        user = db.session.scalars(select(User).where(User.username == state["username"])).first()
        return _user_fields(user)

    def unit_names(_actor: Actor) -> dict[str, Any]:
        names = list(db.session.scalars(select(CareUnit.name).order_by(CareUnit.id)))
        return {"count": len(names), "name": names[-1], "names": names}

    def taken(values: Any) -> frozenset[str]:
        """A name another unit has is refused (units are told apart by name)."""
        names = admin.read(unit_names)["names"]
        return frozenset({"name"}) if values["name"].strip() in names else frozenset()

    # Its own sample name: the new unit's sample would be taken.
    renamed = [replace(UNIT[0], sample=f"Söder {SAMPLE}")]

    def unit_b(_actor: Actor) -> dict[str, Any]:
        return {"name": db.session.get(CareUnit, world.unit_b.id).name}  # type: ignore[union-attr]

    user = {"role": "coordinator", "units": str(world.unit_b.id)}
    unit = {"kind": "health_centre", "provider_type": "public", "is_active": "y"}
    return [
        FormCase("new user", USER, prepare=a_new_username,
                 post=lambda values: admin.post("/admin/users/new", {
                     **user, "username": state["username"], "password": _PASSWORD, **values}),
                 read=lambda: admin.read(created)),
        FormCase("edit user", USER,
                 post=lambda values: admin.post(f"/admin/users/{world.coordinator_b.id}",
                                                {**user, "is_active": "y", **values}),
                 read=lambda: admin.read(lambda _a: _user_fields(
                     db.session.get(User, world.coordinator_b.id)))),
        FormCase("new unit", UNIT, uncertain=taken,
                 post=lambda values: admin.post("/admin/units/new", {**unit, **values}),
                 read=lambda: {k: v for k, v in admin.read(unit_names).items() if k != "names"}),
        FormCase("edit unit", renamed, uncertain=taken,
                 post=lambda values: admin.post(f"/admin/units/{world.unit_b.id}",
                                                {**unit, **values}),
                 read=lambda: admin.read(unit_b)),
    ]  # fmt: skip


@pytest.fixture
def admin(app: Flask, world: World, admin_client: FlaskClient) -> Session:
    return Session(app, admin_client, world.admin, None)


@pytest.fixture
def manager(app: Flask, world: World, manager_client: FlaskClient) -> Session:
    return Session(app, manager_client, world.manager, world.unit_a)


def test_the_user_and_unit_forms_store_any_text_exactly_or_refuse_it(
    admin: Session, world: World
) -> None:
    try_every_form(_admin_forms(admin, world), examples=12)


def test_the_user_and_unit_forms_take_any_choice_without_a_server_error(
    admin: Session, world: World
) -> None:
    def user(_a: Actor) -> tuple[Any, ...]:
        found = db.session.get(User, world.coordinator_b.id)
        assert found is not None
        return (found.role, [u.id for u in found.units], found.is_active)

    def unit(_a: Actor) -> tuple[Any, ...]:
        found = db.session.get(CareUnit, world.unit_b.id)
        assert found is not None
        return (found.kind, found.provider_type, found.is_active)

    try_odd_values(
        [
            OddCase("edit user", {"role": "coordinator", "units": str(world.unit_b.id)},
                    post=lambda values: admin.post(f"/admin/users/{world.coordinator_b.id}",
                                                   {"full_name": "Elva Koordinator", **values}),
                    read=lambda: admin.read(user)),
            OddCase("edit unit", {"kind": "health_centre", "provider_type": "public"},
                    post=lambda values: admin.post(f"/admin/units/{world.unit_b.id}",
                                                   {"name": "Vårdcentralen Söder", **values}),
                    read=lambda: admin.read(unit)),
        ],
        examples=10,
    )  # fmt: skip


# -- The log follow-up -------------------------------------------------------------------------


def _accesses(app: Flask, world: World) -> None:
    """Coordinator A read patient A's record three times today: something to sample."""
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        for _ in range(3):
            journal.record_access(actor, patient, AccessAction.READ)
        db.session.commit()


_DRAW = {"first": TODAY.isoformat(), "last": TODAY.isoformat(),
         "criteria": [criterion.value for criterion in Criterion]}  # fmt: skip


def _row_messages(response: TestResponse) -> dict[str, str]:
    """The findings' messages, shown in the sampled entry's row (one comment is filled)."""
    found = re.findall(r'<p class="error">([^<]+)</p>', response.text)
    return {"comment": " ".join(found)} if found else {}


def _check_forms(manager: Session, world: World) -> list[FormCase]:
    """Findings' comments on one check; the summary of a check of its own each time (a signed
    check is final), all its entries judged first."""
    unit = {"unit": str(world.unit_a.id)}
    first = manager.post("/log/checks/new", {**unit, **_DRAW})
    assert first.status_code == 302, first.text
    judged = first.headers["Location"]
    state = {"check": ""}

    def items(check_url: str) -> list[LogCheckItem]:
        check = db.session.get(LogCheck, int(check_url.rsplit("/", 1)[1]))
        assert check is not None
        return sorted(check.items, key=lambda item: item.position)

    item_id = manager.read(lambda _a: items(judged)[0].id)

    def findings(values: dict[str, str]) -> dict[str, str]:
        return {f"finding_{item_id}": "justified", f"comment_{item_id}": values["comment"]}

    def all_judged() -> None:
        drawn = manager.post("/log/checks/new", {**unit, **_DRAW})
        assert drawn.status_code == 302, drawn.text
        state["check"] = drawn.headers["Location"]
        ids = manager.read(lambda _a: [item.id for item in items(state["check"])])
        judged_all = {f"finding_{i}": "justified" for i in ids}
        assert manager.post(state["check"], judged_all).status_code == 302

    def signed(_a: Actor) -> dict[str, Any]:
        check = db.session.get(LogCheck, int(state["check"].rsplit("/", 1)[1]))
        assert check is not None
        return {"summary": check.summary, "signed": check.signed_at is not None}

    return [
        FormCase("findings", [TextField("comment", COMMENT_MAX, plain=True, optional=False)],
                 post=lambda values: manager.post(judged, findings(values)),
                 read=lambda: manager.read(lambda _a: {"comment": items(judged)[0].comment}),
                 messages=_row_messages),
        FormCase("sign", [TextField("summary", COMMENT_MAX, plain=True, optional=False)],
                 prepare=all_judged,
                 post=lambda values: manager.post(f"{state['check']}/sign", values),
                 read=lambda: manager.read(signed)),
    ]  # fmt: skip


def test_the_log_check_forms_store_any_text_exactly_or_refuse_it(
    app: Flask, world: World, manager: Session
) -> None:
    _accesses(app, world)
    try_every_form(_check_forms(manager, world), examples=12)


def test_the_log_check_forms_take_any_date_or_choice_without_a_server_error(
    app: Flask, world: World, manager: Session
) -> None:
    _accesses(app, world)

    def checks(_a: Actor) -> int:
        return int(db.session.scalar(select(func.count(LogCheck.id))) or 0)

    try_odd_values(
        [
            OddCase("draw", {"unit": str(world.unit_a.id), "first": TODAY.isoformat(),
                             "last": TODAY.isoformat(), "criteria": "random"},
                    post=lambda values: manager.post("/log/checks/new", values),
                    read=lambda: manager.read(checks)),
        ],
        examples=20,
    )  # fmt: skip


_SEARCH = {"unit": "", "user": "", "personnummer": "", "action": "", "first": "", "last": "",
           "page": ""}  # fmt: skip


@settings(max_examples=40)
@given(field=st.sampled_from(sorted(_SEARCH)), value=st.one_of(ODD_VALUES, free_text(20)))
def test_the_log_search_takes_any_value_in_any_field_without_a_server_error(
    app: Flask, world: World, manager: Session, field: str, value: str
) -> None:
    response = manager.post("/log/search", {**_SEARCH, "unit": str(world.unit_a.id),
                                            field: value})  # fmt: skip

    never_a_server_error(response)
    assert response.status_code in (200, 400, 404)  # 404: not one of the manager's units
    if response.status_code == 400 and field != "page":  # the pager's field is hidden
        assert field_errors(response) or alert(response)


@settings(max_examples=30)
@given(
    number=st.one_of(
        ODD_VALUES,
        free_text(20),
        st.sampled_from(
            ["19410708-6995", "194107086995", " 410708-6995 ", "٤١٠٧٠٨-٦٩٩٥", "19410708 6995"]
        ),
    )
)
def test_a_log_extract_takes_any_personnummer_without_a_server_error(
    manager: Session, number: str
) -> None:  # fmt: skip
    response = manager.post("/log/extracts/", {"personnummer": number})

    never_a_server_error(response)
    if number.strip().replace(" ", "") in ("19410708-6995", "194107086995", "410708-6995"):
        assert response.status_code == 200  # patient A, in any of the ASCII spellings
    else:
        assert response.status_code in (400, 404)
        assert field_errors(response) or alert(response)


# -- The reports: settings and filters -----------------------------------------------------------


def test_the_report_settings_take_any_number_without_a_server_error(
    world: World, manager: Session
) -> None:
    unit = world.unit_a.id

    def saved(_a: Actor) -> tuple[Any, ...]:
        return (report_settings.populations([unit]), report_settings.targets(unit))

    try_odd_values(
        [
            OddCase("population", {"population": "12000"},
                    post=lambda values: manager.post(f"/reports/population?unit={unit}", values),
                    read=lambda: manager.read(saved)),
            OddCase("targets", {"plan_coverage": "80", "coordination_decided": "90",
                                "days_to_first_contact": "14", "plan_followed_up": "75"},
                    post=lambda values: manager.post(f"/reports/indicators/targets?unit={unit}",
                                                     values),
                    read=lambda: manager.read(saved)),
            OddCase("reassign", {"cases": "", "coordinator": str(world.coordinator_a.id)},
                    post=lambda values: manager.post("/reports/caseload/reassign", values),
                    read=lambda: manager.read(saved)),
        ],
        examples=10,
    )  # fmt: skip


_FILTERS: dict[str, tuple[str, ...]] = {
    "/reports/statistics": ("start", "end", "unit"),
    "/reports/statistics.csv": ("start", "end", "table"),
    "/reports/quarterly": ("year", "quarter", "rate", "unit"),
    "/reports/quarterly.csv": ("year", "quarter", "rate"),
    "/reports/caseload": ("month", "unit"),
    "/reports/caseload/patients": ("month", "measure", "coordinator", "unit"),
    "/reports/indicators": ("start", "end"),
    "/consents/statistics": ("start", "end"),
    "/patients/": ("scope", "status", "signal", "band", "degree", "group", "follow_up", "plan",
                   "sort", "page"),
    "/directory/": ("q", "type", "patient", "purpose"),
}  # fmt: skip


@settings(max_examples=60)
@given(data=st.data())
def test_the_report_and_list_filters_take_any_value_without_a_server_error(
    manager: Session, data: st.DataObject
) -> None:
    url = data.draw(st.sampled_from(sorted(_FILTERS)))
    query = {name: data.draw(st.one_of(ODD_VALUES, free_text(120)), label=name)
             for name in _FILTERS[url]}  # fmt: skip

    response = manager.client.get(url, query_string=query)

    never_a_server_error(response)
    assert response.status_code in (200, 400, 404)


# -- The bugs these properties found, pinned ----------------------------------------------------

_NUL_REFUSED = "Ta bort de osynliga styrtecknen (till exempel NUL)."
_CALENDAR = "Skriv ett datum mellan 1900-01-01 och 2199-12-31."


def test_a_nul_in_a_users_or_units_name_is_refused_with_a_message(
    admin: Session, world: World
) -> None:
    """Kept in the clear: PostgreSQL refused the NUL when the request committed (a 500)."""
    user = {"role": "coordinator", "units": str(world.unit_b.id), "is_active": "y"}

    for field in ("full_name", "title", "phone"):
        response = admin.post(f"/admin/users/{world.coordinator_b.id}",
                              {**user, "full_name": "Elva", field: "E\x00lva"})  # fmt: skip
        assert (response.status_code, field_errors(response)) == (400, {field: _NUL_REFUSED})
    response = admin.post("/admin/units/new", {"name": "Ny\x00 enhet", "kind": "clinic",
                                               "provider_type": "public"})  # fmt: skip
    assert (response.status_code, field_errors(response)) == (400, {"name": _NUL_REFUSED})


def test_dates_at_the_calendars_ends_are_refused_by_the_searches(
    world: World, manager: Session
) -> None:
    """Year 1 and 9999 overflowed the day arithmetic behind the log search and the sick-leave
    statistics (500)."""
    for field, day in (("first", "0001-01-01"), ("last", "9999-12-31")):
        response = manager.post("/log/search", {**_SEARCH, "unit": str(world.unit_a.id),
                                                field: day})  # fmt: skip
        assert (response.status_code, field_errors(response)) == (400, {field: _CALENDAR})
    for field, day in (("start", "0001-01-01"), ("end", "9999-12-31")):
        response = manager.client.get("/reports/statistics", query_string={field: day})
        assert (response.status_code, field_errors(response)) == (400, {field: _CALENDAR})


def test_a_choice_of_only_whitespace_is_not_a_valid_choice(world: World, manager: Session) -> None:
    """``Optional`` took whitespace for no value and cleared the choice's error: the view got
    " " and made an enum member or a number of it (500)."""
    for field in ("user", "action"):
        response = manager.post("/log/search", {**_SEARCH, "unit": str(world.unit_a.id),
                                                field: " "})  # fmt: skip
        assert (response.status_code, set(field_errors(response))) == (400, {field})
    quarterly = manager.client.get("/reports/quarterly", query_string={"quarter": " "})
    directory = manager.client.get("/directory/", query_string={"type": " "})
    assert (quarterly.status_code, set(field_errors(quarterly))) == (400, {"quarter"})
    assert (directory.status_code, set(field_errors(directory))) == (200, {"type"})  # no hits
