"""Stored XSS: every free-text field a user can type is stored through its real form, then read
back on every page, PDF and CSV that shows it — and never becomes markup, a link, an image or a
spreadsheet formula.

One case file is written once for the module, through the forms, as the administrator,
coordinator A and the manager would, with the clock stopped. Each field holds a payload of its
own (:func:`tests.security.xss_support.payload`): a script, an attribute break-out with an event
handler, a textarea break-out, ReportLab's paragraph markup (bold, a link, an image of a local
file, entities), a ``javascript:`` URL and ``{{7*7}}``. Then every page each user reaches by
following links is opened (and the pages a form post answers: searches, the log extract), and

* no page holds a payload's markup as markup, nor ``{{7*7}}`` evaluated to 49;
* each field's payload is shown, escaped, on the pages that read it back, and the edit forms
  give it back unchanged in their fields;
* messages naming typed text (flashes, refusals, "saved meanwhile by") escape it;
* the PDFs show each payload as typed, with no link annotation and no image;
* the CSVs prefix with ``'`` a typed value a spreadsheet would read as a formula.

Nothing here is mocked: real database, real encryption, the app through the test client.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.test import TestResponse

from coordinator.extensions import db
from coordinator.logreview import chainstatus
from tests.conftest import World, make_app
from tests.databases import DatabaseFactory
from tests.helpers import submit
from tests.journal.support import sql, without_guards, write_history
from tests.patients.support import NOW
from tests.security.xss_case_file import (
    FORMULA_DOCTORS,
    FORMULA_UNIT,
    IMPORT_HEADER,
    PERSONNUMMER,
    TYPED,
    CaseFile,
    moved,
    pdf_of,
    upload,
    write_case_file,
)
from tests.security.xss_support import (
    Crawl,
    Pdf,
    crawl,
    escaped,
    fill,
    forms_of,
    links,
    payload,
    raw_markup,
    read_pdf,
)


@pytest.fixture(scope="module")
def case_file(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CaseFile]:
    """The module's case file, written through the forms at NOW; the clock stays there for
    the module's tests (built once: about a hundred requests)."""
    url = databases.copy_of_template()
    traveller = time_machine.travel(NOW, tick=False)
    traveller.start()
    app = make_app(url, tmp_path_factory.mktemp("xss-instance"))
    try:
        yield write_case_file(app)
    finally:
        traveller.stop()
        chainstatus.wait_all()
        with app.app_context():
            db.engine.dispose()
        databases.drop(url)


# -- every page, by following links ----------------------------------------------------------

ROLES = ("coordinator", "manager", "admin")


def _posted_pages(case: CaseFile) -> dict[str, dict[str, str]]:
    """Pages that answer a form post (a name or personnummer is never put in a URL): the name
    search's list, the manager's log search and the patient's log extract."""
    found = fill(case.coordinator, "/patients/", "/patients/search", {"query": TYPED["last_name"]})
    searched = fill(case.manager, "/log/search", "/log/search",
                    {"unit": str(case.unit_id), "personnummer": PERSONNUMMER})  # fmt: skip
    extract = fill(case.manager, "/log/extracts/", "/log/extracts/",
                   {"personnummer": PERSONNUMMER})  # fmt: skip
    for response in (found, searched, extract):
        assert response.status_code == 200, (response.request.path, response.status_code)
    return {
        "coordinator": {"/patients/search": found.text},
        "manager": {"/log/search": searched.text, "/log/extracts/": extract.text},
        "admin": {},
    }


@pytest.fixture(scope="module")
def crawled(case_file: CaseFile) -> dict[str, Crawl]:
    """Every page each user reaches from the start page and the posted pages by links."""
    posted = _posted_pages(case_file)
    result = {}
    for role in ROLES:
        client = case_file.client(role)
        starts = {"/": client.get("/").text, **posted[role]}
        result[role] = crawl(client, starts, case_file.endpoint, case_file.elsewhere)
    return result


def _shown_on(crawled: dict[str, Crawl], case: CaseFile, value: str) -> set[str]:
    """The pages showing ``value`` escaped, as "role view"."""
    return {
        f"{role} {case.endpoint(url)}"
        for role, found in crawled.items()
        for url, page in found.pages.items()
        if escaped(value) in page
    }


#: Views that open no page to crawl: sign-in and its code step (before anyone is signed in:
#: nothing typed is shown), and the indexes of the reports and the administration (redirects).
NOT_CRAWLED = {"static", "auth.login", "auth.verify_code", "reports.index", "admin.index"}
#: Views answering with a file: opened by the PDF and CSV tests below.
FILE_VIEWS = {
    "consents.print_summary", "plans.print_plan", "log_extracts.pdf", "reports.quarter_csv",
    "reports.quarter_pdf", "reports.sick_leave_csv",
}  # fmt: skip


def test_the_crawl_opens_every_page_and_finds_every_file_of_the_app(
    case_file: CaseFile, crawled: dict[str, Crawl]
) -> None:
    """A new page is crawled as soon as a link leads to it; one no link reaches fails here."""
    views = {rule.endpoint for rule in case_file.app.url_map.iter_rules()
             if "GET" in (rule.methods or ())}  # fmt: skip
    opened = set().union(*(found.endpoints for found in crawled.values()))
    files = {case_file.endpoint(url) for found in crawled.values() for url in found.files}

    assert views - NOT_CRAWLED - FILE_VIEWS - opened == set()
    assert files == FILE_VIEWS


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_typed_markup_as_markup(
    case_file: CaseFile, crawled: dict[str, Crawl], role: str
) -> None:
    pages = dict(crawled[role].pages)
    pages |= {f"after: {what}": page for what, (who, page) in case_file.messages.items()
              if who == role}  # fmt: skip

    assert {url: raw_markup(page) for url, page in pages.items() if raw_markup(page)} == {}
    assert len(pages) > 10


#: Where each field is read back (role and view), escaped. The pages of the patient show the
#: case journal too, which repeats much of what is recorded.
SHOWN_ON: dict[str, set[str]] = {
    "unit_name": {"admin admin.units", "admin admin.unit_edit", "admin admin.user_edit",
                  "coordinator home.index", "coordinator patients.show", "manager home.index",
                  "manager auth.choose_unit", "manager reports.quarter", "manager logreview.check",
                  "manager log_extracts.index", "manager logreview.search_log"},
    "user_full_name": {"admin admin.users", "admin admin.user_edit", "coordinator home.index",
                       "coordinator patients.show", "coordinator patients.index",
                       "manager reports.caseload", "manager logreview.search_log",
                       "manager log_extracts.index", "manager logreview.check"},
    "user_title": {"admin admin.users", "admin admin.user_edit", "manager log_extracts.index"},
    "user_phone": {"admin admin.user_edit"},
    "first_name": {"coordinator home.index", "coordinator patients.index",
                   "coordinator patients.search", "coordinator patients.show",
                   "coordinator patients.edit", "coordinator plans.show",
                   "coordinator contacts.contacts", "coordinator contacts.directory_show",
                   "manager patients.index", "manager reports.caseload_patients",
                   "manager logreview.search_log", "manager log_extracts.index",
                   "manager logreview.check"},
    "patient_phone": {"coordinator patients.show", "coordinator patients.edit",
                      "manager patients.show"},
    "doctor": {"coordinator patients.show", "manager patients.show", "manager reports.sick_leave"},
    "screening_reason": {"coordinator patients.show", "manager patients.show"},
    "note_heading": {"coordinator patients.show", "manager patients.show"},
    "consent_purpose": {"coordinator patients.show", "coordinator consents.withdraw",
                        "manager patients.show"},
    "work_situation": {"coordinator plans.show_mapping", "coordinator plans.edit_mapping",
                       "coordinator patients.show", "manager plans.show_mapping"},
    "goal_text": {"coordinator plans.show", "coordinator plans.version", "coordinator plans.edit",
                  "manager plans.show", "manager plans.version"},
    "measure_description": {"coordinator plans.show", "coordinator plans.version",
                            "coordinator plans.edit", "coordinator contacts.new_contact",
                            "manager plans.show"},
    "agreement_note": {"coordinator plans.version", "manager plans.version"},
    "follow_up_notes": {"coordinator plans.show", "manager plans.show"},
    "measure_outcome": {"coordinator plans.show", "coordinator plans.version",
                        "manager plans.show"},
    "treatment_note": {"coordinator plans.show", "coordinator plans.edit_treatment",
                       "manager plans.show"},
    "share_recipient": {"coordinator patients.show", "manager patients.show"},
    "organisation_name": {"coordinator home.index", "coordinator patients.show",
                          "coordinator contacts.directory_index",
                          "coordinator contacts.directory_show",
                          "coordinator contacts.directory_edit", "coordinator contacts.contacts",
                          "coordinator contacts.employer", "coordinator contacts.new_contact",
                          "manager contacts.directory_index", "manager contacts.directory_show"},
    "agency_name": {"coordinator contacts.directory_index", "coordinator contacts.directory_show",
                    "coordinator contacts.new_contact", "manager contacts.directory_index",
                    "manager contacts.directory_show"},
    "organisation_address": {"coordinator contacts.directory_show",
                             "coordinator contacts.directory_edit",
                             "manager contacts.directory_show"},
    "person_name": {"coordinator patients.show", "coordinator contacts.directory_show",
                    "coordinator contacts.directory_edit_person", "coordinator contacts.employer",
                    "coordinator contacts.new_contact", "manager contacts.directory_show"},
    "person_role": {"coordinator contacts.directory_show",
                    "coordinator contacts.directory_edit_person", "coordinator contacts.employer",
                    "coordinator contacts.new_contact", "manager contacts.directory_show"},
    "contact_person_name": {"coordinator contacts.contacts", "coordinator contacts.directory_show",
                            "manager contacts.contacts"},
    "contact_notes": {"coordinator contacts.contacts", "coordinator patients.show",
                      "manager contacts.contacts"},
    "check_comment": {"manager logreview.check"},
    "check_summary": {"manager logreview.check"},
    # The imported patient has no coordinator yet: in the unit's list, not in coordinator A's.
    # Their own pages are not crawled (they are the case file's patient's pages).
    "imported_first_name": {"manager patients.index"},
    "imported_doctor": {"manager reports.sick_leave"},
}  # fmt: skip
# Fields read back where a sibling is: the same pages.
for _name, _like in {
    "last_name": "first_name", "address": "patient_phone", "occupation": "patient_phone",
    "patient_email": "patient_phone", "note_body": "note_heading",
    "consent_reference": "screening_reason", "consent_note": "screening_reason",
    "consent_recipient": "screening_reason", "withdrawal_note": "screening_reason",
    "disclosure_recipient": "screening_reason", "disclosure_summary": "screening_reason",
    "life_situation": "work_situation", "health": "work_situation",
    "obstacles": "work_situation", "resources": "work_situation", "own_goal": "work_situation",
    "risk_factors": "work_situation", "intermediate_goals": "goal_text",
    "measure_actor_name": "goal_text", "organisation_notes": "organisation_address",
    "person_email": "organisation_address", "contact_person_role": "contact_person_name",
    "contact_disclosed": "contact_notes", "next_step": "contact_notes",
    "imported_last_name": "imported_first_name",
}.items():  # fmt: skip
    SHOWN_ON[_name] = SHOWN_ON[_like]
SHOWN_ON["person_email"] = {"coordinator contacts.directory_show",
                            "coordinator contacts.directory_edit_person",
                            "manager contacts.directory_show"}  # fmt: skip
#: Printed only (the PDF tests).
PRINTED_ONLY = {"print_recipient", "print_purpose"}


def test_every_field_typed_has_pages_that_read_it_back() -> None:
    assert set(TYPED) == set(SHOWN_ON) | PRINTED_ONLY


@pytest.mark.parametrize("name", sorted(SHOWN_ON))
def test_a_field_is_shown_escaped_where_it_is_read(
    case_file: CaseFile, crawled: dict[str, Crawl], name: str
) -> None:
    assert SHOWN_ON[name] - _shown_on(crawled, case_file, TYPED[name]) == set()


#: The edit forms and the fields they give back: (role, page, {field: typed}).
EDIT_FORMS: dict[str, tuple[str, str, dict[str, str]]] = {
    "patient": ("coordinator", "/patients/{patient}/edit", {
        name: TYPED[key] for name, key in (
            ("first_name", "first_name"), ("last_name", "last_name"),
            ("phone", "patient_phone"), ("email", "patient_email"), ("address", "address"),
            ("occupation", "occupation"))}),
    "mapping (a new version of the signed one)": ("coordinator", "/patients/{patient}/mapping", {
        name: TYPED[name] for name in (
            "work_situation", "life_situation", "health", "obstacles", "resources", "own_goal",
            "risk_factors")}),
    "plan (a new version of the agreed one)": ("coordinator", "/patients/{patient}/plan/edit", {
        "goal_text": TYPED["goal_text"], "intermediate_goals": TYPED["intermediate_goals"],
        "measures-0-description": TYPED["measure_description"],
        "measures-0-actor_name": TYPED["measure_actor_name"]}),
    "treatment": ("coordinator", "/patients/{patient}/treatments/{treatment}",
                  {"note": TYPED["treatment_note"]}),
    "organisation": ("coordinator", "/directory/{organisation}/edit", {
        "name": TYPED["organisation_name"], "address": TYPED["organisation_address"],
        "notes": TYPED["organisation_notes"]}),
    "person": ("coordinator", "/directory/{organisation}/persons/{person}", {
        "name": TYPED["person_name"], "role": TYPED["person_role"],
        "email": TYPED["person_email"]}),
    "user": ("admin", "/admin/users/{coordinator_id}", {
        "full_name": TYPED["user_full_name"], "title": TYPED["user_title"],
        "phone": TYPED["user_phone"]}),
    "unit": ("admin", "/admin/units/{unit_id}", {"name": TYPED["unit_name"]}),
}  # fmt: skip


@pytest.mark.parametrize("form", sorted(EDIT_FORMS))
def test_an_edit_form_gives_the_stored_text_back_unchanged(case_file: CaseFile, form: str) -> None:
    """Read as a browser reads the form: a value that broke out of its attribute or textarea
    would come back cut short."""
    role, template, expected = EDIT_FORMS[form]
    url = template.format(**vars(case_file))
    page = case_file.client(role).get(url)
    assert page.status_code == 200
    [shown] = [f for f in forms_of(page.text, url) if urlsplit(f.action).path == urlsplit(url).path]
    values = dict(shown.fields)

    assert {name: values.get(name) for name in expected} == expected


@pytest.mark.parametrize(
    ("what", "role", "typed"),
    [
        ("unit saved", "admin", "unit_name"),
        ("unit chosen", "manager", "unit_name"),
        ("organisation added", "coordinator", "organisation_name"),
        ("person added", "coordinator", "person_name"),
    ],
)
def test_a_message_naming_typed_text_escapes_it(
    case_file: CaseFile, what: str, role: str, typed: str
) -> None:
    who, page = case_file.messages[what]
    # The flash as markup (the helpers' pattern stops at the first "<").
    [(kind, message)] = re.findall(r'class="flash flash-(\w+)" role="status">(.*?)</', page, re.S)

    assert (who, kind) == (role, "success")
    assert escaped(TYPED[typed]) in message
    assert raw_markup(page) == []


def test_a_lazy_message_with_typed_text_is_escaped_however_a_template_shows_it(
    case_file: CaseFile,
) -> None:
    """Services raise their messages as lazy text (``_l``), formatted with names: shown as it
    is, joined (a field's errors) or inside a translated sentence, it is escaped once."""
    template = "{{ m }}|{{ [m]|join(' ') }}|{{ _('%(x)s!', x=m) }}|{{ m|e }}"
    with case_file.app.test_request_context():
        message = _l("%(name)s is already in the directory.", name=TYPED["organisation_name"])
        shown = case_file.app.jinja_env.from_string(template).render(m=message)
        text = escaped(str(message))

    assert shown == f"{text}|{text}|{text}!|{text}"


def _refuse(case: CaseFile, refusal: str) -> TestResponse:
    """Post what the service refuses with a message naming stored names."""
    client, patient = case.coordinator, case.patient
    if refusal == "an organisation already in the directory":
        return fill(client, "/directory/new", "/directory/new",
                    {"type": "employer", "name": TYPED["organisation_name"]})  # fmt: skip
    if refusal == "an agency as the patient's employer":
        employer = f"/patients/{patient}/employer"
        return fill(client, f"{employer}?chosen={case.agency}", employer, {})
    new_contact = f"/patients/{patient}/contacts/new"  # with the employer's person at the agency
    return fill(
        client,
        new_contact,
        new_contact,
        {"organisation": uuid.UUID(case.agency).hex, "person": uuid.UUID(case.person).hex},
    )


#: Each refusal: its status, the field it is said at, the stored names it says.
REFUSALS = {
    "an organisation already in the directory": (409, "name", ("organisation_name",)),
    "an agency as the patient's employer": (400, "organisation", ("agency_name",)),
    "a contact person of another organisation": (400, "person", ("person_name", "agency_name")),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refusal_naming_stored_names_escapes_them(case_file: CaseFile, refusal: str) -> None:
    """The service's message is lazy text with the names in it: it must be escaped like any
    text (flask-babel's lazy strings tell Jinja they are markup)."""
    status, name, named = REFUSALS[refusal]
    refused = _refuse(case_file, refusal)
    message = _field_error(refused.text, name)

    assert refused.status_code == status
    assert [typed for typed in named if escaped(TYPED[typed]) not in message] == []
    assert raw_markup(refused.text) == []


def _field_error(page: str, name: str) -> str:
    """The error said at field ``name`` (hidden fields say theirs in an alert above)."""
    match = re.search(rf'class="error" id="{name}-error">(.*?)</p>', page, re.S)
    match = match or re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert match, f"no error at {name}"
    return match.group(1)


@pytest.mark.parametrize(
    ("page", "shown"),
    [
        ("/patients/{patient}/plan/edit", ("goal_text", "intermediate_goals",
                                           "measure_description", "measure_actor_name")),
        ("/patients/{patient}/mapping", ("work_situation", "risk_factors")),
    ],
)  # fmt: skip
def test_what_someone_saved_meanwhile_is_shown_escaped(
    case_file: CaseFile, page: str, shown: tuple[str, ...]
) -> None:
    """A save on an outdated lock is refused; the page shows what is stored beside the input."""
    url = page.format(patient=case_file.patient)
    refused = fill(case_file.coordinator, url, url, {"version": "9999"})
    other = re.search(r'<section class="other-change" id="other-change">(.*?)</section>',
                      refused.text, re.S)  # fmt: skip

    assert refused.status_code == 409
    assert other is not None
    assert [name for name in shown if escaped(TYPED[name]) not in other.group(1)] == []
    assert raw_markup(refused.text) == []


def test_a_refused_certificate_file_names_its_unknown_column_escaped(case_file: CaseFile) -> None:
    column = payload("q96q", 200)
    quoted = '"{}"'.format(column.replace('"', '""'))  # it holds ; and "
    refused = upload(case_file.coordinator, f"{IMPORT_HEADER};{quoted}\n", dry_run=True)
    [error] = re.findall(r'<ul id="import-errors">\s*<li>(.*?)</li>', refused.text, re.S)

    assert refused.status_code == 400
    assert escaped(f'"{column}"') in error
    assert raw_markup(refused.text) == []


# -- PDFs ---------------------------------------------------------------------------------------

#: What each document shows of what was typed.
PRINTED: dict[str, tuple[str, ...]] = {
    "consent form": ("print_recipient", "print_purpose", "first_name", "last_name", "unit_name",
                     "user_full_name"),
    "consent summary": ("consent_recipient", "consent_purpose", "disclosure_recipient",
                        "disclosure_summary", "share_recipient", "first_name", "last_name",
                        "unit_name", "user_full_name"),
    "plan": ("goal_text", "intermediate_goals", "measure_description", "measure_actor_name",
             "first_name", "last_name", "unit_name", "user_full_name", "user_title",
             "user_phone"),
    "plan as shared": ("share_recipient", "goal_text", "measure_description", "first_name",
                       "unit_name", "user_full_name"),
    "log extract": ("first_name", "last_name", "unit_name", "user_full_name", "user_title"),
    "quarterly report": ("unit_name",),
}  # fmt: skip
#: The linked documents: (who opens them, the link's path).
LINKED = {
    "consent summary": ("coordinator", re.compile(r"/consents/summary$")),
    "plan": ("coordinator", re.compile(r"/plan/print$")),
    "quarterly report": ("manager", re.compile(r"/reports/quarterly\.pdf$")),
}


@pytest.fixture(scope="module")
def printed(case_file: CaseFile, crawled: dict[str, Crawl]) -> dict[str, Pdf]:
    """Every document, as its link or form gives it."""
    documents = {name: read_pdf(data) for name, data in case_file.posted_pdfs.items()}
    for name, (role, path) in LINKED.items():
        [url] = [url for url in crawled[role].files if path.search(urlsplit(url).path)]
        documents[name] = read_pdf(pdf_of(case_file.client(role).get(url), name))
    return documents


@pytest.mark.parametrize("document", sorted(PRINTED))
def test_a_pdf_prints_typed_markup_as_text(printed: dict[str, Pdf], document: str) -> None:
    """ReportLab's paragraphs read a markup of their own (<b>, <a href>, <img src>, <font>,
    <link>, entities): typed into a field, it must print as typed — no bold, no link, no
    image of a file on the server."""
    shown = printed[document]

    assert [name for name in PRINTED[document] if not shown.shows(TYPED[name])] == []
    assert (shown.uris, shown.images) == ([], 0)


# -- CSVs ---------------------------------------------------------------------------------------


def _csv(case: CaseFile, page: str, path: str, **query: str) -> list[list[str]]:
    """The rows of the CSV that the manager's report ``page`` links to at ``path`` (the link
    with ``query`` in it: the statistics page has one per table)."""
    [url] = [url for url in links(case.manager.get(page).text, page)
             if urlsplit(url).path == path
             and query.items() <= dict(parse_qsl(urlsplit(url).query)).items()]  # fmt: skip
    response = case.manager.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff")), delimiter=";"))


def test_doctors_typed_as_formulas_reach_the_statistics_csv_as_text(case_file: CaseFile) -> None:
    """The issuing doctor is typed; one starting with =, +, - or @ is prefixed with '."""
    rows = _csv(case_file, "/reports/statistics", "/reports/statistics.csv", table="doctor")

    assert {row[0] for row in rows[1:]} == {
        TYPED["doctor"], TYPED["imported_doctor"], *(f"'{doctor}" for doctor in FORMULA_DOCTORS)
    }  # fmt: skip


def test_a_unit_named_as_a_formula_reaches_the_quarterly_csv_as_text(case_file: CaseFile) -> None:
    """All the manager's units: their own, named with markup, and one named as a formula."""
    rows = _csv(case_file, "/reports/quarterly?unit=all", "/reports/quarterly.csv")

    assert {row[1] for row in rows[1:] if row[0] == "Per enhet"} == {
        TYPED["unit_name"], f"'{FORMULA_UNIT}"}  # fmt: skip


# -- what marks text safe ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
#: The one place markup is built in Python: the QR code of the two-step sign-in, an SVG that
#: segno draws from the TOTP URI (issuer and username: letters, digits, ``._-`` only).
MARKUP_ALLOWED = {("coordinator/auth/views.py", "qr = Markup(segno.make(uri")}
_UNSAFE = re.compile(r"\|\s*safe\b|Markup\(|autoescape\s+false|render_template_string|"
                     r"jinja2\.Template\(|\.unescape\(")  # fmt: skip


def test_no_template_or_module_marks_text_as_safe_markup() -> None:
    """Autoescaping is what keeps typed text text: nothing may switch it off or mark a string
    as markup, except the QR code above."""
    found = set()
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("coordinator/**/*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if _UNSAFE.search(line):
                relative = str(path.relative_to(ROOT))
                found.add(
                    (
                        relative,
                        next(
                            (
                                allowed
                                for r, allowed in MARKUP_ALLOWED
                                if r == relative and allowed in line
                            ),
                            line.strip(),
                        ),
                    )
                )
    assert found == MARKUP_ALLOWED


# -- the chain alarm's acknowledgement ------------------------------------------------------------


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_an_acknowledged_chain_alarm_shows_the_comment_escaped(
    frozen: object, app: Flask, world: World, manager_client: FlaskClient
) -> None:
    """The one free-text field outside the case file: it needs a broken chain (an access-log
    entry rewritten behind the guards' back), so it has an app of its own."""
    with app.app_context():
        write_history(world)
        without_guards("access_log")
        sql("UPDATE access_log SET request_id = 'rewritten' WHERE seq = 3")
    comment = payload("q95q", 1000)
    moved(submit(manager_client, "/log/chain/verify", {}, form_url="/log/chain"), "verify")
    chainstatus.wait_all()
    moved(fill(manager_client, "/log/chain", f"/log/chain/{_run_id(manager_client)}/acknowledge",
                {"comment": comment}), "acknowledge")  # fmt: skip
    page = manager_client.get("/log/chain").text

    assert escaped(comment) in page
    assert raw_markup(page) == []


def _run_id(client: FlaskClient) -> int:
    match = re.search(r'action="/log/chain/(\d+)/acknowledge"', client.get("/log/chain").text)
    assert match, "the alarm offers an acknowledgement"
    return int(match.group(1))


# -- found on the way ------------------------------------------------------------------------------


def test_a_contact_with_an_organisation_of_a_long_name_can_be_logged(
    frozen: object, app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    name = "Region Jönköpings län, Regionens hus, " + "Hälso- och sjukvårdsförvaltningen " * 4
    assert len(name) <= 200
    where = moved(fill(coordinator_client, "/directory/new", "/directory/new",
                       {"type": "employer", "name": name}), "organisation")  # fmt: skip
    organisation = uuid.UUID(where.rsplit("/", 1)[1]).hex
    new_contact = f"/patients/{world.patient_a.uid}/contacts/new"
    page = coordinator_client.get(f"{new_contact}?organisation={organisation}").text
    assert f'<option selected value="{organisation}">Region Jönköpings' in page

    logged = fill(
        coordinator_client,
        f"{new_contact}?organisation={organisation}",
        new_contact,
        {"organisation": organisation, "notes": "Samtal om arbetsträning."},
    )

    assert moved(logged, "contact") == f"/patients/{world.patient_a.uid}/contacts"
    with app.app_context():
        from coordinator.journal.models import CaseJournalEntry

        latest = db.session.scalars(
            select(CaseJournalEntry).order_by(CaseJournalEntry.seq.desc()).limit(1)
        ).one()
        heading = latest.heading
    # The heading the system writes is cut to the journal's 120 characters, not refused.
    assert heading == f"Kontakt med {name}"[:119].rstrip() + "…"
