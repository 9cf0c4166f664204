"""Certificate import from CSV: the file format, dry runs, refused files, idempotence, matching
through the blind index per unit, the upload page and the command line."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.errors import Forbidden
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry
from coordinator.patients import import_csv, importer
from coordinator.patients.models import (
    Certificate,
    CertificateSource,
    CoordinationCase,
    Patient,
)
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.helpers import csrf_token, field_errors, flashes

#: "Today" for every test here: certificates are checked against it (a year ahead at most).
TODAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)

HEADER = "personnummer;förnamn;efternamn;från;till;grad;diagnos;läkare"

#: Two new patients, three certificates (the second patient's names only on their first line).
VALID = f"""{HEADER}
19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;Dr Berg
198507099805;Anna;Andersson;2026-09-01;2026-09-30;100 %;f32.1;
198507099805;;;2026-10-01;2026-11-30;75;F32.1;
""".encode()

CSRF_MESSAGE = (
    "Formuläret kunde inte skickas eftersom dess säkerhetstoken saknas eller har gått ut. "
    "Ladda om sidan och försök igen."
)


@pytest.fixture(autouse=True)
def _today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


def _counts(app: Flask) -> dict[str, int]:
    """Rows per table the import may write."""
    tables = {
        "patients": Patient,
        "certificates": Certificate,
        "cases": CoordinationCase,
        "case_journal": CaseJournalEntry,
        "access_log": AccessLogEntry,
    }
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in tables.items()
        }


def _log(app: Flask, after: int = 0) -> list[tuple[int | None, int | None, int, str, str]]:
    """Access-log entries after the first ``after``: (user, unit, patient, action, object)."""
    with app.app_context():
        entries = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all()
        return [
            (e.user_id, e.unit_id, e.patient_id, e.action.value, e.object_type)
            for e in entries[after:]
        ]


def _import(
    app: Flask, world: World, data: bytes, *, dry_run: bool = False, in_unit_b: bool = False
) -> importer.ImportReport:
    """Run the import as unit A's (or B's) coordinator and commit, as a request would."""
    with app.app_context():
        if in_unit_b:
            actor = actor_for(world.coordinator_b, world.unit_b)
        else:
            actor = actor_for(world.coordinator_a, world.unit_a)
        report = importer.run(actor, data, dry_run=dry_run)
        db.session.commit()
        return report


def _refused(app: Flask, world: World, data: bytes) -> list[tuple[int, str]]:
    """The line errors of a refused import (which must raise)."""
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        with pytest.raises(importer.ImportRefused) as refused:
            importer.run(actor, data, dry_run=False)
        db.session.rollback()
        return [(error.line, error.message) for error in refused.value.errors]


def _patients(app: Flask, unit_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        patients = db.session.scalars(
            select(Patient).where(Patient.unit_id == unit_id).order_by(Patient.id)
        )
        return [(p.personnummer, p.first_name, p.last_name) for p in patients]


def _certificates(app: Flask) -> list[tuple[str, date, date, int, str, str | None, str]]:
    """Every certificate: (personnummer, from, to, degree, code, doctor, source)."""
    with app.app_context():
        rows = db.session.execute(
            select(Certificate, Patient)
            .join(Patient, Patient.id == Certificate.patient_id)
            .order_by(Certificate.id)
        ).all()
        return [
            (p.personnummer, c.start_on, c.end_on, c.degree, c.diagnosis_code, c.doctor, c.source)
            for c, p in rows
        ]


# -- The service ------------------------------------------------------------------------------


def test_a_valid_file_registers_its_new_patients_unassigned_with_their_certificates(
    app: Flask, world: World
) -> None:
    before = _counts(app)

    report = _import(app, world, VALID)

    assert (report.rows, report.new_patients, report.new_certificates, report.duplicates) == (
        3,
        2,
        3,
        0,
    )
    assert report.warnings == []
    assert _patients(app, world.unit_a.id)[1:] == [
        ("191212121212", "Tolvan", "Tolvansson"),
        ("198507099805", "Anna", "Andersson"),
    ]
    imported = CertificateSource.IMPORT
    assert _certificates(app) == [
        ("191212121212", date(2026, 10, 1), date(2026, 10, 31), 50, "F43.2", "Dr Berg", imported),
        ("198507099805", date(2026, 9, 1), date(2026, 9, 30), 100, "F32.1", None, imported),
        ("198507099805", date(2026, 10, 1), date(2026, 11, 30), 75, "F32.1", None, imported),
    ]
    with app.app_context():
        cases = db.session.scalars(select(CoordinationCase).order_by(CoordinationCase.id)).all()
        assert [(c.unit_id, c.coordinator_id) for c in cases[2:]] == [
            (world.unit_a.id, None),
            (world.unit_a.id, None),
        ]
        created_by = db.session.scalars(select(Certificate.created_by_id)).all()
        assert created_by == [world.coordinator_a.id] * 3
    after = _counts(app)
    assert {name: after[name] - before[name] for name in after} == {
        "patients": 2,
        "certificates": 3,
        "cases": 2,
        "case_journal": 5,  # two "case opened", three "certificate added"
        "access_log": 10,  # a journal entry each, a patient and three certificates created
    }


def test_the_report_says_what_each_line_does(app: Flask, world: World) -> None:
    report = _import(app, world, VALID, dry_run=True)

    assert report.is_dry_run
    assert [(step.line, step.message) for step in report.steps] == [
        (2, "new patient 19121212-1212, certificate 2026-10-01–2026-10-31 50 % F43.2"),
        (3, "new patient 19850709-9805, certificate 2026-09-01–2026-09-30 100 % F32.1"),
        (
            4,
            "patient 19850709-9805 from line 3, certificate 2026-10-01–2026-11-30 75 % F32.1",
        ),
    ]


def test_a_dry_run_writes_nothing_but_the_search_for_the_patients_it_found(
    app: Flask, world: World
) -> None:
    registered = "194107086995;;;2026-10-01;2026-10-31;100;M54.5;"
    data = VALID.replace(b"\n", f"\n{registered}\n".encode(), 1)
    before = _counts(app)

    report = _import(app, world, data, dry_run=True)

    assert (report.rows, report.new_patients, report.new_certificates, report.duplicates) == (
        4,
        2,
        4,
        0,
    )
    assert report.steps[0] == importer.RowNote(
        2, "registered patient 19410708-6995, certificate 2026-10-01–2026-10-31 100 % M54.5"
    )
    after = _counts(app)
    assert {name: after[name] - before[name] for name in after} == {
        "patients": 0,
        "certificates": 0,
        "cases": 0,
        "case_journal": 0,
        "access_log": 1,
    }
    a, unit = world.coordinator_a.id, world.unit_a.id
    assert _log(app, before["access_log"]) == [(a, unit, world.patient_a.id, "search", "patient")]


def test_importing_the_same_file_again_skips_every_line_and_writes_nothing_new(
    app: Flask, world: World
) -> None:
    _import(app, world, VALID)
    before = _counts(app)

    again = _import(app, world, VALID)

    assert (again.rows, again.new_patients, again.new_certificates, again.duplicates) == (
        3,
        0,
        0,
        3,
    )
    assert [(step.line, step.message) for step in again.steps] == [
        (2, "19121212-1212: certificate 2026-10-01–2026-10-31 50 % F43.2 is already registered; "
            "skipped."),
        (3, "19850709-9805: certificate 2026-09-01–2026-09-30 100 % F32.1 is already registered; "
            "skipped."),
        (4, "19850709-9805: certificate 2026-10-01–2026-11-30 75 % F32.1 is already registered; "
            "skipped."),
    ]  # fmt: skip
    after = _counts(app)
    assert {name: after[name] - before[name] for name in after} == {
        "patients": 0,
        "certificates": 0,
        "cases": 0,
        "case_journal": 0,
        "access_log": 2,  # the two patients found, logged as a search
    }
    assert [entry[3] for entry in _log(app, before["access_log"])] == ["search", "search"]


def test_every_bad_line_is_reported_by_its_line_number_and_nothing_is_written(
    app: Flask, world: World
) -> None:
    data = f"""{HEADER}
19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;
19121212-1213;Fel;Siffra;2026-10-01;2026-10-31;50;F43.2;
198507099805;Anna;Andersson;2026-10-31;2026-10-01;50;F43.2;
199001012385;Bo;Ek;2026-10-01;2026-10-31;60;F43.2;
197803152383;Cia;Al;2026-10-01;2026-10-31;50;F43.7;
196512244424;Dan;Ro;2026-02-30;1/11/2026;50;F43.2;

194107086995;;;2026-10-01;2026-10-31;100;M54.5;
198112289874;;;2026-10-01;2026-10-31;100;M54.5;
""".encode()
    before = _counts(app)

    errors = _refused(app, world, data)

    assert errors == [
        (3, "personnummer: That is not a valid personnummer or samordningsnummer; check the "
            "digits."),
        (4, "till: The end date is before the start date."),
        (5, "grad: The degree must be 25, 50, 75 or 100 %."),
        (6, "diagnos: The code is not in the diagnosis catalogue (ICD-10-SE)."),
        (7, "från: There is no such date."),
        (7, "till: Write the date as YYYY-MM-DD, e.g. 2026-10-01."),
        (10, "förnamn, efternamn: The patient is not registered in this unit; write the given "
             "and family name."),
    ]  # fmt: skip
    assert _counts(app) == before


def test_a_header_with_wrong_columns_names_them_all(app: Flask, world: World) -> None:
    data = b"personnummer;fornamn;efternamn;start;slut;grad;diagnos;diagnos\n"

    assert _refused(app, world, data) == [
        (
            1,
            "The header line has the wrong columns (missing columns: från, till; unknown columns: "
            '"start", "slut"; repeated columns: diagnos). The columns are: personnummer; '
            "förnamn; efternamn; från; till; grad; diagnos; läkare.",
        )
    ]


def test_a_file_that_is_not_utf8_is_refused_with_how_to_save_it(app: Flask, world: World) -> None:
    data = b"personnummer;fornamn;efternamn;fran;till;grad;diagnos\n" + (
        "19121212-1212;Åsa;Öberg;2026-10-01;2026-10-31;50;F43.2\n".encode("latin-1")
    )
    before = _counts(app)

    assert _refused(app, world, data) == [
        (
            2,
            "The file is not UTF-8 text. Save it as UTF-8 (in Excel: “CSV UTF-8”) and try again.",
        )
    ]
    assert _counts(app) == before


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [(1, "The file is empty.")]),
        (b" \r\n;;;\r\n", [(1, "The file is empty.")]),
        (f"{HEADER}\n".encode(), [(1, "The file has no certificate lines.")]),
        (
            b"personnummer\tgrad\n",
            [(1, "The header line must name the columns, separated by ; or ,.")],
        ),
        (
            f"{HEADER}\n19121212-1212;Tolvan;Tolvansson;2026-10-01\n".encode(),
            [(2, "The line has 4 cells but the header names 8 columns.")],
        ),
        (
            f'{HEADER}\n19121212-1212;"Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;\n'.encode(),
            [(2, "The line is not valid CSV; check its quotation marks.")],
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_where(
    app: Flask, world: World, data: bytes, expected: list[tuple[int, str]]
) -> None:
    assert _refused(app, world, data) == expected


def test_more_than_the_maximum_of_lines_is_refused(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_csv, "MAX_ROWS", 2)

    assert _refused(app, world, VALID) == [
        (4, "The file has more than 2 certificate lines; split it.")
    ]


def test_a_bom_commas_ascii_names_any_order_and_trailing_empty_columns_are_accepted(
    app: Flask, world: World
) -> None:
    data = (
        "\ufeff Diagnos ,FRAN,Till,Grad,Personnummer,Efternamn,Fornamn,,\r\n"
        'F43.8A,2026-10-01,2026-10-31,25%,121212+1212,"Tolvansson, d.ä.",Tolvan,,\r\n'
    ).encode()

    report = _import(app, world, data)

    assert (report.new_patients, report.new_certificates) == (1, 1)
    assert _patients(app, world.unit_a.id)[1:] == [
        ("191212121212", "Tolvan", "Tolvansson, d.ä."),
    ]
    assert _certificates(app) == [
        (
            "191212121212",
            date(2026, 10, 1),
            date(2026, 10, 31),
            25,
            "F43.8A",
            None,
            CertificateSource.IMPORT,
        )
    ]


def test_a_registered_patient_is_matched_in_its_own_unit_and_another_unit_gets_its_own(
    app: Flask, world: World
) -> None:
    data = f"{HEADER}\n19410708-6995;Tolvan;Tolvansson;2026-10-01;2026-10-31;100;M54.5;\n"

    in_a = _import(app, world, data.encode())
    in_b = _import(app, world, data.encode(), in_unit_b=True)

    assert (in_a.new_patients, in_a.new_certificates) == (0, 1)
    assert (in_b.new_patients, in_b.new_certificates) == (1, 1)
    assert _patients(app, world.unit_a.id) == [("194107086995", "Tolvan", "Tolvansson")]
    assert _patients(app, world.unit_b.id) == [
        ("198112289874", "Elva", "Elvasson"),
        ("194107086995", "Tolvan", "Tolvansson"),
    ]
    with app.app_context():
        owners = db.session.scalars(select(Certificate.patient_id).order_by(Certificate.id)).all()
        in_b_patient = db.session.scalars(
            select(Patient.id).where(Patient.unit_id == world.unit_b.id).order_by(Patient.id)
        ).all()[1]
    assert owners == [world.patient_a.id, in_b_patient]


def test_overlaps_are_imported_with_a_warning_and_a_repeated_line_is_skipped(
    app: Flask, world: World
) -> None:
    _import(app, world, f"{HEADER}\n194107086995;;;2026-09-01;2026-09-30;100;M54.5;\n".encode())
    data = f"""{HEADER}
194107086995;;;2026-09-15;2026-10-15;50;M54.5;
19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;
19121212-1212;Tolvan;Tolvansson;2026-10-20;2026-11-20;25;F43.2;
19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;
""".encode()

    report = _import(app, world, data)

    assert (report.rows, report.new_patients, report.new_certificates, report.duplicates) == (
        4,
        1,
        3,
        1,
    )
    assert [(note.line, note.message) for note in report.warnings] == [
        (2, "Overlaps the registered certificate 2026-09-01–2026-09-30; imported anyway."),
        (4, "Overlaps the certificate on line 3; imported anyway."),
        (5, "The same certificate as on line 3; skipped."),
    ]
    assert len(_certificates(app)) == 4


def test_only_coordinators_import(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.manager, world.unit_a)
        with pytest.raises(Forbidden):
            importer.run(actor, VALID, dry_run=True)


# -- The upload page --------------------------------------------------------------------------


def _in_english(client: FlaskClient) -> FlaskClient:
    """Switch the signed-in user to English: these pages' texts are asserted in English."""
    response = client.post(
        "/auth/language", data={"csrf_token": csrf_token(client), "language": "en", "next": "/"}
    )
    assert response.status_code == 302
    return client


def _upload(
    client: FlaskClient, data: bytes, *, dry_run: bool, name: str = "intyg.csv"
) -> TestResponse:
    form: dict[str, object] = {
        "csrf_token": csrf_token(client, "/patients/import/"),
        "file": (io.BytesIO(data), name),
    }
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/patients/import/", data=form)


def _items(response: TestResponse, list_id: str) -> list[str]:
    """The texts of the list items of ``<ul id=list_id>``."""
    block = response.text.split(f'<ul id="{list_id}">')[1].split("</ul>")[0]
    return [item.split("</li>")[0].strip() for item in block.split("<li>")[1:]]


def test_the_upload_page_offers_a_dry_run_by_default(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = _in_english(coordinator_client).get("/patients/import/")

    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.text
    assert 'type="file"' in response.text
    assert '<input checked id="dry_run" name="dry_run" type="checkbox" value="y">' in response.text


def test_a_coordinator_checks_a_file_then_imports_it(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    client = _in_english(coordinator_client)
    before = _counts(app)

    checked = _upload(client, VALID, dry_run=True)

    assert checked.status_code == 200
    assert "The file was checked. Nothing has been saved yet." in checked.text
    assert _items(checked, "import-steps") == [
        "Line 2: new patient 19121212-1212, certificate 2026-10-01–2026-10-31 50 % F43.2",
        "Line 3: new patient 19850709-9805, certificate 2026-09-01–2026-09-30 100 % F32.1",
        "Line 4: patient 19850709-9805 from line 3, certificate 2026-10-01–2026-11-30 75 % F32.1",
    ]
    assert 'value="Import for real"' in checked.text
    assert '<input id="dry_run" name="dry_run" type="checkbox" value="y">' in checked.text
    assert _counts(app) == before

    imported = _upload(client, VALID, dry_run=False)

    assert imported.status_code == 302
    assert imported.headers["Location"] == "/patients/"
    assert flashes(client.get("/patients/import/")) == [
        (
            "success",
            "Imported 3 certificates and registered 2 new patients; 0 duplicate lines were "
            "skipped.",
        )
    ]
    assert _patients(app, world.unit_a.id)[1:] == [
        ("191212121212", "Tolvan", "Tolvansson"),
        ("198507099805", "Anna", "Andersson"),
    ]
    assert len(_certificates(app)) == 3


def test_a_refused_upload_lists_the_lines_and_saves_nothing(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    client = _in_english(coordinator_client)
    data = f"{HEADER}\n19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;60;F43.2;\n"
    before = _counts(app)

    response = _upload(client, data.encode(), dry_run=False)

    assert response.status_code == 400
    assert "The file was not imported and nothing was saved. Correct these lines:" in response.text
    assert _items(response, "import-errors") == [
        "Line 2: grad: The degree must be 25, 50, 75 or 100 %."
    ]
    assert _counts(app) == before


def test_the_upload_needs_a_csv_file(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    client = _in_english(coordinator_client)

    missing = client.post(
        "/patients/import/", data={"csrf_token": csrf_token(client, "/patients/import/")}
    )
    wrong = _upload(client, VALID, dry_run=True, name="intyg.xlsx")

    assert missing.status_code == 400
    assert field_errors(missing) == {"file": "Choose a file."}
    assert wrong.status_code == 400
    assert field_errors(wrong) == {"file": "Choose a .csv or .txt file."}


def test_an_upload_over_the_size_limit_is_refused(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    token = csrf_token(coordinator_client, "/patients/import/")
    before = _counts(app)
    # Encoded by hand: the test client would spool a body this size to a temporary file.
    head = (
        f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        '--b\r\nContent-Disposition: form-data; name="file"; filename="intyg.csv"\r\n\r\n'
    )
    body = head.encode() + VALID + b" " * (1024 * 1024) + b"\r\n--b--\r\n"

    response = coordinator_client.post(
        "/patients/import/", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 413
    assert _counts(app) == before


def test_a_manager_may_not_import(app: Flask, world: World, manager_client: FlaskClient) -> None:
    token = csrf_token(manager_client)
    before = _counts(app)

    page = manager_client.get("/patients/import/")
    posted = manager_client.post(
        "/patients/import/",
        data={"csrf_token": token, "file": (io.BytesIO(VALID), "intyg.csv")},
    )

    assert (page.status_code, posted.status_code) == (403, 403)
    assert _counts(app) == before


def test_an_upload_without_a_csrf_token_is_refused(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    before = _counts(app)

    response = coordinator_client.post(
        "/patients/import/", data={"file": (io.BytesIO(VALID), "intyg.csv")}
    )

    assert response.status_code == 400
    assert CSRF_MESSAGE in response.text
    assert _counts(app) == before


# -- The command line -------------------------------------------------------------------------


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[[bytes], str]:
    def write(data: bytes) -> str:
        path = tmp_path / "intyg.csv"
        path.write_bytes(data)
        return str(path)

    return write


def _cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["import-certificates", *args])


def test_the_command_imports_a_file_and_prints_the_counts(
    app: Flask, world: World, csv_file: Callable[[bytes], str]
) -> None:
    result = _cli(app, csv_file(VALID), "--unit", str(world.unit_a.id), "--user", "koord.a")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "certificate lines: 3",
        "new patients: 2",
        "new certificates: 3",
        "skipped (already registered or repeated): 0",
    ]
    assert len(_certificates(app)) == 3
    with app.app_context():
        requests = db.session.scalars(select(AccessLogEntry.request_id).distinct()).all()
    assert requests == ["cli:import"]


def test_the_command_dry_run_prints_the_plan_and_imports_nothing(
    app: Flask, world: World, csv_file: Callable[[bytes], str]
) -> None:
    before = _counts(app)

    result = _cli(
        app, csv_file(VALID), "--unit", str(world.unit_a.id), "--user", "koord.a", "--dry-run"
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "line 2: new patient 19121212-1212, certificate 2026-10-01–2026-10-31 50 % F43.2",
        "line 3: new patient 19850709-9805, certificate 2026-09-01–2026-09-30 100 % F32.1",
        "line 4: patient 19850709-9805 from line 3, certificate 2026-10-01–2026-11-30 75 % F32.1",
        "certificate lines: 3",
        "new patients: 2",
        "new certificates: 3",
        "skipped (already registered or repeated): 0",
        "dry run: nothing was imported; run again without --dry-run to import",
    ]
    assert _counts(app) == before


def test_the_command_refuses_a_bad_file_with_its_lines_and_exit_code_1(
    app: Flask, world: World, csv_file: Callable[[bytes], str]
) -> None:
    data = f"""{HEADER}
19121212-1212;Tolvan;Tolvansson;2026-10-01;2026-10-31;50;F43.2;
198507099805;Anna;Andersson;2026-10-01;2026-10-31;50;F43.7;
""".encode()
    before = _counts(app)

    result = _cli(app, csv_file(data), "--unit", str(world.unit_a.id), "--user", "koord.a")

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "The file was not imported and nothing was saved. Correct these lines:",
        "line 3: diagnos: The code is not in the diagnosis catalogue (ICD-10-SE).",
    ]
    assert _counts(app) == before


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "Error: nobody is not an active coordinator"),
        ("chef", "Error: chef is not an active coordinator"),  # a manager of the unit
        ("koord.b", "Error: koord.b does not work in care unit {unit}"),
    ],
)
def test_the_command_acts_only_as_a_coordinator_of_the_unit(
    app: Flask, world: World, csv_file: Callable[[bytes], str], username: str, message: str
) -> None:
    unit_id = world.unit_a.id
    before = _counts(app)

    result = _cli(app, csv_file(VALID), "--unit", str(unit_id), "--user", username)

    assert result.exit_code == 1
    assert result.output.splitlines() == [message.format(unit=unit_id)]
    assert _counts(app) == before


def test_the_command_dry_run_logs_the_registered_patients_it_showed(
    app: Flask, world: World, csv_file: Callable[[bytes], str]
) -> None:
    data = f"{HEADER}\n194107086995;;;2026-10-01;2026-10-31;100;M54.5;\n".encode()
    before = _counts(app)

    result = _cli(
        app, csv_file(data), "--unit", str(world.unit_a.id), "--user", "koord.a", "--dry-run"
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "line 2: registered patient 19410708-6995, certificate 2026-10-01–2026-10-31 100 % M54.5"
    )
    a, unit = world.coordinator_a.id, world.unit_a.id
    assert _log(app, before["access_log"]) == [(a, unit, world.patient_a.id, "search", "patient")]
    assert _counts(app) == {**before, "access_log": before["access_log"] + 1}
