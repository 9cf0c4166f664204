"""The report files as a manager downloads them, and the scheduled quarterly report from the
command line: content type and file name, the content (small cells as "< 5"), and one EXPORT
entry in the access log for every patient whose data the file counts.

Data: the reports tests' sick-leave and quarterly data sets (:mod:`tests.reports.support`).
Counted in unit A:

- May's sick leave: Anna, Bo, Cia, Dan, Eli (Fia's ended in April, Gus's starts in June);
- the second quarter of 2026: Anna (MMR1 completed; employer calls), Bo (KBT completed; calls
  with Arbetsförmedlingen), Eli (IKBT completed at a private provider) and Dan (an employer
  call, not reimbursable). Unit B adds Stina (MMR2 completed, a reimbursable employer call).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.factories import UnitFactory
from tests.patients.support import access_log, last_access_seq
from tests.reports.support import quarter_data, sick_leave_data

BOM, CRLF = "\ufeff", "\r\n"
QUARTERLY_HEADER = "Avsnitt;Enhet;Post;Uppdelning;Värde"
STATISTICS_HEADER = "Grupp;Kvinnor;Män;Annat;Totalt;Andel kvinnor (%);Andel män (%)"
Q2 = "year=2026&quarter=2"


@dataclass(frozen=True)
class Data:
    """Patient ids by first name."""

    ids: dict[str, int]

    def of(self, *names: str) -> list[int]:
        return sorted(self.ids[name] for name in names)


@pytest.fixture
def data(frozen: time_machine.Traveller, app: Flask, world: World) -> Data:
    """Both data sets, committed (their patients are separate people with the same names)."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        me_b = actor_for(world.coordinator_b, world.unit_b)
        sick = sick_leave_data(me, me_b)
        quarter = quarter_data(me, me_b, frozen)
        db.session.commit()
        ids = {f"sick:{p.first_name}": p.id for p in vars(sick).values()}
        ids |= {p.first_name: p.id for p in (quarter.anna, quarter.bo, quarter.dan, quarter.eli,
                                             quarter.stina)}  # fmt: skip
        return Data(ids)


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


@dataclass(frozen=True)
class Logged:
    action: AccessAction
    object_type: str
    object_id: str | None
    user_id: int | None
    unit_id: int | None
    role: Role | None
    request_id: str


def _logged(app: Flask, mark: int) -> list[Logged]:
    with app.app_context():
        return [
            Logged(e.action, e.object_type, e.object_id, e.user_id, e.unit_id, e.role, e.request_id)
            for e in access_log(mark)
        ]


def _patients_logged(app: Flask, mark: int) -> list[int]:
    with app.app_context():
        return sorted(e.patient_id for e in access_log(mark))


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline=""), delimiter=";"))


def _exported_by_manager(world: World, object_id: str) -> set[Logged]:
    return {
        Logged(AccessAction.EXPORT, "report", object_id, world.manager.id, world.unit_a.id,
               Role.MANAGER, "")
    }  # fmt: skip


def _without_request_ids(entries: list[Logged]) -> set[Logged]:
    return {
        Logged(e.action, e.object_type, e.object_id, e.user_id, e.unit_id, e.role, "")
        for e in entries
    }


# -- Sick-leave statistics ----------------------------------------------------------------------


def test_a_statistics_table_downloads_as_csv_and_each_counted_patient_is_logged(
    data: Data, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response = manager_client.get(
        "/reports/statistics.csv?table=gender&start=2026-05-01&end=2026-05-31"
    )

    assert response.status_code == 200
    assert (response.mimetype, response.mimetype_params) == ("text/csv", {"charset": "utf-8"})
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sjukskrivningar-gender-2026-05-01-2026-05-31.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    text = response.data.decode("utf-8")
    assert text.startswith(BOM + STATISTICS_HEADER + CRLF)
    # Two women (Anna, Cia), two men (Bo, Dan), Eli of another gender: every count is small.
    assert _rows(text)[1:] == [
        ["Kvinna", "< 5", "0", "0", "< 5", "", ""],
        ["Man", "0", "< 5", "0", "< 5", "", ""],
        ["Annat", "0", "0", "< 5", "< 5", "", ""],
    ]
    entries = _logged(app, mark)
    assert _without_request_ids(entries) == _exported_by_manager(world, "statistics:gender")
    assert _patients_logged(app, mark) == data.of(
        "sick:Anna", "sick:Bo", "sick:Cia", "sick:Dan", "sick:Eli"
    )


def test_the_statistics_of_all_the_manager_s_units_log_both_units_patients(
    data: Data, app: Flask, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = manager_client.get(
        "/reports/statistics.csv?table=length&unit=all&start=2026-05-01&end=2026-05-31"
    )

    assert response.status_code == 200
    assert _patients_logged(app, mark) == data.of(
        "sick:Anna", "sick:Bo", "sick:Cia", "sick:Dan", "sick:Eli", "sick:Stina"
    )
    assert {e.object_id for e in _logged(app, mark)} == {"statistics:length"}


def test_an_unknown_table_is_not_found_and_nothing_is_logged(
    data: Data, app: Flask, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = manager_client.get("/reports/statistics.csv?table=patients")

    assert response.status_code == 404
    assert _logged(app, mark) == []


# -- The quarterly report -----------------------------------------------------------------------


def test_the_quarterly_csv_masks_small_cells_and_logs_each_counted_patient(
    data: Data, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response = manager_client.get(f"/reports/quarterly.csv?{Q2}")

    assert response.status_code == 200
    assert (response.mimetype, response.mimetype_params) == ("text/csv", {"charset": "utf-8"})
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kvartalsrapport-2026-Q2.csv"'
    )
    text = response.data.decode("utf-8")
    assert text.startswith(BOM + QUARTERLY_HEADER + CRLF)
    assert text.endswith(CRLF)
    rows = _rows(text)
    by_item = {tuple(row[:4]): row[4] for row in rows[1:]}
    treatments, everyone = "Avslutade behandlingar", "Alla enheter"
    mmr1, mmr2 = (f"MMR{n} (multimodal rehabilitering, {level})"
                  for n, level in ((1, "primärvård"), (2, "specialistvård")))  # fmt: skip
    # Anna's MMR1, a woman's, at the unit: one, shown as "< 5"; no man had MMR1: 0 stays.
    assert by_item[(treatments, everyone, mmr1, "Kvinnor")] == "< 5"
    assert by_item[(treatments, everyone, mmr1, "Män")] == "0"
    assert by_item[(treatments, everyone, mmr1, "Offentlig vårdgivare")] == "< 5"
    assert by_item[(treatments, everyone, mmr1, "Totalt")] == "< 5"
    assert by_item[(treatments, everyone, mmr2, "Totalt")] == "0"  # Stina's is unit B's
    # One reimbursable employer call (Anna's of 10 May), three not: no amount to recompute it.
    contacts = "Kontakter"
    assert by_item[(contacts, everyone, "Arbetsgivare", "Ersättningsberättigande")] == "< 5"
    assert by_item[(contacts, everyone, "Arbetsgivare", "Ej ersättningsberättigande")] == "< 5"
    assert by_item[(contacts, everyone, "Arbetsgivare", "Belopp (kr)")] == "< 15000"
    assert by_item[(contacts, everyone, "Arbetsgivare", "… utan samtycke")] == "< 5"
    # Every count in the file is masked or zero: nothing from 1 to 4 slips through.
    assert not [row for row in rows[1:] if row[4] in {"1", "2", "3", "4"}]
    assert next(row[1] for row in rows[1:] if row[0] == "Per enhet") == world.unit_a.name
    entries = _logged(app, mark)
    assert len(entries) == 4
    assert _without_request_ids(entries) == _exported_by_manager(world, "quarterly:2026Q2")
    assert _patients_logged(app, mark) == data.of("Anna", "Bo", "Dan", "Eli")


def test_the_quarterly_csv_of_all_units_logs_both_units_patients(
    data: Data, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response = manager_client.get(f"/reports/quarterly.csv?{Q2}&unit=all")

    assert response.status_code == 200
    per_unit = [row[1] for row in _rows(response.data.decode("utf-8")) if row[0] == "Per enhet"]
    assert sorted(set(per_unit)) == [world.unit_a.name, world.unit_b.name]
    assert _patients_logged(app, mark) == data.of("Anna", "Bo", "Dan", "Eli", "Stina")


def test_the_quarterly_pdf_is_a_real_pdf_of_the_quarter_and_is_logged(
    data: Data, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response = manager_client.get(f"/reports/quarterly.pdf?{Q2}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].endswith(
        'filename="kvartalsrapport-2026-Q2.pdf"'
    )
    assert response.data.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Kvartalsrapport 2026 Q2" in text
    assert "2026-04-01 – 2026-06-30" in text
    assert world.unit_a.name in text
    entries = _logged(app, mark)
    assert _without_request_ids(entries) == _exported_by_manager(world, "quarterly:2026Q2")
    assert _patients_logged(app, mark) == data.of("Anna", "Bo", "Dan", "Eli")


def test_each_download_is_logged_again(data: Data, app: Flask, manager_client: FlaskClient) -> None:
    mark = _mark(app)

    manager_client.get(f"/reports/quarterly.csv?{Q2}")
    manager_client.get(f"/reports/quarterly.csv?{Q2}")

    assert _patients_logged(app, mark) == sorted(2 * data.of("Anna", "Bo", "Dan", "Eli"))
    assert len({e.request_id for e in _logged(app, mark)}) == 2


def test_a_quarter_with_nothing_counted_logs_nobody(
    data: Data, app: Flask, manager_client: FlaskClient
) -> None:
    mark = _mark(app)

    response = manager_client.get("/reports/quarterly.csv?year=2025&quarter=4")

    assert response.status_code == 200
    assert _rows(response.data.decode("utf-8"))[0] == QUARTERLY_HEADER.split(";")
    assert _logged(app, mark) == []


@pytest.mark.parametrize(
    "path",
    [
        "/reports/statistics.csv?table=gender&unit={unit}",
        "/reports/quarterly.csv?year=2026&quarter=2&unit={unit}",
        "/reports/quarterly.pdf?year=2026&quarter=2&unit={unit}",
        "/reports/statistics?unit={unit}",
        "/reports/caseload?unit={unit}",
        "/reports/indicators?unit={unit}",
    ],
)
def test_a_unit_that_is_not_the_manager_s_is_not_found(
    path: str, data: Data, app: Flask, manager_client: FlaskClient
) -> None:
    with app.app_context():
        elsewhere = UnitFactory(name="Vårdcentralen Öster").id
    mark = _mark(app)

    response = manager_client.get(path.format(unit=elsewhere))

    assert response.status_code == 404
    assert _logged(app, mark) == []


def test_the_quarterly_page_of_a_unit_that_is_not_the_manager_s_shows_no_report(
    data: Data, app: Flask, manager_client: FlaskClient
) -> None:
    """The page's form refuses the unit as a choice not offered (400), before any figure is
    computed; the files answer 404 (above)."""
    with app.app_context():
        elsewhere = UnitFactory(name="Vårdcentralen Öster").id
    mark = _mark(app)

    response = manager_client.get(f"/reports/quarterly?{Q2}&unit={elsewhere}")

    assert response.status_code in (400, 404)
    assert 'data-section="treatments"' not in response.text
    assert "Vårdcentralen Öster" not in response.text
    assert _logged(app, mark) == []


@pytest.mark.parametrize(
    "path",
    ["/reports/statistics.csv?table=gender&start=2026-05-01&end=2026-05-31",
     f"/reports/quarterly.csv?{Q2}"],
)  # fmt: skip
def test_a_csv_file_names_its_type_and_charset_once(
    path: str, data: Data, manager_client: FlaskClient
) -> None:
    response = manager_client.get(path)

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


# -- The command line ---------------------------------------------------------------------------


def _run(app: Flask, *args: str) -> Result:
    """``coordinator report quarterly ...`` against the test app (no app context open)."""
    return app.test_cli_runner().invoke(args=["report", "quarterly", *args])


def test_the_command_line_writes_the_quarterly_csv_and_logs_it_as_the_command(
    data: Data, app: Flask, world: World, tmp_path: Path
) -> None:
    mark = _mark(app)
    output = tmp_path / "q2.csv"

    result = _run(app, "--year", "2026", "--quarter", "2", "--unit", str(world.unit_a.id),
                  "--format", "csv", "--output", str(output))  # fmt: skip

    assert result.exit_code == 0, result.output
    text = output.read_bytes().decode("utf-8")
    assert text.startswith(BOM)
    rows = _rows(text)
    assert len(rows[0]) == 5
    assert len(rows) > 1
    assert all(len(row) == 5 for row in rows)
    entries = _logged(app, mark)
    assert set(entries) == {
        Logged(AccessAction.EXPORT, "report", "quarterly:2026Q2", None, None, None,
               "command:report-quarterly")
    }  # fmt: skip
    assert _patients_logged(app, mark) == data.of("Anna", "Bo", "Dan", "Eli")


def test_the_command_line_csv_goes_to_standard_output_without_a_file(
    data: Data, app: Flask
) -> None:
    mark = _mark(app)

    result = _run(app, "--year", "2026", "--quarter", "2")

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(BOM.encode("utf-8"))
    # Every active unit by default: both units' patients.
    assert _patients_logged(app, mark) == data.of("Anna", "Bo", "Dan", "Eli", "Stina")


def test_the_command_line_pdf_is_the_quarter_s(
    data: Data, app: Flask, world: World, tmp_path: Path
) -> None:
    output = tmp_path / "q2.pdf"

    result = _run(app, "--year", "2026", "--quarter", "2", "--unit", str(world.unit_a.id),
                  "--format", "pdf", "--output", str(output))  # fmt: skip

    assert result.exit_code == 0, result.output
    text = "\n".join(page.extract_text() for page in PdfReader(output).pages)
    assert "Kvartalsrapport 2026 Q2" in text


def test_the_command_line_refuses_a_pdf_without_a_file_and_logs_nothing(
    data: Data, app: Flask
) -> None:
    mark = _mark(app)

    result = _run(app, "--year", "2026", "--quarter", "2", "--format", "pdf")

    assert result.exit_code != 0
    assert "Give --output for a PDF." in result.output
    assert _logged(app, mark) == []


def test_the_scheduled_csv_is_the_file_the_manager_downloads(
    data: Data, app: Flask, manager_client: FlaskClient, world: World, tmp_path: Path
) -> None:
    """The same report for the same unit and quarter, whether scheduled or downloaded: the
    region receives one format (the PDF is Swedish from both; so should the CSV be)."""
    output = tmp_path / "q2.csv"
    downloaded = manager_client.get(f"/reports/quarterly.csv?{Q2}").data.decode("utf-8")

    _run(app, "--year", "2026", "--quarter", "2", "--unit", str(world.unit_a.id),
         "--output", str(output))  # fmt: skip

    scheduled = output.read_bytes().decode("utf-8")
    assert scheduled.splitlines()[0] == BOM + QUARTERLY_HEADER
    assert scheduled == downloaded


def test_no_export_entry_names_a_user_or_unit_for_the_command(data: Data, app: Flask) -> None:
    _run(app, "--year", "2026", "--quarter", "2")

    with app.app_context():
        exported = db.session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == AccessAction.EXPORT)
        ).all()
        assert exported
        assert {(e.user_id, e.unit_id, e.role) for e in exported} == {(None, None, None)}
