"""Who may open what: every registered route, for every role, with the exact outcome.

A route added to the app without an entry here fails :func:`test_every_route_is_in_the_table`,
so nobody can add a view without deciding who may use it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from coordinator.access import check_all_views_declared, public
from coordinator.auth.roles import Role
from tests.conftest import World
from tests.helpers import csrf_token, sign_in

COORDINATOR, MANAGER, ADMIN = Role.COORDINATOR, Role.MANAGER, Role.ADMIN
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Route:
    method: str
    #: Path, with ``{user}`` and ``{unit}`` standing for ids of real rows.
    path: str
    #: Roles admitted; ``None`` means public (no sign-in needed).
    roles: frozenset[Role] | None
    #: Status an admitted role gets (with an empty, valid-token form for POSTs); a mapping
    #: where it differs by role.
    ok_status: int | dict[Role, int] = 200

    def status_for(self, role: Role | None) -> int:
        if isinstance(self.ok_status, int):
            return self.ok_status
        assert role is not None
        return self.ok_status[role]


ROUTES: dict[str, Route] = {
    "auth.login": Route("GET", "/auth/login", None),
    "auth.verify_code": Route("GET", "/auth/login/code", None, ok_status=302),
    "auth.set_language": Route("POST", "/auth/language", None, ok_status=400),
    # Administrators work in no unit: the chooser sends them to the start page.
    "auth.choose_unit": Route(
        "GET", "/auth/unit", EVERYONE, {COORDINATOR: 200, MANAGER: 200, ADMIN: 302}
    ),
    "auth.logout": Route("POST", "/auth/logout", EVERYONE, ok_status=302),
    "auth.change_password": Route("GET", "/auth/password", EVERYONE),
    "auth.two_factor": Route("GET", "/auth/two-step", EVERYONE),
    "home.index": Route("GET", "/", EVERYONE),
    "patients.index": Route("GET", "/patients/", frozenset({COORDINATOR, MANAGER})),
    # An empty search form: 400 with the field's message.
    "patients.search": Route("POST", "/patients/search", frozenset({COORDINATOR, MANAGER}), 400),
    "patients.show": Route("GET", "/patients/{patient}", frozenset({COORDINATOR, MANAGER})),
    "patients.add_note": Route(
        "POST", "/patients/{patient}/journal", frozenset({COORDINATOR}), 400
    ),
    "patients.register": Route("GET", "/patients/new", frozenset({COORDINATOR})),
    "patients.edit": Route("GET", "/patients/{patient}/edit", frozenset({COORDINATOR})),
    # Showing a protected identity needs nothing but the button (and its token).
    "patients.reveal": Route(
        "POST", "/patients/{patient}/identity", frozenset({COORDINATOR, MANAGER})
    ),
    "patients.add_certificate": Route(
        "POST", "/patients/{patient}/certificates", frozenset({COORDINATOR}), 400
    ),
    "patients.decide": Route(
        "POST", "/patients/{patient}/case/screening", frozenset({COORDINATOR}), 400
    ),
    # Buttons without fields: an empty form is a complete one. The patient has given no
    # consent to coordination, so starting it is refused.
    "patients.activate": Route(
        "POST", "/patients/{patient}/case/activate", frozenset({COORDINATOR}), 409
    ),
    "patients.follow_up": Route(
        "POST", "/patients/{patient}/case/follow-up", frozenset({COORDINATOR}), 302
    ),
    "patients.transfer": Route(
        "POST", "/patients/{patient}/case/transfer", frozenset({COORDINATOR}), 400
    ),
    "patients.close": Route(
        "POST", "/patients/{patient}/case/close", frozenset({COORDINATOR}), 400
    ),
    # The patient's case is open: opening another is refused.
    "patients.open_case": Route(
        "POST", "/patients/{patient}/case/open", frozenset({COORDINATOR}), 409
    ),
    "consents.record": Route("GET", "/patients/{patient}/consents/new", frozenset({COORDINATOR})),
    # An empty form names no kind: the record page comes back with the field's message.
    "consents.print_form": Route(
        "POST", "/patients/{patient}/consents/form", frozenset({COORDINATOR}), 400
    ),
    "consents.print_summary": Route(
        "GET", "/patients/{patient}/consents/summary", frozenset({COORDINATOR})
    ),
    # No such consent on the patient: admitted, then not found.
    "consents.withdraw": Route(
        "GET",
        f"/patients/{{patient}}/consents/{uuid.UUID(int=1)}/withdraw",
        frozenset({COORDINATOR}),
        404,
    ),
    "consents.disclose": Route(
        "GET", "/patients/{patient}/disclosures/new", frozenset({COORDINATOR})
    ),
    "consents.statistics": Route("GET", "/consents/statistics", frozenset({MANAGER})),
    "reports.index": Route("GET", "/reports/", frozenset({MANAGER}), 302),
    "reports.caseload": Route("GET", "/reports/caseload", frozenset({MANAGER})),
    # The drill-down is the current unit's (A): unit B's patients are not found from it.
    "reports.caseload_patients": Route(
        "GET", "/reports/caseload/patients?unit={unit}&measure=open", frozenset({MANAGER}), 404
    ),
    # An empty form: back to the review with the message.
    "reports.caseload_reassign": Route(
        "POST", "/reports/caseload/reassign", frozenset({MANAGER}), 302
    ),
    "reports.sick_leave": Route("GET", "/reports/statistics", frozenset({MANAGER})),
    "reports.sick_leave_csv": Route(
        "GET", "/reports/statistics.csv?table=gender", frozenset({MANAGER})
    ),
    "reports.quarter": Route("GET", "/reports/quarterly", frozenset({MANAGER})),
    "reports.quarter_csv": Route("GET", "/reports/quarterly.csv", frozenset({MANAGER})),
    "reports.quarter_pdf": Route("GET", "/reports/quarterly.pdf", frozenset({MANAGER})),
    "reports.indicator_table": Route("GET", "/reports/indicators", frozenset({MANAGER})),
    "reports.save_targets": Route("POST", "/reports/indicators/targets", frozenset({MANAGER}), 302),
    "reports.save_population": Route("POST", "/reports/population", frozenset({MANAGER}), 302),
    "logreview.index": Route("GET", "/log/", frozenset({MANAGER})),
    "logreview.search_log": Route("GET", "/log/search", frozenset({MANAGER})),
    "logreview.check_list": Route("GET", "/log/checks", frozenset({MANAGER})),
    "logreview.new_check": Route("GET", "/log/checks/new", frozenset({MANAGER})),
    # No check or verification run with id 1 exists: an admitted manager gets 404.
    "logreview.check": Route("GET", "/log/checks/1", frozenset({MANAGER}), 404),
    "logreview.judge": Route("POST", "/log/checks/1", frozenset({MANAGER}), 404),
    "logreview.sign": Route("POST", "/log/checks/1/sign", frozenset({MANAGER}), 404),
    "logreview.chain": Route("GET", "/log/chain", frozenset({MANAGER})),
    "logreview.verify": Route("POST", "/log/chain/verify", frozenset({MANAGER}), 302),
    "logreview.acknowledge": Route("POST", "/log/chain/1/acknowledge", frozenset({MANAGER}), 404),
    "log_extracts.index": Route("GET", "/log/extracts/", frozenset({MANAGER})),
    "log_extracts.pdf": Route("GET", "/log/extracts/{patient}.pdf", frozenset({MANAGER})),
    # Tolvan's case is new, not active: mapping and planning are refused until it is.
    "plans.edit_mapping": Route(
        "GET", "/patients/{patient}/mapping", frozenset({COORDINATOR}), 409
    ),
    "plans.show_mapping": Route(
        "GET", "/patients/{patient}/mapping/1", frozenset({COORDINATOR, MANAGER}), 404
    ),
    "plans.show": Route("GET", "/patients/{patient}/plan", frozenset({COORDINATOR, MANAGER})),
    "plans.edit": Route("GET", "/patients/{patient}/plan/edit", frozenset({COORDINATOR}), 409),
    "plans.version": Route(
        "GET", "/patients/{patient}/plan/versions/1", frozenset({COORDINATOR, MANAGER}), 404
    ),
    # Empty forms: the plan page comes back with the fields' messages.
    "plans.agree": Route("POST", "/patients/{patient}/plan/agree", frozenset({COORDINATOR}), 400),
    "plans.follow_up": Route(
        "POST", "/patients/{patient}/plan/follow-ups", frozenset({COORDINATOR}), 400
    ),
    "plans.progress": Route(
        "POST",
        f"/patients/{{patient}}/plan/measures/{uuid.UUID(int=1)}",
        frozenset({COORDINATOR}),
        400,
    ),
    # No plan yet: admitted, then not found.
    "plans.print_plan": Route(
        "GET", "/patients/{patient}/plan/print", frozenset({COORDINATOR}), 404
    ),
    "plans.share": Route("GET", "/patients/{patient}/plan/share", frozenset({COORDINATOR}), 404),
    "plans.new_treatment": Route(
        "GET", "/patients/{patient}/treatments/new", frozenset({COORDINATOR})
    ),
    "plans.edit_treatment": Route(
        "GET",
        f"/patients/{{patient}}/treatments/{uuid.UUID(int=1)}",
        frozenset({COORDINATOR}),
        404,
    ),
    "contacts.directory_index": Route("GET", "/directory/", frozenset({COORDINATOR, MANAGER})),
    "contacts.directory_new": Route("GET", "/directory/new", frozenset({COORDINATOR})),
    # The directory is empty: admitted, then not found.
    "contacts.directory_show": Route(
        "GET", f"/directory/{uuid.UUID(int=1)}", frozenset({COORDINATOR, MANAGER}), 404
    ),
    "contacts.directory_edit": Route(
        "GET", f"/directory/{uuid.UUID(int=1)}/edit", frozenset({COORDINATOR}), 404
    ),
    "contacts.directory_add_person": Route(
        "POST", f"/directory/{uuid.UUID(int=1)}/persons", frozenset({COORDINATOR}), 404
    ),
    "contacts.directory_edit_person": Route(
        "GET",
        f"/directory/{uuid.UUID(int=1)}/persons/{uuid.UUID(int=2)}",
        frozenset({COORDINATOR}),
        404,
    ),
    "contacts.contacts": Route(
        "GET", "/patients/{patient}/contacts", frozenset({COORDINATOR, MANAGER})
    ),
    "contacts.new_contact": Route(
        "GET", "/patients/{patient}/contacts/new", frozenset({COORDINATOR})
    ),
    "contacts.employer": Route("GET", "/patients/{patient}/employer", frozenset({COORDINATOR})),
    # A button without fields: Tolvan has no employer, and still has none afterwards.
    "contacts.remove_employer": Route(
        "POST", "/patients/{patient}/employer/remove", frozenset({COORDINATOR}), 302
    ),
    "certificate_import.upload": Route("GET", "/patients/import/", frozenset({COORDINATOR})),
    "certificate_import.import_file": Route(
        "POST", "/patients/import/", frozenset({COORDINATOR}), 400
    ),
    "admin.index": Route("GET", "/admin/", frozenset({ADMIN}), ok_status=302),
    "admin.users": Route("GET", "/admin/users", frozenset({ADMIN})),
    "admin.user_new": Route("GET", "/admin/users/new", frozenset({ADMIN})),
    "admin.user_edit": Route("GET", "/admin/users/{user}", frozenset({ADMIN})),
    "admin.user_password": Route("POST", "/admin/users/{user}/password", frozenset({ADMIN}), 302),
    "admin.user_reset_two_factor": Route(
        "POST", "/admin/users/{user}/two-step/reset", frozenset({ADMIN}), 302
    ),
    "admin.user_unlock": Route("POST", "/admin/users/{user}/unlock", frozenset({ADMIN}), 302),
    "admin.units": Route("GET", "/admin/units", frozenset({ADMIN})),
    "admin.unit_new": Route("GET", "/admin/units/new", frozenset({ADMIN})),
    "admin.unit_edit": Route("GET", "/admin/units/{unit}", frozenset({ADMIN})),
}


def test_every_route_is_in_the_table(app: Flask) -> None:
    registered = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}

    assert registered == set(ROUTES)


def test_the_table_matches_the_rules_declared_on_the_views(app: Flask) -> None:
    for endpoint, route in ROUTES.items():
        rule = app.view_functions[endpoint].access_rule
        if route.roles is None:
            assert rule.public, endpoint
        else:
            assert not rule.public, endpoint
            assert rule.roles == route.roles, endpoint


def _request(client: FlaskClient, route: Route, world: World) -> tuple[int, str]:
    # Users and units of unit B (administration is not unit-bound); a patient of unit A, where
    # the coordinator and the manager are working.
    path = route.path.format(
        user=world.coordinator_b.id, unit=world.unit_b.id, patient=world.patient_a.uid
    )
    if route.method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf_token": csrf_token(client)})
    return response.status_code, response.headers.get("Location", "")


_CASES = [
    (endpoint, role)
    for endpoint, route in ROUTES.items()
    if route.roles is not None
    for role in Role
]


@pytest.mark.parametrize(("endpoint", "role"), _CASES)
def test_each_role_gets_exactly_what_the_table_says(
    endpoint: str, role: Role, world: World, signed_in_client: Callable[..., FlaskClient]
) -> None:
    user = {COORDINATOR: world.coordinator_a, MANAGER: world.manager, ADMIN: world.admin}[role]
    unit = world.unit_a if role is MANAGER else None
    route = ROUTES[endpoint]

    status, location = _request(signed_in_client(user, unit), route, world)

    if role in (route.roles or ()):
        assert status == route.status_for(role), (endpoint, role, location)
        assert not location.startswith("/auth/login?next=")  # not bounced to sign-in
    else:
        assert status == 403, (endpoint, role)


@pytest.mark.parametrize("endpoint", [e for e, r in ROUTES.items() if r.roles is not None])
def test_anonymous_visitors_are_sent_to_sign_in(
    endpoint: str, client: FlaskClient, world: World
) -> None:
    status, location = _request(client, ROUTES[endpoint], world)

    assert status == 302
    assert location.startswith("/auth/login?next=")


@pytest.mark.parametrize("endpoint", [e for e, r in ROUTES.items() if r.roles is None])
def test_public_routes_open_without_signing_in(
    endpoint: str, client: FlaskClient, world: World
) -> None:
    status, location = _request(client, ROUTES[endpoint], world)

    assert status == ROUTES[endpoint].status_for(None)
    assert not location.startswith("/auth/login?next=")


def test_the_administrator_is_refused_patient_data_with_a_page_that_says_so(
    admin_client: FlaskClient,
) -> None:
    response = admin_client.get("/patients/")

    assert response.status_code == 403
    assert "<h1>Ingen behörighet</h1>" in response.text
    assert "Patienter" not in response.text  # not even offered in the menu


def test_a_view_without_an_access_rule_stops_the_app_from_starting(app: Flask) -> None:
    app.add_url_rule("/forgotten", "forgotten", lambda: "oops")

    with pytest.raises(RuntimeError, match="views without an access rule: forgotten"):
        check_all_views_declared(app)


def test_a_view_without_an_access_rule_is_refused_to_everyone(app: Flask, world: World) -> None:
    app.add_url_rule("/forgotten", "forgotten", lambda: "oops")
    app.add_url_rule("/declared", "declared", public(lambda: "fine"))
    admin_client = app.test_client()
    sign_in(admin_client, world.admin.username)

    assert admin_client.get("/forgotten").status_code == 403
    assert app.test_client().get("/forgotten").status_code == 302
    assert app.test_client().get("/declared").text == "fine"


def test_the_menu_offers_each_role_only_what_it_may_open(
    coordinator_client: FlaskClient, manager_client: FlaskClient, admin_client: FlaskClient
) -> None:
    def menu(client: FlaskClient) -> list[str]:
        nav = client.get("/").text.split('<nav class="menu"')[1].split("</nav>")[0]
        return re.findall(r">([^<]+)</a>", nav)

    assert menu(coordinator_client) == ["Start", "Patienter", "Katalog"]
    assert menu(manager_client) == [
        "Start",
        "Patienter",
        "Katalog",
        "Rapporter",
        "Samtyckesstatistik",
        "Loggkontroll",
    ]
    assert menu(admin_client) == ["Start", "Användare", "Vårdenheter"]
