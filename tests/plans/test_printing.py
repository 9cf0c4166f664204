"""The printed plan: a real PDF, read back with pypdf. It names the patient (never a protected
one), every measure with its due date, the next follow-up and how to reach the coordinator; an
older version prints as it was; a shared copy names its recipient; each print is logged.

The document is in Swedish. The assertions read what does not depend on the translation:
names, numbers and dates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from io import BytesIO

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from coordinator.access import Actor
from coordinator.auth.models import User
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.extensions import db
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import service
from coordinator.plans.models import AgreementMethod, RehabPlan, ResponsibleActor
from tests.conftest import World
from tests.consents.support import give, logged
from tests.crypto.support import actor_for
from tests.helpers import csrf_token, submit
from tests.patients.support import activate, last_access_seq, register
from tests.plans.support import agreed_plan, day, measure, plan_input

pytestmark = pytest.mark.usefixtures("frozen")

PHONE = "010-123 45 67"


def _text(data: bytes) -> str:
    """The PDF's text, every run of whitespace made one space (lines wrap where they will)."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _logged(app: Flask, mark: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return logged(mark)


def _plan(uid: str) -> RehabPlan:
    patient = db.session.scalars(select(Patient).where(Patient.uid == uuid.UUID(uid))).one()
    return db.session.scalars(select(RehabPlan).where(RehabPlan.patient_id == patient.id)).one()


def _as_coordinator_a(app: Flask, world: World, uid: str, build: Callable[..., object]) -> None:
    """Run ``build(actor, patient)`` as coordinator A and commit."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        build(me, patients.get_patient(me, uuid.UUID(uid), log=False))
        db.session.commit()


def _agreed(me: Actor, patient: Patient) -> None:
    agreed_plan(
        me,
        patient,
        measure("Arbetsplatsbesök", due_on=day(16)),
        measure("Samtal om anpassning", ResponsibleActor.EMPLOYER, actor_name="ICA Maxi",
                due_on=day(49)),
    )  # fmt: skip


@pytest.fixture
def coordinator_a(app: Flask, world: World) -> str:
    """Coordinator A's full name; their work phone is set."""
    with app.app_context():
        user = db.session.get(User, world.coordinator_a.id)
        assert user is not None
        user.phone = PHONE
        db.session.commit()
        return user.full_name


@pytest.fixture
def lind(app: Flask, world: World, coordinator_a: str) -> tuple[str, str]:
    """Lars Lind (uid, printed personnummer) in coordination with coordinator A, his plan
    agreed today: a work-place visit by 2026-07-01, a talk with the employer by 2026-08-03, the
    next follow-up on 2026-06-29."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = register(me, "Lind", "Lars")
        activate(me, patient)
        _agreed(me, patient)
        uid, number = str(patient.uid), patient.personnummer
        db.session.commit()
    return uid, f"{number[:8]}-{number[8:]}"


def test_the_printed_plan_names_the_patient_and_the_coordinator_and_is_logged(
    app: Flask, world: World, coordinator_client: FlaskClient, coordinator_a: str, lind: tuple
) -> None:
    uid, number = lind
    with app.app_context():
        plan = _plan(uid)
        plan_hex, version_hex = plan.uid.hex, plan.in_force.uid.hex
    mark = _mark(app)

    response = coordinator_client.get(f"/patients/{uid}/plan/print")

    assert response.status_code == 200
    assert (response.mimetype, response.headers["Cache-Control"]) == ("application/pdf", "no-store")
    assert response.headers["Content-Disposition"] == 'inline; filename="plan-v1.pdf"'
    text = _text(response.data)
    assert "Lars Lind" in text
    assert number in text
    assert "Arbetsplatsbesök" in text
    assert "Samtal om anpassning" in text
    assert "ICA Maxi" in text
    assert "2026-06-29" in text  # the next follow-up
    assert coordinator_a in text
    assert world.unit_a.name in text
    assert PHONE in text
    assert _logged(app, mark) == [
        ("read", "patient", uuid.UUID(uid).hex),
        ("read", "plan", plan_hex),
        ("print", "plan", version_hex),
    ]


def test_each_measures_due_date_is_printed_whole(
    coordinator_client: FlaskClient, lind: tuple
) -> None:
    """An ISO date fits its column: the patient reads 2026-07-01, not "2026-07-0" over "1"."""
    uid, _number = lind

    text = _text(coordinator_client.get(f"/patients/{uid}/plan/print").data)

    assert "Arbetsplatsbesök" in text
    assert "2026-07-01" in text
    assert "2026-08-03" in text


def test_an_earlier_version_prints_as_it_was(
    app: Flask, world: World, coordinator_client: FlaskClient, lind: tuple
) -> None:
    uid, _number = lind

    def second_version(me: Actor, patient: Patient) -> None:
        service.save(me, patient, plan_input(measure("Träning hos fysioterapeut", due_on=day(30))))
        agreement = service.Agreement(date(2026, 6, 15), AgreementMethod.PHONE, day(21))
        service.agree(me, patient, 2, agreement)

    _as_coordinator_a(app, world, uid, second_version)
    with app.app_context():
        first_hex = _plan(uid).version(1).uid.hex
    mark = _mark(app)

    first = coordinator_client.get(f"/patients/{uid}/plan/print?version=1")
    current = coordinator_client.get(f"/patients/{uid}/plan/print")

    assert first.headers["Content-Disposition"] == 'inline; filename="plan-v1.pdf"'
    old = _text(first.data)
    assert ("Arbetsplatsbesök" in old, "Samtal om anpassning" in old) == (True, True)
    assert "Träning hos fysioterapeut" not in old
    assert current.headers["Content-Disposition"] == 'inline; filename="plan-v2.pdf"'
    new = _text(current.data)
    assert "Träning hos fysioterapeut" in new
    assert ("Arbetsplatsbesök" in new, "Samtal om anpassning" in new) == (False, False)
    printed = [entry for entry in _logged(app, mark) if entry[0] == "print"]
    assert printed[0] == ("print", "plan", first_hex)


def test_a_version_that_does_not_exist_is_not_printed(
    app: Flask, coordinator_client: FlaskClient, lind: tuple
) -> None:
    uid, _number = lind
    mark = _mark(app)

    response = coordinator_client.get(f"/patients/{uid}/plan/print?version=7")

    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert "print" not in [entry[0] for entry in _logged(app, mark)]


def test_a_protected_patients_name_is_never_printed(
    app: Flask, world: World, coordinator_client: FlaskClient, coordinator_a: str
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        hidden = register(me, "Hemlig", "Hedda", is_protected=True)
        activate(me, hidden)
        _agreed(me, hidden)
        uid, number = str(hidden.uid), hidden.personnummer
        db.session.commit()

    response = coordinator_client.get(f"/patients/{uid}/plan/print")

    assert response.status_code == 200
    text = _text(response.data)
    assert "Hemlig" not in text
    assert "Hedda" not in text
    assert f"{number[:8]}-{number[8:]}" in text
    assert "Arbetsplatsbesök" in text


def _share(client: FlaskClient, uid: str, name: str):  # type: ignore[no-untyped-def]
    data = {"recipient": "employer", "recipient_name": name, "shared_on": "2026-06-15"}
    return client.post(
        f"/patients/{uid}/plan/share",
        data={"csrf_token": csrf_token(client, "/patients/new"), **data},
    )


def test_the_shared_plan_names_its_recipient(
    app: Flask, world: World, coordinator_client: FlaskClient, lind: tuple
) -> None:
    uid, number = lind
    _as_coordinator_a(
        app, world, uid, lambda me, p: give(me, p, ConsentKind.EMPLOYER, date(2026, 6, 1))
    )

    response = _share(coordinator_client, uid, "Coop Forum")

    assert response.status_code == 200, response.text
    assert response.mimetype == "application/pdf"
    text = _text(response.data)
    assert "Coop Forum" in text
    assert ("Lars Lind" in text, number in text, "Arbetsplatsbesök" in text) == (True, True, True)
    with app.app_context():
        disclosure = db.session.scalars(select(Disclosure)).one()
        assert disclosure.recipient_name == "Coop Forum"


def test_the_shared_plan_names_its_recipient_in_the_documents_language(
    app: Flask, world: World, coordinator_client: FlaskClient, lind: tuple
) -> None:
    """The plan is printed in Swedish for a coordinator who works in English too: the
    recipient's kind is Swedish like the rest of the document."""
    uid, _number = lind
    _as_coordinator_a(
        app, world, uid, lambda me, p: give(me, p, ConsentKind.EMPLOYER, date(2026, 6, 1))
    )
    submit(coordinator_client, "/auth/language", {"language": "en", "next": "/"}, form_url="/")

    text = _text(_share(coordinator_client, uid, "Coop Forum").data)

    assert "Arbetsgivare (Coop Forum)" in text
    assert "Employer" not in text
