"""The access control matrix: every route the app registers, every role, objects of the user's
own care unit and of another — and the outcome the product intends for each.

The policy, read from ``coordinator/access.py``, the services and ``docs/security.md``:

- anonymous visitors are sent to sign in, and come back to the page they asked for;
- a role a page does not admit gets 403 whatever object it names (a coordinator on the reports
  and the log follow-up, a manager on a coordinator's writes, the administrator on patient
  data: separation of duties) — the access check runs before any object is loaded, so a 403
  says nothing about whether the object exists;
- another unit's patient, and everything reached through a patient (consent, mapping, plan
  version, measure, treatment, contacts, the log extract), another unit's sample check and
  another unit in a report's ``unit`` answer 404, exactly like something that does not exist;
- the directory (organisations and their contact persons) is shared by every unit: an employer
  is the same whichever health centre calls it (``contacts/models.py``); only its lists of
  patients are the unit's own;
- the journal chains are the whole installation's: any manager may acknowledge a verification
  run, whoever started it;
- users and units are not unit data: the administrator manages those of every unit.

``MATRIX`` states it for every (endpoint, method) pair; a route without an entry, or an entry
without a route, fails :func:`test_every_route_has_an_entry_and_every_entry_a_route`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import time_machine
from flask import Flask, url_for
from flask.testing import FlaskClient

from coordinator import clock
from coordinator.extensions import db
from coordinator.logreview import chainstatus
from tests.conftest import make_app
from tests.databases import DatabaseFactory
from tests.factories import valid_personnummer
from tests.helpers import csrf_token, sign_in
from tests.security.matrix_support import (
    FORBIDDEN,
    NOT_FOUND,
    OK,
    SIGN_IN,
    MatrixWorld,
    Restorer,
    SavedSession,
    UnitObjects,
    build_world,
    outcome,
)

#: The matrix's columns: who asks.
ROLES = ("anonymous", "coordinator_a", "coordinator_b", "manager_a", "admin")

# The cells: "ok" admitted, "403" refused for the role, "404" not found, "in" sent to sign in.
# "x/y" is x for an object of unit A and y for one of unit B; a single code holds for both.
# A route whose path names an object (or whose query or form does) has at least one "x/y".
# fmt: off
MATRIX: dict[tuple[str, str], tuple[str, str, str, str, str]] = {
    # endpoint, method                          anonymous coord. A  coord. B  manager A  admin
    # -- signing in and the account: open to all (public), or to every signed-in user
    ("auth.login", "GET"):                      ("ok",    "ok",     "ok",     "ok",     "ok"),
    ("auth.login", "POST"):                     ("ok",    "ok",     "ok",     "ok",     "ok"),
    ("auth.verify_code", "GET"):                ("ok",    "ok",     "ok",     "ok",     "ok"),
    ("auth.verify_code", "POST"):               ("ok",    "ok",     "ok",     "ok",     "ok"),
    ("auth.set_language", "POST"):              ("ok",    "ok",     "ok",     "ok",     "ok"),
    ("auth.choose_unit", "GET"):                ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.choose_unit", "POST"):               ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.change_password", "GET"):            ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.change_password", "POST"):           ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.two_factor", "GET"):                 ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.two_factor", "POST"):                ("in",    "ok",     "ok",     "ok",     "ok"),
    ("auth.logout", "POST"):                    ("in",    "ok",     "ok",     "ok",     "ok"),
    ("home.index", "GET"):                      ("in",    "ok",     "ok",     "ok",     "ok"),
    # -- patients: coordinators and managers of the patient's unit read; coordinators write
    ("patients.index", "GET"):                  ("in",    "ok",     "ok",     "ok",     "403"),
    ("patients.search", "POST"):                ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("patients.register", "GET"):               ("in",    "ok",     "ok",     "403",    "403"),
    ("patients.register", "POST"):              ("in",    "ok",     "ok",     "403",    "403"),
    ("patients.show", "GET"):                   ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("patients.reveal", "POST"):                ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("patients.edit", "GET"):                   ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.edit", "POST"):                  ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.add_note", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.add_certificate", "POST"):       ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.decide", "POST"):                ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.activate", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.follow_up", "POST"):             ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.transfer", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.close", "POST"):                 ("in",    "ok/404", "404/ok", "403",    "403"),
    ("patients.open_case", "POST"):             ("in",    "ok/404", "404/ok", "403",    "403"),
    ("certificate_import.upload", "GET"):       ("in",    "ok",     "ok",     "403",    "403"),
    ("certificate_import.import_file", "POST"): ("in",    "ok",     "ok",     "403",    "403"),
    # -- consents: the coordinator's; managers see the unit's counts only
    ("consents.record", "GET"):                 ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.record", "POST"):                ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.print_form", "POST"):            ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.print_summary", "GET"):          ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.withdraw", "GET"):               ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.withdraw", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.disclose", "GET"):               ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.disclose", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("consents.statistics", "GET"):             ("in",    "403",    "403",    "ok",     "403"),
    # -- mapping, plan and treatments: managers read, coordinators write
    ("plans.edit_mapping", "GET"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.edit_mapping", "POST"):             ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.show_mapping", "GET"):              ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("plans.show", "GET"):                      ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("plans.version", "GET"):                   ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("plans.edit", "GET"):                      ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.edit", "POST"):                     ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.agree", "POST"):                    ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.follow_up", "POST"):                ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.progress", "POST"):                 ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.print_plan", "GET"):                ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.share", "GET"):                     ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.share", "POST"):                    ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.new_treatment", "GET"):             ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.new_treatment", "POST"):            ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.edit_treatment", "GET"):            ("in",    "ok/404", "404/ok", "403",    "403"),
    ("plans.edit_treatment", "POST"):           ("in",    "ok/404", "404/ok", "403",    "403"),
    # -- the directory is shared by all units; opened for a patient, it is that patient's unit's
    ("contacts.directory_index", "GET"):        ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("contacts.directory_new", "GET"):          ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.directory_new", "POST"):         ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.directory_show", "GET"):         ("in",    "ok/ok",  "ok/ok",  "ok/ok",  "403"),
    ("contacts.directory_edit", "GET"):         ("in",    "ok/ok",  "ok/ok",  "403",    "403"),
    ("contacts.directory_edit", "POST"):        ("in",    "ok/ok",  "ok/ok",  "403",    "403"),
    ("contacts.directory_add_person", "POST"):  ("in",    "ok/ok",  "ok/ok",  "403",    "403"),
    ("contacts.directory_edit_person", "GET"):  ("in",    "ok/ok",  "ok/ok",  "403",    "403"),
    ("contacts.directory_edit_person", "POST"): ("in",    "ok/ok",  "ok/ok",  "403",    "403"),
    # -- a patient's contacts and employer
    ("contacts.contacts", "GET"):               ("in",    "ok/404", "404/ok", "ok/404", "403"),
    ("contacts.new_contact", "GET"):            ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.new_contact", "POST"):           ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.employer", "GET"):               ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.employer", "POST"):              ("in",    "ok/404", "404/ok", "403",    "403"),
    ("contacts.remove_employer", "POST"):       ("in",    "ok/404", "404/ok", "403",    "403"),
    # -- reports: managers, for their own units (a report's ?unit=)
    ("reports.index", "GET"):                   ("in",    "403",    "403",    "ok",     "403"),
    ("reports.caseload", "GET"):                ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.caseload_patients", "GET"):       ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.caseload_reassign", "POST"):      ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.sick_leave", "GET"):              ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.sick_leave_csv", "GET"):          ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.quarter", "GET"):                 ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.quarter_csv", "GET"):             ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.quarter_pdf", "GET"):             ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.indicator_table", "GET"):         ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.save_targets", "POST"):           ("in",    "403",    "403",    "ok/404", "403"),
    ("reports.save_population", "POST"):        ("in",    "403",    "403",    "ok/404", "403"),
    # -- the log follow-up: managers, for their own units; the chains are everyone's
    ("logreview.index", "GET"):                 ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.search_log", "GET"):            ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.search_log", "POST"):           ("in",    "403",    "403",    "ok/404", "403"),
    ("logreview.check_list", "GET"):            ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.new_check", "GET"):             ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.new_check", "POST"):            ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.check", "GET"):                 ("in",    "403",    "403",    "ok/404", "403"),
    ("logreview.judge", "POST"):                ("in",    "403",    "403",    "ok/404", "403"),
    ("logreview.sign", "POST"):                 ("in",    "403",    "403",    "ok/404", "403"),
    ("logreview.chain", "GET"):                 ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.verify", "POST"):               ("in",    "403",    "403",    "ok",     "403"),
    ("logreview.acknowledge", "POST"):          ("in",    "403",    "403",    "ok/ok",  "403"),
    ("log_extracts.index", "GET"):              ("in",    "403",    "403",    "ok",     "403"),
    ("log_extracts.index", "POST"):             ("in",    "403",    "403",    "ok/404", "403"),
    ("log_extracts.pdf", "GET"):                ("in",    "403",    "403",    "ok/404", "403"),
    # -- administration: users and units of every unit, never patient data
    ("admin.index", "GET"):                     ("in",    "403",    "403",    "403",    "ok"),
    ("admin.users", "GET"):                     ("in",    "403",    "403",    "403",    "ok"),
    ("admin.user_new", "GET"):                  ("in",    "403",    "403",    "403",    "ok"),
    ("admin.user_new", "POST"):                 ("in",    "403",    "403",    "403",    "ok"),
    ("admin.user_edit", "GET"):                 ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.user_edit", "POST"):                ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.user_password", "POST"):            ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.user_reset_two_factor", "POST"):    ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.user_unlock", "POST"):              ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.units", "GET"):                     ("in",    "403",    "403",    "403",    "ok"),
    ("admin.unit_new", "GET"):                  ("in",    "403",    "403",    "403",    "ok"),
    ("admin.unit_new", "POST"):                 ("in",    "403",    "403",    "403",    "ok"),
    ("admin.unit_edit", "GET"):                 ("in",    "403",    "403",    "403",    "ok/ok"),
    ("admin.unit_edit", "POST"):                ("in",    "403",    "403",    "403",    "ok/ok"),
}
# fmt: on

_CODES = {"ok": OK, "403": FORBIDDEN, "404": NOT_FOUND, "in": SIGN_IN}


@dataclass(frozen=True)
class Request:
    """What a request sends besides the path: a query string and a form (a valid CSRF token is
    added to every POST). ``{name}`` is filled from the unit asked about (``UnitObjects.values``),
    ``{today}`` and ``{coordinator_of_a}``; routes without an object use unit A's."""

    query: str = ""
    data: dict[str, str] = field(default_factory=dict)


_UNIT = Request(query="unit={unit}")
_PICKING = Request(query="patient={patient}&purpose=employer")

#: Requests with more than an empty form: plausible, minimal input, enough to reach the
#: service — and, where the object is in the query or the form, to name it.
REQUESTS: dict[tuple[str, str], Request] = {
    ("auth.set_language", "POST"): Request(data={"language": "sv"}),
    ("patients.search", "POST"): Request(data={"query": "{personnummer}"}),
    ("patients.register", "POST"): Request(data={
        "personnummer": "19900101-0017", "first_name": "Ny", "last_name": "Patient",
        "employment": "employed"}),
    ("patients.edit", "POST"): Request(data={
        "first_name": "Test", "last_name": "Ändrad", "employment": "employed"}),
    ("patients.add_note", "POST"): Request(data={"heading": "Samtal", "body": "Ringde."}),
    ("patients.add_certificate", "POST"): Request(data={
        "start_on": "{today}", "end_on": "{today}", "degree": "50", "diagnosis_code": "F43.2"}),
    ("patients.follow_up", "POST"): Request(data={"follow_up_on": "{today}"}),
    ("consents.record", "POST"): Request(data={
        "kind": "employer", "answer": "refused", "method": "oral", "given_on": "{today}"}),
    ("consents.print_form", "POST"): Request(data={"kind": "employer"}),
    ("consents.withdraw", "POST"): Request(data={"withdrawn_on": "{today}"}),
    ("plans.follow_up", "POST"): Request(data={"held_on": "{today}", "notes": "Går bra."}),
    ("plans.progress", "POST"): Request(data={"status": "ongoing"}),
    ("contacts.directory_index", "GET"): _PICKING,
    ("contacts.directory_new", "GET"): _PICKING,
    ("contacts.directory_new", "POST"): Request(
        query=_PICKING.query, data={"type": "employer", "name": "Nya Verkstaden AB"}),
    ("contacts.directory_add_person", "POST"): Request(data={"name": "Per Ek"}),
    ("contacts.employer", "POST"): Request(data={"organisation": "{organisation}"}),
    ("reports.caseload", "GET"): _UNIT,
    ("reports.caseload_patients", "GET"): Request(
        query="unit={unit}&measure=open&coordinator={coordinator}"),
    ("reports.caseload_reassign", "POST"): Request(
        data={"cases": "{patient}", "coordinator": "{coordinator_of_a}"}),
    ("reports.sick_leave", "GET"): _UNIT,
    ("reports.sick_leave_csv", "GET"): Request(query="unit={unit}&table=gender"),
    ("reports.quarter", "GET"): _UNIT,
    ("reports.quarter_csv", "GET"): _UNIT,
    ("reports.quarter_pdf", "GET"): _UNIT,
    ("reports.indicator_table", "GET"): _UNIT,
    ("reports.save_targets", "POST"): _UNIT,
    ("reports.save_population", "POST"): Request(query="unit={unit}",
                                                 data={"population": "12000"}),
    ("logreview.search_log", "POST"): Request(data={"unit": "{unit}"}),
    ("logreview.new_check", "POST"): Request(data={
        "unit": "{unit}", "first": "{today}", "last": "{today}", "criteria": "random"}),
    ("logreview.acknowledge", "POST"): Request(data={"comment": "Kontrollerat."}),
    ("log_extracts.index", "POST"): Request(data={"personnummer": "{personnummer}"}),
}  # fmt: skip

#: Where each path argument comes from among a unit's objects.
_ARGUMENTS = {
    "patient_uid": "patient_uid", "consent_uid": "consent_uid",
    "treatment_uid": "treatment_uid", "measure_uid": "measure_uid",
    "organisation_uid": "organisation_uid", "person_uid": "person_uid",
    "check_id": "check_id", "run_id": "run_id", "user_id": "staff_id", "unit_id": "unit_id",
}  # fmt: skip
#: ``<int:number>`` is a version number under a patient: of the mapping, or of the plan.
_NUMBERS = {"plans.show_mapping": "mapping_number", "plans.version": "version_number"}


def _registered(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def _per_unit(row: tuple[str, ...]) -> bool:
    return any("/" in cell for cell in row)


# -- the world: built once, restored before every test ------------------------------------------


@dataclass
class Matrix:
    """One app on a database holding the matrix's world, and a client per role signed in
    through the forms. Before each test the database gets the world back as built and each
    client its session as it was just after signing in."""

    app: Flask
    world: MatrixWorld
    restorer: Restorer
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    sessions: dict[str, SavedSession] = field(default_factory=dict)
    #: Each role's CSRF token (the session's, so valid for every form of it).
    tokens: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        chainstatus.wait_all()  # a verification started from the chain page has ended
        self.restorer.restore(self.app)
        for role, saved in self.sessions.items():
            self.clients[role] = self.app.test_client()
            saved.restore(self.clients[role])


@pytest.fixture(scope="module")
def matrix_app(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    template_url = databases.copy_of_template()
    builder = make_app(template_url, tmp_path_factory.mktemp("matrix-build"))
    with builder.app_context():
        world = build_world(builder)
        db.session.remove()  # nothing left open: the template is copied
        db.engine.dispose()
    url = databases.copy_of_template()
    app = make_app(url, tmp_path_factory.mktemp("matrix"))
    matrix = Matrix(app, world, Restorer(template_url))
    matrix.restorer.restore(app)
    users = {
        "coordinator_a": world.coordinator_a, "coordinator_b": world.coordinator_b,
        "manager_a": world.manager_a, "admin": world.admin,
    }  # fmt: skip
    for role in ROLES:
        client = app.test_client()
        if role in users:
            response = sign_in(client, users[role].username)
            assert response.status_code == 302, (role, response.text)
            assert response.headers["Location"] == "/", role  # one unit each: none to choose
        matrix.tokens[role] = csrf_token(client)  # an anonymous session holds one too
        matrix.sessions[role] = SavedSession(client, app.config["SESSION_COOKIE_NAME"])
    yield matrix
    chainstatus.wait_all()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)
    databases.drop(template_url)


@pytest.fixture
def matrix(matrix_app: Matrix) -> Matrix:
    """The world as built, every role signed in afresh: nothing a previous test did remains."""
    matrix_app.reset()
    return matrix_app


def _values(world: MatrixWorld, objects: UnitObjects) -> dict[str, str]:
    return objects.values() | {
        "today": clock.today().isoformat(),
        "coordinator_of_a": str(world.a.coordinator_id),
    }


def _path(app: Flask, endpoint: str, objects: UnitObjects) -> str:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    arguments = {
        name: getattr(objects, _NUMBERS[endpoint] if name == "number" else _ARGUMENTS[name])
        for name in rule.arguments
    }
    with app.test_request_context():
        return url_for(endpoint, **arguments)


def _ask(matrix: Matrix, role: str, endpoint: str, method: str, objects: UnitObjects) -> str:
    """The outcome of ``role`` asking for ``endpoint`` with ``method`` about ``objects``."""
    request = REQUESTS.get((endpoint, method), Request())
    values = _values(matrix.world, objects)
    path = _path(matrix.app, endpoint, objects)
    if request.query:
        path = f"{path}?{request.query.format(**values)}"
    client = matrix.clients[role]
    if method == "GET":
        response = client.get(path)
    else:
        data = {name: value.format(**values) for name, value in request.data.items()}
        response = client.post(path, data={"csrf_token": matrix.tokens[role], **data})
    return outcome(method, path, response)


# -- the tests ---------------------------------------------------------------------------------


def test_every_route_has_an_entry_and_every_entry_a_route(matrix_app: Matrix) -> None:
    registered = _registered(matrix_app.app)

    assert sorted(registered - set(MATRIX)) == [], "routes without an entry in the matrix"
    assert sorted(set(MATRIX) - registered) == [], "entries for routes that do not exist"
    assert sorted(set(REQUESTS) - set(MATRIX)) == [], "requests for routes not in the matrix"


def test_every_route_that_names_an_object_states_both_units(matrix_app: Matrix) -> None:
    app = matrix_app.app
    with_object = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.arguments and rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }

    assert sorted(key for key in with_object & set(MATRIX) if not _per_unit(MATRIX[key])) == []
    for key, row in MATRIX.items():
        for cell in row:
            assert all(code in _CODES for code in cell.split("/")), (key, cell)
            assert cell.count("/") <= 1, (key, cell)


@pytest.mark.parametrize(
    ("endpoint", "method"), sorted(MATRIX), ids=[f"{e} {m}" for e, m in sorted(MATRIX)]
)
def test_each_role_gets_what_the_matrix_says(endpoint: str, method: str, matrix: Matrix) -> None:
    row = MATRIX[(endpoint, method)]
    units = {"A": matrix.world.a, "B": matrix.world.b} if _per_unit(row) else {"": matrix.world.a}
    expected: dict[str, str] = {}
    answered: dict[str, str] = {}
    for role, cell in zip(ROLES, row, strict=True):
        codes = cell.split("/")
        for index, (unit, objects) in enumerate(units.items()):
            case = f"{role} {unit}".strip()
            expected[case] = _CODES[codes[index if len(codes) == 2 else 0]]
            answered[case] = _ask(matrix, role, endpoint, method, objects)

    assert answered == expected


# -- what the matrix cannot show on its own -----------------------------------------------------


def test_patients_are_addressed_by_random_uuids_never_by_a_number(matrix_app: Matrix) -> None:
    app, world = matrix_app.app, matrix_app.world
    converters = {
        (rule.endpoint, name): converter
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for converter, name in _ARGUMENT.findall(rule.rule)
    }
    numbered = {name for (_endpoint, name), kind in converters.items() if kind == "int"}

    # Every object in a patient's URL is a uuid; the numbers in URLs are the mapping's and
    # plan's version numbers (under a patient's uuid), sample checks, verification runs, and the
    # administrator's users and units — none of them a patient.
    assert {kind for (_e, name), kind in converters.items() if name.endswith("_uid")} == {"uuid"}
    assert set(converters.values()) == {"uuid", "int"}
    assert numbered == {"number", "check_id", "run_id", "user_id", "unit_id"}
    assert all(rule.rule.startswith("/patients/<uuid:patient_uid>/")
               for rule in app.url_map.iter_rules() if "number" in rule.arguments)  # fmt: skip
    assert not any("patient_id" in rule.arguments for rule in app.url_map.iter_rules())
    # Random (version 4) uuids: one patient's address tells nothing about another's.
    assert uuid.UUID(world.a.patient_uid).version == 4
    assert uuid.UUID(world.b.patient_uid).version == 4


#: A path argument in a URL rule: ``<converter:name>``.
_ARGUMENT = re.compile(r"<(\w+)(?:\([^)]*\))?:(\w+)>")

#: Pages of one patient, and who asks: coordinator A or manager A (both of unit A).
_PATIENT_PAGES = [
    ("coordinator_a", "/patients/{}"),
    ("coordinator_a", "/patients/{}/plan"),
    ("coordinator_a", "/patients/{}/mapping/1"),
    ("coordinator_a", "/patients/{}/consents/summary"),
    ("coordinator_a", "/patients/{}/contacts"),
    ("manager_a", "/patients/{}/plan/versions/1"),
    ("manager_a", "/log/extracts/{}.pdf"),
]


@pytest.mark.parametrize(("role", "page"), _PATIENT_PAGES)
def test_another_units_patient_is_not_found_exactly_like_one_that_does_not_exist(
    role: str, page: str, matrix: Matrix
) -> None:
    client = matrix.clients[role]
    elsewhere_uid, nowhere_uid = matrix.world.b.patient_uid, str(uuid.uuid4())
    # One moment for both answers: the page's CSRF token carries the time it was signed.
    with time_machine.travel(clock.now(), tick=False):
        elsewhere = client.get(page.format(elsewhere_uid))
        nowhere = client.get(page.format(nowhere_uid))

    assert (elsewhere.status_code, nowhere.status_code) == (404, 404)
    # Each page carries the address it answers (the language switch returns to it), and
    # nothing else differs.
    assert elsewhere.text.count(elsewhere_uid) == nowhere.text.count(nowhere_uid) == 1
    assert elsewhere.text.replace(elsewhere_uid, "…") == nowhere.text.replace(nowhere_uid, "…")
    assert elsewhere.headers.get("Content-Type") == nowhere.headers.get("Content-Type")


@pytest.mark.parametrize(
    ("role", "url", "field"),
    [
        ("coordinator_a", "/patients/search", "query"),
        ("manager_a", "/log/extracts/", "personnummer"),
    ],
)
def test_another_units_personnummer_is_not_found_exactly_like_an_unregistered_one(
    role: str, url: str, field: str, matrix: Matrix
) -> None:
    client, token = matrix.clients[role], matrix.tokens[role]
    elsewhere_number = matrix.world.b.personnummer
    unregistered = valid_personnummer("19700101", 789)
    with time_machine.travel(clock.now(), tick=False):
        elsewhere = client.post(url, data={"csrf_token": token, field: elsewhere_number})
        nowhere = client.post(url, data={"csrf_token": token, field: unregistered})

    assert (elsewhere.status_code, nowhere.status_code) == (404, 404)
    # The form shows the number typed, and nothing else differs.
    assert elsewhere.text.count(elsewhere_number) == nowhere.text.count(unregistered) == 1
    assert elsewhere.text.replace(elsewhere_number, "…") == nowhere.text.replace(unregistered, "…")


def test_what_hangs_off_another_units_patient_is_not_found_under_ones_own(
    matrix: Matrix,
) -> None:
    """Consents, treatments, measures and mapping versions are loaded through their patient:
    unit B's, named under unit A's own patient, are not found."""
    client, a, b = matrix.clients["coordinator_a"], matrix.world.a, matrix.world.b
    token = matrix.tokens["coordinator_a"]

    assert client.get(f"/patients/{a.patient_uid}/consents/{b.consent_uid}/withdraw"
                      ).status_code == 404  # fmt: skip
    assert client.get(f"/patients/{a.patient_uid}/treatments/{b.treatment_uid}"
                      ).status_code == 404  # fmt: skip
    assert client.post(f"/patients/{a.patient_uid}/plan/measures/{b.measure_uid}",
                       data={"csrf_token": token, "status": "done"}).status_code == 404  # fmt: skip
    assert client.get(f"/patients/{a.patient_uid}/mapping/2").status_code == 404
    assert client.get(f"/patients/{a.patient_uid}/plan/versions/2").status_code == 404
    # ...while unit A's own are there.
    assert client.get(f"/patients/{a.patient_uid}/consents/{a.consent_uid}/withdraw"
                      ).status_code == 200  # fmt: skip
    assert client.get(f"/patients/{a.patient_uid}/treatments/{a.treatment_uid}"
                      ).status_code == 200  # fmt: skip


def test_the_directory_is_shared_but_its_lists_of_patients_are_the_units_own(
    matrix: Matrix,
) -> None:
    """Coordinator B opens unit A's patient's employer (the shared directory) and finds it
    and its contact person, but not unit A's patient among its employees."""
    organisation = f"/directory/{matrix.world.a.organisation_uid}"
    seen_by_a = matrix.clients["coordinator_a"].get(organisation)
    seen_by_b = matrix.clients["coordinator_b"].get(organisation)
    found_by_b = matrix.clients["coordinator_b"].get("/directory/?q=Norrsson")

    assert (seen_by_a.status_code, seen_by_b.status_code) == (200, 200)
    assert "Norrsson AB" in seen_by_b.text
    assert "Lena Ek" in seen_by_b.text
    assert "Test Norrsson" in seen_by_a.text  # unit A's patient, employed there
    assert "Norrsson" not in seen_by_b.text.replace("Norrsson AB", "")
    assert f'href="{organisation}"' in found_by_b.text


def test_a_check_covering_another_unit_too_is_not_the_managers_of_one_of_them(
    matrix: Matrix,
) -> None:
    """A sample check drawn for units A and B lists unit B's patients: a manager of unit A
    only does not find it (nor judge or sign it), as they do not find unit B's own checks."""
    client, token = matrix.clients["manager_a"], matrix.tokens["manager_a"]
    joint = matrix.world.joint_check_id

    assert client.get(f"/log/checks/{joint}").status_code == 404
    assert client.post(f"/log/checks/{joint}", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/log/checks/{joint}/sign",
                       data={"csrf_token": token, "summary": ""}).status_code == 404  # fmt: skip
    listed = client.get("/log/checks").text
    assert f'data-check="{joint}"' not in listed
    assert f'data-check="{matrix.world.a.check_id}"' in listed


def test_lists_show_only_the_units_own_patients(matrix: Matrix) -> None:
    """The pages that list patients — the caseload, Today, an organisation's employees, the
    reports' drill-down — never name another unit's patient."""
    a, b = matrix.world.a, matrix.world.b
    coordinator_b, manager_a = matrix.clients["coordinator_b"], matrix.clients["manager_a"]
    pages = {
        "coordinator B's caseload": coordinator_b.get("/patients/?scope=all&status=all").text,
        "coordinator B's Today": coordinator_b.get("/").text,
        "coordinator B on A's employer": coordinator_b.get(f"/directory/{a.organisation_uid}").text,
        "manager A's caseload": manager_a.get("/patients/?scope=all&status=all").text,
        "manager A's drill-down": manager_a.get(
            f"/reports/caseload/patients?unit={a.unit_id}&measure=open&coordinator={a.coordinator_id}"
        ).text,
    }

    assert [page for page, text in pages.items() if "Norrsson" in text.replace("Norrsson AB", "")
            ] == ["manager A's caseload", "manager A's drill-down"]  # fmt: skip
    assert [page for page, text in pages.items() if "Södersson" in text.replace("Södersson AB", "")
            ] == ["coordinator B's caseload", "coordinator B's Today"]  # fmt: skip
    assert b.patient_uid not in pages["manager A's caseload"] + pages["manager A's drill-down"]
