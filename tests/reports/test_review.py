"""The caseload review: per coordinator of unit A, the figures of June 2026 (and May) from a
small caseload built through the services with the clock moved to each day things happened;
the drill-down to the patients behind a figure (each listed patient logged as read); and
reassigning cases from there, with a journal entry per case.

The caseload (unit A; coordinator A is "Testperson …", Kim Lund is a second coordinator, so
Kim's row comes first by name; TODAY is Monday 15 June 2026):

=======  ===========  ===========================================================  ==========
patient  coordinator  what happened                                                June cells
=======  ===========  ===========================================================  ==========
Alm      A            registered and activated 5 May; plan agreed 5 May, next      open,
                      follow-up 20 May (overdue); employer call 6 May (a May       active,
                      contact), employer call 3 Jun, reconciliation meeting with   follow-up
                      Försäkringskassan 10 Jun                                     overdue
Bok      A            registered and activated 2 Jun, no plan; call with           open, active,
                      Arbetsförmedlingen 12 Jun                                    new, no plan
Ceder    A            registered and activated 5 May; plan agreed today with a     open, active,
                      measure due 10 Jun (overdue); employer consent until 25 Jun  measures
                      renewed on 14 Jun until 31 Dec (so not ending)               overdue
Dal      A            registered 5 May, still new; employer consent until 20 Jun   open, consent
                                                                                   ending
Ek       A            registered 20 Apr, closed 10 Jun: returned full time         closed
Fur      A            registered 20 Apr, closed 20 May: returned part time         –
Gran     Kim          registered by A 5 May, offered coordination, handed to Kim;  open
                      three-party meeting with the employer 11 Jun (logged by Kim)
Holm     Kim          registered by Kim 5 Jun, declined on 8 Jun (closes the case)  new, closed
Ilm      nobody       registered 5 Jun without a coordinator                       open, new
Tolvan   nobody       the world's patient of unit A, case opened today             open, new
=======  ===========  ===========================================================  ==========
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.consents.models import ConsentKind
from coordinator.contacts import service as contacts
from coordinator.contacts.models import Channel, ContactKind, OrganisationType
from coordinator.errors import Forbidden, InvalidField, NotFound
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, CaseJournalEntry, EntryKind
from coordinator.patients import cases
from coordinator.patients.models import (
    CaseOutcome,
    CaseStatus,
    CoordinationCase,
    Patient,
    ScreeningDecision,
)
from coordinator.plans import service as plans
from coordinator.plans.models import AgreementMethod
from coordinator.reports.review import (
    CoordinatorRow,
    ReviewMeasure,
    UnitReview,
    caseload_review,
    reassign,
    review_patients,
)
from tests.conftest import World
from tests.consents.support import give
from tests.contacts.support import contact_input, organisation
from tests.crypto.support import actor_for
from tests.factories import UserFactory
from tests.helpers import csrf_token, flashes
from tests.patients.support import NOW, TODAY, access_log, activate, at, last_access_seq, register
from tests.plans.support import measure, plan_input

M = ReviewMeasure
JUNE, MAY = date(2026, 6, 1), date(2026, 5, 1)
#: Coordinator A's colleague in unit A.
KIM = "Kim Lund"
#: The journal entry of a handed-over case, in Swedish (the record's language).
TRANSFERRED = "Ärendet överflyttat"


@dataclass(frozen=True)
class Caseload:
    """The caseload's patients by last name (ids and uids), and Kim's user id."""

    kim_id: int
    ids: dict[str, int]
    uids: dict[str, uuid.UUID]

    def of(self, *names: str) -> set[int]:
        return {self.ids[name] for name in names}


def _day(month: int, day: int, hour: int = 10) -> datetime:
    return at(date(2026, month, day), hour)


def build_caseload(world: World, clock: time_machine.Traveller) -> Caseload:
    """The caseload of the module docstring, written through the services (call in an app
    context; commits). The clock ends at NOW."""
    unit_a = db.session.get(CareUnit, world.unit_a.id)
    kim_user = UserFactory(username="koord.kim", full_name=KIM, units=[unit_a])
    me = actor_for(world.coordinator_a, world.unit_a)
    kim = actor_for(kim_user, world.unit_a)
    made: dict[str, Patient] = {}

    clock.move_to(_day(4, 20))
    made["Ek"] = register(me, "Ek", "Eva")
    made["Fur"] = register(me, "Fur", "Filip")

    clock.move_to(_day(5, 5))
    made["Alm"] = register(me, "Alm", "Anna")
    activate(me, made["Alm"])
    may_plan = plan_input(measure(), starts_on=date(2026, 5, 5), target_on=date(2026, 8, 3))
    plans.save(me, made["Alm"], may_plan)
    agreement = plans.Agreement(date(2026, 5, 5), AgreementMethod.MEETING, date(2026, 5, 20))
    plans.agree(me, made["Alm"], 1, agreement)
    made["Ceder"] = register(me, "Ceder", "Cecilia")
    activate(me, made["Ceder"])
    made["Dal"] = register(me, "Dal", "David")
    made["Gran"] = register(me, "Gran", "Gustav")
    cases.decide_screening(me, made["Gran"], ScreeningDecision.OFFER, "Lång sjukskrivning.")
    cases.transfer(me, made["Gran"], kim_user.id)

    clock.move_to(_day(5, 20))
    cases.close(me, made["Fur"], CaseOutcome.RETURNED_PART_TIME, date(2026, 5, 20))

    clock.move_to(_day(6, 2))
    made["Bok"] = register(me, "Bok", "Bertil")
    activate(me, made["Bok"])

    clock.move_to(_day(6, 5))
    made["Holm"] = register(kim, "Holm", "Hanna")
    made["Ilm"] = register(me, "Ilm", "Ivar", assign_to_actor=False)

    clock.move_to(_day(6, 8))
    cases.decide_screening(kim, made["Holm"], ScreeningDecision.DECLINED, "Vill inte.")

    clock.move_to(_day(6, 10))
    cases.close(me, made["Ek"], CaseOutcome.RETURNED_FULL_TIME, date(2026, 6, 10))

    clock.move_to(NOW)
    june_plan = plan_input(
        measure("Arbetsplatsbesök", due_on=date(2026, 6, 10)),
        starts_on=date(2026, 6, 1),
        target_on=date(2026, 8, 30),
    )
    plans.save(me, made["Ceder"], june_plan)
    plans.agree(
        me, made["Ceder"], 1, plans.Agreement(TODAY, AgreementMethod.MEETING, date(2026, 6, 29))
    )
    give(me, made["Dal"], ConsentKind.EMPLOYER, date(2026, 6, 1), until=date(2026, 6, 20))
    give(me, made["Ceder"], ConsentKind.EMPLOYER, date(2026, 5, 10), until=date(2026, 6, 25))
    give(me, made["Ceder"], ConsentKind.EMPLOYER, date(2026, 6, 14), until=date(2026, 12, 31))

    acme = organisation(me)
    fk = organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    af = organisation(me, OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen")
    meeting = {"channel": Channel.MEETING, "occurred_time": time(9)}
    for actor, who, entry in (
        (me, "Alm", contact_input(acme, occurred_on=date(2026, 5, 6))),
        (me, "Alm", contact_input(acme, occurred_on=date(2026, 6, 3))),
        (me, "Alm", contact_input(fk, occurred_on=date(2026, 6, 10),
                                  kind=ContactKind.RECONCILIATION_MEETING, **meeting)),
        (me, "Bok", contact_input(af, occurred_on=date(2026, 6, 12))),
        (kim, "Gran", contact_input(acme, occurred_on=date(2026, 6, 11),
                                    kind=ContactKind.THREE_PARTY_MEETING, **meeting)),
    ):  # fmt: skip
        contacts.log_contact(actor, made[who], entry)
    db.session.commit()
    ids = {name: patient.id for name, patient in made.items()}
    uids = {name: patient.uid for name, patient in made.items()}
    ids["Tolvan"], uids["Tolvan"] = world.patient_a.id, uuid.UUID(world.patient_a.uid)
    return Caseload(kim_user.id, ids, uids)


def full_name(user_id: int) -> str:
    user = db.session.get(User, user_id)
    assert user is not None
    return user.full_name


def _cells(row: CoordinatorRow) -> dict[ReviewMeasure, set[int]]:
    return {measure: row.cells[measure] for measure in ReviewMeasure if row.cells[measure]}


def _rows(review: UnitReview) -> dict[int | None, CoordinatorRow]:
    return {row.coordinator_id: row for row in review.rows}


# -- The review through the service -----------------------------------------------------------


@pytest.fixture
def caseload(frozen: time_machine.Traveller, world: World, context: None) -> Caseload:
    return build_caseload(world, frozen)


def test_each_coordinator_of_the_unit_has_a_row_by_name_then_the_unassigned_then_the_total(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, world: World
) -> None:
    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)

    assert review.unit is unit_a
    assert [(row.coordinator_id, row.name) for row in review.rows] == [
        (caseload.kim_id, KIM),
        (world.coordinator_a.id, full_name(world.coordinator_a.id)),
        (None, "Unassigned"),
    ]
    # Outside a request the labels are the command line's (English).
    assert review.total.name == "Total"


def test_coordinator_a_s_figures_for_june(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, world: World
) -> None:
    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)
    row = _rows(review)[world.coordinator_a.id]

    assert _cells(row) == {
        M.OPEN: caseload.of("Alm", "Bok", "Ceder", "Dal"),
        M.ACTIVE: caseload.of("Alm", "Bok", "Ceder"),
        M.NEW: caseload.of("Bok"),
        M.CLOSED: caseload.of("Ek"),
        M.WITHOUT_PLAN: caseload.of("Bok"),
        M.FOLLOW_UP_OVERDUE: caseload.of("Alm"),
        M.MEASURES_OVERDUE: caseload.of("Ceder"),
        M.CONSENTS_EXPIRING: caseload.of("Dal"),
    }
    assert [row.count(measure) for measure in ReviewMeasure] == [4, 3, 1, 1, 1, 1, 1, 1]
    assert dict(row.outcomes) == {CaseOutcome.RETURNED_FULL_TIME: 1}
    # The May call is not June's; the meeting with Försäkringskassan is a contact and a
    # reconciliation meeting.
    assert dict(row.contacts) == {
        OrganisationType.EMPLOYER: 1,
        OrganisationType.SOCIAL_INSURANCE: 1,
        OrganisationType.EMPLOYMENT_SERVICE: 1,
    }
    assert dict(row.meetings) == {ContactKind.RECONCILIATION_MEETING: 1}


def test_a_handed_over_case_counts_under_its_current_coordinator(
    caseload: Caseload, manager: Actor, unit_a: CareUnit
) -> None:
    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)
    row = _rows(review)[caseload.kim_id]

    # Gran was registered by A and handed to Kim; Holm opened and closed (declined) in June.
    assert _cells(row) == {
        M.OPEN: caseload.of("Gran"),
        M.NEW: caseload.of("Holm"),
        M.CLOSED: caseload.of("Holm"),
    }
    assert dict(row.outcomes) == {CaseOutcome.DECLINED: 1}
    assert dict(row.contacts) == {OrganisationType.EMPLOYER: 1}
    assert dict(row.meetings) == {ContactKind.THREE_PARTY_MEETING: 1}


def test_cases_nobody_has_taken_are_the_unassigned_row(
    caseload: Caseload, manager: Actor, unit_a: CareUnit
) -> None:
    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)
    row = _rows(review)[None]

    assert row.name == "Unassigned"
    assert _cells(row) == {
        M.OPEN: caseload.of("Ilm", "Tolvan"),
        M.NEW: caseload.of("Ilm", "Tolvan"),
    }
    assert (dict(row.outcomes), dict(row.contacts), dict(row.meetings)) == ({}, {}, {})


def test_the_total_row_adds_up_the_unit(
    caseload: Caseload, manager: Actor, unit_a: CareUnit
) -> None:
    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)

    assert [review.total.count(measure) for measure in ReviewMeasure] == [7, 3, 4, 2, 1, 1, 1, 1]
    assert review.total.cells[M.NEW] == caseload.of("Bok", "Holm", "Ilm", "Tolvan")
    assert dict(review.total.outcomes) == {
        CaseOutcome.RETURNED_FULL_TIME: 1,
        CaseOutcome.DECLINED: 1,
    }
    assert dict(review.total.contacts) == {
        OrganisationType.EMPLOYER: 2,
        OrganisationType.SOCIAL_INSURANCE: 1,
        OrganisationType.EMPLOYMENT_SERVICE: 1,
    }
    assert dict(review.total.meetings) == {
        ContactKind.RECONCILIATION_MEETING: 1,
        ContactKind.THREE_PARTY_MEETING: 1,
    }


def test_new_closed_and_contacts_are_those_of_the_month_asked_for(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, world: World
) -> None:
    """May: new are the cases opened in May (not June's Bok, Ilm, Tolvan), closed is Fur;
    the open-case figures are as of today whatever the month."""
    [review] = caseload_review(manager, [unit_a], MAY, TODAY)
    rows = _rows(review)
    mine, kims, nobodys = rows[world.coordinator_a.id], rows[caseload.kim_id], rows[None]

    assert mine.cells[M.NEW] == caseload.of("Alm", "Ceder", "Dal")
    assert kims.cells[M.NEW] == caseload.of("Gran")
    assert nobodys.cells[M.NEW] == set()
    assert mine.cells[M.CLOSED] == caseload.of("Fur")
    assert dict(mine.outcomes) == {CaseOutcome.RETURNED_PART_TIME: 1}
    assert kims.cells[M.CLOSED] == set()
    assert dict(mine.contacts) == {OrganisationType.EMPLOYER: 1}
    assert dict(mine.meetings) == {}
    assert mine.cells[M.OPEN] == caseload.of("Alm", "Bok", "Ceder", "Dal")


def test_every_unit_asked_for_has_its_review(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, unit_b: CareUnit, world: World
) -> None:
    reviews = caseload_review(manager, [unit_a, unit_b], JUNE, TODAY)

    assert [review.unit for review in reviews] == [unit_a, unit_b]
    rows_b = _rows(reviews[1])
    assert list(rows_b) == [world.coordinator_b.id, None]
    assert _cells(rows_b[world.coordinator_b.id]) == {}
    assert _cells(rows_b[None]) == {M.OPEN: {world.patient_b.id}, M.NEW: {world.patient_b.id}}


def test_only_managers_get_the_review(caseload: Caseload, me: Actor, unit_a: CareUnit) -> None:
    with pytest.raises(Forbidden):
        caseload_review(me, [unit_a], JUNE, TODAY)
    with pytest.raises(Forbidden):
        review_patients(me, unit_a.id, None, M.OPEN, JUNE, TODAY)
    with pytest.raises(Forbidden):
        reassign(me, [caseload.uids["Alm"]], caseload.kim_id)


# -- Drill-down and reassignment through the service --------------------------------------------


def test_the_patients_behind_a_figure_are_listed_and_each_logged_as_read(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, world: World
) -> None:
    mark = last_access_seq()

    found = review_patients(manager, unit_a.id, world.coordinator_a.id, M.OPEN, JUNE, TODAY)

    assert [patient.last_name for patient, _ in found] == ["Alm", "Bok", "Ceder", "Dal"]
    assert all(case is not None and case.coordinator_id == world.coordinator_a.id
               for _, case in found)  # fmt: skip
    logged = access_log(mark)
    assert sorted(e.patient_id for e in logged) == sorted(caseload.of("Alm", "Bok", "Ceder", "Dal"))
    assert {(e.action, e.object_type, e.user_id) for e in logged} == {
        (AccessAction.READ, "patient", world.manager.id)
    }


def test_the_drill_down_of_another_unit_than_the_current_is_not_found(
    caseload: Caseload, manager: Actor, unit_b: CareUnit
) -> None:
    mark = last_access_seq()

    with pytest.raises(NotFound):
        review_patients(manager, unit_b.id, None, M.OPEN, JUNE, TODAY)

    assert access_log(mark) == []


def test_reassign_moves_open_cases_with_a_journal_entry_each(
    caseload: Caseload, manager: Actor, world: World
) -> None:
    moved = reassign(manager, [caseload.uids["Alm"], caseload.uids["Dal"]], caseload.kim_id)

    assert moved == 2
    for name in ("Alm", "Dal"):
        case = _current_case(caseload.ids[name])
        assert case.coordinator_id == caseload.kim_id
        [entry] = _transfers(caseload.ids[name])
        assert (entry.heading, entry.body, entry.author_id) == (
            TRANSFERRED,
            f"Från {full_name(world.coordinator_a.id)} till {KIM}.",
            world.manager.id,
        )


def test_reassign_to_a_coordinator_of_another_unit_is_refused_and_changes_nothing(
    caseload: Caseload, manager: Actor, world: World
) -> None:
    mark = last_access_seq()

    with pytest.raises(InvalidField) as refused:
        reassign(manager, [caseload.uids["Alm"]], world.coordinator_b.id)

    assert refused.value.field == "coordinator"
    assert _current_case(caseload.ids["Alm"]).coordinator_id == world.coordinator_a.id
    assert _transfers(caseload.ids["Alm"]) == []
    assert access_log(mark) == []


def test_a_coordinator_no_longer_active_keeps_a_row_while_holding_open_cases(
    caseload: Caseload, manager: Actor, unit_a: CareUnit, world: World
) -> None:
    kim = db.session.get(User, caseload.kim_id)
    assert kim is not None
    kim.is_active = False
    db.session.flush()

    [review] = caseload_review(manager, [unit_a], JUNE, TODAY)

    assert [row.coordinator_id for row in review.rows] == [
        caseload.kim_id,
        world.coordinator_a.id,
        None,
    ]
    assert _rows(review)[caseload.kim_id].cells[M.OPEN] == caseload.of("Gran")


def test_reassign_leaves_closed_cases_and_those_already_with_the_coordinator(
    caseload: Caseload, manager: Actor
) -> None:
    mark = last_access_seq()

    moved = reassign(manager, [caseload.uids["Gran"], caseload.uids["Ek"]], caseload.kim_id)

    assert moved == 0
    assert _transfers(caseload.ids["Ek"]) == []
    assert len(_transfers(caseload.ids["Gran"])) == 1  # A's own hand-over in May
    assert access_log(mark) == []


def test_reassign_needs_a_case_to_move(caseload: Caseload, manager: Actor) -> None:
    with pytest.raises(InvalidField) as refused:
        reassign(manager, [], caseload.kim_id)

    assert refused.value.field == "cases"


def _unit(unit_id: int) -> CareUnit:
    unit = db.session.get(CareUnit, unit_id)
    assert unit is not None
    return unit


def _current_case(patient_id: int) -> CoordinationCase:
    db.session.expire_all()
    case = db.session.scalars(
        select(CoordinationCase)
        .where(CoordinationCase.patient_id == patient_id)
        .order_by(CoordinationCase.id.desc())
    ).first()
    assert case is not None
    return case


def _transfers(patient_id: int) -> list[CaseJournalEntry]:
    """The patient's CASE_TRANSFERRED entries, oldest first."""
    return list(
        db.session.scalars(
            select(CaseJournalEntry)
            .where(
                CaseJournalEntry.patient_id == patient_id,
                CaseJournalEntry.kind == EntryKind.CASE_TRANSFERRED,
            )
            .order_by(CaseJournalEntry.seq)
        )
    )


# -- The pages --------------------------------------------------------------------------------


@pytest.fixture
def built(frozen: time_machine.Traveller, app: Flask, world: World) -> Caseload:
    """The caseload, committed, for tests that use a client."""
    with app.app_context():
        return build_caseload(world, frozen)


_ROW = re.compile(r'<tr(?: class="total")? data-coordinator="(\w+)">(.*?)</tr>', re.S)
_CELL = re.compile(r'data-measure="(\w+)">(?:<a href="([^"]+)">)?(\d+)')
_PATIENT_LINK = re.compile(r'<a href="/patients/([0-9a-f-]{36})">([^<]+)</a>')


def review_table(page: str, unit_id: int) -> dict[str, dict[str, int]]:
    """The figures of one unit's table: by row (coordinator id, "none", "total"), by measure."""
    section = page.split(f'data-unit="{unit_id}"')[1].split("</section>")[0]
    return {
        who: {measure: int(count) for measure, _, count in _CELL.findall(cells)}
        for who, cells in _ROW.findall(section)
    }


def test_the_review_page_shows_each_coordinator_s_figures(
    built: Caseload, manager_client: FlaskClient, world: World
) -> None:
    page = manager_client.get("/reports/caseload?month=2026-06")

    assert page.status_code == 200
    table = review_table(page.text, world.unit_a.id)
    assert list(table) == [str(built.kim_id), str(world.coordinator_a.id), "none", "total"]
    assert table[str(world.coordinator_a.id)] == {
        "open": 4, "active": 3, "new": 1, "closed": 1, "without_plan": 1,
        "follow_up_overdue": 1, "measures_overdue": 1, "consents_expiring": 1, "contacts": 3,
    }  # fmt: skip
    assert table[str(built.kim_id)] == {m.value: 0 for m in M} | {
        "open": 1, "new": 1, "closed": 1, "contacts": 1,
    }  # fmt: skip
    assert table["none"] == {m.value: 2 if m in (M.OPEN, M.NEW) else 0 for m in M} | {"contacts": 0}
    assert table["total"] == dict(
        zip([*(m.value for m in M), "contacts"], [7, 3, 4, 2, 1, 1, 1, 1, 4], strict=True)
    )
    # Figures link to their patients; the total does not.
    assert (
        f'href="/reports/caseload/patients?unit={world.unit_a.id}&amp;'
        f'coordinator={world.coordinator_a.id}&amp;measure=open&amp;month=2026-06"'
    ) in page.text


_LINE = re.compile(r'<tr data-line="([\w:]+)"><td>[^<]*</td>((?:<td class="num">\d+</td>)+)</tr>')


def test_the_review_page_breaks_the_month_down_per_coordinator(
    built: Caseload, manager_client: FlaskClient, world: World
) -> None:
    """Outcomes, contacts by actor and meetings of June; columns Kim, A, unassigned, total."""
    page = manager_client.get("/reports/caseload?month=2026-06")

    section = page.text.split(f'data-unit="{world.unit_a.id}"')[1].split("</section>")[0]
    lines = {key: [int(n) for n in re.findall(r"\d+", cells)]
             for key, cells in _LINE.findall(section)}  # fmt: skip
    assert lines == {
        "outcome:returned_full_time": [0, 1, 0, 1],
        "outcome:declined": [1, 0, 0, 1],
        "contacts:employer": [1, 1, 0, 2],
        "contacts:social_insurance": [0, 1, 0, 1],
        "contacts:employment_service": [0, 1, 0, 1],
        "meeting:reconciliation_meeting": [0, 1, 0, 1],
        "meeting:three_party_meeting": [1, 0, 0, 1],
    }


def _drill(client: FlaskClient, unit_id: int, who: int | str, measure: M) -> TestResponse:
    return client.get(
        f"/reports/caseload/patients?unit={unit_id}&coordinator={who}"
        f"&measure={measure.value}&month=2026-06"
    )


def _mark(app: Flask) -> int:
    with app.app_context():
        return last_access_seq()


def _reads(app: Flask, mark: int) -> list[tuple[AccessAction, str, int]]:
    with app.app_context():
        return [(e.action, e.object_type, e.patient_id) for e in access_log(mark)]


def test_the_drill_down_page_lists_exactly_the_patients_behind_the_figure(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    page = _drill(manager_client, world.unit_a.id, world.coordinator_a.id, M.OPEN)

    assert page.status_code == 200
    listed = _PATIENT_LINK.findall(page.text)
    assert [name for _, name in listed] == ["Alm, Anna", "Bok, Bertil", "Ceder, Cecilia",
                                            "Dal, David"]  # fmt: skip
    assert {uuid.UUID(uid) for uid, _ in listed} == {
        built.uids[n] for n in ("Alm", "Bok", "Ceder", "Dal")
    }
    reads = _reads(app, mark)
    assert Counter(reads) == Counter(
        (AccessAction.READ, "patient", built.ids[name]) for name in ("Alm", "Bok", "Ceder", "Dal")
    )


def test_the_drill_down_of_the_unassigned(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    page = _drill(manager_client, world.unit_a.id, "none", M.NEW)

    assert [name for _, name in _PATIENT_LINK.findall(page.text)] == [
        "Ilm, Ivar",
        "Tolvansson, Tolvan",
    ]
    assert sorted(patient for _, _, patient in _reads(app, mark)) == sorted(
        built.of("Ilm", "Tolvan")
    )


def test_the_drill_down_of_a_unit_other_than_the_current_is_not_found(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    page = _drill(manager_client, world.unit_b.id, "none", M.OPEN)

    assert page.status_code == 404
    assert _reads(app, mark) == []


def _reassign(
    client: FlaskClient, world: World, uids: list[uuid.UUID], to: int
) -> tuple[TestResponse, str]:
    drill = (
        f"/reports/caseload/patients?unit={world.unit_a.id}&coordinator={world.coordinator_a.id}"
        "&measure=open&month=2026-06"
    )
    token = csrf_token(client, drill)
    data = {"csrf_token": token, "cases": [str(uid) for uid in uids], "coordinator": str(to),
            "back": drill}  # fmt: skip
    return client.post("/reports/caseload/reassign", data=data), drill


def test_reassigning_from_the_drill_down_moves_the_chosen_cases(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response, drill = _reassign(
        manager_client, world, [built.uids["Alm"], built.uids["Dal"]], built.kim_id
    )

    assert response.status_code == 302
    assert response.headers["Location"] == drill
    assert flashes(manager_client.get(drill)) == [("success", "2 ärenden har fördelats om.")]
    with app.app_context():
        for name in ("Alm", "Dal"):
            assert _current_case(built.ids[name]).coordinator_id == built.kim_id
            [entry] = _transfers(built.ids[name])
            assert (entry.heading, entry.body) == (
                TRANSFERRED,
                f"Från {full_name(world.coordinator_a.id)} till {KIM}.",
            )
        for name in ("Bok", "Ceder"):
            assert _current_case(built.ids[name]).coordinator_id == world.coordinator_a.id
        changes = [
            (e.action, e.object_type, e.patient_id, e.user_id)
            for e in access_log(mark)
            if e.action is AccessAction.CHANGE
        ]
        assert sorted(changes) == sorted(
            (AccessAction.CHANGE, "case", built.ids[name], world.manager.id)
            for name in ("Alm", "Dal")
        )
        manager = actor_for(world.manager, world.unit_a)
        [review] = caseload_review(manager, [_unit(world.unit_a.id)], JUNE, TODAY)
        rows = _rows(review)
        assert rows[built.kim_id].cells[M.OPEN] == built.of("Gran", "Alm", "Dal")
        assert rows[world.coordinator_a.id].cells[M.OPEN] == built.of("Bok", "Ceder")


def test_reassigning_to_a_coordinator_of_another_unit_is_refused_with_nothing_changed(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)

    response, drill = _reassign(manager_client, world, [built.uids["Alm"]], world.coordinator_b.id)

    assert response.status_code == 302
    [(category, _)] = flashes(manager_client.get(drill))
    assert category == "error"
    with app.app_context():
        assert _current_case(built.ids["Alm"]).coordinator_id == world.coordinator_a.id
        assert _transfers(built.ids["Alm"]) == []
        assert [e for e in access_log(mark) if e.action is not AccessAction.READ] == []


def test_a_case_of_another_unit_among_the_chosen_moves_none_of_them(
    built: Caseload, app: Flask, manager_client: FlaskClient, world: World
) -> None:
    """One transaction: Alm's move is undone when unit B's patient is not found."""
    patient_b = uuid.UUID(world.patient_b.uid)

    response, drill = _reassign(manager_client, world, [built.uids["Alm"], patient_b], built.kim_id)

    assert response.status_code in (302, 404)
    if response.status_code == 302:  # refused with a message, back on the list
        [(category, _)] = flashes(manager_client.get(drill))
        assert category == "error"
    with app.app_context():
        assert _current_case(built.ids["Alm"]).coordinator_id == world.coordinator_a.id
        assert _transfers(built.ids["Alm"]) == []
        assert _current_case(world.patient_b.id).status is CaseStatus.NEW


REPORT_PAGES = [
    ("GET", "/reports/"),
    ("GET", "/reports/caseload"),
    ("GET", "/reports/caseload/patients?unit={unit}&coordinator=none&measure=open"),
    ("POST", "/reports/caseload/reassign"),
    ("GET", "/reports/statistics"),
    ("GET", "/reports/statistics.csv?table=gender"),
    ("GET", "/reports/quarterly"),
    ("GET", "/reports/quarterly.csv"),
    ("GET", "/reports/quarterly.pdf"),
    ("GET", "/reports/indicators"),
    ("POST", "/reports/indicators/targets"),
    ("POST", "/reports/population"),
]


@pytest.mark.parametrize(("method", "path"), REPORT_PAGES)
def test_coordinators_are_refused_every_report_page(
    method: str, path: str, app: Flask, coordinator_client: FlaskClient, world: World
) -> None:
    mark = _mark(app)
    url = path.format(unit=world.unit_a.id)

    if method == "GET":
        response = coordinator_client.get(url)
    else:
        response = coordinator_client.post(url, data={"csrf_token": csrf_token(coordinator_client)})

    assert response.status_code == 403
    assert _reads(app, mark) == []
