"""SQL injection strings through every search and filter.

Each string goes into each search field and filter parameter: patient search, the caseload
list's filters, the directory search, the log search and extract, the reports' and the consent
statistics' parameters, and the sign-in form's username. Every answer is an ordinary page — the
results it should have, or the field's message — never a server error; no row of another unit
shows; and the database is exactly as before (or, where a page logs what it shows, changed by
exactly those log entries). ``%`` and ``_`` are no wildcards: name searches match exactly, and
the directory's "contains" search escapes them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.contacts.models import OrganisationType
from coordinator.extensions import db
from coordinator.journal.models import AccessLogEntry
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.contacts.support import organisation
from tests.crypto.support import actor_for
from tests.helpers import alert, csrf_token, field_errors, sign_in, submit
from tests.security.support import changed_tables, fingerprint

#: The strings, by a short name. The last two reach past the usual: a NUL byte (PostgreSQL
#: refuses it in any text value) and a string longer than every field.
PAYLOADS = {
    "quote": "' OR '1'='1",
    "statement": "'; DROP TABLE patients;--",
    "double quote": '" OR ""="',
    "percent": "%",
    "underscore": "_",
    "backslash": "\\",
    "union": "1) UNION SELECT id, personnummer, first_name FROM patients--",
    "nul": "Tolvansson\x00' OR 1=1--",
    "long": "' OR '1'='1" * 500,
}

NOT_FOUND_TITLE = "<h1>Hittades inte</h1>"
NO_SUCH_NAME = (
    "Ingen patient på enheten har det namnet (patienter med skyddad identitet hittas bara på "
    "personnummer)."
)
#: The message of :data:`coordinator.forms.NO_CONTROL_CHARACTERS` (proposed translation).
NO_CONTROL_CHARACTERS = "Ta bort de osynliga styrtecknen (till exempel NUL)."
NOT_A_CHOICE = "Inte ett giltigt val"
NOT_A_DATE = "Inte ett giltigt datum"


def patient_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Patient)) or 0


def poster(
    client: FlaskClient, url: str, form_url: str | None = None
) -> Callable[[dict[str, str]], TestResponse]:
    """Post forms to ``url`` with the session's token, fetched once from ``form_url``."""
    token = csrf_token(client, form_url or url)
    return lambda data: client.post(url, data={"csrf_token": token, **data})


def answer(response: TestResponse) -> tuple[int, object]:
    """What a page says back: its status and its field messages, form message or page title."""
    errors = field_errors(response)
    if errors:
        return response.status_code, errors
    if NOT_FOUND_TITLE in response.text:
        return response.status_code, NOT_FOUND_TITLE
    return response.status_code, alert(response)


# -- Patient search -----------------------------------------------------------------------------


def test_patient_search_takes_injection_strings_as_names_that_match_no_one(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    search = poster(coordinator_client, "/patients/search", form_url="/")
    before = fingerprint(app)

    outcomes = {name: answer(search({"query": value})) for name, value in PAYLOADS.items()}

    expected: dict[str, tuple[int, object]] = {name: (404, NO_SUCH_NAME) for name in PAYLOADS}
    expected["long"] = (400, {"query": "Högst 120 tecken."})
    assert outcomes == expected
    assert fingerprint(app) == before  # nothing found, nothing logged
    assert patient_count(app) == 2


def test_percent_and_underscore_are_no_wildcards_in_the_patient_search(
    coordinator_client: FlaskClient,
) -> None:
    queries = ["Tolv%", "%ansson", "Tolvansso_", "T_lvansson", "Tolvansson%", "%", "_%"]

    search = poster(coordinator_client, "/patients/search", form_url="/")

    outcomes = {query: answer(search({"query": query})) for query in queries}

    assert outcomes == dict.fromkeys(queries, (404, NO_SUCH_NAME))


def test_the_patient_search_finds_the_exact_name_in_the_own_unit_only(
    world: World, coordinator_client: FlaskClient
) -> None:
    own = submit(coordinator_client, "/patients/search", {"query": "Tolvansson"}, form_url="/")
    other = submit(coordinator_client, "/patients/search", {"query": "Elvasson"}, form_url="/")

    assert own.headers["Location"] == f"/patients/{world.patient_a.uid}"
    assert answer(other) == (404, NO_SUCH_NAME)


# -- The caseload list's filters ----------------------------------------------------------------

CASELOAD_PARAMETERS = (
    "scope", "status", "signal", "band", "degree", "group", "follow_up", "plan", "sort",
    "descending", "page",
)  # fmt: skip


def test_caseload_filters_fall_back_to_their_defaults_and_show_only_the_own_unit(
    app: Flask, world: World, manager_client: FlaskClient
) -> None:
    """The manager works in both units and is in unit A: only A's patient is listed."""
    before = fingerprint(app)
    with app.app_context():
        last_seq = db.session.scalar(select(func.max(AccessLogEntry.seq))) or 0

    outcomes = {}
    for name, value in PAYLOADS.items():
        # Every filter at once: each falls back to its default on its own.
        page = manager_client.get(
            "/patients/", query_string=dict.fromkeys(CASELOAD_PARAMETERS, value)
        )
        outcomes[name] = (page.status_code, "Tolvansson" in page.text, "Elvasson" in page.text)

    assert outcomes == dict.fromkeys(PAYLOADS, (200, True, False))
    # Each list logged the one patient it showed, and nothing else changed.
    with app.app_context():
        logged = db.session.scalars(
            select(AccessLogEntry.patient_id).where(AccessLogEntry.seq > last_seq)
        ).all()
    assert logged == [world.patient_a.id] * len(outcomes)
    assert changed_tables(before, fingerprint(app)) == ["access_log", "journal_heads"]
    assert patient_count(app) == 2


# -- The directory ------------------------------------------------------------------------------

#: Organisations whose names hold the characters LIKE treats specially, and a quote.
DIRECTORY = ["ACME AB", "Bygg_Nord AB", "Hundra % Konsult AB", "Data\\Snedstreck AB",
             "O'Brien & Co AB"]  # fmt: skip
#: As the directory lists them.
BY_NAME = sorted(DIRECTORY, key=str.casefold)

_HIT = re.compile(r'<td><a href="/directory/[0-9a-f-]+">([^<]+)</a></td>')


def hits(response: TestResponse) -> list[str]:
    return [html.unescape(name) for name in _HIT.findall(response.text)]


@pytest.fixture
def directory(app: Flask, world: World) -> None:
    with app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        for name in DIRECTORY:
            organisation(actor, OrganisationType.EMPLOYER, name)
        db.session.commit()


def test_the_directory_search_matches_special_characters_literally(
    app: Flask, directory: None, coordinator_client: FlaskClient
) -> None:
    before = fingerprint(app)

    outcomes = {}
    for name, value in PAYLOADS.items():
        page = coordinator_client.get("/directory/", query_string={"q": value})
        outcomes[name] = (page.status_code, hits(page), field_errors(page))
    quoted = coordinator_client.get("/directory/", query_string={"q": "o'brien"})

    assert outcomes == {
        "quote": (200, [], {}),
        "statement": (200, [], {}),
        "double quote": (200, [], {}),
        "percent": (200, ["Hundra % Konsult AB"], {}),
        "underscore": (200, ["Bygg_Nord AB"], {}),
        "backslash": (200, ["Data\\Snedstreck AB"], {}),
        "union": (200, [], {}),
        "nul": (200, [], {"q": NO_CONTROL_CHARACTERS}),
        "long": (200, [], {"q": "Högst 100 tecken."}),
    }
    assert hits(quoted) == ["O'Brien & Co AB"]
    assert hits(coordinator_client.get("/directory/")) == BY_NAME
    assert fingerprint(app) == before


def test_the_directory_s_other_parameters_ignore_injection_strings(
    app: Flask, directory: None, coordinator_client: FlaskClient
) -> None:
    before = fingerprint(app)

    for name, value in PAYLOADS.items():
        kind = coordinator_client.get("/directory/", query_string={"type": value})
        picking = coordinator_client.get(
            "/directory/", query_string={"patient": value, "purpose": "employer"}
        )
        assert (kind.status_code, field_errors(kind)) == (200, {"type": NOT_A_CHOICE}), name
        # No patient by that id: the plain directory, with the employers.
        assert (picking.status_code, hits(picking)) == (200, BY_NAME), name
    assert fingerprint(app) == before


# -- The log follow-up --------------------------------------------------------------------------


def _log_search_expected(field: str, value: str) -> tuple[int, object]:
    if field == "unit":
        return 404, NOT_FOUND_TITLE  # not one of the manager's units
    if field in ("user", "action"):
        return 400, {field: NOT_A_CHOICE}
    if field in ("first", "last"):
        return 400, {field: NOT_A_DATE}
    if field == "personnummer":
        return 400, {
            field: "Högst 20 tecken." if len(value) > 20 else "Inte ett giltigt personnummer."
        }
    # The page number comes from the pager's buttons, never typed: a tampered one gets the
    # form back without results (and without a message).
    return 400, None


LOG_SEARCH_FIELDS = ("unit", "user", "personnummer", "action", "first", "last", "page")


def test_the_log_search_refuses_injection_strings_field_by_field(
    app: Flask, manager_client: FlaskClient
) -> None:
    search = poster(manager_client, "/log/search")
    before = fingerprint(app)

    outcomes = {
        (field, name): answer(search({field: value}))
        for field in LOG_SEARCH_FIELDS
        for name, value in PAYLOADS.items()
    }

    assert outcomes == {
        (field, name): _log_search_expected(field, value)
        for field in LOG_SEARCH_FIELDS
        for name, value in PAYLOADS.items()
    }
    assert fingerprint(app) == before


def test_the_log_search_does_not_find_another_unit_s_patient(
    app: Flask, world: World, manager_client: FlaskClient
) -> None:
    """The manager works in unit B too, but searches unit A: B's patient is not found there."""
    response = submit(
        manager_client,
        "/log/search",
        {"unit": str(world.unit_a.id), "personnummer": "198112289874"},
    )

    assert answer(response) == (404, "Ingen patient med det personnumret på de valda enheterna.")


def test_the_log_extract_refuses_injection_strings(app: Flask, manager_client: FlaskClient) -> None:
    extract = poster(manager_client, "/log/extracts/")
    before = fingerprint(app)

    outcomes = {name: answer(extract({"personnummer": value})) for name, value in PAYLOADS.items()}

    invalid = "Det är inte ett giltigt personnummer eller samordningsnummer; kontrollera siffrorna."
    assert outcomes == {
        name: (400, {"personnummer": "Högst 20 tecken." if len(value) > 20 else invalid})
        for name, value in PAYLOADS.items()
    }
    assert fingerprint(app) == before


# -- Reports and statistics ---------------------------------------------------------------------


def _not_found(value: str) -> tuple[int, object]:
    return 404, NOT_FOUND_TITLE


def _field(name: str, message: str) -> Callable[[str], tuple[int, object]]:
    return lambda value: (400, {name: message})


#: (path, other parameters, the parameter injected) → what the page answers.
REPORT_PARAMETERS: dict[tuple[str, str, str], Callable[[str], tuple[int, object]]] = {
    ("/reports/statistics", "", "unit"): _not_found,
    ("/reports/statistics", "", "start"): _field("start", NOT_A_DATE),
    ("/reports/statistics", "", "end"): _field("end", NOT_A_DATE),
    ("/reports/statistics.csv", "", "table"): _not_found,
    ("/reports/caseload", "", "unit"): _not_found,
    ("/reports/caseload", "", "month"): _field("month", "Skriv månaden som ÅÅÅÅ-MM."),
    ("/reports/caseload/patients", "unit={unit}", "measure"): _not_found,
    ("/reports/caseload/patients", "measure=open", "unit"): _not_found,
    ("/reports/caseload/patients", "unit={unit}&measure=open", "month"): _not_found,
    ("/reports/caseload/patients", "unit={unit}&measure=open", "coordinator"): _not_found,
    ("/reports/quarterly", "", "unit"): _not_found,
    ("/reports/quarterly", "", "year"): _field(
        "year", "Inte ett giltigt heltal Numret måste vara mellan 2000 och 2100."
    ),
    ("/reports/quarterly", "", "quarter"): _field("quarter", NOT_A_CHOICE),
    ("/reports/quarterly", "", "rate"): _field(
        "rate", "Inte ett giltigt heltal Numret måste vara mellan 0 och 100000."
    ),
    ("/reports/quarterly.csv", "", "year"): _not_found,
    ("/reports/indicators", "", "unit"): _not_found,
    ("/reports/indicators", "", "start"): _field("start", NOT_A_DATE),
    ("/consents/statistics", "", "start"): _field("start", NOT_A_DATE),
    ("/consents/statistics", "", "end"): _field("end", NOT_A_DATE),
}


def test_report_parameters_refuse_injection_strings(
    app: Flask, world: World, manager_client: FlaskClient
) -> None:
    before = fingerprint(app)

    outcomes, expected = {}, {}
    for (path, others, parameter), expect in REPORT_PARAMETERS.items():
        query = dict(
            pair.split("=") for pair in others.format(unit=world.unit_a.id).split("&") if pair
        )
        for name, value in PAYLOADS.items():
            page = manager_client.get(path, query_string={**query, parameter: value})
            outcomes[path, parameter, name] = answer(page)
            expected[path, parameter, name] = expect(value)

    assert outcomes == expected
    assert fingerprint(app) == before


# -- Sign-in ------------------------------------------------------------------------------------


def test_sign_in_takes_injection_strings_as_unknown_usernames(app: Flask, world: World) -> None:
    """Each counts as a failed sign-in for that name (the lock-out's rows), nothing else."""
    before = fingerprint(app)
    names = {name: value for name, value in PAYLOADS.items() if name != "nul"}

    outcomes = {
        name: answer(sign_in(app.test_client(), value, "x")) for name, value in names.items()
    }

    expected: dict[str, tuple[int, object]] = {
        name: (401, "Fel användarnamn eller lösenord.") for name in names
    }
    expected["long"] = (400, {"username": "Högst 64 tecken."})
    assert outcomes == expected
    assert changed_tables(before, fingerprint(app)) == ["login_throttles"]


def test_a_nul_byte_in_the_username_gets_a_field_message(app: Flask, world: World) -> None:
    response = sign_in(app.test_client(), PAYLOADS["nul"], "x")

    assert (response.status_code, field_errors(response)) == (
        400,
        {"username": "Ta bort de osynliga styrtecknen (till exempel NUL)."},
    )
