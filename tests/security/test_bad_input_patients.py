"""Bad input at scale, the patient's forms through the app, as coordinator A of unit A:
registration and details, the patient search, a journal note, the screening decision, a
certificate, the case's dates and choices, and the certificate import.

Every text field gets any Unicode (direction overrides, zero-width characters, NUL and other
controls, combining marks, emoji) and lengths around its limit; date, number and choice fields
get what people and programs type. A value is either stored exactly — stripped, the one
normalisation the product does — and read back decrypted through the services, or refused
with a message and nothing written; never a 500. One app per test; hypothesis tries its
examples in it (bad_input.try_every_form)."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import cases, certificates
from coordinator.patients import service as patients
from coordinator.patients.cases import REASON_MAX
from coordinator.patients.certificates import DOCTOR_MAX
from coordinator.patients.identity import looks_like_personnummer
from coordinator.patients.models import Certificate, Patient
from tests.conftest import World
from tests.factories import UserFactory
from tests.helpers import alert, field_errors
from tests.patients.conftest import frozen  # noqa: F401 (the stopped clock, by name below)
from tests.patients.support import TODAY, personnummer, register
from tests.security.bad_input import (
    EMAILS,
    FormCase,
    OddCase,
    Session,
    TextField,
    formatted,
    free_text,
    never_a_server_error,
    try_every_form,
    try_odd_values,
)

pytestmark = pytest.mark.usefixtures("frozen")

#: The patient form's free-text fields (all encrypted); the e-mail address has rules of its own.
DETAILS = [
    TextField("first_name", 80, required=True),
    TextField("last_name", 80, required=True),
    TextField("phone", 40),
    TextField("email", 120, values=EMAILS, sample="asa.ek@example.se"),
    TextField("address", 300),
    TextField("occupation", 120),
]
NOTE = [TextField("heading", journal.HEADING_MAX, required=True),
        TextField("body", journal.BODY_MAX, required=True)]  # fmt: skip
REASON = [TextField("reason", REASON_MAX, required=True)]
CERTIFICATE = [
    TextField("doctor", DOCTOR_MAX),
    TextField("diagnosis_code", 10, required=True, sample=" f438a ",
              values=formatted(10, "F43.2", "f432", " m54.5 ", "F43.8A", "Z73", "F43.99",
                               "F4３.2")),
]  # fmt: skip

_serials = itertools.count(100)


def _email(_values: object) -> frozenset[str]:
    return frozenset({"email"})  # WTForms' e-mail check decides


def _patient(actor: Actor, uid: str) -> Patient:
    """The patient of the actor's unit with ``uid`` (not logged: the test's own look)."""
    return patients.get_patient(actor, uuid.UUID(uid), log=False)


class Coordinator(Session):
    def new_patient(self) -> str:
        """A patient registered through the service; their uid."""

        def make(actor: Actor) -> str:
            patient = register(actor, f"Testsson{next(_serials)}")
            db.session.commit()
            return str(patient.uid)

        return str(self.read(make))

    def case_of(self, uid: str) -> tuple[Any, ...]:
        def read(actor: Actor) -> tuple[Any, ...]:
            case = cases.current_case(_patient(actor, uid))
            assert case is not None
            return (case.status, case.follow_up_on, case.coordinator_id, case.outcome,
                    case.screening_decision, case.screening_reason, case.version)  # fmt: skip

        return tuple(self.read(read))

    def notes(self, uid: str) -> dict[str, Any]:
        """How many notes the journal shows, and the newest one."""

        def read(actor: Actor) -> dict[str, Any]:
            patient = _patient(actor, uid)
            notes = [e for e in journal.timeline(actor, patient) if e.kind is EntryKind.NOTE]
            newest = notes[0] if notes else None
            return {"count": len(notes), "heading": newest and newest.heading,
                    "body": newest and newest.body,
                    "corrects": newest and newest.corrects_seq}  # fmt: skip

        return dict(self.read(read))

    def certificates(self, uid: str) -> dict[str, Any]:
        """How many certificates the patient has, and the last registered one."""

        def read(actor: Actor) -> dict[str, Any]:
            found = certificates.certificates_of(_patient(actor, uid))
            last = max(found, key=lambda c: c.id, default=None)
            if last is None:
                return {"count": 0}
            return {"count": len(found), "period": (last.start_on, last.end_on, last.degree),
                    "diagnosis_code": last.diagnosis_code, "doctor": last.doctor}  # fmt: skip

        return dict(self.read(read))


@pytest.fixture
def me(app: Flask, world: World, coordinator_client: FlaskClient) -> Coordinator:
    return Coordinator(app, coordinator_client, world.coordinator_a, world.unit_a)


def _details(values: dict[str, str]) -> dict[str, str]:
    return {"stated_gender": "", "employment": "employed", **values}


def _details_of(patient: Patient | None) -> dict[str, Any]:
    return {f.name: getattr(patient, f.name) for f in DETAILS} if patient else {}


# -- Free text -----------------------------------------------------------------------------------


def _registration(me: Coordinator) -> FormCase:
    state = {"number": ""}

    def prepare() -> None:
        state["number"] = personnummer("19700101", next(_serials))

    def found_by_name(values: dict[str, str], response: TestResponse) -> None:
        """The name as registered finds the patient: at once, or among namesakes."""
        query = f"{values['first_name']} {values['last_name']}"
        if looks_like_personnummer(query) or len(query) > 120:
            return  # searched as a number, or too long for the search field
        uid = response.headers["Location"]
        shown = me.post("/patients/search", {"query": query})
        never_a_server_error(shown)
        if shown.status_code == 302:
            assert shown.headers["Location"] == uid
        else:
            assert shown.status_code == 200, f"{query!r} does not find the patient"
            assert uid in shown.text

    return FormCase(
        "register", DETAILS,
        post=lambda values: me.post(
            "/patients/new", {"personnummer": state["number"], **_details(values)}
        ),
        read=lambda: me.read(
            lambda a: _details_of(patients.find_by_personnummer(a, state["number"]))
        ),
        uncertain=_email, prepare=prepare, then=found_by_name,
    )  # fmt: skip


def _certificate(me: Coordinator, uid: str) -> FormCase:
    periods = itertools.count(1)

    def post(values: dict[str, str]) -> TestResponse:
        start = TODAY - timedelta(days=30 * next(periods))  # no overlap with the last one
        return me.post(f"/patients/{uid}/certificates", {
            "start_on": start.isoformat(), "end_on": (start + timedelta(days=13)).isoformat(),
            "degree": "50", **values})  # fmt: skip

    def code_in_catalogue_form(values: dict[str, str], _response: TestResponse) -> None:
        code = values["diagnosis_code"]
        assert me.certificates(uid)["diagnosis_code"] == certificates.lookup(code).code

    return FormCase(
        "certificate", CERTIFICATE, post=post, read=lambda: me.certificates(uid),
        uncertain=lambda _v: frozenset({"diagnosis_code"}),  # the catalogue decides
        then=code_in_catalogue_form,
    )  # fmt: skip


def test_the_patient_forms_store_any_text_exactly_or_refuse_it_with_a_message(
    me: Coordinator, world: World
) -> None:
    uid, noted, screened, certified = str(world.patient_a.uid), *(me.new_patient() for _ in "123")
    try_every_form(
        [
            _registration(me),
            FormCase(
                "edit", DETAILS,
                post=lambda values: me.post(f"/patients/{uid}/edit", _details(values)),
                read=lambda: me.read(lambda a: _details_of(_patient(a, uid))), uncertain=_email,
            ),
            FormCase(
                "note", NOTE, post=lambda values: me.post(f"/patients/{noted}/journal", values),
                read=lambda: me.notes(noted),
            ),
            FormCase(
                "screening", REASON,
                post=lambda values: me.post(f"/patients/{screened}/case/screening",
                                            {"decision": "not_needed", **values}),
                read=lambda: dict(zip(("status", "reason", "version"),
                                      (me.case_of(screened)[i] for i in (0, 5, 6)),
                                      strict=True)),
            ),
            _certificate(me, certified),
        ],
        examples=10,
    )  # fmt: skip


@settings(max_examples=30)
@given(
    query=st.one_of(
        free_text(120),
        st.sampled_from(["19121212-1212", "١٩١٢١٢١٢-١٢١٢", "0", "-", "+", "%", "_", "\x00"]),
    )
)
def test_any_search_query_finds_refuses_or_finds_nobody_never_a_server_error(
    me: Coordinator, query: str
) -> None:  # fmt: skip
    response = me.post("/patients/search", {"query": query})

    never_a_server_error(response)
    if not query or len(query) > 120:
        assert (response.status_code, set(field_errors(response))) == (400, {"query"})
    elif response.status_code == 400:  # searched as a number that is not a valid one
        assert looks_like_personnummer(query)
        assert set(field_errors(response)) == {"query"}
    else:
        assert response.status_code == 404  # nobody in unit A is called anything drawn here
        assert alert(response)


# -- Dates, numbers and choices ------------------------------------------------------------------


@pytest.fixture
def colleague(app: Flask, world: World) -> int:
    """Another coordinator of unit A: someone to transfer a case to (the form is then shown)."""
    with app.app_context():
        unit = db.session.get(CareUnit, world.unit_a.id)
        return int(UserFactory(username="koord.a2", units=[unit]).id)


def _case_form(
    me: Coordinator,
    path: str,
    valid: dict[str, str],
    rest: dict[str, str] | None = None,
    hidden: frozenset[str] = frozenset(),
) -> OddCase:
    """A case form, on a patient of its own each time (closing a case ends the others)."""
    state = {"uid": ""}

    def prepare() -> None:
        state["uid"] = me.new_patient()

    return OddCase(
        path, valid, prepare=prepare, hidden=hidden,
        post=lambda values: me.post(f"/patients/{state['uid']}/{path}",
                                    {**(rest or {}), **values}),
        read=lambda: me.case_of(state["uid"]),
    )  # fmt: skip


def test_the_patient_forms_take_any_date_number_or_choice_without_a_server_error(
    me: Coordinator, world: World, colleague: int
) -> None:
    uid = str(world.patient_a.uid)
    period = {"start_on": (TODAY - timedelta(days=7)).isoformat(),
              "end_on": (TODAY + timedelta(days=6)).isoformat(), "degree": "100"}  # fmt: skip
    note = {"heading": "Rättelse", "body": "Fel datum i förra anteckningen."}
    try_odd_values(
        [
            OddCase("certificate", period,
                    post=lambda values: me.post(f"/patients/{uid}/certificates",
                                                {"diagnosis_code": "F43.2", **values}),
                    read=lambda: me.certificates(uid)),
            OddCase("journal correction", {"corrects": ""}, hidden=frozenset({"corrects"}),
                    post=lambda values: me.post(f"/patients/{uid}/journal", {**note, **values}),
                    read=lambda: me.notes(uid)),
            _case_form(me, "case/follow-up", {"follow_up_on": (TODAY + timedelta(days=7))
                                              .isoformat()}),
            _case_form(me, "case/close", {"outcome": "moved", "closed_on": TODAY.isoformat()}),
            _case_form(me, "case/transfer", {"coordinator": str(colleague)}),
            _case_form(me, "case/screening", {"decision": "not_needed", "version": ""},
                       {"reason": "Skäl."}, frozenset({"version"})),
        ],
        examples=8,
    )  # fmt: skip


def test_a_correction_of_an_entry_number_beyond_64_bits_is_refused_with_a_message(
    me: Coordinator, world: World
) -> None:
    uid = str(world.patient_a.uid)

    response = me.post(
        f"/patients/{uid}/journal", {"heading": "Rättelse", "body": "Text.", "corrects": str(2**63)}
    )

    assert response.status_code == 400
    assert alert(response) == "Anteckningen som ska rättas finns inte hos den här patienten."
    assert me.notes(uid)["count"] == 0


def test_a_megabyte_in_a_field_is_refused_as_too_large_and_nothing_is_written(
    me: Coordinator, world: World
) -> None:
    uid = str(world.patient_a.uid)

    response = me.post(f"/patients/{uid}/journal", {"heading": "Stor", "body": "x" * 2**20})

    assert response.status_code == 413
    assert "Det du skickade är större än vad tjänsten tar emot." in response.text
    assert me.notes(uid)["count"] == 0


# -- The certificate import ----------------------------------------------------------------------

HEADER = "personnummer;förnamn;efternamn;från;till;grad;diagnos\n"


def _upload(me: Coordinator, content: bytes, dry_run: bool) -> TestResponse:
    """The file posted as a browser does. Encoded here, in memory: the test client spools a
    large body to a temporary file it never closes."""
    fields: dict[str, Any] = {"csrf_token": me.token, "dry_run": "y" if dry_run else ""}
    fields["file"] = FileStorage(BytesIO(content), filename="intyg.csv", content_type="text/csv")
    boundary, body = encode_multipart(fields)
    return me.client.post("/patients/import/", data=body,
                          content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip


def _certificate_count(me: Coordinator) -> int:
    return int(me.read(lambda _a: db.session.scalar(select(func.count(Certificate.id)))))


_CSV_PIECES = [
    HEADER, "19700101-0008;", "١٩٧٠٠١٠١-٠٠٠٨;", ";", ",", '"', "\n", "\r\n", "\r", "Ann;Ek;",
    "2026-06-01;", "2026-06-14;", "2026-02-30;", "50;", "50 %;", "F43.2\n", "X99\n", "\x00",
    "\ufeff", "\u202e", "\x0c", "\u2028",
]  # fmt: skip
_CSV_TEXT = st.lists(st.one_of(st.sampled_from(_CSV_PIECES), st.text(max_size=4)), max_size=14)


@settings(max_examples=25)
@given(content=st.one_of(_CSV_TEXT.map(lambda p: "".join(p).encode("utf-8")),
                         st.binary(max_size=120)))  # fmt: skip
def test_any_uploaded_file_is_checked_or_refused_line_by_line_never_a_server_error(
    me: Coordinator, content: bytes
) -> None:
    for dry_run in (True, False):
        before = _certificate_count(me)
        response = _upload(me, content, dry_run)

        never_a_server_error(response)
        if response.status_code == 400:
            assert alert(response)
            assert 'id="import-errors"' in response.text
            assert _certificate_count(me) == before
        else:
            assert response.status_code == (200 if dry_run else 302)


def test_a_file_over_a_megabyte_is_refused_as_too_large(me: Coordinator) -> None:
    line = "19700101-0008;Ann;Ek;2026-06-01;2026-06-14;50;F43.2\n"
    content = (HEADER + line * (2**20 // len(line) + 1)).encode("utf-8")

    response = _upload(me, content, dry_run=False)

    assert response.status_code == 413
    assert _certificate_count(me) == 0


# -- The bugs these properties found, pinned ----------------------------------------------------


def test_a_blank_name_on_a_patient_is_refused_at_that_name_and_nothing_changes(
    me: Coordinator, world: World
) -> None:
    """A name of only whitespace was stripped to nothing and set on the encrypted column,
    which refuses None: a 500 instead of the message."""
    uid = str(world.patient_a.uid)
    before = me.read(lambda a: _details_of(_patient(a, uid)))

    response = me.post(f"/patients/{uid}/edit",
                       _details({"first_name": "Tolvan", "last_name": " \u3000\t"}))  # fmt: skip

    assert response.status_code == 400
    assert field_errors(response) == {"last_name": "Skriv patientens förnamn och efternamn."}
    assert me.read(lambda a: _details_of(_patient(a, uid))) == before


def test_a_personnummer_in_another_scripts_digits_registers_no_second_patient(
    me: Coordinator,
) -> None:
    """Arabic-Indic digits passed as a valid number with a blind index of its own: patient A
    (19410708-6995) could be registered again."""
    number = "١٩٤١٠٧٠٨-٦٩٩٥"

    response = me.post("/patients/new", {"personnummer": number, "first_name": "Tolvan",
                                         "last_name": "Tolvansson", **_details({})})  # fmt: skip

    assert response.status_code == 400
    assert set(field_errors(response)) == {"personnummer"}
    assert len(me.read(lambda a: patients.find_by_name(a, "Tolvansson"))) == 1


def test_a_refused_transfer_shows_its_message(me: Coordinator, colleague: int) -> None:
    """The refused form was shown without the coordinators to choose from, and so hidden."""
    uid = me.new_patient()

    response = me.post(f"/patients/{uid}/case/transfer", {"coordinator": "någon"})

    assert response.status_code == 400
    assert set(field_errors(response)) == {"coordinator"}
