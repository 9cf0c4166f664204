"""CSRF on every state-changing route, generated from the app's URL map.

Every rule that accepts POST is posted by someone allowed to use it — without a token, with a
token from an anonymous visitor's session and with one from another user's session — and must
get the product's CSRF page (400) with the database exactly as it was: every table's rows, not
only their counts. A POST route without an entry in :data:`POSTS` fails
:func:`test_every_post_route_has_an_entry`, so a new form cannot skip this test.

tests/test_web_security.py holds the first hand-written cases (sign-in, a unit, sign-out);
these generalise them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator.access import rule_for
from coordinator.auth.models import ProviderType
from coordinator.auth.roles import Role
from coordinator.contacts.models import OrganisationType
from coordinator.extensions import db
from coordinator.logreview import chainstatus, checks
from coordinator.logreview.criteria import Rules
from coordinator.logreview.models import Criterion
from coordinator.patients import cases
from coordinator.patients.models import Patient
from coordinator.plans import treatments
from coordinator.plans.models import TreatmentKind, TreatmentProvider
from coordinator.plans.treatments import TreatmentInput
from tests.conftest import World
from tests.contacts.support import organisation, person
from tests.crypto.support import actor_for
from tests.factories import PASSWORD, UserFactory
from tests.helpers import csrf_token, sign_in
from tests.patients.support import NOW, TODAY, consent_to_coordination
from tests.plans.support import agreed_plan
from tests.security.support import changed_tables, fingerprint, is_csrf_refusal

COORDINATOR, MANAGER, ADMIN = Role.COORDINATOR, Role.MANAGER, Role.ADMIN


#: Who posts: a role, or one of these for the sign-in steps.
ANONYMOUS = "anonymous"
#: Anonymous, half-way through signing in: the password given, the code still to come.
PENDING = "pending"

Who = Role | str


# -- Every POST route, who may use it, and what to send ------------------------------------------


@dataclass(frozen=True)
class Post:
    who: Who
    #: Path with placeholders for the rows of :func:`objects`.
    path: str
    #: Where given, a complete form, proven by :data:`ACCEPTED_WITH_OWN_TOKEN`; otherwise what a
    #: button sends, or nothing (the token is checked before the view reads the rest).
    data: dict[str, str] = field(default_factory=dict)


P = "/patients/{patient}"

POSTS: dict[str, Post] = {
    # Sign-in and language: anonymous.
    "auth.login": Post(ANONYMOUS, "/auth/login", {"username": "koord.a", "password": "{password}"}),
    "auth.verify_code": Post(PENDING, "/auth/login/code", {"code": "{code}"}),
    "auth.set_language": Post(ANONYMOUS, "/auth/language", {"language": "en", "next": "/"}),
    # Account pages: every signed-in user.
    "auth.logout": Post(COORDINATOR, "/auth/logout"),
    "auth.change_password": Post(
        COORDINATOR,
        "/auth/password",
        {
            "current": "{password}",
            "new": "a much longer new passphrase",
            "confirm": "a much longer new passphrase",
        },
    ),
    "auth.two_factor": Post(COORDINATOR, "/auth/two-step"),
    "auth.choose_unit": Post(MANAGER, "/auth/unit", {"unit": "{unit_b}"}),
    # Patients and cases: the coordinator of the patient's unit.
    "patients.search": Post(COORDINATOR, "/patients/search", {"query": "Tolvansson"}),
    "patients.register": Post(
        COORDINATOR,
        "/patients/new",
        {"personnummer": "19800101-9002", "first_name": "Ny", "last_name": "Patient"},
    ),
    "patients.edit": Post(COORDINATOR, P + "/edit", {"first_name": "Ändrad", "last_name": "X"}),
    "patients.reveal": Post(COORDINATOR, P + "/identity"),
    "patients.add_certificate": Post(
        COORDINATOR,
        P + "/certificates",
        {
            "start_on": "2026-06-01",
            "end_on": "2026-06-30",
            "degree": "100",
            "diagnosis_code": "F43.2",
        },
    ),
    "patients.add_note": Post(
        COORDINATOR, P + "/journal", {"heading": "Telefonkontakt", "body": "Samtal med patienten."}
    ),
    "patients.decide": Post(COORDINATOR, P + "/case/screening"),
    "patients.activate": Post(COORDINATOR, P + "/case/activate"),
    "patients.follow_up": Post(COORDINATOR, P + "/case/follow-up"),
    "patients.transfer": Post(COORDINATOR, P + "/case/transfer"),
    "patients.close": Post(COORDINATOR, P + "/case/close"),
    "patients.open_case": Post(COORDINATOR, P + "/case/open"),
    "certificate_import.import_file": Post(COORDINATOR, "/patients/import/"),
    # Consents.
    "consents.record": Post(COORDINATOR, P + "/consents/new"),
    "consents.print_form": Post(COORDINATOR, P + "/consents/form"),
    "consents.withdraw": Post(COORDINATOR, P + "/consents/{consent}/withdraw"),
    "consents.disclose": Post(COORDINATOR, P + "/disclosures/new"),
    # Plans and treatments.
    "plans.edit_mapping": Post(COORDINATOR, P + "/mapping"),
    "plans.edit": Post(COORDINATOR, P + "/plan/edit"),
    "plans.agree": Post(COORDINATOR, P + "/plan/agree"),
    "plans.follow_up": Post(COORDINATOR, P + "/plan/follow-ups"),
    "plans.progress": Post(COORDINATOR, P + "/plan/measures/{measure}", {"status": "done"}),
    "plans.share": Post(COORDINATOR, P + "/plan/share"),
    "plans.new_treatment": Post(COORDINATOR, P + "/treatments/new"),
    "plans.edit_treatment": Post(COORDINATOR, P + "/treatments/{treatment}"),
    # Contacts and the directory.
    "contacts.new_contact": Post(COORDINATOR, P + "/contacts/new"),
    "contacts.employer": Post(COORDINATOR, P + "/employer", {"organisation": "{organisation}"}),
    "contacts.remove_employer": Post(COORDINATOR, P + "/employer/remove"),
    "contacts.directory_new": Post(
        COORDINATOR, "/directory/new", {"type": "employer", "name": "Byggbolaget i Norr AB"}
    ),
    "contacts.directory_edit": Post(COORDINATOR, "/directory/{organisation}/edit"),
    "contacts.directory_add_person": Post(
        COORDINATOR, "/directory/{organisation}/persons", {"name": "Per Persson"}
    ),
    "contacts.directory_edit_person": Post(
        COORDINATOR, "/directory/{organisation}/persons/{person}"
    ),
    # Reports: managers.
    "reports.caseload_reassign": Post(MANAGER, "/reports/caseload/reassign"),
    "reports.save_targets": Post(MANAGER, "/reports/indicators/targets?unit={unit}"),
    "reports.save_population": Post(
        MANAGER, "/reports/population?unit={unit}", {"population": "12000"}
    ),
    # Log follow-up: managers.
    "logreview.search_log": Post(MANAGER, "/log/search"),
    "logreview.new_check": Post(MANAGER, "/log/checks/new"),
    "logreview.judge": Post(MANAGER, "/log/checks/{check}"),
    "logreview.sign": Post(MANAGER, "/log/checks/{check}/sign"),
    "logreview.verify": Post(MANAGER, "/log/chain/verify"),
    "logreview.acknowledge": Post(MANAGER, "/log/chain/{run}/acknowledge"),
    "log_extracts.index": Post(MANAGER, "/log/extracts/", {"personnummer": "19410708-6995"}),
    # Administration.
    "admin.user_new": Post(ADMIN, "/admin/users/new"),
    "admin.user_edit": Post(ADMIN, "/admin/users/{user}"),
    "admin.user_password": Post(
        ADMIN, "/admin/users/{user}/password", {"password": "temporary password 1"}
    ),
    "admin.user_reset_two_factor": Post(ADMIN, "/admin/users/{user}/two-step/reset"),
    "admin.user_unlock": Post(ADMIN, "/admin/users/{user}/unlock"),
    "admin.unit_new": Post(
        ADMIN,
        "/admin/units/new",
        {"name": "Ny enhet", "kind": "clinic", "provider_type": "public", "is_active": "y"},
    ),
    "admin.unit_edit": Post(ADMIN, "/admin/units/{unit}"),
}

#: Routes whose entry above is a complete, valid form: posted with the session's own token it is
#: accepted, with this status, and writes to these tables — so the refusals are the token's
#: doing, not the form's. In this order: the password change (last) ends the other sessions.
ACCEPTED_WITH_OWN_TOKEN: dict[str, tuple[int, list[str]]] = {
    "auth.login": (302, ["users"]),  # the time of the sign-in
    "auth.verify_code": (302, ["users"]),  # the code's time step, never to be used again
    "auth.set_language": (302, []),  # the session only
    "auth.choose_unit": (302, []),  # the session only
    "patients.search": (302, ["access_log", "journal_heads"]),
    "patients.register": (302, ["access_log", "case_journal", "coordination_cases",
                                "journal_heads", "patients"]),
    "patients.edit": (302, ["access_log", "case_journal", "journal_heads", "patients"]),
    "patients.add_certificate": (302, ["access_log", "case_journal", "certificates",
                                       "journal_heads", "patients"]),
    "patients.add_note": (302, ["access_log", "case_journal", "journal_heads"]),
    "plans.progress": (302, ["access_log", "case_journal", "journal_heads", "measures",
                             "rehab_plans"]),
    "contacts.employer": (302, ["access_log", "case_journal", "journal_heads", "patients"]),
    "contacts.directory_new": (302, ["organisations"]),
    "contacts.directory_add_person": (302, ["contact_persons"]),
    "reports.save_population": (302, ["unit_populations"]),
    "log_extracts.index": (200, ["access_log", "journal_heads"]),
    "admin.unit_new": (302, ["care_units"]),
    "admin.user_password": (302, ["users"]),
    "auth.change_password": (302, ["users"]),
}  # fmt: skip


def post_endpoints(app: Flask) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint != "static"
    }


def test_every_post_route_has_an_entry(app: Flask) -> None:
    routes = post_endpoints(app)

    assert sorted(routes - POSTS.keys()) == [], "POST routes without a CSRF entry"
    assert sorted(POSTS.keys() - routes) == [], "entries for routes that no longer exist"


def test_each_entry_is_posted_by_a_role_the_route_admits(app: Flask) -> None:
    wrong = {}
    for endpoint, post in POSTS.items():
        rule = rule_for(app, endpoint)
        admitted = post.who in rule.roles if isinstance(post.who, Role) else rule.public
        if not admitted:
            wrong[endpoint] = post.who
    assert wrong == {}


# -- The world the posts act on ------------------------------------------------------------------


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stopped at NOW (before the world is made): the plan and treatment dates of the
    support builders are relative to it."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def objects(frozen: None, app: Flask, world: World) -> dict[str, str]:
    """Real rows of unit A for every placeholder, made through the services."""
    with app.app_context():
        coordinator = actor_for(world.coordinator_a, world.unit_a)
        manager = actor_for(world.manager, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        consent = consent_to_coordination(coordinator, patient)
        cases.activate(coordinator, patient)
        plan = agreed_plan(coordinator, patient)
        treatment = treatments.record(
            coordinator,
            patient,
            TreatmentInput(
                TreatmentKind.KBT,
                TreatmentProvider.OWN_UNIT,
                ProviderType.PUBLIC,
                started_on=TODAY - timedelta(days=30),
            ),
        )
        employer = organisation(coordinator, OrganisationType.EMPLOYER, "ACME AB")
        contact = person(coordinator, employer)
        assert manager.unit is not None
        draft = checks.Draft([manager.unit], TODAY, TODAY, frozenset(Criterion))
        check = checks.draw(manager, draft, Rules())
        run = chainstatus.start(None)
        db.session.commit()
        chainstatus.carry_out(run.id)
        secret = pyotp.random_base32()
        UserFactory(username="tvasteg", units=[manager.unit], totp_secret=secret)
        values = {
            "patient": str(patient.uid),
            "consent": str(consent.uid),
            "measure": str(plan.versions[-1].measures[0].uid),
            "treatment": str(treatment.uid),
            "organisation": str(employer.uid),
            "person": str(contact.uid),
            "check": str(check.id),
            "run": str(run.id),
            # Coordinator B: a new password for coordinator A would sign out the client posting.
            "user": str(world.coordinator_b.id),
            "unit": str(world.unit_a.id),
            "unit_b": str(world.unit_b.id),
            "password": PASSWORD,
            "totp_secret": secret,
        }
        db.session.commit()
        return values


# -- The posts -----------------------------------------------------------------------------------


@dataclass
class Clients:
    """One client per kind of poster, signed in (or half-way) once, reused for every route."""

    app: Flask
    world: World
    signed_in_client: Callable[..., FlaskClient]
    made: dict[Who, FlaskClient] = field(default_factory=dict)

    def __call__(self, who: Who) -> FlaskClient:
        if who not in self.made:
            self.made[who] = self.make(who)
        return self.made[who]

    def make(self, who: Who) -> FlaskClient:
        world = self.world
        if who == ANONYMOUS:
            client = self.app.test_client()
            client.get("/auth/login")  # a session of its own, with a token in it
            return client
        if who == PENDING:
            client = self.app.test_client()
            response = sign_in(client, "tvasteg")
            assert response.headers["Location"] == "/auth/login/code"
            return client
        user = {COORDINATOR: world.coordinator_a, MANAGER: world.manager, ADMIN: world.admin}[who]
        unit = world.unit_a if who is MANAGER else None
        return self.signed_in_client(user, unit)


@pytest.fixture
def clients(
    app: Flask,
    world: World,
    objects: dict[str, str],
    signed_in_client: Callable[..., FlaskClient],
) -> Clients:
    return Clients(app, world, signed_in_client)


def _form(post: Post, objects: dict[str, str]) -> tuple[str, dict[str, str]]:
    values = {**objects, "code": pyotp.TOTP(objects["totp_secret"]).now()}
    data = {name: value.format(**values) for name, value in post.data.items()}
    return post.path.format(**values), data


def test_every_post_without_a_valid_token_is_refused_and_writes_nothing(
    app: Flask, world: World, objects: dict[str, str], clients: Clients
) -> None:
    # Tokens an attacker can get: one from their own anonymous visit, one from the session of
    # another signed-in user (coordinator B).
    foreign = {
        "an anonymous visitor's token": csrf_token(app.test_client()),
        "another user's token": csrf_token(clients.signed_in_client(world.coordinator_b)),
    }
    for who in (ANONYMOUS, PENDING, COORDINATOR, MANAGER, ADMIN):
        clients(who)
    before = fingerprint(app)
    problems = []

    for endpoint, post in sorted(POSTS.items()):
        client = clients(post.who)
        path, data = _form(post, objects)
        attempts = {"no token": client.post(path, data=data)}
        for label, token in foreign.items():
            attempts[label] = client.post(path, data={**data, "csrf_token": token})
        problems += [
            f"{endpoint} with {label}: {response.status_code}, not the CSRF page"
            for label, response in attempts.items()
            if not is_csrf_refusal(response)
        ]
        after = fingerprint(app)
        if after != before:
            problems.append(f"{endpoint} wrote to {changed_tables(before, after)}")
            before = after

    assert problems == []


def test_the_sessions_are_still_what_they_were_after_the_refusals(
    objects: dict[str, str], clients: Clients
) -> None:
    """Sign-out, the unit choice (to B) and the language (English) refused without a token
    changed nothing in the session either."""
    for who, endpoint in [(COORDINATOR, "auth.logout"), (MANAGER, "auth.choose_unit"),
                          (ANONYMOUS, "auth.set_language")]:  # fmt: skip
        path, data = _form(POSTS[endpoint], objects)
        assert is_csrf_refusal(clients(who).post(path, data=data)), endpoint

    assert clients(COORDINATOR).get("/").status_code == 200
    assert "<h1>Patienter på Vårdcentralen Norr</h1>" in clients(MANAGER).get("/patients/").text
    assert '<html lang="sv"' in clients(ANONYMOUS).get("/auth/login").text


def test_the_same_forms_with_their_own_tokens_are_accepted(
    app: Flask, objects: dict[str, str], clients: Clients
) -> None:
    outcomes = {}
    for endpoint in ACCEPTED_WITH_OWN_TOKEN:
        post = POSTS[endpoint]
        # A visitor who signs in is no longer anonymous: each anonymous post gets a new visitor.
        client = clients.make(post.who) if post.who == ANONYMOUS else clients(post.who)
        path, data = _form(post, objects)
        token = csrf_token(client)
        before = fingerprint(app)
        response = client.post(path, data={**data, "csrf_token": token})
        outcomes[endpoint] = (response.status_code, changed_tables(before, fingerprint(app)))

    assert outcomes == ACCEPTED_WITH_OWN_TOKEN
