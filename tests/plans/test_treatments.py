"""Treatments under the state agreements: recorded and changed on the open case, refused input
naming its field and writing nothing, the rule for what counts as completed (KBT needs its
sessions, the number configurable), and the kind stored encrypted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import text

from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.errors import Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients.cases import CaseClosed
from coordinator.patients.models import CaseOutcome, Patient
from coordinator.plans import treatments
from coordinator.plans.models import Treatment, TreatmentKind, TreatmentProvider
from coordinator.plans.treatments import TreatmentInput
from tests.conftest import World, make_app
from tests.consents.support import logged
from tests.crypto.support import actor_for, stored
from tests.factories import UnitFactory, UserFactory
from tests.helpers import sign_in
from tests.patients.support import NOW, entries, last_access_seq, register
from tests.plans.support import count, day, written

pytestmark = pytest.mark.usefixtures("frozen")


def treatment(
    kind: TreatmentKind = TreatmentKind.KBT,
    provider: TreatmentProvider = TreatmentProvider.OWN_UNIT,
    provider_type: ProviderType = ProviderType.PUBLIC,
    **kw: Any,
) -> TreatmentInput:
    return TreatmentInput(kind, provider, provider_type, **kw)


#: KBT at the unit, started a month ago, ten sessions given, completed yesterday.
KBT_DONE = treatment(started_on=day(-30), completed_on=day(-1), sessions=10, note="Psykolog Ek")


# -- Recording and changing ----------------------------------------------------------------


def test_a_treatment_is_recorded_on_the_open_case(me: Actor, active_patient: Patient) -> None:
    mark = last_access_seq()

    recorded = treatments.record(me, active_patient, KBT_DONE)

    case = cases.current_case(active_patient)
    assert case is not None
    assert (recorded.patient_id, recorded.unit_id, recorded.case_id, recorded.created_by_id) == (
        active_patient.id,
        active_patient.unit_id,
        case.id,
        me.user.id,
    )
    assert (recorded.treatment, recorded.provider, recorded.provider_type) == (
        TreatmentKind.KBT,
        TreatmentProvider.OWN_UNIT,
        ProviderType.PUBLIC,
    )
    assert (recorded.started_on, recorded.completed_on, recorded.sessions, recorded.note) == (
        day(-30),
        day(-1),
        10,
        "Psykolog Ek",
    )
    assert (recorded.lock, recorded.created_at, recorded.updated_at) == (1, NOW, NOW)
    (entry,) = entries(active_patient, EntryKind.PLAN_CHANGED)
    assert (entry.heading, entry.body) == (
        "Behandling registrerad: KBT (kognitiv beteendeterapi)",
        "Vårdgivare: Egen enhet (Offentlig). Startad 2026-05-16. Avslutad 2026-06-14. "
        "Behandlingstillfällen: 10. Psykolog Ek",
    )
    assert logged(mark) == [
        ("create", "treatment", recorded.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_a_treatment_is_recorded_before_coordination_starts_too(me: Actor) -> None:
    """Treatments are recorded as they happen: a new case is open."""
    patient = register(me, "Berg", "Bo")

    recorded = treatments.record(me, patient, treatment(TreatmentKind.MMR1))

    assert recorded.treatment is TreatmentKind.MMR1
    (entry,) = entries(patient, EntryKind.PLAN_CHANGED)
    assert (entry.heading, entry.body) == (
        "Behandling registrerad: MMR1 (multimodal rehabilitering, primärvård)",
        "Vårdgivare: Egen enhet (Offentlig).",
    )


def test_no_treatment_is_recorded_on_a_closed_case(me: Actor, active_patient: Patient) -> None:
    cases.close(me, active_patient, CaseOutcome.RETURNED_FULL_TIME, day(0))
    before = written()

    with pytest.raises(CaseClosed):
        treatments.record(me, active_patient, KBT_DONE)

    assert written() == before


def test_a_manager_cannot_record_a_treatment(world: World, active_patient: Patient) -> None:
    manager = actor_for(world.manager, world.unit_a)
    before = written()

    with pytest.raises(Forbidden):
        treatments.record(manager, active_patient, KBT_DONE)

    assert written() == before


def test_a_treatment_is_changed_as_it_goes_on(
    frozen: time_machine.Traveller, me: Actor, active_patient: Patient
) -> None:
    started = treatments.record(me, active_patient, treatment(started_on=day(-30), sessions=4))
    db.session.commit()
    frozen.shift(timedelta(hours=1))
    mark = last_access_seq()

    changed = treatments.update(
        me,
        active_patient,
        started,
        treatment(started_on=day(-30), completed_on=day(0), sessions=12, note=" Avslutad. "),
        expected_lock=1,
    )
    db.session.commit()

    assert changed is started
    assert (changed.completed_on, changed.sessions, changed.note, changed.lock) == (
        day(0),
        12,
        "Avslutad.",
        2,
    )
    assert (changed.created_at, changed.updated_at) == (NOW, NOW + timedelta(hours=1))
    assert count(Treatment) == 1
    entry = entries(active_patient, EntryKind.PLAN_CHANGED)[-1]
    assert (entry.heading, entry.body) == (
        "Behandling ändrad: KBT (kognitiv beteendeterapi)",
        "Vårdgivare: Egen enhet (Offentlig). Startad 2026-05-16. Avslutad 2026-06-15. "
        "Behandlingstillfällen: 12. Avslutad.",
    )
    assert logged(mark) == [
        ("change", "treatment", started.uid.hex),
        ("create", "journal_entry", str(entry.seq)),
    ]


def test_a_treatment_of_another_patient_is_not_found(me: Actor, active_patient: Patient) -> None:
    other = register(me, "Berg", "Bo")
    theirs = treatments.record(me, other, KBT_DONE)
    before = written()

    with pytest.raises(NotFound):
        treatments.update(me, active_patient, theirs, KBT_DONE)

    assert written() == before


# -- Refused input -------------------------------------------------------------------------

REFUSED: dict[str, tuple[TreatmentInput, str, str]] = {
    "negative-sessions": (
        treatment(started_on=day(-30), sessions=-1),
        "sessions",
        "Give a number from 0 to 200.",
    ),
    "too-many-sessions": (
        treatment(started_on=day(-30), sessions=201),
        "sessions",
        "Give a number from 0 to 200.",
    ),
    "completed-before-started": (
        treatment(started_on=day(-10), completed_on=day(-20)),
        "completed_on",
        "The treatment cannot be completed before it started.",
    ),
    "completed-without-start": (
        treatment(completed_on=day(-1)),
        "started_on",
        "Give the start date of a completed treatment.",
    ),
    "completed-in-the-future": (
        treatment(started_on=day(-10), completed_on=day(1)),
        "completed_on",
        "The date cannot be in the future.",
    ),
    "completed-more-than-a-year-back": (
        treatment(started_on=day(-400), completed_on=day(-367)),
        "completed_on",
        "The date cannot be more than a year back.",
    ),
    "starts-more-than-two-years-ahead": (
        treatment(started_on=day(731)),
        "started_on",
        "At most two years ahead.",
    ),
    "private-provider-of-public-type": (
        treatment(provider=TreatmentProvider.PRIVATE_PROVIDER, provider_type=ProviderType.PUBLIC),
        "provider_type",
        "A private provider is of the type private.",
    ),
    "note-too-long": (treatment(note="x" * 501), "note", "At most 500 characters."),
}


@pytest.mark.parametrize(("entry", "field", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_bad_input_is_refused_on_its_field_and_nothing_is_recorded(
    me: Actor, active_patient: Patient, entry: TreatmentInput, field: str, message: str
) -> None:
    before = written()

    with pytest.raises(InvalidField) as refused:
        treatments.record(me, active_patient, entry)

    assert (refused.value.field, str(refused.value)) == (field, message)
    assert written() == before


@pytest.mark.parametrize(("entry", "field", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_bad_input_is_refused_on_its_field_and_the_treatment_is_left_as_it_was(
    me: Actor, active_patient: Patient, entry: TreatmentInput, field: str, message: str
) -> None:
    recorded = treatments.record(me, active_patient, KBT_DONE)
    db.session.commit()
    before = written(), row_of(recorded)

    with pytest.raises(InvalidField) as refused:
        treatments.update(me, active_patient, recorded, entry, expected_lock=1)

    assert refused.value.field == field
    db.session.rollback()
    assert (written(), row_of(recorded)) == before


def row_of(recorded: Treatment) -> tuple[object, ...]:
    return tuple(
        db.session.execute(
            text("SELECT * FROM treatments WHERE id = :id"), {"id": recorded.id}
        ).one()
    )


def test_a_private_provider_of_the_private_type_is_recorded(
    me: Actor, active_patient: Patient
) -> None:
    recorded = treatments.record(
        me,
        active_patient,
        treatment(TreatmentKind.IKBT, TreatmentProvider.PRIVATE_PROVIDER, ProviderType.PRIVATE),
    )

    assert (recorded.provider, recorded.provider_type) == (
        TreatmentProvider.PRIVATE_PROVIDER,
        ProviderType.PRIVATE,
    )


# -- What counts as completed --------------------------------------------------------------

COUNTING: dict[str, tuple[TreatmentKind, date | None, int | None, bool]] = {
    "kbt-9-sessions": (TreatmentKind.KBT, day(-1), 9, False),
    "kbt-10-sessions": (TreatmentKind.KBT, day(-1), 10, True),
    "kbt-25-sessions": (TreatmentKind.KBT, day(-1), 25, True),
    "kbt-sessions-unknown": (TreatmentKind.KBT, day(-1), None, False),
    "kbt-not-completed": (TreatmentKind.KBT, None, 12, False),
    "ikbt-2-sessions": (TreatmentKind.IKBT, day(-1), 2, True),
    "mmr1-no-sessions": (TreatmentKind.MMR1, day(-1), 0, True),
    "mmr1-not-completed": (TreatmentKind.MMR1, None, 0, False),
}


@pytest.mark.parametrize(
    ("kind", "completed_on", "sessions", "counts"), COUNTING.values(), ids=COUNTING.keys()
)
def test_a_completed_treatment_counts_and_kbt_needs_its_sessions(
    me: Actor,
    active_patient: Patient,
    kind: TreatmentKind,
    completed_on: date | None,
    sessions: int | None,
    counts: bool,
) -> None:
    recorded = treatments.record(
        me,
        active_patient,
        treatment(kind, started_on=day(-60), completed_on=completed_on, sessions=sessions),
    )

    assert recorded.counts_as_completed(10) is counts


def test_the_kbt_threshold_is_the_one_given(me: Actor, active_patient: Patient) -> None:
    recorded = treatments.record(me, active_patient, KBT_DONE)  # ten sessions

    assert [recorded.counts_as_completed(n) for n in (9, 10, 11, 12)] == [True, True, False, False]


def test_the_kind_and_the_note_are_stored_encrypted(me: Actor, active_patient: Patient) -> None:
    recorded = treatments.record(me, active_patient, KBT_DONE)
    db.session.commit()

    kind, note = (
        stored("treatments", "kind", recorded.id),
        stored("treatments", "note", recorded.id),
    )

    assert b"kbt" not in kind.lower()
    assert b"Ek" not in note
    db.session.expire_all()
    assert (recorded.treatment, recorded.note) == (TreatmentKind.KBT, "Psykolog Ek")


# -- The plan page's column, by the configured threshold -----------------------------------

_TREATMENT_ROW = re.compile(r'<tr class="treatment">(.*?)</tr>', re.DOTALL)
_CELL = re.compile(r"<td>(.*?)</td>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def counted_column(page: str) -> list[str]:
    """The "counts as completed" cell of each treatment row on the plan page, as text."""
    return [_TAGS.sub("", _CELL.findall(row)[5]).strip() for row in _TREATMENT_ROW.findall(page)]


@pytest.fixture
def app_with(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app of its own configuration (``overrides``), on this test's database."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        made.append(make_app(database_url, tmp_path / f"instance-{len(made)}", **overrides))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [({}, "Ja"), ({"KBT_MIN_SESSIONS": 10}, "Ja"), ({"KBT_MIN_SESSIONS": 12}, "Nej")],
    ids=["default", "ten", "twelve"],
)
def test_the_plan_page_counts_kbt_by_the_configured_number_of_sessions(
    app_with: Callable[..., Flask], overrides: dict[str, Any], shown: str
) -> None:
    app = app_with(**overrides)
    with app.app_context():
        unit = UnitFactory()
        user = UserFactory(username="koord.kbt", units=[unit])
        me = actor_for(user, unit)
        patient = register(me, "Lind", "Lars")
        treatments.record(me, patient, KBT_DONE)  # ten sessions, completed
        treatments.record(me, patient, treatment(TreatmentKind.MMR1, started_on=day(-5)))
        url = f"/patients/{patient.uid}/plan"
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, "koord.kbt").status_code == 302

    response = client.get(url)

    assert response.status_code == 200
    assert counted_column(response.text) == ["–", shown]  # newest first: MMR1 is not completed
