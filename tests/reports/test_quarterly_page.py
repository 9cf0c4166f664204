"""The quarterly report page's reconciliation list: worked from the unit's own view, where its
patients can be opened. The current unit's items are listed by name (each patient logged as
read); the other units' are counted, with a way to switch to them.

Data: the quarterly data set of :mod:`tests.reports.support` — unit A has seven items to
reconcile in the second quarter of 2026 (Anna's four, Dan's one, Bo's two), unit B none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from coordinator.extensions import db
from coordinator.journal.models import AccessAction
from tests.conftest import World
from tests.crypto.support import actor_for
from tests.patients.support import access_log, last_access_seq
from tests.reports.support import quarter_data

PAGE = "/reports/quarterly?unit=all&year=2026&quarter=2"
_ROW = re.compile(r'<tr data-kind="(contact|treatment)" data-id="(\d+)">')
_COUNT = re.compile(r'<li data-unit="(\d+)">[^:<]+: (\d+)')


@dataclass(frozen=True)
class Listed:
    #: (kind, id) of unit A's items, in the list's order.
    items: list[tuple[str, int]]
    #: Unit A's patients named in the list.
    patient_ids: set[int]


@pytest.fixture
def listed(frozen: time_machine.Traveller, app: Flask, world: World) -> Listed:
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        me_b = actor_for(world.coordinator_b, world.unit_b)
        data = quarter_data(me, me_b, frozen)
        db.session.commit()
        contacts, treatments = data.contacts, data.treatments
        return Listed(
            [("treatment", treatments["emdr_q1"].id),
             ("contact", contacts["anna_before_consent"].id),
             ("treatment", treatments["pdt_open"].id), ("contact", contacts["anna_external"].id),
             ("contact", contacts["dan_untreated"].id), ("contact", contacts["bo_af_patient"].id),
             ("treatment", treatments["kbt_short"].id)],
            {data.anna.id, data.bo.id, data.dan.id},
        )  # fmt: skip


def _reconciliation(html: str) -> str:
    return html[html.index('data-section="reconciliation"') :]


def test_the_current_units_items_are_listed_and_their_patients_logged_as_read(
    app: Flask, world: World, listed: Listed, signed_in_client: Callable[..., FlaskClient]
) -> None:
    client = signed_in_client(world.manager, world.unit_a)
    with app.app_context():
        since = last_access_seq()

    response = client.get(PAGE)

    assert response.status_code == 200
    section = _reconciliation(response.text)
    rows = [(kind, int(item_id)) for kind, item_id in _ROW.findall(section)]
    assert rows == listed.items
    counts = {int(unit): int(n) for unit, n in _COUNT.findall(section)}
    assert counts == {world.unit_a.id: 7, world.unit_b.id: 0}
    with app.app_context():
        reads = [(e.patient_id, e.object_type, e.unit_id) for e in access_log(since)
                 if e.action is AccessAction.READ]  # fmt: skip
    assert sorted(reads) == sorted((patient_id, "report", world.unit_a.id)
                                   for patient_id in listed.patient_ids)  # fmt: skip


def test_another_units_items_are_counted_not_listed_and_no_patient_is_read(
    app: Flask, world: World, listed: Listed, signed_in_client: Callable[..., FlaskClient]
) -> None:
    client = signed_in_client(world.manager, world.unit_b)
    with app.app_context():
        since = last_access_seq()

    response = client.get(PAGE)

    assert response.status_code == 200
    section = _reconciliation(response.text)
    assert _ROW.findall(section) == []
    counts = {int(unit): int(n) for unit, n in _COUNT.findall(section)}
    assert counts == {world.unit_a.id: 7, world.unit_b.id: 0}
    assert "Byt till enheten för att se dem" in section
    with app.app_context():
        assert [e for e in access_log(since) if e.action is AccessAction.READ] == []
