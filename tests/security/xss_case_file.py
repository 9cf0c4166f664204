"""The case file of the stored-XSS tests: every free-text field a user can type, each with a
payload of its own, written through the real forms as the administrator, coordinator A and the
manager would (:func:`write_case_file`)."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.test import TestResponse

from coordinator.auth.roles import Role
from coordinator.consents.models import Consent, ConsentKind
from coordinator.extensions import db
from coordinator.patients.models import Patient
from tests.factories import UnitFactory, UserFactory, valid_personnummer
from tests.helpers import alert, csrf_token, field_errors, flashes, sign_in, submit
from tests.patients.support import NOW
from tests.security.xss_support import fill, form_on, forms_of, links, payload

# -- what is typed --------------------------------------------------------------------------

#: Every free-text field with its length limit. Fields the forms validate to a pattern
#: (personnummer, organisation number, ICD-10 code, the directory's phone numbers, username)
#: cannot hold markup and are left out; the e-mail fields get the characters an address may
#: hold (below).
LIMITS: dict[str, int] = {
    # the administrator
    "unit_name": 120,
    "user_full_name": 120,
    "user_title": 80,
    "user_phone": 40,
    # registration and the patient page
    "first_name": 80,
    "last_name": 80,
    "patient_phone": 40,
    "address": 300,
    "occupation": 120,
    "doctor": 120,
    "screening_reason": 1000,
    "note_heading": 120,
    "note_body": 20_000,
    # consents
    "consent_purpose": 1000,
    "consent_reference": 200,
    "consent_note": 1000,
    "consent_recipient": 200,
    "withdrawal_note": 1000,
    "disclosure_recipient": 200,
    "disclosure_summary": 2000,
    # mapping, plan, treatments
    "work_situation": 2000,
    "life_situation": 2000,
    "health": 2000,
    "obstacles": 2000,
    "resources": 2000,
    "own_goal": 2000,
    "risk_factors": 2000,
    "goal_text": 1000,
    "intermediate_goals": 1000,
    "measure_description": 500,
    "measure_actor_name": 200,
    "agreement_note": 4000,
    "follow_up_notes": 4000,
    "measure_outcome": 1000,
    "treatment_note": 500,
    "share_recipient": 200,
    # the directory and contacts
    # 200 are accepted, but a contact's journal heading ("Kontakt med <name>: <kind>") then
    # exceeds its 120 and the contact is refused: test_a_long_organisation_name_... below.
    "organisation_name": 90,
    "agency_name": 90,
    "organisation_address": 400,
    "organisation_notes": 1000,
    "person_name": 200,
    "person_role": 120,
    "contact_person_name": 200,
    "contact_person_role": 120,
    "contact_notes": 2000,
    "contact_disclosed": 2000,
    "next_step": 500,
    # a certificate file imported (a new patient)
    "imported_first_name": 80,
    "imported_last_name": 80,
    "imported_doctor": 120,
    # log follow-up
    "check_comment": 1000,
    "check_summary": 1000,
    # printed without being stored: the consent form to sign
    "print_recipient": 200,
    "print_purpose": 1000,
}

TYPED: dict[str, str] = {
    name: payload(f"q{number:02d}q", limit)
    for number, (name, limit) in enumerate(LIMITS.items(), 1)
}
#: An e-mail address may hold ``{``, ``}``, ``&`` and ``'`` (RFC 5322 atext), not ``<``.
TYPED["patient_email"] = "q90q{{7*7}}&'x@example.com"
TYPED["person_email"] = "q91q{{7*7}}&'y@example.com"

#: A second patient with the same family name: a name search then lists both.
NAMESAKE = "Andra"

#: Doctors typed as formulas, one per character a spreadsheet starts a formula with.
FORMULA_DOCTORS = (
    '=HYPERLINK("https://evil.example","Dr")',
    "+SUM(1;2)",
    "-2+3",
    "@SUM(1;2)",
)
#: A care unit named as a formula (the quarterly CSV names each unit).
FORMULA_UNIT = '=HYPERLINK("https://evil.example","Vårdcentralen")'

TODAY = NOW.date().isoformat()


#: The patient's personnummer, as the coordinator registers it and the manager searches by it.
PERSONNUMMER = valid_personnummer("19800314", 123)


# -- the case file, written through the forms -------------------------------------------------


@dataclass
class CaseFile:
    """The module's app, its users' clients, and where the written records live."""

    app: Flask
    coordinator: FlaskClient
    manager: FlaskClient
    admin: FlaskClient
    unit_id: int
    coordinator_id: int
    patient: str
    organisation: str
    person: str
    agency: str
    treatment: str
    #: Pages a form post led to that show a message naming typed text, by what was done:
    #: (the user's role, the page).
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: PDFs a form post answers (the consent form to sign, the plan as shared) or a posted page
    #: links to (the log extract).
    posted_pdfs: dict[str, bytes] = field(default_factory=dict)

    def client(self, role: str) -> FlaskClient:
        return {"coordinator": self.coordinator, "manager": self.manager,
                "admin": self.admin}[role]  # fmt: skip

    def elsewhere(self, url: str) -> bool:
        """Whether ``url`` is a page of another patient than the case file's (the others hold
        only a name or a doctor typed here, which the lists and the reports show)."""
        match = re.match(r"/patients/([0-9a-f-]{36})", url)
        return match is not None and match.group(1) != self.patient

    def endpoint(self, url: str) -> str:
        """The view answering ``url``: its GET view, or the POST one for a posted page."""
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _args = adapter.match(urlsplit(url).path, method="GET")
        except MethodNotAllowed:
            endpoint, _args = adapter.match(urlsplit(url).path, method="POST")
        return str(endpoint)


def moved(response: TestResponse, what: str) -> str:
    """Where a form post that succeeded leads (it redirects); a refusal says why."""
    refused = (alert(response), field_errors(response), flashes(response))
    assert response.status_code == 302, f"{what}: {response.status_code} {refused}"
    return str(response.headers["Location"])


def pdf_of(response: TestResponse, what: str) -> bytes:
    if response.mimetype != "application/pdf":
        refused = (alert(response), field_errors(response))
        pytest.fail(f"{what}: {response.status_code} {refused}")
    assert response.status_code == 200, what
    return response.data


def _uid_in(text: str, prefix: str) -> str:
    match = re.search(rf"{prefix}/([0-9a-f-]{{36}})", text)
    assert match, f"no {prefix}/<uid> in {text[:200]}"
    return match.group(1)


def _write_as_admin(case: CaseFile, coordinator_id: int, manager_id: int) -> None:
    """Unit A renamed; coordinator A's name, title and phone; a unit named as a formula, which
    the manager also manages."""
    admin, unit = case.admin, f"/admin/units/{case.unit_id}"
    saved = moved(fill(admin, unit, unit, {"name": TYPED["unit_name"]}), "unit")
    case.messages["unit saved"] = ("admin", admin.get(saved).text)
    moved(fill(admin, "/admin/units/new", "/admin/units/new", {"name": FORMULA_UNIT}), "unit")
    user = f"/admin/users/{coordinator_id}"
    moved(fill(admin, user, user, {"full_name": TYPED["user_full_name"],
                                    "title": TYPED["user_title"],
                                    "phone": TYPED["user_phone"]}), "user")  # fmt: skip
    match = re.search(r'href="/admin/units/(\d+)">=HYPERLINK', admin.get("/admin/units").text)
    assert match, "the unit named as a formula is listed"
    user = f"/admin/users/{manager_id}"
    units = [str(case.unit_id), match.group(1)]
    moved(fill(admin, user, user, {"units": units}), "the manager's units")


def _register(client: FlaskClient, number: str, first: str, last: str, **more: str) -> str:
    values = {"personnummer": number, "first_name": first, "last_name": last, **more}
    registered = moved(fill(client, "/patients/new", "/patients/new", values), "register")
    return _uid_in(registered, "/patients")


def _write_patient(client: FlaskClient) -> str:
    """Registration, a certificate, screening, consents, activation, a disclosure, a note."""
    uid = _register(
        client, PERSONNUMMER, TYPED["first_name"], TYPED["last_name"],
        phone=TYPED["patient_phone"], email=TYPED["patient_email"], address=TYPED["address"],
        occupation=TYPED["occupation"],
    )  # fmt: skip
    page, consent = f"/patients/{uid}", f"/patients/{uid}/consents/new"
    steps: list[tuple[str, str, dict[str, str]]] = [
        (page, f"{page}/certificates", {
            "start_on": "2026-05-01", "end_on": "2026-07-31", "degree": "100",
            "diagnosis_code": "F43.2", "doctor": TYPED["doctor"]}),
        (page, f"{page}/case/screening",
         {"decision": "offer", "reason": TYPED["screening_reason"]}),
        (consent, consent, {
            "kind": "coordination", "method": "written", "purpose": TYPED["consent_purpose"],
            "form_reference": TYPED["consent_reference"], "note": TYPED["consent_note"]}),
        (page, f"{page}/case/activate", {}),
        (consent, consent, {"kind": "employer", "recipient_name": TYPED["consent_recipient"]}),
        # Any employer: what the contact's disclosure and the plan's sharing rest on.
        (consent, consent, {"kind": "employer"}),
        (consent, consent, {"kind": "social_insurance"}),  # withdrawn below
        (f"{page}/disclosures/new", f"{page}/disclosures/new", {
            "recipient": "employer", "recipient_name": TYPED["disclosure_recipient"],
            "summary": TYPED["disclosure_summary"]}),
        (page, f"{page}/journal", {"heading": TYPED["note_heading"], "body": TYPED["note_body"]}),
    ]  # fmt: skip
    for form_page, action, values in steps:
        moved(fill(client, form_page, action, values), action)
    return uid


def _withdraw(case: CaseFile) -> None:
    """The consent to Försäkringskassan withdrawn, with the patient's words."""
    with case.app.app_context():
        patient = db.session.scalars(select(Patient).filter_by(uid=uuid.UUID(case.patient))).one()
        [withdrawn] = db.session.scalars(select(Consent.uid).filter_by(
            patient_id=patient.id, kind=ConsentKind.SOCIAL_INSURANCE)).all()  # fmt: skip
    page = f"/patients/{case.patient}/consents/{withdrawn}/withdraw"
    moved(fill(case.coordinator, page, page, {"note": TYPED["withdrawal_note"]}), "withdraw")


def _write_plan(case: CaseFile) -> None:
    """The mapping signed; a plan with a measure for the employer, agreed, followed up, the
    measure's outcome; a treatment."""
    client, base = case.coordinator, f"/patients/{case.patient}"
    sections = ("work_situation", "life_situation", "health", "obstacles", "resources",
                "own_goal", "risk_factors")  # fmt: skip
    mapping = {name: TYPED[name] for name in sections} | {"belief": "unsure"}
    moved(fill(client, f"{base}/mapping", f"{base}/mapping", mapping, press="sign"), "mapping")
    moved(fill(client, f"{base}/plan/edit", f"{base}/plan/edit", {
        "target_on": "2026-09-13", "goal_text": TYPED["goal_text"],
        "intermediate_goals": TYPED["intermediate_goals"],
        "measures-0-description": TYPED["measure_description"], "measures-0-actor": "employer",
        "measures-0-actor_name": TYPED["measure_actor_name"], "measures-0-due_on": "2026-06-18",
    }), "plan")  # fmt: skip
    moved(
        fill(
            client,
            f"{base}/plan",
            f"{base}/plan/agree",
            {"next_follow_up_on": "2026-06-29", "note": TYPED["agreement_note"]},
        ),
        "agree",
    )
    moved(
        fill(
            client,
            f"{base}/plan",
            f"{base}/plan/follow-ups",
            {"notes": TYPED["follow_up_notes"], "next_on": "2026-06-22"},
        ),
        "follow-up",
    )
    [progress] = [form for form in forms_of(client.get(f"{base}/plan").text, f"{base}/plan")
                  if "/plan/measures/" in form.action]  # fmt: skip
    [outcome] = [name for name in progress.names if name.endswith("-outcome")]
    moved(fill(client, f"{base}/plan", urlsplit(progress.action).path,
                {outcome: TYPED["measure_outcome"]}), "progress")  # fmt: skip
    moved(fill(client, f"{base}/treatments/new", f"{base}/treatments/new", {
        "kind": "kbt", "started_on": "2026-05-20", "sessions": "4",
        "note": TYPED["treatment_note"]}), "treatment")  # fmt: skip
    case.treatment = _uid_in(client.get(f"{base}/plan").text, f"{base}/treatments")


def _write_directory(case: CaseFile) -> None:
    """An employer with a contact person, made the patient's employer; a contact with it (a
    new person, a disclosure, the plan's measure, a next step this week); an agency."""
    client, uid = case.coordinator, case.patient
    agency = moved(
        fill(
            client,
            "/directory/new",
            "/directory/new",
            {"type": "social_insurance", "name": TYPED["agency_name"]},
        ),
        "agency",
    )
    case.agency = _uid_in(agency, "/directory")
    added = moved(fill(client, "/directory/new", "/directory/new", {
        "type": "employer", "name": TYPED["organisation_name"],
        "address": TYPED["organisation_address"], "phone": "036-10 10 10",
        "notes": TYPED["organisation_notes"]}), "organisation")  # fmt: skip
    case.organisation = _uid_in(added, "/directory")
    page = f"/directory/{case.organisation}"
    case.messages["organisation added"] = ("coordinator", client.get(added).text)
    moved(fill(client, page, f"{page}/persons", {
        "name": TYPED["person_name"], "role": TYPED["person_role"], "phone": "070-123 45 67",
        "email": TYPED["person_email"]}), "person")  # fmt: skip
    shown = client.get(page).text
    case.messages["person added"] = ("coordinator", shown)
    case.person = _uid_in(shown, f"{page}/persons")
    employer = f"/patients/{uid}/employer"
    moved(fill(client, f"{employer}?chosen={case.organisation}", employer,
                {"manager": uuid.UUID(case.person).hex}), "employer")  # fmt: skip
    new_contact = f"/patients/{uid}/contacts/new"
    moved(fill(client, new_contact, new_contact, {
        "organisation": uuid.UUID(case.organisation).hex,
        "new_person_name": TYPED["contact_person_name"],
        "new_person_role": TYPED["contact_person_role"], "notes": TYPED["contact_notes"],
        "is_disclosure": "y", "disclosed": TYPED["contact_disclosed"],
        "measure": _measure_choice(client.get(new_contact).text),
        "next_step": TYPED["next_step"], "next_step_on": "2026-06-17",
    }), "contact")  # fmt: skip


def _measure_choice(page: str) -> str:
    match = re.search(r'<select id="measure".*?<option value="([0-9a-f]{32})">q\d\dq', page, re.S)
    assert match, "the plan's measure is offered"
    return match.group(1)


def _print(case: CaseFile) -> None:
    """The consent form printed for signature (from the record form, nothing stored) and the
    plan shared with the employer by name (its PDF answers the post)."""
    client, base = case.coordinator, f"/patients/{case.patient}"
    form = fill(client, f"{base}/consents/new", f"{base}/consents/new", {
        "kind": "employer", "recipient_name": TYPED["print_recipient"],
        "purpose": TYPED["print_purpose"]},
        press="print_form", post_to=f"{base}/consents/form")  # fmt: skip
    case.posted_pdfs["consent form"] = pdf_of(form, "consent form")
    shared = fill(
        client,
        f"{base}/plan/share",
        f"{base}/plan/share",
        {"recipient": "employer", "recipient_name": TYPED["share_recipient"]},
    )
    case.posted_pdfs["plan as shared"] = pdf_of(shared, "share")


def _print_extract(case: CaseFile) -> None:
    """The patient's log extract as a PDF, from the link on the extract page (taken early:
    every page the crawl opens adds a row to it)."""
    page = fill(case.manager, "/log/extracts/", "/log/extracts/", {"personnummer": PERSONNUMMER})
    [url] = [url for url in links(page.text, "/log/extracts/") if url.endswith(".pdf")]
    case.posted_pdfs["log extract"] = pdf_of(case.manager.get(url), "log extract")


def _write_formula_doctors(client: FlaskClient) -> None:
    """A patient per formula doctor, each with a certificate this month."""
    for serial, doctor in enumerate(FORMULA_DOCTORS, 200):
        uid = _register(client, valid_personnummer("19700101", serial), "Formel", f"Doktor{serial}")
        moved(fill(client, f"/patients/{uid}", f"/patients/{uid}/certificates", {
            "start_on": "2026-06-01", "end_on": "2026-06-30", "degree": "50",
            "diagnosis_code": "M54.5", "doctor": doctor}), "certificate")  # fmt: skip


IMPORT_HEADER = "personnummer;förnamn;efternamn;från;till;grad;diagnos;läkare"


def upload(client: FlaskClient, content: str, *, dry_run: bool) -> TestResponse:
    """The certificate file posted on the import page (checked only, or imported)."""
    form: dict[str, object] = {
        "csrf_token": csrf_token(client, "/patients/import/"),
        "file": (io.BytesIO(content.encode()), "intyg.csv"),
    }
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/patients/import/", data=form)


def _import(client: FlaskClient) -> None:
    """A new patient and a certificate imported from a file (cells in quotes, doubled)."""
    cells = [valid_personnummer("19750505", 150), TYPED["imported_first_name"],
             TYPED["imported_last_name"], "2026-06-01", "2026-06-30", "50", "M54.5",
             TYPED["imported_doctor"]]  # fmt: skip
    line = ";".join('"{}"'.format(cell.replace('"', '""')) for cell in cells)
    moved(upload(client, f"{IMPORT_HEADER}\n{line}\n", dry_run=False), "import")


def _write_check(case: CaseFile) -> None:
    """A sample check of today's accesses: every entry justified, the first one commented,
    signed with a summary."""
    manager = case.manager
    drawn = moved(
        fill(
            manager,
            "/log/checks/new",
            "/log/checks/new",
            {"unit": str(case.unit_id), "first": TODAY, "last": TODAY},
        ),
        "draw",
    )
    page = urlsplit(drawn).path
    findings = form_on(manager.get(page).text, page, page)
    items = sorted(int(name.split("_")[1]) for name in findings.names
                   if name.startswith("finding_"))  # fmt: skip
    judged = {f"finding_{item}": "justified" for item in items}
    judged[f"comment_{items[0]}"] = TYPED["check_comment"]
    moved(fill(manager, page, page, judged), "judge")
    moved(fill(manager, page, f"{page}/sign", {"summary": TYPED["check_summary"]}), "sign")


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    moved(sign_in(client, username), f"sign-in {username}")
    return client


def write_case_file(app: Flask) -> CaseFile:
    with app.app_context():
        unit = UnitFactory(name="Vårdcentralen Norr")
        coordinator = UserFactory(username="koord.a", units=[unit])
        manager = UserFactory(username="chef", role=Role.MANAGER, units=[unit])
        UserFactory(username="admin", role=Role.ADMIN)
        unit_id, coordinator_id, manager_id = unit.id, coordinator.id, manager.id
    case = CaseFile(
        app=app, coordinator=_signed_in(app, "koord.a"), manager=_signed_in(app, "chef"),
        admin=_signed_in(app, "admin"), unit_id=unit_id, coordinator_id=coordinator_id,
        patient="", organisation="", person="", agency="", treatment="",
    )  # fmt: skip
    _write_as_admin(case, coordinator_id, manager_id)
    case.patient = _write_patient(case.coordinator)
    _withdraw(case)
    _print_extract(case)
    _register(case.coordinator, valid_personnummer("19800314", 131), NAMESAKE, TYPED["last_name"])
    _write_plan(case)
    _write_directory(case)
    _print(case)
    _write_formula_doctors(case.coordinator)
    _import(case.coordinator)
    # The manager now manages two units: choosing one names it.
    chosen = moved(submit(case.manager, "/auth/unit", {"unit": str(unit_id)}), "choose unit")
    case.messages["unit chosen"] = ("manager", case.manager.get(chosen).text)
    _write_check(case)
    return case
