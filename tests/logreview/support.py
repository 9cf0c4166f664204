"""Builders for the log follow-up tests: Swedish moments, rows by id, another unit with its own
manager, what got logged, and the rows of the pages (read with plain patterns: the markup is
ours and small)."""

from __future__ import annotations

import html
import re
from datetime import datetime

from flask import Flask
from werkzeug.test import TestResponse

from coordinator import clock
from coordinator.auth.models import CareUnit
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.patients.models import Patient
from tests.conftest import UnitRef, UserRef
from tests.factories import UnitFactory, UserFactory
from tests.patients.support import access_log, last_access_seq


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2026 on the Swedish clock."""
    return datetime(2026, month, day, hour, minute, tzinfo=clock.LOCAL_ZONE)


def unit_row(ref: UnitRef) -> CareUnit:
    unit = db.session.get(CareUnit, ref.id)
    assert unit is not None
    return unit


def patient_row(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    assert patient is not None
    return patient


def manager_of(username: str, *units: UnitRef) -> UserRef:
    """A manager of ``units`` only (committed). Call inside an app context."""
    return UserRef.of(
        UserFactory(username=username, role=Role.MANAGER, units=[unit_row(u) for u in units])
    )


def other_unit(name: str = "Vårdcentralen Väster") -> UnitRef:
    """A unit none of the world's users works in (committed). Call inside an app context."""
    return UnitRef.of(UnitFactory(name=name))


def mark(app: Flask) -> int:
    """The last access-log entry now: what a test logged comes after it."""
    with app.app_context():
        return last_access_seq()


#: One access-log entry as the logging tests compare it.
Logged = tuple[str, str, int, int | None, int | None]


def logged(app: Flask, since: int) -> list[Logged]:
    """(action, object type, patient, user, unit) of each entry after ``since``, in order."""
    with app.app_context():
        return [(e.action.value, e.object_type, e.patient_id, e.user_id, e.unit_id)
                for e in access_log(since)]  # fmt: skip


_LOG_ROW = re.compile(r'<tr data-seq="(\d+)">(.*?)</tr>', re.S)
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
_TAG = re.compile(r"<[^>]+>")
_COUNT = re.compile(r'id="log-count">([^<]*)<')


def text_of(fragment: str) -> str:
    """A piece of markup as the reader sees it: tags dropped, entities read, spaces joined."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def log_seqs(response: TestResponse) -> list[int]:
    """The access-log entries a search page lists (``tr[data-seq]``), in page order."""
    return [int(seq) for seq, _cells in _LOG_ROW.findall(response.text)]


def log_rows(response: TestResponse) -> dict[int, list[str]]:
    """Each listed entry's cells as text, by seq."""
    return {
        int(seq): [text_of(cell) for cell in _CELL.findall(cells)]
        for seq, cells in _LOG_ROW.findall(response.text)
    }


def log_count(response: TestResponse) -> str | None:
    """The count line above the results (``#log-count``), if the page has results."""
    match = _COUNT.search(response.text)
    return text_of(match.group(1)) if match else None


def link_query(response: TestResponse, rel: str) -> dict[str, str] | None:
    """The fields the pager's ``rel`` form (prev/next) posts, CSRF token left out."""
    match = re.search(rf'<form [^>]*data-rel="{rel}">(.*?)</form>', response.text, re.S)
    if match is None:
        return None
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(1))
    return {name: html.unescape(value) for name, value in fields if name != "csrf_token"}


_RUN_ROW = re.compile(r'<tr data-run="(\d+)">(.*?)</tr>', re.S)
_RESULT = re.compile(r'data-result="(\w+)"')


def chain_runs(response: TestResponse) -> dict[int, tuple[str, list[str]]]:
    """The chain page's runs (``table.chain-runs``): by run id, the ``data-result`` and the
    cells as text."""
    runs = {}
    for run_id, cells in _RUN_ROW.findall(response.text):
        result = _RESULT.search(cells)
        assert result is not None, cells
        runs[int(run_id)] = (result.group(1), [text_of(cell) for cell in _CELL.findall(cells)])
    return runs


def has_chain_alarm(response: TestResponse) -> bool:
    return 'class="alert chain-alarm"' in response.text
