"""The printed consent form and summary: real PDFs, read back with pypdf. They name the
patient (never a protected one), the recipient and the purpose; each print is logged, and the
form's printed reference is the log entry's object id."""

from __future__ import annotations

import re
import uuid
from io import BytesIO

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from coordinator.consents import service
from coordinator.consents.models import ConsentKind
from coordinator.consents.service import Recipient
from coordinator.extensions import db
from coordinator.patients import service as patients
from tests.conftest import World
from tests.consents.support import give, june, logged, refuse
from tests.crypto.support import actor_for
from tests.helpers import csrf_token
from tests.patients.support import last_access_seq, register

pytestmark = pytest.mark.usefixtures("frozen")

PURPOSE = "Planera återgång i arbete med chefen."


def _post(client: FlaskClient, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf_token(client, "/patients/new"), **data})


def _text(data: bytes) -> str:
    """The PDF's text, every run of whitespace made one space (lines wrap where they will)."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _logged(app: Flask, mark: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return logged(mark)


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def test_the_consent_form_names_patient_recipient_and_purpose_and_its_print_is_logged(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    uid = world.patient_a.uid
    mark = _mark(app)

    response = _post(coordinator_client, f"/patients/{uid}/consents/form", {
        "kind": "employer", "recipient_name": "ICA Maxi", "purpose": PURPOSE,
    })  # fmt: skip

    assert response.status_code == 200, response.text
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = _text(response.data)
    assert "Tolvan Tolvansson" in text
    assert "19410708-6995" in text
    assert "Arbetsgivare: ICA Maxi" in text
    assert PURPOSE in text
    assert "Samtycke till utlämnande av uppgifter" in text
    assert "Vårdcentralen Norr" in text
    references = re.findall(r"S-[A-HJ-NP-Z2-9]{8}", text)
    assert len(references) == 1
    (reference,) = references
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="samtycke-{reference}.pdf"'
    )
    assert _logged(app, mark) == [
        ("read", "patient", uuid.UUID(uid).hex),
        ("print", "consent_form", reference),
    ]


def test_each_printed_form_has_a_reference_of_its_own(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    url = f"/patients/{world.patient_a.uid}/consents/form"
    mark = _mark(app)

    first = _post(coordinator_client, url, {"kind": "coordination"})
    second = _post(coordinator_client, url, {"kind": "coordination"})

    references = [re.findall(r"S-\w{8}", _text(r.data)) for r in (first, second)]
    printed = [e[2] for e in _logged(app, mark) if e[:2] == ("print", "consent_form")]
    assert [ref for refs in references for ref in refs] == printed
    assert len(set(printed)) == 2


def test_the_coordination_form_carries_the_standard_purpose_in_swedish(
    world: World, coordinator_client: FlaskClient
) -> None:
    response = _post(
        coordinator_client,
        f"/patients/{world.patient_a.uid}/consents/form",
        {"kind": "coordination"},
    )

    text = _text(response.data)
    assert "Samtycke till koordineringsinsatser" in text
    assert (
        "Koordineringsinsatser av vårdenhetens rehabkoordinator som stöd för återgång i arbete."
        in text
    )


def test_a_form_without_a_kind_is_not_printed(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = _post(coordinator_client, f"/patients/{world.patient_a.uid}/consents/form", {})

    assert (response.status_code, response.mimetype) == (400, "text/html")
    assert "print" not in [entry[0] for entry in _logged(app, mark)]


def test_a_protected_patients_name_is_never_printed(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        hidden = register(me, "Hemlig", "Hedda", is_protected=True)
        uid, number = str(hidden.uid), hidden.personnummer
        db.session.commit()

    form = _post(coordinator_client, f"/patients/{uid}/consents/form", {"kind": "employer"})
    summary = coordinator_client.get(f"/patients/{uid}/consents/summary")

    for response in (form, summary):
        assert response.status_code == 200
        text = _text(response.data)
        assert "Hemlig" not in text
        assert "Hedda" not in text
        assert "Skyddad personuppgift" in text
        assert f"{number[:8]}-{number[8:]}" in text


def test_the_summary_lists_the_consents_and_the_disclosures_and_is_logged(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    uid = world.patient_a.uid
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = patients.get_patient(me, uuid.UUID(uid))
        give(me, patient, ConsentKind.EMPLOYER, june(1), name="ICA Maxi", purpose=PURPOSE)
        service.disclose(
            me, patient, Recipient(ConsentKind.EMPLOYER, "ICA Maxi"), june(5), "Plan för återgång."
        )
        refuse(me, patient, ConsentKind.SOCIAL_INSURANCE, june(3))
        db.session.commit()
    mark = _mark(app)

    response = coordinator_client.get(f"/patients/{uid}/consents/summary")

    assert response.status_code == 200
    assert (response.mimetype, response.headers["Cache-Control"]) == ("application/pdf", "no-store")
    assert response.headers["Content-Disposition"] == 'inline; filename="samtycken.pdf"'
    text = _text(response.data)
    assert "Tolvan Tolvansson" in text
    assert "19410708-6995" in text
    assert "Dina samtycken" in text
    # Where each kind stands today, then every answer, then what was disclosed.
    assert "Arbetsgivare: ICA Maxi Lämnat 2026-06-01 Försäkringskassan Avböjt 2026-06-03" in text
    assert f"2026-06-01 Arbetsgivare: ICA Maxi Lämnat {PURPOSE}" in text
    assert "2026-06-03 Försäkringskassan Avböjt Information till Försäkringskassan" in text
    assert (
        "Uppgifter som lämnats ut med ditt samtycke Datum Mottagare Vad "
        "2026-06-05 Arbetsgivare: ICA Maxi Plan för återgång."
    ) in text
    assert _logged(app, mark) == [
        ("read", "patient", uuid.UUID(uid).hex),
        ("print", "consent_summary", None),
    ]


def test_a_summary_without_consents_prints_where_each_kind_stands(
    world: World, coordinator_client: FlaskClient
) -> None:
    response = coordinator_client.get(f"/patients/{world.patient_a.uid}/consents/summary")

    text = _text(response.data)
    assert "Så ser dina samtycken ut i dag" in text
    assert "Allt du har svarat" not in text
    assert "Uppgifter som lämnats ut med ditt samtycke" not in text
    assert text.count("Inget") == len(ConsentKind)


def test_the_summary_prints_a_withdrawal_date_whole(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    uid = world.patient_a.uid
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = patients.get_patient(me, uuid.UUID(uid))
        coordination = give(me, patient, ConsentKind.COORDINATION, june(2))
        service.withdraw(me, patient, coordination, june(12), None)
        db.session.commit()

    text = _text(coordinator_client.get(f"/patients/{uid}/consents/summary").data)

    assert "Koordinering Återkallat 2026-06-02" in text  # where it stands today
    assert "2026-06-12" in text  # in the history: the day it was withdrawn
