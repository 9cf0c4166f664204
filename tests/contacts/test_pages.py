"""The directory and contact pages through the browser's eyes, as coordinator A working on
Lars Lind (coordination under way, employed at ACME AB): searching and keeping the directory,
logging a call (with and without a disclosure, through the consent gate), refusals with their
messages (nothing written), the patient's employer, the organisation page seen from one unit,
and next steps on the Today page. The interface is Swedish: the assertions read the
translations."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.contacts import directory, service
from coordinator.contacts.models import (
    Channel,
    ContactEvent,
    ContactKind,
    ContactPerson,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry, EntryKind
from coordinator.patients import service as patients
from coordinator.patients.models import Employment, Patient
from coordinator.plans import treatments
from coordinator.plans.models import ProviderType, TreatmentKind, TreatmentProvider
from tests.conftest import World
from tests.consents.support import give, june, logged
from tests.contacts.support import contact_input, organisation, person, register_as, written
from tests.crypto.support import actor_for
from tests.helpers import alert, csrf_token, field_errors, flashes
from tests.patients.support import activate, at, last_access_seq, register
from tests.plans.support import day

pytestmark = pytest.mark.usefixtures("frozen")

T = TypeVar("T")

EMPLOYER, SOCIAL_INSURANCE, EMPLOYMENT_SERVICE = (
    OrganisationType.EMPLOYER,
    OrganisationType.SOCIAL_INSURANCE,
    OrganisationType.EMPLOYMENT_SERVICE,
)
#: The directory's refusal of an edit someone else saved first.
STALE = (
    "Någon annan ändrade uppgiften nyss. Sidan visar nu deras ändring; kontrollera den och "
    "försök igen."
)
NOT_REIMBURSABLE, REIMBURSABLE = "Ej ersättningsberättigande", "Ersättningsberättigande"

_ROW = re.compile(
    r'<tr>\s*<td><a href="/directory/([0-9a-f-]{36})">([^<]+)</a></td>\s*'
    r"<td>([^<]*)</td>\s*<td>([^<]*)</td>"
)
_HIDDEN = r'name="{}" type="hidden" value="([^"]*)"'
_BADGE = re.compile(r'<span class="badge (?:ok|muted)">([^<]+)</span>')


# -- helpers --------------------------------------------------------------------------------


def _post(client: FlaskClient, url: str, data: dict[str, str]) -> TestResponse:
    # The token comes from the registration form, which shows (and logs) no patient data.
    return client.post(url, data={"csrf_token": csrf_token(client, "/patients/new"), **data})


def _as(app: Flask, user: Any, unit: Any, build: Callable[[Actor], T]) -> T:
    """Run ``build(actor)`` as ``user`` working in ``unit``, and commit."""
    with app.app_context():
        result = build(actor_for(user, unit))
        db.session.commit()
        return result


def _as_a(app: Flask, world: World, build: Callable[[Actor], T]) -> T:
    """Run ``build(actor)`` as coordinator A, and commit."""
    return _as(app, world.coordinator_a, world.unit_a, build)


def _patient(actor: Actor, uid: str) -> Patient:
    return patients.get_patient(actor, uuid.UUID(uid), log=False)


def _org(uid: str) -> Organisation:
    return directory.get_organisation(uuid.UUID(uid))


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _logged(app: Flask, mark: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return logged(mark)


def _written(app: Flask) -> dict[str, int]:
    with app.app_context():
        return written()


def _plus_reads(before: dict[str, int], reads: int) -> dict[str, int]:
    """``before`` after ``reads`` access-log entries and nothing else."""
    return before | {"access_log": before["access_log"] + reads}


def _unescaped(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(a, html.unescape(b)) for a, b in pairs]


def _errors(response: TestResponse) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in field_errors(response).items()}


def _alert(response: TestResponse) -> str | None:
    message = alert(response)
    return html.unescape(message) if message else None


def _rows(page: str) -> list[tuple[str, str, str]]:
    """The directory's hits as (name, kind, organisation number)."""
    return [(html.unescape(name), kind, number) for _, name, kind, number in _ROW.findall(page)]


def _options(page: str, name: str) -> tuple[list[str], list[str]]:
    """The values of a select's options, and of its selected ones."""
    match = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert match, f"no select {name}"
    options = re.findall(r'<option (selected )?value="([^"]*)">', match.group(1))
    return [value for _, value in options], [value for chosen, value in options if chosen]


def _hidden(page: str, name: str) -> str:
    match = re.search(_HIDDEN.format(re.escape(name)), page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section class="[^"]*" id="{section_id}">(.*?)</section>', page, re.DOTALL)
    assert match, f"no section {section_id}"
    return match.group(1)


def _contacts(page: str) -> list[tuple[str, str]]:
    """The contacts listed on a page, newest first, as (organisation, reimbursement badge)."""
    found = []
    for item in page.split('<li class="contact" id="contact-')[1:]:
        name = re.search(r"<strong>([^<]+)</strong>", item)
        badge = _BADGE.search(item)
        assert name, item
        assert badge, item
        found.append((html.unescape(name.group(1)), badge.group(1)))
    return found


# -- the cast -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    """Lars Lind of unit A (employed, case active) and ACME AB with Lena Ek in HR."""

    #: Lars's uid as the URLs write it, and as the access log does.
    lars: str
    lars_hex: str
    #: ACME AB's uid as the URLs write it, and as the forms send it.
    acme: str
    acme_hex: str
    #: Lena Ek's uid as the forms send it.
    lena_hex: str


@pytest.fixture
def cast(app: Flask, world: World) -> Cast:
    """Lars Lind registered today, consented to coordination, case active; ACME AB in the
    directory with Lena Ek (HR) — not yet recorded as his employer."""

    def build(me: Actor) -> Cast:
        lars = register(me, "Lind", "Lars")
        activate(me, lars)
        acme = organisation(me)
        lena = person(me, acme)
        return Cast(str(lars.uid), lars.uid.hex, str(acme.uid), acme.uid.hex, lena.uid.hex)

    return _as_a(app, world, build)


@pytest.fixture
def employed(app: Flask, world: World, cast: Cast) -> Cast:
    """The cast, with ACME AB recorded as Lars's employer and Lena Ek as his manager there."""

    def build(me: Actor) -> None:
        acme = _org(cast.acme)
        service.set_employer(me, _patient(me, cast.lars), acme, acme.persons[0])

    _as_a(app, world, build)
    return cast


def _add(app: Flask, world: World, type_: OrganisationType, name: str, **kw: Any) -> str:
    """An organisation added to the directory by coordinator A: its uid."""
    return _as_a(app, world, lambda me: str(organisation(me, type_, name, **kw).uid))


def _call(organisation: str, **fields: str) -> dict[str, str]:
    """The log form as a browser sends it for a phone call this morning that care initiated,
    with nothing disclosed (the disclosure box unticked is not sent at all)."""
    data = {
        "organisation": organisation, "person": "", "new_person_name": "",
        "new_person_role": "", "new_person_phone": "", "occurred_on": "2026-06-15",
        "occurred_time": "09:30", "channel": "phone", "kind": "information",
        "initiated_by": "care", "notes": "Ringde om anpassning av arbetet.", "disclosed": "",
        "measure": "", "next_step": "", "next_step_on": "",
    }  # fmt: skip
    return data | fields


DISCLOSING = {"is_disclosure": "y", "disclosed": "Sjukskriven på halvtid till och med juli."}


# -- the directory --------------------------------------------------------------------------


def test_the_directory_search_lists_the_matches_by_name_number_or_kind(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    _add(app, world, EMPLOYER, "ACME AB")
    _add(app, world, EMPLOYER, "Acme Bygg AB", org_number="556036-0793")
    _add(app, world, SOCIAL_INSURANCE, "Försäkringskassan, Jönköping", org_number="2021005521")

    by_name = coordinator_client.get("/directory/?q=acme")
    by_number = coordinator_client.get("/directory/?q=202100-5521")
    by_kind = coordinator_client.get("/directory/?type=employer")
    nothing = coordinator_client.get("/directory/?q=ica")

    assert by_name.status_code == 200
    assert _rows(by_name.text) == [
        ("ACME AB", "Arbetsgivare", ""),
        ("Acme Bygg AB", "Arbetsgivare", "556036-0793"),
    ]
    assert _rows(by_number.text) == [
        ("Försäkringskassan, Jönköping", "Försäkringskassan", "202100-5521")
    ]
    assert _rows(by_kind.text) == [
        ("ACME AB", "Arbetsgivare", ""),
        ("Acme Bygg AB", "Arbetsgivare", "556036-0793"),
    ]
    assert (nothing.status_code, _rows(nothing.text)) == (200, [])
    assert "Ingen organisation i katalogen matchar." in nothing.text


NEW_ORGANISATION = {
    "type": "employer", "name": "Provdalens Bygg AB", "org_number": "5567037485",
    "address": "Industrigatan 4\n123 45 Provdalen", "phone": "036-12 34 56",
    "notes": "Växeln är öppen 8–16.", "version": "",
}  # fmt: skip


def test_an_organisation_added_through_the_form_opens_its_page(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    response = _post(coordinator_client, "/directory/new", NEW_ORGANISATION)

    assert response.status_code == 302, response.text
    with app.app_context():
        added = db.session.scalars(select(Organisation)).one()
        assert (added.type, added.name, added.org_number, added.address, added.phone) == (
            EMPLOYER,
            "Provdalens Bygg AB",
            "556703-7485",
            "Industrigatan 4\n123 45 Provdalen",
            "036-12 34 56",
        )
        assert (added.notes, added.created_by_id) == (
            "Växeln är öppen 8–16.",
            world.coordinator_a.id,
        )
        url = f"/directory/{added.uid}"
    assert response.headers["Location"] == url
    page = coordinator_client.get(url)
    assert _unescaped(flashes(page)) == [("success", "Provdalens Bygg AB lades till i katalogen.")]
    assert "<h1>Provdalens Bygg AB</h1>" in page.text
    assert "<dt>Organisationsnummer</dt><dd>556703-7485</dd>" in page.text


def test_an_invalid_organisation_number_is_refused_at_the_field_and_nothing_is_written(
    app: Flask, coordinator_client: FlaskClient
) -> None:
    before = _written(app)

    response = _post(
        coordinator_client, "/directory/new", NEW_ORGANISATION | {"org_number": "556703-7486"}
    )

    assert response.status_code == 400
    assert _errors(response) == {
        "org_number": "Det är inte ett giltigt organisationsnummer; kontrollera siffrorna "
        "(t.ex. 202100-5521)."
    }
    assert 'value="Provdalens Bygg AB"' in response.text  # the form keeps what was typed
    assert _written(app) == before


def test_an_edit_of_an_organisation_someone_saved_meanwhile_is_refused(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    acme = _add(app, world, EMPLOYER, "ACME AB")
    url = f"/directory/{acme}/edit"
    seen = _hidden(coordinator_client.get(url).text, "version")

    def colleague(me: Actor) -> None:
        entry = directory.OrganisationInput(EMPLOYER, "ACME Sverige AB", phone="036-10 20 30")
        directory.update_organisation(me, _org(acme), entry, int(seen))

    _as_a(app, world, colleague)

    response = _post(coordinator_client, url, {
        "type": "employer", "name": "ACME Nordic AB", "org_number": "", "address": "",
        "phone": "", "notes": "", "version": seen,
    })  # fmt: skip

    assert seen == "1"
    assert response.status_code == 409
    assert _alert(response) == STALE
    assert _hidden(response.text, "version") == "2"  # saving again now overwrites knowingly
    with app.app_context():
        stored = _org(acme)
        assert (stored.name, stored.phone, stored.lock) == ("ACME Sverige AB", "036-10 20 30", 2)


def test_a_contact_person_is_added_on_the_organisation_page(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    acme = _add(app, world, EMPLOYER, "ACME AB")
    url = f"/directory/{acme}/persons"
    per = {"name": "Per Berg", "role": "Chef", "phone": "070-123 45 67",
           "email": "per.berg@acme.se", "version": "", "left_on": ""}  # fmt: skip

    bad = _post(coordinator_client, url, per | {"email": "per.berg@"})
    added = _post(coordinator_client, url, per)

    assert bad.status_code == 400
    assert _errors(bad) == {"email": "Skriv en giltig e-postadress."}
    assert added.status_code == 302, added.text
    assert added.headers["Location"] == f"/directory/{acme}#persons"
    page = coordinator_client.get(f"/directory/{acme}")
    assert _unescaped(flashes(page)) == [("success", "Per Berg lades till.")]
    assert "<td>Chef</td><td>070-123 45 67</td><td>per.berg@acme.se</td>" in page.text
    with app.app_context():
        stored = db.session.scalars(select(ContactPerson)).one()  # the bad one wrote nothing
        assert (stored.organisation.name, stored.name, stored.role, stored.phone, stored.email) == (
            "ACME AB", "Per Berg", "Chef", "070-123 45 67", "per.berg@acme.se",
        )  # fmt: skip


def test_a_manager_reads_the_directory_but_may_not_change_it(
    app: Flask, world: World, manager_client: FlaskClient
) -> None:
    acme = _add(app, world, EMPLOYER, "ACME AB")
    before = _written(app)

    index = manager_client.get("/directory/")
    shown = manager_client.get(f"/directory/{acme}")
    form = manager_client.get("/directory/new")
    posted = _post(manager_client, "/directory/new", NEW_ORGANISATION)
    person_posted = _post(manager_client, f"/directory/{acme}/persons", {"name": "Per Berg"})

    assert (index.status_code, _rows(index.text)) == (200, [("ACME AB", "Arbetsgivare", "")])
    assert shown.status_code == 200
    assert "<h1>ACME AB</h1>" in shown.text
    assert 'href="/directory/new' not in index.text
    assert f'href="/directory/{acme}/edit"' not in shown.text
    assert (form.status_code, posted.status_code, person_posted.status_code) == (403, 403, 403)
    assert _written(app) == before


# -- the patient page and the log form ------------------------------------------------------


def test_the_patient_page_shows_the_external_contacts_panel(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    _as_a(app, world, lambda me: service.log_contact(
        me, _patient(me, employed.lars), contact_input(_org(employed.acme))
    ))  # fmt: skip

    page = coordinator_client.get(f"/patients/{employed.lars}").text

    panel = _section(page, "contacts")
    assert "<h2>Externa kontakter</h2>" in panel
    assert _contacts(panel) == [("ACME AB", NOT_REIMBURSABLE)]
    assert f'href="/patients/{employed.lars}/contacts/new">Logga en kontakt</a>' in panel
    assert f'href="/patients/{employed.lars}/contacts">Alla kontakter</a>' in panel


def test_the_log_form_has_the_patients_employer_chosen(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    agency = uuid.UUID(_add(app, world, EMPLOYMENT_SERVICE, "Arbetsförmedlingen")).hex
    _add(app, world, EMPLOYER, "Acme Bygg AB")  # another employer: found in the directory

    page = coordinator_client.get(f"/patients/{employed.lars}/contacts/new")

    assert page.status_code == 200
    assert _options(page.text, "organisation") == (["", employed.acme_hex, agency],
                                                   [employed.acme_hex])  # fmt: skip
    assert _options(page.text, "person") == (["", employed.lena_hex], [""])
    assert "kontakter om arbete går via Arbetsförmedlingen" not in page.text


def test_an_unemployed_patients_log_form_has_arbetsformedlingen_chosen_and_says_why(
    app: Flask, world: World, coordinator_client: FlaskClient
) -> None:
    _add(app, world, EMPLOYER, "ACME AB")
    insurance = uuid.UUID(_add(app, world, SOCIAL_INSURANCE, "Försäkringskassan")).hex
    agency = uuid.UUID(_add(app, world, EMPLOYMENT_SERVICE, "Arbetsförmedlingen")).hex

    def unemployed(me: Actor) -> str:
        patient = register_as(me, "Berg", Employment.UNEMPLOYED, "Bo")
        activate(me, patient)
        return str(patient.uid)

    uid = _as_a(app, world, unemployed)

    page = coordinator_client.get(f"/patients/{uid}/contacts/new")

    assert page.status_code == 200
    # Försäkringskassan comes before Arbetsförmedlingen (by kind); no employer is offered.
    assert _options(page.text, "organisation") == (["", insurance, agency], [agency])
    assert (
        '<p class="hint">Patienten har ingen arbetsgivare att kontakta: kontakter om arbete går '
        "via Arbetsförmedlingen.</p>"
    ) in page.text


# -- logging a contact ----------------------------------------------------------------------


def test_a_call_without_a_disclosure_is_logged_and_shown_with_its_verdict(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    mark = _mark(app)

    response = _post(
        coordinator_client, f"/patients/{employed.lars}/contacts/new",
        _call(employed.acme_hex, person=employed.lena_hex),
    )  # fmt: skip

    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/patients/{employed.lars}/contacts"
    with app.app_context():
        contact = db.session.scalars(select(ContactEvent)).one()
        assert (contact.organisation.name, contact.person.name if contact.person else None) == (
            "ACME AB", "Lena Ek",
        )  # fmt: skip
        assert (contact.occurred_at, contact.channel, contact.kind, contact.initiated_by) == (
            at(day(0), 9, 30), Channel.PHONE, ContactKind.INFORMATION, Initiator.CARE,
        )  # fmt: skip
        assert (contact.notes, contact.disclosure_id, contact.recorded_by_id) == (
            "Ringde om anpassning av arbetet.", None, world.coordinator_a.id,
        )  # fmt: skip
        entry = db.session.scalars(
            select(CaseJournalEntry).where(CaseJournalEntry.kind == EntryKind.CONTACT_LOGGED)
        ).one()
        assert entry.heading == "Kontakt med ACME AB: Information"
        contact_hex = contact.uid.hex
    assert _logged(app, mark) == [
        ("read", "patient", employed.lars_hex),
        ("create", "journal_entry", str(entry.seq)),
        ("create", "contact", contact_hex),
    ]
    page = coordinator_client.get(response.headers["Location"])
    assert _unescaped(flashes(page)) == [("success", "Kontakten loggades.")]
    assert _contacts(page.text) == [("ACME AB", NOT_REIMBURSABLE)]
    assert "Inget om patienten lämnades ut." in page.text
    assert '<li class="unmet">✗ Inget samtycke' in page.text


def test_a_call_care_initiated_with_consent_in_a_treated_case_is_shown_reimbursable(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    def consent_and_treatment(me: Actor) -> None:
        lars = _patient(me, employed.lars)
        give(me, lars, ConsentKind.EMPLOYER, june(10))
        treatments.record(me, lars, treatments.TreatmentInput(
            TreatmentKind.KBT, TreatmentProvider.OWN_UNIT, ProviderType.PUBLIC, started_on=june(1),
        ))  # fmt: skip

    _as_a(app, world, consent_and_treatment)

    response = _post(
        coordinator_client, f"/patients/{employed.lars}/contacts/new", _call(employed.acme_hex)
    )

    assert response.status_code == 302, response.text
    page = coordinator_client.get(f"/patients/{employed.lars}/contacts").text
    assert _contacts(page) == [("ACME AB", REIMBURSABLE)]
    assert "unmet" not in page


def test_a_disclosure_without_consent_is_refused_and_logged_once_consent_is_recorded(
    app: Flask, coordinator_client: FlaskClient, employed: Cast
) -> None:
    url = f"/patients/{employed.lars}/contacts/new"
    call = _call(employed.acme_hex) | DISCLOSING
    before, mark = _written(app), _mark(app)

    refused = _post(coordinator_client, url, call)

    assert refused.status_code == 409
    assert _alert(refused) == (
        "Patienten har inte lämnat något samtycke för: Arbetsgivare (ACME AB)."
    )
    assert (
        "Inget loggades. Fråga patienten; om hen samtycker, registrera samtycket och logga "
        "kontakten igen — eller logga den utan utlämnandet."
    ) in html.unescape(refused.text)
    assert f'href="/patients/{employed.lars}/consents/new?kind=employer"' in refused.text
    assert "\nSjukskriven på halvtid till och med juli.</textarea>" in refused.text  # kept
    assert _logged(app, mark) == [
        ("read", "patient", employed.lars_hex),
        ("denied", "contact", "employer"),
    ]
    assert _written(app) == _plus_reads(before, 2)

    consented = _post(coordinator_client, f"/patients/{employed.lars}/consents/new", {
        "kind": "employer", "answer": "given", "method": "oral", "given_on": "2026-06-10",
        "recipient_name": "", "purpose": "", "form_reference": "", "valid_until": "", "note": "",
    })  # fmt: skip
    mark = _mark(app)
    logged_now = _post(coordinator_client, url, call)

    assert consented.status_code == 302, consented.text
    assert logged_now.status_code == 302, logged_now.text
    with app.app_context():
        contact = db.session.scalars(select(ContactEvent)).one()
        disclosure = db.session.scalars(select(Disclosure)).one()
        assert contact.disclosure_id == disclosure.id
        assert (disclosure.recipient, disclosure.recipient_name, disclosure.summary) == (
            ConsentKind.EMPLOYER, "ACME AB", "Sjukskriven på halvtid till och med juli.",
        )  # fmt: skip
        assert disclosure.disclosed_on == day(0)
        seq = db.session.scalar(
            select(CaseJournalEntry.seq).where(CaseJournalEntry.kind == EntryKind.CONTACT_LOGGED)
        )
        # One journal entry tells of the contact and what was disclosed in it.
        disclosures = select(CaseJournalEntry).where(CaseJournalEntry.kind == EntryKind.DISCLOSURE)
        assert db.session.scalars(disclosures).all() == []
        disclosure_hex, contact_hex = disclosure.uid.hex, contact.uid.hex
    assert _logged(app, mark) == [
        ("read", "patient", employed.lars_hex),
        ("disclose", "disclosure", disclosure_hex),
        ("create", "journal_entry", str(seq)),
        ("create", "contact", contact_hex),
    ]
    page = coordinator_client.get(f"/patients/{employed.lars}/contacts").text
    assert (
        '<p class="disclosed"><span class="badge warn">Utlämnad</span> '
        "Sjukskriven på halvtid till och med juli.</p>"
    ) in page


def test_a_contact_person_of_another_organisation_is_refused_at_the_field(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    def insurance_officer(me: Actor) -> str:
        office = organisation(me, SOCIAL_INSURANCE, "Försäkringskassan, Jönköping")
        return person(me, office, "Anna Handläggare", "Handläggare").uid.hex

    anna = _as_a(app, world, insurance_officer)
    before = _written(app)

    # Anna is offered (Försäkringskassan is offered), but with ACME AB as the organisation.
    response = _post(coordinator_client, f"/patients/{employed.lars}/contacts/new",
                     _call(employed.acme_hex, person=anna))  # fmt: skip

    assert response.status_code == 400
    assert _errors(response) == {
        "person": "Anna Handläggare är inte kontaktperson hos ACME AB; välj någon av dess personer."
    }
    assert _written(app) == _plus_reads(before, 1)  # the patient shown again, nothing else


def test_the_timeline_shows_one_kind_of_actor_when_asked(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    def three_contacts(me: Actor) -> None:
        lars, acme = _patient(me, employed.lars), _org(employed.acme)
        office = organisation(me, SOCIAL_INSURANCE, "Försäkringskassan, Jönköping")
        service.log_contact(me, lars, contact_input(acme, occurred_on=day(-7)))
        service.log_contact(me, lars, contact_input(
            office, occurred_on=day(-3), occurred_time=time(13, 0), channel=Channel.VIDEO,
            kind=ContactKind.RECONCILIATION_MEETING, initiated_by=Initiator.EXTERNAL,
        ))  # fmt: skip
        service.log_contact(me, lars, contact_input(acme))

    _as_a(app, world, three_contacts)
    url = f"/patients/{employed.lars}/contacts"

    every = coordinator_client.get(url).text
    employers = coordinator_client.get(f"{url}?type=employer").text

    assert [name for name, _ in _contacts(every)] == [
        "ACME AB", "Försäkringskassan, Jönköping", "ACME AB",
    ]  # fmt: skip
    assert [name for name, _ in _contacts(employers)] == ["ACME AB", "ACME AB"]
    assert f'<a href="{url}?type=employer" aria-current="page">Arbetsgivare (2)</a>' in employers
    assert f'<a href="{url}?type=social_insurance">Försäkringskassan (1)</a>' in employers


# -- the patient's employer -----------------------------------------------------------------


def test_the_employer_is_chosen_in_the_directory_and_removed(
    app: Flask, coordinator_client: FlaskClient, cast: Cast
) -> None:
    url = f"/patients/{cast.lars}/employer"

    form = coordinator_client.get(f"{url}?chosen={cast.acme}")
    saved = _post(coordinator_client, url, {"organisation": _hidden(form.text, "organisation"),
                                            "manager": cast.lena_hex})  # fmt: skip

    assert form.status_code == 200
    assert _hidden(form.text, "organisation") == cast.acme_hex
    assert _options(form.text, "manager") == (["", cast.lena_hex], [""])
    assert saved.status_code == 302, saved.text
    assert saved.headers["Location"] == f"/patients/{cast.lars}"
    page = coordinator_client.get(f"/patients/{cast.lars}")
    assert _unescaped(flashes(page)) == [("success", "Arbetsgivaren sparades.")]
    assert (
        f'<dt>Arbetsgivare</dt><dd><a href="/directory/{cast.acme}">ACME AB</a> · chef Lena Ek'
    ) in page.text

    removed = _post(coordinator_client, f"{url}/remove", {})

    assert removed.status_code == 302, removed.text
    assert removed.headers["Location"] == f"/patients/{cast.lars}"
    page = coordinator_client.get(f"/patients/{cast.lars}")
    assert _unescaped(flashes(page)) == [("success", "Arbetsgivaren togs bort.")]
    assert "<dt>Arbetsgivare</dt><dd>Inte registrerad" in page.text
    with app.app_context():
        lars = db.session.scalars(select(Patient).where(Patient.uid == uuid.UUID(cast.lars))).one()
        assert (lars.employer_id, lars.employer_manager_id) == (None, None)
        changes = db.session.scalars(
            select(CaseJournalEntry)
            .where(CaseJournalEntry.kind == EntryKind.PATIENT_UPDATED)
            .order_by(CaseJournalEntry.seq)
        ).all()
        assert [(entry.heading, entry.body) for entry in changes] == [
            ("Arbetsgivare ändrad", "Arbetsgivare: ACME AB. Chef: Lena Ek."),
            ("Arbetsgivare ändrad", "Ingen arbetsgivare registrerad."),
        ]


# -- the organisation page ------------------------------------------------------------------


def test_the_organisation_page_lists_only_the_viewers_units_patients_and_logs_them(
    app: Flask,
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    coordinator_client: FlaskClient,
    employed: Cast,
) -> None:
    def eva(me: Actor) -> str:
        patient = register(me, "Ek", "Eva")
        service.set_employer(me, patient, _org(employed.acme))
        return patient.uid.hex

    eva_hex = _as_a(app, world, eva)

    def elva_at_acme(other: Actor) -> None:  # unit B's patient works at ACME AB too
        elva = _patient(other, world.patient_b.uid)
        service.set_employer(other, elva, _org(employed.acme))

    _as(app, world.coordinator_b, world.unit_b, elva_at_acme)
    mark = _mark(app)

    page = coordinator_client.get(f"/directory/{employed.acme}").text
    seen_from_a = _logged(app, mark)
    mark = _mark(app)
    other_page = signed_in_client(world.coordinator_b).get(f"/directory/{employed.acme}").text
    seen_from_b = _logged(app, mark)

    employees = _section(page, "employees")
    assert re.findall(r'<li><a href="/patients/[0-9a-f-]+">([^<]+)</a></li>', employees) == [
        "Eva Ek", "Lars Lind",
    ]  # fmt: skip
    assert "Elvasson" not in page
    assert sorted(seen_from_a) == sorted([
        ("read", "employer", eva_hex),
        ("read", "employer", employed.lars_hex),
    ])  # fmt: skip
    assert re.findall(r'<li><a href="/patients/[0-9a-f-]+">([^<]+)</a></li>',
                      _section(other_page, "employees")) == ["Elva Elvasson"]  # fmt: skip
    assert "Lind" not in other_page
    assert seen_from_b == [("read", "employer", uuid.UUID(world.patient_b.uid).hex)]


# -- Today ------------------------------------------------------------------------------------


def test_today_lists_the_next_steps_due_within_a_week_with_the_organisation(
    app: Flask, world: World, coordinator_client: FlaskClient, employed: Cast
) -> None:
    def next_steps(me: Actor) -> None:
        lars, acme = _patient(me, employed.lars), _org(employed.acme)
        office = organisation(me, SOCIAL_INSURANCE, "Försäkringskassan, Jönköping")
        service.log_contact(me, lars, contact_input(
            acme, next_step="Ringa tillbaka om anpassningen", next_step_on=day(3),
        ))  # fmt: skip
        service.log_contact(me, lars, contact_input(
            office, occurred_time=time(9, 0), next_step="Avstämningsmöte", next_step_on=day(30),
        ))  # fmt: skip

    _as_a(app, world, next_steps)

    page = coordinator_client.get("/").text

    group = _section(page, "contact-next-steps")
    assert '<h2>Nästa steg med externa aktörer <span class="badge">1</span></h2>' in group
    items = re.findall(r'<li><a href="/patients/([0-9a-f-]+)">([^<]+)</a> '
                       r'<span class="hint">([^<]+)</span></li>', group)  # fmt: skip
    assert items == [(employed.lars, "Lind, Lars", "ACME AB, 2026-06-18")]
