"""The consent pages through the browser's eyes, as coordinator A working on Tolvan
Tolvansson: recording, withdrawing, refusals by the gate (the attempt stays logged although
the request is rolled back), who may do what, and the managers' statistics."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from coordinator.consents import service
from coordinator.consents.models import Consent, ConsentKind, ConsentWithdrawal, Disclosure
from coordinator.extensions import db
from coordinator.journal.models import CaseJournalEntry, EntryKind
from coordinator.patients import service as patients
from coordinator.patients.models import CaseStatus, CoordinationCase
from tests.conftest import World
from tests.consents.support import (
    count,
    give,
    june,
    logged,
    refuse,
    with_one_more_access_entry,
    written,
)
from tests.crypto.support import actor_for
from tests.databases import is_postgres
from tests.helpers import alert, csrf_token, field_errors, submit
from tests.patients.support import NOW, last_access_seq, register

pytestmark = pytest.mark.usefixtures("frozen")

EMPLOYER_CONSENT = {
    "kind": "employer", "answer": "given", "method": "oral", "given_on": "2026-06-10",
    "recipient_name": "", "purpose": "", "form_reference": "", "valid_until": "", "note": "",
}  # fmt: skip
_ROW = re.compile(r'<tr class="consent-row" data-kind="(\w+)" data-status="(\w+)">')


def _post(client: FlaskClient, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    # The token comes from the registration form, which shows no patient data.
    return client.post(url, data={"csrf_token": csrf_token(client, "/patients/new"), **data})


def _rows(page: str) -> list[tuple[str, str]]:
    """The consent panel's lines as (kind, status)."""
    return _ROW.findall(page)


def _panel(**statuses: str) -> list[tuple[str, str]]:
    """The panel's lines for a patient with one answer per kind at most: "none" unless given."""
    return [(kind.value, statuses.get(kind.value, "none")) for kind in ConsentKind]


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _logged(app: Flask, mark: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return logged(mark)


def _written(app: Flask) -> tuple[int, ...]:
    with app.app_context():
        return written()


@pytest.fixture
def uid(world: World) -> str:
    return world.patient_a.uid


@pytest.fixture
def hex_uid(uid: str) -> str:
    return uuid.UUID(uid).hex


def test_the_record_page_preselects_the_kind_the_link_names(
    coordinator_client: FlaskClient, uid: str
) -> None:
    selected = re.compile(r'<option selected value="(\w+)">')

    employer = coordinator_client.get(f"/patients/{uid}/consents/new?kind=employer")
    unknown = coordinator_client.get(f"/patients/{uid}/consents/new?kind=everyone")

    assert employer.status_code == 200
    assert selected.findall(employer.text) == ["employer"]
    assert (unknown.status_code, selected.findall(unknown.text)) == (200, [])


def test_a_consent_recorded_and_withdrawn_through_the_pages(
    app: Flask, world: World, coordinator_client: FlaskClient, uid: str
) -> None:
    recorded = _post(coordinator_client, f"/patients/{uid}/consents/new", EMPLOYER_CONSENT)

    assert recorded.status_code == 302, recorded.text
    assert recorded.headers["Location"] == f"/patients/{uid}#consents"
    page = coordinator_client.get(f"/patients/{uid}").text
    assert _rows(page) == _panel(employer="given")
    assert "withdrawn-consent" not in page
    with app.app_context():
        consent = db.session.scalars(select(Consent)).one()
        assert (consent.kind, consent.given_on, consent.recorded_by_id) == (
            ConsentKind.EMPLOYER,
            june(10),
            world.coordinator_a.id,
        )
        consent_uid = str(consent.uid)
    withdraw = f"/patients/{uid}/consents/{consent_uid}/withdraw"
    assert f'href="{withdraw}"' in page

    withdrawn = _post(
        coordinator_client, withdraw, {"withdrawn_on": "2026-06-14", "note": "Har bytt jobb."}
    )

    assert withdrawn.status_code == 302, withdrawn.text
    assert withdrawn.headers["Location"] == f"/patients/{uid}#consents"
    page = coordinator_client.get(f"/patients/{uid}").text
    assert _rows(page) == _panel(employer="withdrawn")
    banners = re.findall(r'<p class="consent-alert withdrawn-consent" role="status">', page)
    assert len(banners) == 1
    assert "Samtycke återkallat: Arbetsgivare" in page
    with app.app_context():
        (withdrawal,) = db.session.scalars(select(ConsentWithdrawal)).all()
        assert (withdrawal.withdrawn_on, withdrawal.note) == (june(14), "Har bytt jobb.")


def test_the_journal_reads_the_same_whatever_language_the_coordinator_uses(
    app: Flask, coordinator_client: FlaskClient, uid: str
) -> None:
    """The journal is in the installation's language (Swedish) for every user."""
    url = f"/patients/{uid}/consents/new"
    assert _post(coordinator_client, url, EMPLOYER_CONSENT).status_code == 302
    submit(coordinator_client, "/auth/language", {"language": "en", "next": "/"}, form_url="/")
    assert _post(coordinator_client, url, EMPLOYER_CONSENT).status_code == 302

    with app.app_context():
        entries = db.session.scalars(
            select(CaseJournalEntry)
            .where(CaseJournalEntry.kind == EntryKind.CONSENT_RECORDED)
            .order_by(CaseJournalEntry.seq)
        ).all()
        headings = [(entry.heading, entry.body) for entry in entries]

    expected = (
        "Samtycke lämnat: Arbetsgivare",
        "Ändamål: Kontakt med arbetsgivaren om anpassning av arbetet och en plan för återgång "
        "i arbete. Svaret lämnades 2026-06-10 (Muntligt).",
    )
    assert headings == [expected, expected]


def test_a_consent_ending_before_it_was_given_is_refused_at_the_field(
    app: Flask, coordinator_client: FlaskClient, uid: str, hex_uid: str
) -> None:
    before, mark = _written(app), _mark(app)

    response = _post(
        coordinator_client,
        f"/patients/{uid}/consents/new",
        EMPLOYER_CONSENT | {"valid_until": "2026-06-09"},
    )

    assert response.status_code == 400
    assert field_errors(response) == {
        "valid_until": "Ett samtycke kan inte upphöra innan det gavs."
    }
    assert _logged(app, mark) == [("read", "patient", hex_uid)]  # the page shown again
    assert _written(app) == with_one_more_access_entry(before)


def test_a_disclosure_without_consent_is_refused_and_the_attempt_stays_logged(
    app: Flask, coordinator_client: FlaskClient, uid: str, hex_uid: str
) -> None:
    mark = _mark(app)

    response = _post(coordinator_client, f"/patients/{uid}/disclosures/new", {
        "recipient": "employer", "recipient_name": "ICA Maxi", "disclosed_on": "2026-06-15",
        "summary": "Sjukskrivningens längd.",
    })  # fmt: skip

    assert response.status_code == 409
    assert alert(response) == (
        "Patienten har inte lämnat något samtycke för: Arbetsgivare (ICA Maxi)."
    )
    assert f'href="/patients/{uid}/consents/new?kind=employer"' in response.text
    assert _logged(app, mark) == [
        ("read", "patient", hex_uid),
        ("denied", "disclosure", "employer"),
    ]
    with app.app_context():
        assert (count(Disclosure), count(CaseJournalEntry)) == (0, 0)


def test_a_disclosure_with_consent_is_registered_through_the_page(
    app: Flask, world: World, coordinator_client: FlaskClient, uid: str, hex_uid: str
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        give(me, patients.get_patient(me, uuid.UUID(uid)), ConsentKind.EMPLOYER, june(1))
        db.session.commit()
    mark = _mark(app)

    response = _post(coordinator_client, f"/patients/{uid}/disclosures/new", {
        "recipient": "employer", "recipient_name": "ICA Maxi", "disclosed_on": "2026-06-15",
        "summary": "Sjukskrivningens längd.",
    })  # fmt: skip

    assert response.status_code == 302, response.text
    with app.app_context():
        disclosure = db.session.scalars(select(Disclosure)).one()
        assert (disclosure.recipient_name, disclosure.summary) == (
            "ICA Maxi",
            "Sjukskrivningens längd.",
        )
        seq = db.session.scalar(
            select(CaseJournalEntry.seq).where(CaseJournalEntry.kind == EntryKind.DISCLOSURE)
        )
        disclosure_uid = disclosure.uid.hex
    assert _logged(app, mark) == [
        ("read", "patient", hex_uid),
        ("create", "journal_entry", str(seq)),
        ("disclose", "disclosure", disclosure_uid),
    ]


def test_coordination_cannot_be_started_on_the_page_without_consent(
    app: Flask, world: World, coordinator_client: FlaskClient, uid: str, hex_uid: str
) -> None:
    mark = _mark(app)

    response = _post(coordinator_client, f"/patients/{uid}/case/activate", {})

    assert response.status_code == 409
    assert alert(response) == "Patienten har inte lämnat något samtycke för: Koordinering."
    assert f'href="/patients/{uid}/consents/new?kind=coordination"' in response.text
    assert _logged(app, mark) == [
        ("read", "patient", hex_uid),
        ("denied", "case_activation", "coordination"),
        # the patient page shown again with the refusal
        ("read", "certificates", None),
        ("read", "case_journal", None),
        ("read", "consents", None),
        ("read", "plan", None),
        ("read", "contacts", None),
    ]
    with app.app_context():
        case = db.session.scalars(
            select(CoordinationCase).where(CoordinationCase.patient_id == world.patient_a.id)
        ).one()
        assert (case.status, case.version) == (CaseStatus.NEW, 1)


@pytest.mark.skipif(
    not is_postgres(),
    reason="SQLite serialises writers (BEGIN IMMEDIATE): no commit can come in between",
)
def test_a_withdrawal_someone_else_commits_meanwhile_is_reported_on_the_page(
    app: Flask,
    world: World,
    coordinator_client: FlaskClient,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        consent = give(me, patients.get_patient(me, uuid.UUID(uid)), ConsentKind.EMPLOYER, june(1))
        theirs = {"uid": uuid.uuid4(), "consent_id": consent.id, "withdrawn_on": june(9),
                  "recorded_by_id": me.user.id, "recorded_at": NOW}  # fmt: skip
        url = f"/patients/{uid}/consents/{consent.uid}/withdraw"
        db.session.commit()
    check_day = service.past_day

    def meanwhile(*args: object) -> None:  # the colleague commits while this request runs
        with db.engine.connect() as other:
            other.execute(insert(ConsentWithdrawal.__table__).values(theirs))
            other.commit()
        check_day(*args)  # type: ignore[arg-type]

    token = csrf_token(coordinator_client, "/patients/new")
    monkeypatch.setattr(service, "past_day", meanwhile)
    data = {"csrf_token": token, "withdrawn_on": "2026-06-10"}
    response = coordinator_client.post(url, data=data)

    assert response.status_code == 409
    assert alert(response) == "Samtycket har nyss återkallats av någon annan."
    with app.app_context():
        assert db.session.scalars(select(ConsentWithdrawal.withdrawn_on)).all() == [june(9)]


def test_the_manager_reads_but_cannot_record_a_consent(
    app: Flask, manager_client: FlaskClient, uid: str
) -> None:
    before = _written(app)

    posted = _post(manager_client, f"/patients/{uid}/consents/new", EMPLOYER_CONSENT)

    assert posted.status_code == 403
    assert manager_client.get(f"/patients/{uid}/consents/new").status_code == 403
    assert _written(app) == before
    assert _rows(manager_client.get(f"/patients/{uid}").text) == _panel()


def test_another_units_coordinator_finds_none_of_the_consent_pages(
    app: Flask,
    world: World,
    signed_in_client: Callable[..., FlaskClient],
    uid: str,
) -> None:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        consent = give(me, patients.get_patient(me, uuid.UUID(uid)), ConsentKind.EMPLOYER, june(1))
        consent_uid = str(consent.uid)
        db.session.commit()
    other = signed_in_client(world.coordinator_b)
    before = _written(app)

    answers = {
        "new": other.get(f"/patients/{uid}/consents/new").status_code,
        "record": _post(other, f"/patients/{uid}/consents/new", EMPLOYER_CONSENT).status_code,
        "withdraw": other.get(f"/patients/{uid}/consents/{consent_uid}/withdraw").status_code,
        "withdraw-post": _post(
            other,
            f"/patients/{uid}/consents/{consent_uid}/withdraw",
            {"withdrawn_on": "2026-06-15"},
        ).status_code,
        "disclose": other.get(f"/patients/{uid}/disclosures/new").status_code,
        "summary": other.get(f"/patients/{uid}/consents/summary").status_code,
        "form": _post(other, f"/patients/{uid}/consents/form", {"kind": "employer"}).status_code,
    }

    assert answers == dict.fromkeys(answers, 404)
    assert _written(app) == before


# -- the managers' statistics -----------------------------------------------------------------

_FUNNEL_ROW = re.compile(r'<tr data-kind="(\w+)">(.*?)</tr>', re.DOTALL)
_CELL = re.compile(r'<td class="(\w+)">([^<]*)</td>')


def _funnel(page: str) -> dict[str, dict[str, str]]:
    """The statistics table: per kind, each counted cell's text."""
    return {kind: dict(_CELL.findall(body)) for kind, body in _FUNNEL_ROW.findall(page)}


@pytest.fixture
def answers(app: Flask, world: World) -> None:
    """In unit A in June: three employer answers (two given, one of them since withdrawn, and
    one refused); in May a consent for Försäkringskassan. In unit B an employer consent."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        tolvan = patients.get_patient(me, uuid.UUID(world.patient_a.uid))
        lind, berg = register(me, "Lind", "Lars"), register(me, "Berg", "Bo")
        give(me, tolvan, ConsentKind.EMPLOYER, june(2), name="ICA Maxi")
        withdrawn = give(me, lind, ConsentKind.EMPLOYER, june(5))
        service.withdraw(me, lind, withdrawn, june(10), None)
        refuse(me, berg, ConsentKind.EMPLOYER, june(8))
        give(me, tolvan, ConsentKind.SOCIAL_INSURANCE, date(2026, 5, 20))
        other = actor_for(world.coordinator_b, world.unit_b)
        elva = patients.get_patient(other, uuid.UUID(world.patient_b.uid))
        give(other, elva, ConsentKind.EMPLOYER, june(3))
        db.session.commit()


def test_the_statistics_count_the_units_answers_in_the_period(
    manager_client: FlaskClient, answers: None
) -> None:
    response = manager_client.get("/consents/statistics?start=2026-06-01&end=2026-06-15")

    assert response.status_code == 200
    funnel = _funnel(response.text)
    assert list(funnel) == [kind.value for kind in ConsentKind]
    assert funnel["employer"] == {
        "asked": "3", "given": "2 (67 %)", "refused": "1 (33 %)", "withdrawn": "1 (50 % av givna)",
    }  # fmt: skip
    nothing = {"asked": "0", "given": "0", "refused": "0", "withdrawn": "0"}
    assert {kind: cells for kind, cells in funnel.items() if kind != "employer"} == {
        kind.value: nothing for kind in ConsentKind if kind is not ConsentKind.EMPLOYER
    }


def test_the_period_decides_which_answers_count(manager_client: FlaskClient, answers: None) -> None:
    may = _funnel(manager_client.get("/consents/statistics?start=2026-05-01&end=2026-06-04").text)

    assert may["employer"] == {
        "asked": "1", "given": "1 (100 %)", "refused": "0 (0 %)", "withdrawn": "0 (0 % av givna)",
    }  # fmt: skip
    assert may["social_insurance"] == {
        "asked": "1", "given": "1 (100 %)", "refused": "0 (0 %)", "withdrawn": "0 (0 % av givna)",
    }  # fmt: skip
    year = _funnel(manager_client.get("/consents/statistics").text)  # 1 January to today
    assert [year[kind]["asked"] for kind in ("employer", "social_insurance")] == ["3", "1"]


def test_a_period_ending_before_it_starts_is_refused(
    manager_client: FlaskClient, answers: None
) -> None:
    response = manager_client.get("/consents/statistics?start=2026-06-15&end=2026-06-01")

    assert response.status_code == 400
    assert field_errors(response) == {"end": "Slutet ligger före början."}
    assert _funnel(response.text) == {}
