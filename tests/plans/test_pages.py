"""The mapping, plan and treatment pages through the browser's eyes, as coordinator A working
on Lars Lind (coordination under way): drafting and signing the mapping, writing, agreeing and
revising the plan, refusals with their messages (nothing written), two coordinators saving the
same plan, follow-ups and progress, who may see what, and sharing through the consent gate.

The coordinators use the English interface: the assertions read the source texts, whatever
the state of the Swedish translation."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import date

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry, EntryKind
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import service
from coordinator.plans.models import (
    AgreementMethod,
    FollowUp,
    Mapping,
    Measure,
    MeasureStatus,
    RehabPlan,
    ResponsibleActor,
    ReturnBelief,
    Treatment,
)
from tests.conftest import UserRef, World
from tests.consents.support import give, logged
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.helpers import alert, csrf_token, field_errors, flashes, submit
from tests.patients.support import TODAY, activate, at, entries, last_access_seq, register
from tests.plans.support import agreed_plan, count, day, measure, plan_input, written

pytestmark = pytest.mark.usefixtures("frozen")

SECTIONS = {
    "work_situation": "Undersköterska på ett äldreboende, heltid.",
    "life_situation": "Bor med sambo och två barn.",
    "health": "Sover dåligt, orkar inte stå hela pass.",
    "obstacles": "Tunga lyft.",
    "resources": "Stöttande chef.",
    "own_goal": "Tillbaka på heltid till hösten.",
    "risk_factors": "Tidigare lång sjukskrivning.",
}
INCOMPLETE = (
    "Fill in every section and the patient's belief in return to work before signing "
    "(write “nothing to note” where that is the answer)."
)
STALE = (
    "Someone else saved this a moment ago. What they saved is shown below and your changes "
    "are still in the form: check them against it and save again."
)
_HIDDEN = r'name="{}" type="hidden" value="([^"]*)"'
_MEASURE = re.compile(r'<tr class="measure" data-status="(\w+)">\s*<td><span class="body">([^<]*)<')
_WARNING = re.compile(
    r'<span class="badge warn consent-warning">No consent</span> <span class="hint">([^<]*)<'
)


# -- helpers --------------------------------------------------------------------------------


def _in_english(client: FlaskClient) -> FlaskClient:
    response = submit(client, "/auth/language", {"language": "en", "next": "/"}, form_url="/")
    assert response.status_code == 302
    return client


def _post(client: FlaskClient, url: str, data: dict[str, str]) -> TestResponse:
    # The token comes from the registration form, which shows (and logs) no patient data.
    return client.post(url, data={"csrf_token": csrf_token(client, "/patients/new"), **data})


def _hidden(page: str, name: str = "version") -> str:
    match = re.search(_HIDDEN.format(re.escape(name)), page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def _hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` on ``page`` (its CSRF token aside),
    as the browser sends them back."""
    match = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>',
                      page, re.DOTALL)  # fmt: skip
    assert match, f"no form posting to {action}"
    found = re.findall(r'name="([\w-]+)" type="hidden" value="([^"]*)"', match.group(1))
    return {name: value for name, value in found if name != "csrf_token"}


def _alert(response: TestResponse) -> str | None:
    message = alert(response)
    return html.unescape(message) if message else None


def _flashes(response: TestResponse) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in flashes(response)]


def _errors(response: TestResponse) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in field_errors(response).items()}


def _measures(page: str, section: str = "in-force") -> list[tuple[str, str]]:
    """The measures (status, description) of a section of the plan page."""
    body = _section(page, section)
    return [(status, html.unescape(text)) for status, text in _MEASURE.findall(body)]


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section class="[^"]*" id="{section_id}">(.*?)</section>', page, re.DOTALL)
    assert match, f"no section {section_id}"
    return match.group(1)


def _stored(app: Flask) -> tuple[int, ...]:
    """Everything the plans pages could write, except the access log (reads are logged)."""
    with app.app_context():
        counts = written()
    return counts[:2] + counts[3:]


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _logged(app: Flask, mark: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return logged(mark)


_BLANK_ROW = {"description": "", "actor": "care_unit", "actor_name": "", "starts_on": "",
              "due_on": "", "status": "planned", "uid": ""}  # fmt: skip
_ROWS: tuple[dict[str, str], ...] = (
    {"description": "Arbetsplatsbesök", "due_on": "2026-07-01"},
    {"description": "Samtal om anpassning", "actor": "employer", "actor_name": "ICA Maxi",
     "due_on": "2026-08-03"},
    {},  # left blank: ignored
)  # fmt: skip


def _plan_form(**fields: str) -> dict[str, str]:
    """The plan form as a browser sends it for a new plan: two measures and a blank row."""
    data = {
        "version": "", "based_on": "", "goal": "own_job", "goal_degree": "100",
        "starts_on": "2026-06-15", "target_on": "2026-09-13", "goal_text": "",
        "intermediate_goals": "",
    }  # fmt: skip
    for i, row in enumerate(_ROWS):
        data |= {f"measures-{i}-{name}": value for name, value in (_BLANK_ROW | row).items()}
    return data | fields


def _edit_form(page: str, **fields: str) -> dict[str, str]:
    """The plan edit form as shown on ``page`` (its hidden fields and the first measure's
    uid), to be sent with ``fields`` changed."""
    data = _plan_form(version=_hidden(page), based_on=_hidden(page, "based_on"))
    data["measures-0-uid"] = _hidden(page, "measures-0-uid")
    for name in ("description", "actor_name", "due_on"):
        data[f"measures-1-{name}"] = ""
    data["measures-1-actor"] = "care_unit"
    data["measures-0-due_on"] = ""
    return data | fields


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def coordinator(coordinator_client: FlaskClient) -> FlaskClient:
    """Coordinator A, in English."""
    return _in_english(coordinator_client)


@pytest.fixture
def uid(app: Flask, world: World) -> str:
    """Lars Lind, registered today by coordinator A, consented to coordination, case active."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = register(me, "Lind", "Lars")
        activate(me, patient)
        db.session.commit()
        return str(patient.uid)


def _with_patient(app: Flask, world: World, uid: str, build: Callable[..., object]) -> None:
    """Run ``build(actor, patient)`` as coordinator A and commit."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        build(me, patients.get_patient(me, uuid.UUID(uid), log=False))
        db.session.commit()


def _patient(uid: str) -> Patient:
    return db.session.scalars(select(Patient).where(Patient.uid == uuid.UUID(uid))).one()


def _plan(uid: str) -> RehabPlan:
    return db.session.scalars(
        select(RehabPlan).where(RehabPlan.patient_id == _patient(uid).id)
    ).one()


@pytest.fixture
def draft(app: Flask, world: World, uid: str) -> None:
    """Version 1 of Lars's plan, a draft with one measure (a work-place visit)."""
    _with_patient(app, world, uid, lambda me, p: service.save(me, p, plan_input()))


@pytest.fixture
def agreed(app: Flask, world: World, uid: str) -> None:
    """Lars's plan agreed today (version 1): a work-place visit by the care unit, a talk by
    the employer; next follow-up 2026-06-29."""
    _with_patient(app, world, uid, lambda me, p: agreed_plan(
        me, p, measure("Arbetsplatsbesök", due_on=day(16)),
        measure("Samtal om anpassning", ResponsibleActor.EMPLOYER, actor_name="ICA Maxi"),
    ))  # fmt: skip


# -- the mapping ----------------------------------------------------------------------------


def test_a_mapping_draft_is_saved_and_signing_it_incomplete_writes_nothing(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    url = f"/patients/{uid}/mapping"
    partial = {name: SECTIONS[name] for name in ("work_situation", "health")}

    new = _hidden_fields(coordinator.get(url).text, url)

    saved = _post(coordinator, url, {**new, **partial, "save": "Save draft"})

    assert saved.status_code == 302, saved.text
    assert saved.headers["Location"] == f"/patients/{uid}/plan#mapping"
    page = coordinator.get(saved.headers["Location"])
    assert _flashes(page) == [("success", "The draft was saved.")]
    assert '<span class="badge warn">Draft</span>' in _section(page.text, "mapping")
    shown = _hidden_fields(coordinator.get(url).text, url)
    before = _stored(app)

    refused = _post(coordinator, url, {
        **shown, **SECTIONS, "risk_factors": "", "belief": "unsure",
        "sign": "Sign the mapping",
    })  # fmt: skip

    assert refused.status_code == 400
    assert _alert(refused) == INCOMPLETE
    assert _stored(app) == before
    with app.app_context():
        (stored,) = db.session.scalars(select(Mapping)).all()
        assert (stored.number, stored.is_signed, stored.return_belief) == (1, False, None)
        assert {name: getattr(stored, name) for name in SECTIONS} == {
            name: partial.get(name) for name in SECTIONS
        }


def test_a_complete_mapping_is_signed_and_the_patient_page_says_so(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    url = f"/patients/{uid}/mapping"
    new = _hidden_fields(coordinator.get(url).text, url)

    signed = _post(coordinator, url, {
        **new, **SECTIONS, "belief": "unsure", "sign": "Sign the mapping",
    })  # fmt: skip

    assert signed.status_code == 302, signed.text
    assert signed.headers["Location"] == f"/patients/{uid}/plan#mapping"
    assert _flashes(coordinator.get(signed.headers["Location"])) == [
        ("success", "The mapping was signed and written to the journal.")
    ]
    panel = _section(coordinator.get(f"/patients/{uid}").text, "plan")
    assert '<span class="badge ok">Signed Jun 15, 2026</span>' in panel
    with app.app_context():
        (stored,) = db.session.scalars(select(Mapping)).all()
        assert (stored.number, stored.is_signed, stored.belief) == (
            1,
            True,
            ReturnBelief.UNSURE,
        )
        (signed_entry,) = entries(_patient(uid), EntryKind.PLAN_CHANGED)
        assert all(value in signed_entry.body for value in SECTIONS.values())


# -- writing the plan -----------------------------------------------------------------------


def test_a_plan_is_created_with_its_measures_and_blank_rows_are_ignored(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    response = _post(coordinator, f"/patients/{uid}/plan/edit", _plan_form())

    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/patients/{uid}/plan#draft"
    page = coordinator.get(response.headers["Location"]).text
    assert _measures(page, "draft") == [
        ("planned", "Arbetsplatsbesök"),
        ("planned", "Samtal om anpassning"),
    ]
    (warning,) = _WARNING.findall(_section(page, "draft"))
    assert html.unescape(warning) == (
        "The patient has given no consent for: Employer (ICA Maxi). The measure is planned, "
        "but nothing about the patient may be disclosed to Employer until the patient consents."
    )
    with app.app_context():
        plan = _plan(uid)
        (version,) = plan.versions
        assert [(m.position, m.description, m.actor, m.actor_name, m.due_on)
                for m in version.measures] == [
            (1, "Arbetsplatsbesök", ResponsibleActor.CARE_UNIT, None, date(2026, 7, 1)),
            (2, "Samtal om anpassning", ResponsibleActor.EMPLOYER, "ICA Maxi", date(2026, 8, 3)),
        ]  # fmt: skip
        assert (version.number, version.is_agreed, plan.next_follow_up_on) == (1, False, None)


def test_a_target_date_before_the_start_is_refused_at_its_field(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    before, mark = _stored(app), _mark(app)

    response = _post(coordinator, f"/patients/{uid}/plan/edit", _plan_form(target_on="2026-06-14"))

    assert response.status_code == 400
    assert _errors(response) == {"target_on": "The target date is before the plan starts."}
    assert _alert(response) is None
    assert _stored(app) == before
    assert _logged(app, mark) == [("read", "patient", uuid.UUID(uid).hex)]


def test_a_due_date_outside_the_plan_is_refused_at_the_measure_row(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    before = _stored(app)

    response = _post(
        coordinator, f"/patients/{uid}/plan/edit", _plan_form(**{"measures-0-due_on": "2026-10-01"})
    )

    assert response.status_code == 400
    message = "The date must be within the plan, 2026-06-15 – 2026-09-13."
    assert _errors(response) == {"measures-0-due_on": message}
    assert _alert(response) == f"Measure 1: {message}"
    assert 'value="2026-10-01"' in response.text  # the input is kept
    assert _stored(app) == before


def test_negative_sessions_are_refused_at_their_field(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    before = _stored(app)

    response = _post(coordinator, f"/patients/{uid}/treatments/new", {
        "kind": "kbt", "provider": "own_unit", "provider_type": "public",
        "started_on": "2026-06-01", "completed_on": "", "sessions": "-1", "note": "",
    })  # fmt: skip

    assert response.status_code == 400
    assert _errors(response) == {"sessions": "Give a number from 0 to 200."}
    assert _stored(app) == before


def test_a_treatment_completed_before_it_started_is_refused(
    app: Flask, coordinator: FlaskClient, uid: str
) -> None:
    before = _stored(app)

    response = _post(coordinator, f"/patients/{uid}/treatments/new", {
        "kind": "kbt", "provider": "own_unit", "provider_type": "public",
        "started_on": "2026-06-10", "completed_on": "2026-06-01", "sessions": "12", "note": "",
    })  # fmt: skip

    assert response.status_code == 400
    assert _errors(response) == {
        "completed_on": "The treatment cannot be completed before it started."
    }
    assert _stored(app) == before
    with app.app_context():
        assert count(Treatment) == 0


# -- agreement and new versions -------------------------------------------------------------


def test_the_patients_agreement_puts_version_1_in_force(
    app: Flask, coordinator: FlaskClient, uid: str, draft: None
) -> None:
    url = f"/patients/{uid}/plan/agree"
    page = coordinator.get(f"/patients/{uid}/plan").text
    assert "Plan in force" not in page
    shown_form = _hidden_fields(page, url)
    assert shown_form["number"] == "1"

    response = _post(coordinator, url, {
        **shown_form, "agreed_on": "2026-06-15", "method": "meeting",
        "next_follow_up_on": "2026-06-29", "note": "",
    })  # fmt: skip

    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/patients/{uid}/plan#agree"
    shown = coordinator.get(response.headers["Location"])
    assert _flashes(shown) == [
        ("success", "The patient's agreement was recorded: this version is now in force.")
    ]
    in_force = _section(shown.text, "in-force")
    assert "Plan in force: version 1" in in_force
    assert '<span class="badge ok">Agreed Jun 15, 2026</span>' in in_force
    assert '<dd id="next-follow-up"><span class="">Jun 29, 2026</span></dd>' in in_force
    assert 'id="draft"' not in shown.text
    with app.app_context():
        plan = _plan(uid)
        assert (plan.in_force.number, plan.next_follow_up_on) == (1, date(2026, 6, 29))


def test_editing_an_agreed_plan_drafts_version_2_and_version_1_stays_in_force(
    app: Flask, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    url = f"/patients/{uid}/plan/edit"
    form = coordinator.get(url)
    assert form.status_code == 200
    assert "<h1>New version 2</h1>" in form.text
    assert _hidden(form.text, "based_on") == "1"

    response = _post(coordinator, url, _edit_form(
        form.text, goal_degree="50", **{"measures-1-description": "Träning hos fysioterapeut"}
    ))  # fmt: skip

    assert response.status_code == 302, response.text
    page = coordinator.get(f"/patients/{uid}/plan").text
    assert "Plan in force: version 1" in _section(page, "in-force")
    assert _measures(page, "in-force") == [
        ("planned", "Arbetsplatsbesök"),
        ("planned", "Samtal om anpassning"),
    ]
    assert "Version 2" in _section(page, "draft")
    assert _measures(page, "draft") == [
        ("planned", "Arbetsplatsbesök"),
        ("planned", "Träning hos fysioterapeut"),
    ]
    with app.app_context():
        plan = _plan(uid)
        assert [(v.number, v.goal_degree, v.is_agreed) for v in plan.versions] == [
            (1, 100, True),
            (2, 50, False),
        ]
        first, carried = plan.versions[0].measures[0], plan.versions[1].measures[0]
        assert (carried.carried_from_id, carried.id != first.id) == (first.id, True)


def test_a_superseded_version_cannot_be_edited(
    app: Flask, world: World, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    url = f"/patients/{uid}/plan/edit"
    old_form = coordinator.get(url).text  # filled from version 1
    assert _hidden(old_form, "based_on") == "1"

    def second_version(me: Actor, patient: Patient) -> None:
        service.save(me, patient, plan_input(goal_degree=50))
        agreement = service.Agreement(date(2026, 6, 15), AgreementMethod.PHONE, day(21))
        service.agree(me, patient, 2, agreement)

    _with_patient(app, world, uid, second_version)
    before = _stored(app)

    response = _post(coordinator, url, _edit_form(old_form, goal_degree="75"))

    assert response.status_code == 409
    assert _alert(response) == (
        "Version 1 has been replaced by version 2 and can no longer be changed. Open the "
        "current version to edit the plan."
    )
    assert _stored(app) == before


# -- two coordinators at once -----------------------------------------------------------------


@pytest.fixture
def colleague(app: Flask, world: World) -> UserRef:
    """A second coordinator of unit A."""
    with app.app_context():
        unit = db.session.get(CareUnit, world.unit_a.id)
        user = UserFactory(username="koord.a2", full_name="Karin Kvist", units=[unit])
        return UserRef.of(user)


def test_of_two_coordinators_saving_the_same_plan_the_second_is_shown_the_first_change(
    app: Flask,
    world: World,
    frozen: time_machine.Traveller,
    signed_in_client: Callable[..., FlaskClient],
    colleague: UserRef,
    uid: str,
    draft: None,
) -> None:
    url = f"/patients/{uid}/plan/edit"
    first = _in_english(signed_in_client(world.coordinator_a))
    second = _in_english(signed_in_client(colleague))
    first_form, second_form = first.get(url).text, second.get(url).text
    with app.app_context():
        first_name = db.session.get(User, world.coordinator_a.id).full_name
    mine = {"goal_text": "Halvtid först",
            "measures-0-description": "Kontakt med företagshälsovården"}  # fmt: skip

    frozen.move_to(at(TODAY, 10, 5))
    saved = _post(first, url, _edit_form(
        first_form, goal_text="Heltid i egen tjänst",
        **{"measures-0-description": "Arbetsplatsbesök med chefen"},
    ))  # fmt: skip
    frozen.move_to(at(TODAY, 10, 6))
    refused = _post(second, url, _edit_form(second_form, **mine))

    assert saved.status_code == 302, saved.text
    assert refused.status_code == 409
    assert _alert(refused) == STALE
    other = _section(refused.text, "other-change")
    assert f"Saved meanwhile by {first_name}" in other
    assert "Heltid i egen tjänst" in other
    assert "Arbetsplatsbesök med chefen" in other
    assert "Halvtid först" not in other
    form = refused.text.split('id="other-change"', 1)[1].split("</section>", 1)[1]
    assert "\nHalvtid först</textarea>" in form
    assert 'value="Kontakt med företagshälsovården"' in form
    with app.app_context():
        plan = _plan(uid)
        (version,) = plan.versions
        assert (version.goal_text, [m.description for m in version.measures]) == (
            "Heltid i egen tjänst",
            ["Arbetsplatsbesök med chefen"],
        )
        assert _hidden(form) == str(plan.lock)  # the next save is made on what is stored

    frozen.move_to(at(TODAY, 10, 7))
    again = _post(second, url, _edit_form(refused.text, **mine))

    assert again.status_code == 302, again.text
    with app.app_context():
        plan = _plan(uid)
        (version,) = plan.versions
        assert (version.goal_text, [m.description for m in version.measures]) == (
            "Halvtid först",
            ["Kontakt med företagshälsovården"],
        )
        assert plan.updated_by_id == colleague.id


def test_a_save_moves_the_plans_lock_even_in_the_same_instant_as_the_last_one(
    app: Flask,
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    colleague: UserRef,
    uid: str,
    draft: None,
) -> None:
    """Coordinator A drafted the plan at 10:00 and saves it again at 10:00 (the clock has not
    moved): the colleague's form, opened before that save, is stale all the same."""
    url = f"/patients/{uid}/plan/edit"
    first = _in_english(signed_in_client(world.coordinator_a))
    second = _in_english(signed_in_client(colleague))
    first_form, second_form = first.get(url).text, second.get(url).text

    saved = _post(first, url, _edit_form(first_form, goal_text="Heltid i egen tjänst"))
    refused = _post(second, url, _edit_form(second_form, goal_text="Halvtid först"))

    assert saved.status_code == 302, saved.text
    assert refused.status_code == 409
    assert _alert(refused) == STALE
    with app.app_context():
        (version,) = _plan(uid).versions
        assert version.goal_text == "Heltid i egen tjänst"


def test_of_two_coordinators_creating_the_plan_the_second_is_refused(
    app: Flask,
    world: World,
    frozen: time_machine.Traveller,
    signed_in_client: Callable[..., FlaskClient],
    colleague: UserRef,
    uid: str,
) -> None:
    """Both open the form for a new plan; the first creates it. The second's save must not
    overwrite it unseen."""
    url = f"/patients/{uid}/plan/edit"
    first = _in_english(signed_in_client(world.coordinator_a))
    second = _in_english(signed_in_client(colleague))
    first_form = _hidden_fields(first.get(url).text, url)
    second_form = _hidden_fields(second.get(url).text, url)
    assert first_form == second_form
    assert first_form["version"] == ""  # no plan yet

    frozen.move_to(at(TODAY, 10, 5))
    saved = _post(first, url, _plan_form(**first_form, goal_text="Heltid"))
    frozen.move_to(at(TODAY, 10, 6))
    refused = _post(second, url, _plan_form(**second_form, goal_text="Halvtid"))

    assert saved.status_code == 302, saved.text
    assert refused.status_code == 409
    assert _alert(refused) == STALE
    assert "Heltid" in _section(refused.text, "other-change")
    with app.app_context():
        (version,) = _plan(uid).versions
        assert version.goal_text == "Heltid"


def test_of_two_coordinators_starting_the_mapping_the_second_is_refused(
    app: Flask,
    world: World,
    frozen: time_machine.Traveller,
    signed_in_client: Callable[..., FlaskClient],
    colleague: UserRef,
    uid: str,
) -> None:
    url = f"/patients/{uid}/mapping"
    first = _in_english(signed_in_client(world.coordinator_a))
    second = _in_english(signed_in_client(colleague))
    first_form = _hidden_fields(first.get(url).text, url)
    second_form = _hidden_fields(second.get(url).text, url)
    assert first_form == second_form
    assert first_form["version"] == ""  # no mapping yet

    frozen.move_to(at(TODAY, 10, 5))
    saved = _post(first, url, {**first_form, "health": "Sover dåligt.", "save": "Save draft"})
    frozen.move_to(at(TODAY, 10, 6))
    refused = _post(second, url, {**second_form, "health": "Ont i ryggen.", "save": "Save draft"})

    assert saved.status_code == 302, saved.text
    assert refused.status_code == 409
    assert _alert(refused) == STALE
    assert "Sover dåligt." in _section(refused.text, "other-change")
    with app.app_context():
        (stored,) = db.session.scalars(select(Mapping)).all()
        assert stored.health == "Sover dåligt."


# -- follow-ups and progress ------------------------------------------------------------------


def test_a_follow_up_is_recorded_and_moves_the_next_follow_up(
    app: Flask, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    url = f"/patients/{uid}/plan/follow-ups"
    page = coordinator.get(f"/patients/{uid}/plan").text
    assert "Jun 29, 2026" in _section(page, "in-force")

    response = _post(coordinator, url, {
        **_hidden_fields(page, url), "held_on": "2026-06-15", "next_on": "2026-07-13",
        "notes": "Besöket bokat, chefen positiv.",
    })  # fmt: skip

    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/patients/{uid}/plan#follow-up"
    shown = coordinator.get(response.headers["Location"])
    assert _flashes(shown) == [("success", "The follow-up was recorded.")]
    assert '<dd id="next-follow-up"><span class="">Jul 13, 2026</span></dd>' in shown.text
    assert "Besöket bokat, chefen positiv." in _section(shown.text, "history")
    with app.app_context():
        assert _plan(uid).next_follow_up_on == date(2026, 7, 13)
        (follow_up,) = db.session.scalars(select(FollowUp)).all()
        assert (follow_up.held_on, follow_up.next_on, follow_up.notes) == (
            date(2026, 6, 15),
            date(2026, 7, 13),
            "Besöket bokat, chefen positiv.",
        )


def test_the_progress_of_a_measure_is_updated(
    app: Flask, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    with app.app_context():
        visit = _plan(uid).current.measures[0]
        prefix, measure_uid = f"m{visit.id}", visit.uid
    url = f"/patients/{uid}/plan/measures/{measure_uid}?prefix={prefix}"
    shown_form = _hidden_fields(coordinator.get(f"/patients/{uid}/plan").text, url)
    # The form's own fields carry the prefix, its CSRF token too.
    assert set(shown_form) == {f"{prefix}-csrf_token", f"{prefix}-version"}

    response = coordinator.post(url, data={
        **shown_form, f"{prefix}-status": "ongoing", f"{prefix}-outcome": "Första besöket gjort.",
    })  # fmt: skip

    assert response.status_code == 302, response.text
    shown = coordinator.get(f"/patients/{uid}/plan")
    assert _flashes(shown) == [("success", "The measure was updated.")]
    assert _measures(shown.text) == [
        ("ongoing", "Arbetsplatsbesök"),
        ("planned", "Samtal om anpassning"),
    ]
    assert "Outcome: Första besöket gjort." in _section(shown.text, "in-force")
    with app.app_context():
        stored = db.session.scalars(select(Measure).where(Measure.uid == measure_uid)).one()
        assert (stored.status, stored.outcome) == (MeasureStatus.ONGOING, "Första besöket gjort.")


# -- who may see what -------------------------------------------------------------------------


def test_the_manager_reads_the_plan_but_finds_no_way_to_change_it(
    app: Flask, manager_client: FlaskClient, uid: str, agreed: None
) -> None:
    page = manager_client.get(f"/patients/{uid}/plan")

    assert page.status_code == 200
    assert "Arbetsplatsbesök" in page.text
    assert f'action="/patients/{uid}/' not in page.text
    for path in ("plan/edit", "mapping", "plan/print", "plan/share", "treatments/new"):
        assert f'href="/patients/{uid}/{path}' not in page.text
    before = _stored(app)
    assert _post(manager_client, f"/patients/{uid}/plan/edit", _plan_form()).status_code == 403
    assert manager_client.get(f"/patients/{uid}/plan/edit").status_code == 403
    assert _stored(app) == before


def test_another_units_coordinator_finds_none_of_the_plan_pages(
    app: Flask,
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    uid: str,
    agreed: None,
) -> None:
    other = signed_in_client(world.coordinator_b)
    before = _stored(app)

    pages = ("plan", "plan/edit", "plan/versions/1", "plan/print", "plan/share", "mapping",
             "treatments/new")  # fmt: skip
    answers = {path: other.get(f"/patients/{uid}/{path}").status_code for path in pages}
    answers["plan/edit (post)"] = _post(
        other, f"/patients/{uid}/plan/edit", _plan_form()
    ).status_code

    assert answers == dict.fromkeys(answers, 404)
    assert _stored(app) == before


# -- the caseload and Today -------------------------------------------------------------------


def test_the_caseload_lists_the_active_patient_without_a_plan(
    app: Flask, world: World, coordinator: FlaskClient, uid: str
) -> None:
    link = f'<a href="/patients/{uid}">Lind, Lars</a>'
    tolvan = f'<a href="/patients/{world.patient_a.uid}">'  # a new case: no plan expected yet

    page = coordinator.get("/patients/?plan=none&scope=unit")

    assert page.status_code == 200
    assert link in page.text
    assert tolvan not in page.text
    assert tolvan in coordinator.get("/patients/?scope=unit").text
    _with_patient(app, world, uid, lambda me, p: service.save(me, p, plan_input()))
    assert link not in coordinator.get("/patients/?plan=none&scope=unit").text


def test_today_groups_the_active_cases_without_a_plan(coordinator: FlaskClient, uid: str) -> None:
    page = coordinator.get("/")

    assert page.status_code == 200
    group = _section(page.text, "plan-none")
    assert re.search(r"<h2>Active cases without a plan <span class=\"badge\">1</span></h2>", group)
    assert (
        f'<a href="/patients/{uid}">Lind, Lars</a> <span class="hint">No plan yet</span>' in group
    )


# -- sharing --------------------------------------------------------------------------------

SHARE = {"recipient": "employer", "recipient_name": "ICA Maxi", "shared_on": "2026-06-15"}


def test_sharing_without_consent_is_refused_and_the_attempt_stays_logged(
    app: Flask, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    url = f"/patients/{uid}/plan/share"
    assert coordinator.get(url).status_code == 200
    with app.app_context():
        plan = _plan(uid)
        plan_hex = plan.uid.hex
    before, mark = _stored(app), _mark(app)

    response = _post(coordinator, url, SHARE)

    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert _alert(response) == "The patient has given no consent for: Employer (ICA Maxi)."
    assert (
        f'<a class="button secondary" href="/patients/{uid}/consents/new?kind=employer">'
        "Record the patient's consent</a>"
    ) in response.text
    assert _logged(app, mark) == [
        ("read", "patient", uuid.UUID(uid).hex),
        ("read", "plan", plan_hex),
        ("denied", "plan_share", "employer"),
    ]
    assert _stored(app) == before
    with app.app_context():
        assert count(Disclosure) == 0


def test_sharing_with_consent_registers_a_disclosure_and_gives_the_pdf(
    app: Flask, world: World, coordinator: FlaskClient, uid: str, agreed: None
) -> None:
    _with_patient(
        app, world, uid, lambda me, p: give(me, p, ConsentKind.EMPLOYER, date(2026, 6, 1))
    )
    mark = _mark(app)

    response = _post(coordinator, f"/patients/{uid}/plan/share", SHARE)

    assert response.status_code == 200, response.text
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        disclosure = db.session.scalars(select(Disclosure)).one()
        assert (disclosure.recipient, disclosure.recipient_name, disclosure.disclosed_on) == (
            ConsentKind.EMPLOYER,
            "ICA Maxi",
            date(2026, 6, 15),
        )
        # In the record's language: the number and the day, whatever the words around them.
        assert "version 1 " in disclosure.summary
        assert disclosure.summary.endswith(" 2026-06-15.")
        seq = db.session.scalar(
            select(CaseJournalEntry.seq).where(CaseJournalEntry.kind == EntryKind.DISCLOSURE)
        )
        plan = _plan(uid)
        plan_hex, version_hex = plan.uid.hex, plan.in_force.uid.hex
        disclosure_hex = disclosure.uid.hex
    assert _logged(app, mark) == [
        ("read", "patient", uuid.UUID(uid).hex),
        ("read", "plan", plan_hex),
        ("create", "journal_entry", str(seq)),
        ("disclose", "disclosure", disclosure_hex),
        ("print", "plan", version_hex),
    ]
