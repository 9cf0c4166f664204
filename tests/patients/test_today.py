"""Today, the coordinator's work queue: what is new since the last visit and what is due, for
the coordinator's own and the unit's unassigned cases only; the page, its log, its providers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import date, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.extensions import db
from coordinator.journal.models import AccessAction
from coordinator.patients import cases, today
from coordinator.patients.models import CaseOutcome, Patient
from coordinator.patients.screening import ScreeningRules
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.patients.support import (
    NOW,
    access_log,
    activate,
    at,
    certify,
    last_access_seq,
    register,
)

pytestmark = pytest.mark.usefixtures("frozen")

RULES = ScreeningRules()
#: Coordinator A's previous visit to Today.
VISIT = at(date(2026, 6, 10))


def make_scenario(frozen: time_machine.Traveller, world: World) -> dict[str, Patient]:
    """Registered on 1 June, Today visited on 10 June, more happening on 12 June; back to
    Monday 15 June. Call inside an app context."""
    me = actor_for(world.coordinator_a, world.unit_a)
    unit = db.session.get(CareUnit, world.unit_a.id)
    colleague = actor_for(UserFactory(username="koord.a2", units=[unit]), world.unit_a)
    other_unit = actor_for(world.coordinator_b, world.unit_b)
    d = date
    frozen.move_to(at(d(2026, 6, 1)))
    # Mine, new, long-term pain: day 88 today, day 90 on 17 June.
    andersson = register(me, "Andersson", "Anna")
    certify(me, andersson, d(2026, 3, 20), d(2026, 7, 31), 100, "M54.5")
    # Mine, active, follow-up yesterday.
    berg = register(me, "Berg", "Bo")
    certify(me, berg, d(2026, 6, 1), d(2026, 6, 30), 100, "F43.2")
    activate(me, berg)
    cases.set_follow_up(me, berg, d(2026, 6, 14))
    # Mine, new; their first certificate comes on 12 June.
    dahl = register(me, "Dahl", "Dan")
    # The colleague's, active; given to me on 12 June.
    ek = register(colleague, "Ek", "Eva")
    certify(colleague, ek, d(2026, 5, 1), d(2026, 6, 30), 100, "F32.1")
    activate(colleague, ek)
    # Nobody's yet, with signals to screen.
    falk = register(me, "Falk", "Fia", assign_to_actor=False)
    certify(me, falk, d(2026, 5, 20), d(2026, 7, 20), 100, "F43.2")
    # The colleague's and staying so: signals, day 90 near, follow-up due, a new certificate.
    gran = register(colleague, "Gran", "Gun")
    certify(colleague, gran, d(2026, 3, 20), d(2026, 7, 31), 100, "M54.5")
    cases.set_follow_up(colleague, gran, d(2026, 6, 14))
    # Mine, but closed: signals and day 90 near.
    holm = register(me, "Holm", "Hanna")
    certify(me, holm, d(2026, 3, 20), d(2026, 7, 31), 100, "F43.2")
    cases.close(me, holm, CaseOutcome.HANDED_OVER, d(2026, 6, 1))
    # Unit B: everything at once.
    oberg = register(other_unit, "Öberg", "Olle")
    certify(other_unit, oberg, d(2026, 3, 20), d(2026, 7, 31), 100, "F43.2")
    cases.set_follow_up(other_unit, oberg, d(2026, 6, 14))
    frozen.move_to(VISIT)
    today.start_visit(me)
    frozen.move_to(at(d(2026, 6, 12)))
    certify(me, dahl, d(2026, 6, 12), d(2026, 6, 26), 100, "J06.9")
    certify(colleague, gran, d(2026, 8, 1), d(2026, 8, 31), 100, "M54.5")
    certify(other_unit, oberg, d(2026, 8, 1), d(2026, 8, 31), 100, "F43.2")
    cases.transfer(colleague, ek, me.user.id)
    frozen.move_to(NOW)
    db.session.commit()
    return {p.last_name: p for p in (andersson, berg, dahl, ek, falk, gran, holm, oberg)}


@pytest.fixture
def scenario(frozen: time_machine.Traveller, world: World, context: None) -> dict[str, Patient]:
    return make_scenario(frozen, world)


def queue_of(groups: list[today.Group]) -> dict[str, list[tuple[str, str]]]:
    return {group.key: [(p.last_name, note) for p, note in group.shown] for group in groups}


def test_the_queue_gathers_whats_new_since_the_last_visit_and_whats_due(
    me: Actor, scenario: dict[str, Patient]
) -> None:
    groups = today.queue(me, VISIT, RULES)

    assert queue_of(groups) == {
        "new-certificates": [("Dahl", "Day 4, 100 %")],
        "assigned": [("Ek", "Now yours")],
        "to-screen": [
            ("Andersson", "Sick-listed more than 14 days, Expected long sick leave"),
            ("Falk", "Sick-listed more than 14 days, Expected long sick leave"),
        ],
        "milestones": [("Andersson", "Day 90 on 2026-06-17")],
        "follow-ups": [("Berg", "Due 2026-06-14")],
        # Berg's and Ek's coordination is under way: the plans feature asks for a plan.
        "plan-none": [("Berg", "No plan yet"), ("Ek", "No plan yet")],
    }
    assert [group.key for group in groups] == list(queue_of(groups))
    assert [group.list_args for group in groups][2:] == [
        {"status": "new", "scope": "unit"},
        {"sort": "milestone"},
        {"follow_up": "due", "sort": "follow_up"},
        {"plan": "none", "scope": "mine"},
    ]


def test_a_visit_returns_the_previous_one_and_becomes_the_previous_one(
    frozen: time_machine.Traveller, me: Actor
) -> None:
    first = today.start_visit(me)
    frozen.move_to(NOW + timedelta(hours=2))

    second = today.start_visit(me)

    assert (first, second) == (NOW - timedelta(days=7), NOW)  # never visited: the last week
    user = db.session.get(User, me.user.id)
    assert user is not None
    assert user.today_seen_at == NOW + timedelta(hours=2)


def test_the_next_visit_no_longer_shows_what_was_new_at_this_one(
    me: Actor, scenario: dict[str, Patient]
) -> None:
    assert today.start_visit(me) == VISIT

    groups = today.queue(me, today.start_visit(me), RULES)

    assert list(queue_of(groups)) == ["to-screen", "milestones", "follow-ups", "plan-none"]


_SECTION = re.compile(r'<section class="card" id="([\w-]+)">(.*?)</section>', re.DOTALL)
_PATIENT_LINK = re.compile(r'href="/patients/([0-9a-f-]{36})"')


def sections(html: str) -> dict[str, list[str]]:
    """The queue on the page: each group's id and the uids of the patients it links to."""
    return {key: _PATIENT_LINK.findall(body) for key, body in _SECTION.findall(html)}


def test_the_page_shows_each_group_with_its_patients_and_logs_those_shown(
    app: Flask,
    world: World,
    frozen: time_machine.Traveller,
    signed_in_client: Callable[..., FlaskClient],
) -> None:
    with app.app_context():
        patients = {name: (p.id, str(p.uid)) for name, p in make_scenario(frozen, world).items()}
        mark = last_access_seq()
    client = signed_in_client(world.coordinator_a)

    response = client.get("/")

    assert response.status_code == 200
    uid = {name: patient_uid for name, (_, patient_uid) in patients.items()}
    expected = {
        "new-certificates": [uid["Dahl"]],
        "assigned": [uid["Ek"]],
        "to-screen": [uid["Andersson"], uid["Falk"]],
        "milestones": [uid["Andersson"]],
        "follow-ups": [uid["Berg"]],
        "plan-none": [uid["Berg"], uid["Ek"]],
    }
    assert sections(response.text) == expected
    with app.app_context():
        logged = sorted((e.patient_id, e.action, e.object_type) for e in access_log(mark))
    shown = ("Andersson", "Berg", "Dahl", "Ek", "Falk")
    assert logged == sorted((patients[n][0], AccessAction.READ, "patient") for n in shown)
    assert sections(client.get("/").text) == expected  # a reload keeps what was new


def test_a_provider_another_feature_registers_has_its_group_on_the_page(
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(today, "_PROVIDERS", list(today._PROVIDERS))  # restored afterwards

    @today.provider
    def consents_expiring(context: today.Context) -> Iterable[today.Group]:
        ids = [row.patient_id for row in context.rows]
        yield today.Group("consents-expiring", "Consents expiring", [(ids[0], "in 3 days")])

    response = signed_in_client(world.coordinator_a).get("/")

    assert response.status_code == 200
    assert sections(response.text) == {"consents-expiring": [world.patient_a.uid]}
    assert "Consents expiring" in response.text
    assert "in 3 days" in response.text


def test_a_provider_naming_a_patient_outside_the_queue_neither_breaks_nor_shows_them(
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(today, "_PROVIDERS", list(today._PROVIDERS))

    @today.provider
    def careless(context: today.Context) -> Iterable[today.Group]:
        yield today.Group("careless", "Careless", [(world.patient_b.id, "another unit's")])

    response = signed_in_client(world.coordinator_a).get("/")

    assert response.status_code == 200
    assert uuid.UUID(world.patient_b.uid).hex not in response.text
    assert "Elvasson" not in response.text
