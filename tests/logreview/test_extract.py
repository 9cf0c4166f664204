"""The patient log extract (*loggutdrag*): every access to one patient's data, from every care
unit, in chain order; found by personnummer among the manager's own units only; showing it is
logged as a read and printing it as a print; the PDF is Swedish whatever the user's language.

Data (:func:`log`): Tolvan Tolvansson (patient A, unit Norr) and Elva Elvasson (patient B,
unit Söder), with these accesses, in this order (Swedish time):

1. 2026-01-20 16:45 Anna Berg, Arbetsterapeut (coordinator, Norr) registers Tolvan;
2. 2026-06-01 09:15 Anna reads Tolvan's case journal, and Bo Ek (coordinator, Söder) reads
   Elva's details;
3. 2026-06-02 13:05 Cecilia Dahl (manager, no title, working in Söder) exports statistics
   counting both patients;
4. 2026-06-03 02:00 the command ``report-quarterly`` exports the quarterly report counting
   Tolvan;
5. 2026-06-04 10:30 Anna is refused sharing Tolvan's plan, and at 10:31 reads a ``referral``
   (a type the extract has no label for).

Labels are asserted in English (``force_locale("en")``: the msgids) where the extract's own
texts are concerned, in Swedish where the catalogue already has them.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from io import BytesIO

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from pypdf import PdfReader
from werkzeug.test import TestResponse

from coordinator import clock
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.config import PROJECT_ROOT
from coordinator.errors import Forbidden, NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.logreview import extract
from coordinator.patients.models import Patient
from coordinator.patients.service import InvalidPersonnummer
from tests.conftest import UserRef, World
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.helpers import alert, field_errors, submit
from tests.patients.support import NOW, access_log, last_access_seq

pytestmark = pytest.mark.usefixtures("frozen")

#: Tolvan's personnummer as printed, and the path of the extract page for it.
TOLVAN = "19410708-6995"
PAGE = "/log/extracts/"


def _extract(client: FlaskClient, personnummer: str = TOLVAN) -> TestResponse:
    """The extract form posted with ``personnummer``."""
    return submit(client, PAGE, {"personnummer": personnummer})


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    """The clock stopped at 2026-06-15 10:00 (first, so the world is made then too)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def context(app: Flask) -> Iterator[None]:
    """An app context for calling the services directly."""
    with app.app_context():
        yield


def local(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=clock.LOCAL_ZONE)


#: Tolvan's extract: time, care unit, user, role, action, what (English labels).
EXPECTED = [
    ("2026-01-20 16:45", "Vårdcentralen Norr", "Anna Berg, Arbetsterapeut", "Coordinator",
     "Created", "Patient details"),
    ("2026-06-01 09:15", "Vårdcentralen Norr", "Anna Berg, Arbetsterapeut", "Coordinator",
     "Read", "Case journal"),
    ("2026-06-02 13:05", "Vårdcentralen Söder", "Cecilia Dahl", "Manager", "Exported", "Report"),
    ("2026-06-03 02:00", "", "System run (report-quarterly)", "", "Exported", "Report"),
    ("2026-06-04 10:30", "Vårdcentralen Norr", "Anna Berg, Arbetsterapeut", "Coordinator",
     "Denied", "Sharing of the plan"),
    ("2026-06-04 10:31", "Vårdcentralen Norr", "Anna Berg, Arbetsterapeut", "Coordinator",
     "Read", "referral"),
]  # fmt: skip

#: The same rows' time, unit, role and action as the Swedish page shows them.
EXPECTED_SWEDISH = [
    ("2026-01-20 16:45", "Vårdcentralen Norr", "Koordinator", "Skapad"),
    ("2026-06-01 09:15", "Vårdcentralen Norr", "Koordinator", "Läst"),
    ("2026-06-02 13:05", "Vårdcentralen Söder", "Chef", "Exporterad"),
    ("2026-06-03 02:00", "", "", "Exporterad"),
    ("2026-06-04 10:30", "Vårdcentralen Norr", "Koordinator", "Nekad"),
    ("2026-06-04 10:31", "Vårdcentralen Norr", "Koordinator", "Läst"),
]


def _name(ref: UserRef, full_name: str, title: str | None) -> None:
    user = db.session.get(User, ref.id)
    assert user is not None
    user.full_name, user.title = full_name, title


def _patient(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    assert patient is not None
    return patient


@pytest.fixture
def log(app: Flask, world: World, frozen: time_machine.Traveller) -> None:
    """The accesses of the module's docstring, written through the journal service; the clock
    is back at 2026-06-15 10:00 afterwards."""
    with app.app_context():
        _name(world.coordinator_a, "Anna Berg", "Arbetsterapeut")
        _name(world.coordinator_b, "Bo Ek", "Kurator")
        _name(world.manager, "Cecilia Dahl", None)
        tolvan, elva = _patient(world.patient_a.id), _patient(world.patient_b.id)
        anna = actor_for(world.coordinator_a, world.unit_a)
        bo = actor_for(world.coordinator_b, world.unit_b)
        cecilia = actor_for(world.manager, world.unit_b)
        now = clock.now()
        steps: list[tuple[datetime, Callable[[], object]]] = [
            (local(1, 20, 16, 45), lambda: journal.record_access(
                anna, tolvan, AccessAction.CREATE, "patient", tolvan.uid.hex)),
            (local(6, 1, 9, 15), lambda: journal.record_access(
                anna, tolvan, AccessAction.READ, "case_journal")),
            (local(6, 1, 9, 15), lambda: journal.record_access(
                bo, elva, AccessAction.READ, "patient", elva.uid.hex)),
            (local(6, 2, 13, 5), lambda: journal.record_export(
                cecilia, [tolvan.id, elva.id], "statistics:gender")),
            (local(6, 3, 2, 0), lambda: journal.record_export(
                None, [tolvan.id], "quarterly:2026Q2", "report-quarterly")),
            (local(6, 4, 10, 30), lambda: journal.record_access(
                anna, tolvan, AccessAction.DENIED, "plan_share", "employer")),
            (local(6, 4, 10, 31), lambda: journal.record_access(
                anna, tolvan, AccessAction.READ, "referral")),
        ]  # fmt: skip
        for moment, step in steps:
            frozen.move_to(moment)
            step()
        frozen.move_to(now)
        db.session.commit()


def _rows(found: extract.Extract) -> list[tuple[str, ...]]:
    with force_locale("en"):
        return [
            (row.when, row.unit_name, row.user, row.role_label, row.action_label, row.what)
            for row in found.rows
        ]


# -- The service ---------------------------------------------------------------------------


def test_the_extract_lists_every_access_to_the_patient_from_every_unit_in_chain_order(
    world: World, log: None, context: None
) -> None:
    manager = actor_for(world.manager, world.unit_a)

    found = extract.patient_extract(manager, _patient(world.patient_a.id))

    assert _rows(found) == EXPECTED
    assert [row.seq for row in found.rows] == sorted(row.seq for row in found.rows)
    # Stored in UTC, shown in Swedish time: winter (UTC+1) and summer (UTC+2) alike.
    assert [row.at for row in found.rows][:2] == [local(1, 20, 16, 45), local(6, 1, 9, 15)]
    assert [row.is_system for row in found.rows] == [False, False, False, True, False, False]
    assert (found.produced_when, found.produced_by) == ("2026-06-15 10:00", "Vårdcentralen Norr")


def test_another_patients_accesses_are_not_in_the_extract(
    world: World, log: None, context: None
) -> None:
    manager = actor_for(world.manager, world.unit_a)

    found = extract.patient_extract(manager, _patient(world.patient_b.id))

    # Elva: Bo's read and the statistics export only; none of Tolvan's.
    assert _rows(found) == [
        ("2026-06-01 09:15", "Vårdcentralen Söder", "Bo Ek, Kurator", "Coordinator", "Read",
         "Patient details"),
        ("2026-06-02 13:05", "Vårdcentralen Söder", "Cecilia Dahl", "Manager", "Exported",
         "Report"),
    ]  # fmt: skip


def test_showing_the_extract_is_logged_as_a_read_that_the_next_extract_shows(
    world: World, log: None, context: None
) -> None:
    manager = actor_for(world.manager, world.unit_a)
    tolvan = _patient(world.patient_a.id)
    mark = last_access_seq()

    first = extract.patient_extract(manager, tolvan)

    logged = access_log(mark)
    assert [(e.action, e.object_type, e.object_id) for e in logged] == [
        (AccessAction.READ, "log_extract", None)
    ]
    assert (logged[0].patient_id, logged[0].user_id, logged[0].unit_id, logged[0].role) == (
        tolvan.id,
        world.manager.id,
        world.unit_a.id,
        Role.MANAGER,
    )
    assert len(first.rows) == 6  # the extract ends before its own showing
    second = extract.patient_extract(manager, tolvan)
    assert _rows(second)[6:] == [
        ("2026-06-15 10:00", "Vårdcentralen Norr", "Cecilia Dahl", "Manager", "Read",
         "Log extract")
    ]  # fmt: skip


def test_printing_the_extract_is_logged_as_a_print(world: World, log: None, context: None) -> None:
    manager = actor_for(world.manager, world.unit_a)
    tolvan = _patient(world.patient_a.id)
    mark = last_access_seq()

    printed = extract.printed_extract(manager, tolvan)

    assert printed.filename == "loggutdrag-2026-06-15.pdf"
    assert printed.data.startswith(b"%PDF-")
    assert [(e.action, e.object_type, e.patient_id) for e in access_log(mark)] == [
        (AccessAction.PRINT, "log_extract", tolvan.id)
    ]


def _written_object_types() -> set[str]:
    """Every object type the package writes to the access log: the literal ``object_type`` of
    each ``record_access``/``record_accesses`` call, and the ``attempt`` a consent gate logs
    when it refuses; plus the defaults (``patient``, and ``report`` for exports)."""
    types = {"patient", "report"}
    for path in (PROJECT_ROOT / "coordinator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            name = name or (node.func.id if isinstance(node.func, ast.Name) else "")
            keyword = {"record_access": "object_type", "record_accesses": "object_type",
                       "require": "attempt", "disclose": "attempt"}.get(name)  # fmt: skip
            if keyword is None:
                continue
            position = 3 if keyword == "object_type" else 4
            values = node.args[position : position + 1]
            values += [k.value for k in node.keywords if k.arg == keyword]
            types |= {v.value for v in values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str)}  # fmt: skip
    return types


def test_every_object_type_the_code_writes_has_a_label() -> None:
    written = _written_object_types()

    assert {"case_journal", "plan_share", "case_activation", "access_log"} <= written
    assert written - set(extract.OBJECT_LABELS) == set()


def test_the_patient_is_found_by_personnummer_in_any_spelling(world: World, context: None) -> None:
    manager = actor_for(world.manager, world.unit_a)
    mark = last_access_seq()

    found = [extract.find_patient(manager, number).id
             for number in ("194107086995", TOLVAN, "410708-6995", " 4107086995 ")]  # fmt: skip

    assert found == [world.patient_a.id] * 4
    # A manager of both units finds unit Söder's patient while working in Norr.
    assert extract.find_patient(manager, "19811228-9874").id == world.patient_b.id
    assert access_log(mark) == []  # finding is not an access: the extract shown is


def test_another_units_patient_is_not_found_exactly_like_an_unregistered_number(
    app: Flask, world: World, context: None
) -> None:
    only_norr = actor_for(UserFactory(role=Role.MANAGER, units=[_unit(world.unit_a.id)]),
                          world.unit_a)  # fmt: skip

    with pytest.raises(NotFound) as other_unit:
        extract.find_patient(only_norr, "19811228-9874")  # Elva, of unit Söder
    with pytest.raises(NotFound) as unregistered:
        extract.find_patient(only_norr, "19121212-1212")
    with pytest.raises(NotFound):
        extract.get_patient(only_norr, uuid.UUID(world.patient_b.uid))

    assert str(other_unit.value.message) == str(unregistered.value.message)
    assert extract.get_patient(only_norr, uuid.UUID(world.patient_a.uid)).id == world.patient_a.id


def test_a_malformed_number_is_refused_on_its_field(world: World, context: None) -> None:
    manager = actor_for(world.manager, world.unit_a)

    for number in ("12345", "19410708-6996", "Tolvansson"):
        with pytest.raises(InvalidPersonnummer) as refused:
            extract.find_patient(manager, number)
        assert refused.value.field == "personnummer"


def test_only_managers_produce_extracts(world: World, context: None) -> None:
    coordinator = actor_for(world.coordinator_a, world.unit_a)
    tolvan = _patient(world.patient_a.id)

    with pytest.raises(Forbidden):
        extract.find_patient(coordinator, TOLVAN)
    with pytest.raises(Forbidden):
        extract.get_patient(coordinator, tolvan.uid)
    with pytest.raises(Forbidden):
        extract.patient_extract(coordinator, tolvan)
    with pytest.raises(Forbidden):
        extract.printed_extract(coordinator, tolvan)


def _unit(unit_id: int) -> CareUnit:
    unit = db.session.get(CareUnit, unit_id)
    assert unit is not None
    return unit


# -- The pages -----------------------------------------------------------------------------

_ROW = re.compile(r'<tr data-seq="(\d+)">(.*?)</tr>', re.S)
_CELL = re.compile(r"<td>(.*?)</td>", re.S)


def _page_rows(response: TestResponse) -> list[list[str]]:
    return [_CELL.findall(cells) for _seq, cells in _ROW.findall(response.text)]


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _logged(app: Flask, mark: int) -> list[tuple[str, str, int, int | None, int | None]]:
    with app.app_context():
        return [(e.action.value, e.object_type, e.patient_id, e.user_id, e.unit_id)
                for e in access_log(mark)]  # fmt: skip


def test_the_page_shows_the_extract_and_logs_the_read(
    app: Flask, world: World, log: None, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = _extract(manager_client)

    assert response.status_code == 200
    rows = _page_rows(response)
    assert [(when, unit, role, action) for when, unit, _user, role, action, _what in rows] == (
        EXPECTED_SWEDISH
    )
    anna = "Anna Berg, Arbetsterapeut"
    assert [row[2] for row in rows[:3] + rows[4:]] == [anna, anna, "Cecilia Dahl", anna, anna]
    assert "report-quarterly" in rows[3][2]  # the system run names its command
    assert rows[5][5] == "referral"  # a type without a label shows as itself
    assert f"Tolvan Tolvansson · {TOLVAN}" in response.text
    assert f'href="/log/extracts/{world.patient_a.uid}.pdf"' in response.text
    assert _logged(app, mark) == [
        ("read", "log_extract", world.patient_a.id, world.manager.id, world.unit_a.id)
    ]


def test_the_empty_form_shows_no_extract_and_logs_nothing(
    app: Flask, log: None, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = manager_client.get("/log/extracts/")

    assert response.status_code == 200
    assert 'name="personnummer"' in response.text
    assert _page_rows(response) == []
    assert _logged(app, mark) == []


def test_an_invalid_number_is_a_bad_request_with_the_message_on_the_field(
    app: Flask, log: None, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = _extract(manager_client, "19410708-6996")

    assert response.status_code == 400
    assert field_errors(response) == {
        "personnummer": "Det är inte ett giltigt personnummer eller samordningsnummer; "
        "kontrollera siffrorna."
    }
    assert _extract(manager_client, "").status_code == 400
    assert _page_rows(response) == []
    assert _logged(app, mark) == []


def test_a_manager_of_another_unit_does_not_find_the_patient(
    app: Flask,
    world: World,
    log: None,
    signed_in_client: Callable[..., FlaskClient],
) -> None:
    with app.app_context():
        chef_b = UserRef.of(UserFactory(username="chef.b", role=Role.MANAGER,
                                        units=[_unit(world.unit_b.id)]))  # fmt: skip
    client = signed_in_client(chef_b, world.unit_b)
    mark = _mark(app)

    page = _extract(client)
    unregistered = _extract(client, "19121212-1212")
    pdf = client.get(f"/log/extracts/{world.patient_a.uid}.pdf")

    assert (page.status_code, unregistered.status_code, pdf.status_code) == (404, 404, 404)
    assert alert(page) is not None
    assert alert(page) == alert(unregistered)  # nothing tells the two apart
    assert 'name="personnummer"' in page.text
    assert _page_rows(page) == []
    assert _logged(app, mark) == []


def test_a_coordinator_may_not_open_the_extract(
    app: Flask, world: World, log: None, coordinator_client: FlaskClient
) -> None:
    mark = _mark(app)

    assert (
        submit(coordinator_client, PAGE, {"personnummer": TOLVAN}, form_url="/").status_code == 403
    )
    assert coordinator_client.get(f"/log/extracts/{world.patient_a.uid}.pdf").status_code == 403
    assert _logged(app, mark) == []


# -- The PDF -------------------------------------------------------------------------------


def _pages(data: bytes) -> list[str]:
    """Each page's text, every run of whitespace made one space (cells wrap where they will)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(data)).pages]


def test_the_pdf_names_the_patient_and_every_access_and_is_logged(
    app: Flask, world: World, log: None, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = manager_client.get(f"/log/extracts/{world.patient_a.uid}.pdf")

    assert response.status_code == 200
    assert (response.mimetype, response.headers["Cache-Control"]) == ("application/pdf", "no-store")
    assert response.headers["Content-Disposition"] == 'inline; filename="loggutdrag-2026-06-15.pdf"'
    text = " ".join(_pages(response.data))
    assert "Loggutdrag" in text
    assert f"Patient Tolvan Tolvansson Personnummer {TOLVAN}" in text
    assert "2026-06-15 10:00" in text  # produced
    assert [text.count(when) for when, *_ in EXPECTED] == [1, 1, 1, 1, 1, 1]
    for name in ("Anna Berg, Arbetsterapeut", "Cecilia Dahl", "report-quarterly",
                 "Vårdcentralen Norr", "Vårdcentralen Söder"):  # fmt: skip
        assert name in text
    assert "Elva" not in text
    assert "Bo Ek" not in text
    assert _logged(app, mark) == [
        ("print", "log_extract", world.patient_a.id, world.manager.id, world.unit_a.id)
    ]


def test_the_pdf_is_swedish_when_the_user_reads_english(
    app: Flask, world: World, log: None, manager_client: FlaskClient
) -> None:
    with app.app_context():
        user = db.session.get(User, world.manager.id)
        assert user is not None
        user.locale = "en"
        db.session.commit()

    page = _extract(manager_client)
    text = " ".join(_pages(manager_client.get(f"/log/extracts/{world.patient_a.uid}.pdf").data))

    assert "<h1>Log extract</h1>" in page.text
    assert [row[4] for row in _page_rows(page)] == [
        "Created",
        "Read",
        "Exported",
        "Exported",
        "Denied",
        "Read",
    ]
    assert "Loggutdrag" in text
    for swedish in ("Vårdenhet", "Skapad", "Läst", "Exporterad", "Nekad", "Personnummer"):
        assert swedish in text
    for english in ("Care unit", "Created", "Exported", "Denied", "Log extract"):
        assert english not in text


def test_a_long_log_runs_over_several_pages_with_the_header_on_each(
    app: Flask, world: World, frozen: time_machine.Traveller, manager_client: FlaskClient
) -> None:
    with app.app_context():
        anna = actor_for(world.coordinator_a, world.unit_a)
        tolvan = _patient(world.patient_a.id)
        now = clock.now()
        for minute in range(90):
            frozen.move_to(local(6, 10, 8 + minute // 60, minute % 60))
            journal.record_access(anna, tolvan, AccessAction.READ, "patient", tolvan.uid.hex)
        frozen.move_to(now)
        db.session.commit()

    pages = _pages(manager_client.get(f"/log/extracts/{world.patient_a.uid}.pdf").data)

    assert len(pages) >= 3
    assert all("Vårdenhet" in page for page in pages)  # the table's header, repeated
    text = " ".join(pages)
    times = [f"2026-06-10 {8 + minute // 60:02d}:{minute % 60:02d}" for minute in range(90)]
    assert [text.count(when) for when in times] == [1] * 90
    assert text.index(times[0]) < text.index(times[45]) < text.index(times[89])
