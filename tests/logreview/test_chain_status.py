"""The chain status: verification runs started from the page (on a thread of their own) or by
the nightly command, recorded with their counts and progress; one run at a time unless the
other has stalled; a broken chain raises an alarm on every manager's start page until a
manager acknowledges it, once, with a comment that is kept as history.

Data: the journal tests' history (:func:`tests.journal.support.write_history`): five
access-log entries and three case journal entries. The clock stands at 2026-06-15 10:00.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.auth.models import User
from coordinator.cli import main
from coordinator.database import AppendOnlyError
from coordinator.errors import Forbidden
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal.models import AccessLogEntry, CaseJournalEntry, Chain
from coordinator.logreview import chainstatus
from coordinator.logreview.models import ChainAlarmAcknowledgement, ChainVerification
from tests.conftest import UserRef, World
from tests.crypto.support import actor_for
from tests.helpers import csrf_token, field_errors, flashes, submit
from tests.journal.support import ALTERED, sql, without_guards, write_history
from tests.logreview.support import chain_runs, has_chain_alarm, manager_of, text_of
from tests.patients.support import NOW

pytestmark = pytest.mark.usefixtures("frozen")

#: When the clock stands still, as the pages show it.
SHOWN_NOW = "2026-06-15 10:00"
COMMENT = "Kontrollerat med driften: raden återställd från säkerhetskopian."


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    """The clock stopped at 2026-06-15 10:00 (first, so the world is made then too)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def history(app: Flask, world: World) -> None:
    """Access-log entries 1-5 and case journal entries 1-3."""
    with app.app_context():
        write_history(world)


@pytest.fixture
def broken(app: Flask, history: None) -> None:
    """Access-log entry 3 rewritten behind the guards' back (triggers off, plain SQL)."""
    with app.app_context():
        without_guards("access_log")
        sql("UPDATE access_log SET request_id = 'rewritten' WHERE seq = 3")


def _runs(app: Flask) -> list[ChainVerification]:
    with app.app_context():
        runs = list(db.session.scalars(select(ChainVerification).order_by(ChainVerification.id)))
        db.session.expunge_all()
        return runs


def _acknowledgements(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ChainAlarmAcknowledgement)) or 0


def _full_name(app: Flask, ref: UserRef) -> str:
    with app.app_context():
        user = db.session.get(User, ref.id)
        assert user is not None
        return user.full_name


def _verify(client: FlaskClient, *, follow_redirects: bool = False) -> TestResponse:
    """Press "Verifiera kedjorna nu" on the chain page."""
    return submit(client, "/log/chain/verify", {}, form_url="/log/chain",
                  follow_redirects=follow_redirects)  # fmt: skip


def _acknowledge(client: FlaskClient, run_id: int, comment: str) -> TestResponse:
    return submit(client, f"/log/chain/{run_id}/acknowledge", {"comment": comment},
                  form_url="/log/chain")  # fmt: skip


_STATUS = re.compile(r'<p id="chain-status">(.*?)</p>', re.S)


def _overview_status(client: FlaskClient) -> str:
    match = _STATUS.search(client.get("/log/").text)
    assert match is not None
    return text_of(match.group(1))


def _alarm_text(response: TestResponse) -> str:
    match = re.search(r'class="alert chain-alarm" role="alert">(.*?)</div>', response.text, re.S)
    assert match is not None
    return text_of(match.group(1))


# -- A run from the page ---------------------------------------------------------------------


def test_a_run_started_from_the_page_records_both_chains_counts_and_shows_intact(
    app: Flask, world: World, history: None, manager_client: FlaskClient
) -> None:
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (AccessLogEntry, CaseJournalEntry)
        )
    assert counts == (5, 3)

    started = _verify(manager_client)
    chainstatus.wait_all()

    assert (started.status_code, started.headers["Location"]) == (302, "/log/chain")
    [run] = _runs(app)
    assert (run.started_by_id, run.total, run.done) == (world.manager.id, 8, 8)
    assert (run.access_verified, run.case_verified) == counts
    assert (run.broken_chain, run.broken_seq, run.broken_reason, run.error) == (None,) * 4
    assert run.started_at == run.updated_at == run.finished_at == NOW
    page = manager_client.get("/log/chain")
    manager = _full_name(app, world.manager)
    assert chain_runs(page) == {run.id: ("intact", [SHOWN_NOW, manager, "Intakt", "5", "3", ""])}
    assert 'id="verification-progress"' not in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert _overview_status(manager_client) == (
        f"Intakt Senast verifierad {SHOWN_NOW}: 5 loggposter och 3 journalanteckningar."
    )


def test_the_overview_says_when_the_chains_have_never_been_verified(
    history: None, manager_client: FlaskClient
) -> None:
    assert "Senast verifierad" not in _overview_status(manager_client)
    assert chain_runs(manager_client.get("/log/chain")) == {}


def test_a_second_run_is_refused_while_one_runs_and_a_stalled_one_no_longer_blocks(
    app: Flask,
    world: World,
    history: None,
    manager_client: FlaskClient,
    frozen: time_machine.Traveller,
) -> None:
    with app.app_context():
        running = chainstatus.start(None).id  # recorded, carried out nowhere: as if elsewhere

    page = manager_client.get("/log/chain")
    frozen.shift(timedelta(minutes=4, seconds=59))  # its last progress 4:59 ago
    refused = _verify(manager_client, follow_redirects=True)
    chainstatus.wait_all()
    after_refusal = len(_runs(app))
    frozen.shift(timedelta(seconds=2))  # 5:01 ago: the process that ran it has ended
    stalled_page = manager_client.get("/log/chain")
    started = _verify(manager_client)
    chainstatus.wait_all()

    assert 'id="verification-progress"' in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert chain_runs(page) == {running: ("running", [SHOWN_NOW, "Nattlig körning", "Pågår",
                                                      "–", "–", ""])}  # fmt: skip
    assert refused.status_code == 200
    assert ("error", "En verifiering pågår redan.") in flashes(refused)
    assert after_refusal == 1
    assert 'id="verification-progress"' not in stalled_page.text
    assert chain_runs(stalled_page)[running] == (
        "interrupted", [SHOWN_NOW, "Nattlig körning", "Avbruten", "–", "–", ""])  # fmt: skip
    assert started.status_code == 302
    first, second = _runs(app)
    assert (first.id, first.finished_at) == (running, None)
    assert (second.started_by_id, second.done, second.total) == (world.manager.id, 8, 8)
    assert second.finished_at is not None


def test_the_service_refuses_a_start_while_a_run_is_running(
    app: Flask, world: World, history: None
) -> None:
    with app.app_context():
        chainstatus.start(None)
        manager = actor_for(world.manager, world.unit_a)

        with pytest.raises(chainstatus.VerificationRefused) as refused:
            chainstatus.start(manager)
        with pytest.raises(chainstatus.VerificationRefused):
            chainstatus.start(None)
        with force_locale("sv"):
            assert str(refused.value.message) == "En verifiering pågår redan."

    assert len(_runs(app)) == 1


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        (None, [(5, 8), (8, 8)]),  # the default batch holds each chain: one report per chain
        (2, [(2, 8), (4, 8), (5, 8), (7, 8), (8, 8)]),  # access 2, 4, 5; then case 2, 3
    ],
    ids=["default-batch", "batch-of-2"],
)
def test_progress_is_reported_after_every_batch_and_ends_at_the_total(
    app: Flask,
    history: None,
    monkeypatch: pytest.MonkeyPatch,
    batch: int | None,
    expected: list[tuple[int, int]],
) -> None:
    if batch is not None:  # the same walk with smaller batches (chain.verify's parameter)
        monkeypatch.setattr(chain, "verify", functools.partial(chain.verify, batch=batch))
    reports: list[tuple[int, int]] = []
    stored: list[int] = []

    with app.app_context():
        run_id = chainstatus.start(None).id

        def progress(done: int, total: int) -> None:
            reports.append((done, total))
            row = db.session.get(ChainVerification, run_id)
            assert row is not None
            stored.append(row.done)  # what another instance's page would show by now

        outcome = chainstatus.carry_out(run_id, progress=progress)
        results = [(r.chain, r.verified, r.broken) for r in outcome.results]
        final = (outcome.run.done, outcome.run.total, outcome.run.finished_at)

    assert reports == expected
    assert stored == [done for done, _total in expected]
    assert results == [(Chain.ACCESS, 5, None), (Chain.CASE, 3, None)]
    assert final == (8, 8, NOW)


# -- A broken chain --------------------------------------------------------------------------


@pytest.fixture
def managers(
    app: Flask, world: World, signed_in_client: Callable[..., FlaskClient]
) -> tuple[FlaskClient, FlaskClient]:
    """The world's manager, working in Norr, and a manager of Söder only."""
    with app.app_context():
        chef_soder = manager_of("chef.soder", world.unit_b)
    return signed_in_client(world.manager, world.unit_a), signed_in_client(chef_soder, world.unit_b)


def test_a_broken_chain_is_recorded_and_every_managers_start_page_raises_the_alarm(
    app: Flask,
    world: World,
    broken: None,
    managers: tuple[FlaskClient, FlaskClient],
    coordinator_client: FlaskClient,
) -> None:
    norr, soder = managers

    _verify(norr)
    chainstatus.wait_all()

    [run] = _runs(app)
    assert (run.broken_chain, run.broken_seq, run.broken_reason) == (Chain.ACCESS, 3, ALTERED)
    # Two access-log entries intact before the break; the case journal walked whole.
    assert (run.access_verified, run.case_verified, run.done, run.total) == (2, 3, 5, 8)
    assert run.error is None
    for manager in (norr, soder):
        start = manager.get("/")
        assert has_chain_alarm(start)
        assert _alarm_text(start).startswith("Larm: journalkedjorna är brutna.")
        assert ALTERED in _alarm_text(start)
        assert has_chain_alarm(manager.get("/log/"))
        assert has_chain_alarm(manager.get("/log/chain"))
    assert not has_chain_alarm(coordinator_client.get("/"))
    result, cells = chain_runs(norr.get("/log/chain"))[run.id]
    assert (result, cells[2]) == ("broken", f"Bruten vid post 3 i åtkomstloggen: {ALTERED}")


@pytest.mark.parametrize("comment", ["", "   "], ids=["empty", "blank"])
def test_an_acknowledgement_without_a_comment_is_refused_and_nothing_is_stored(
    app: Flask, broken: None, managers: tuple[FlaskClient, FlaskClient], comment: str
) -> None:
    norr, soder = managers
    _verify(norr)
    chainstatus.wait_all()
    [run] = _runs(app)

    response = _acknowledge(norr, run.id, comment)

    assert response.status_code == 400
    assert field_errors(response) == {"comment": "Beskriv vad som gjordes åt brottet i kedjan."}
    assert _acknowledgements(app) == 0
    assert has_chain_alarm(norr.get("/"))
    assert has_chain_alarm(soder.get("/"))


def test_an_acknowledgement_with_a_comment_is_kept_unchangeable_and_ends_the_alarm_for_all(
    app: Flask, world: World, broken: None, managers: tuple[FlaskClient, FlaskClient]
) -> None:
    norr, soder = managers
    _verify(norr)
    chainstatus.wait_all()
    [run] = _runs(app)

    acknowledged = _acknowledge(norr, run.id, f"  {COMMENT}  ")
    shown = norr.get(acknowledged.headers["Location"])
    again = _acknowledge(soder, run.id, "Jag kvitterar också.")

    assert acknowledged.status_code == 302
    assert ("success", "Larmet är kvitterat.") in flashes(shown)
    with app.app_context():
        [kept] = db.session.scalars(select(ChainAlarmAcknowledgement)).all()
        assert (kept.verification_id, kept.user_id, kept.unit_id, kept.at, kept.comment) == (
            run.id, world.manager.id, world.unit_a.id, NOW, COMMENT)  # fmt: skip
        kept.comment = "Ändrat i efterhand."
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
    for manager in (norr, soder):
        assert not has_chain_alarm(manager.get("/"))
        assert not has_chain_alarm(manager.get("/log/chain"))
    manager_name = _full_name(app, world.manager)
    cells = chain_runs(norr.get("/log/chain"))[run.id][1]
    assert cells[5] == f"{manager_name}, {SHOWN_NOW}: {COMMENT}"
    # A second acknowledgement of the same run is refused; the first stays as it was.
    assert again.status_code == 400
    assert _acknowledgements(app) == 1
    with app.app_context():
        assert db.session.scalars(select(ChainAlarmAcknowledgement.comment)).one() == COMMENT


def test_a_second_acknowledgement_is_refused_with_its_message_shown(
    app: Flask, broken: None, managers: tuple[FlaskClient, FlaskClient]
) -> None:
    norr, soder = managers
    _verify(norr)
    chainstatus.wait_all()
    [run] = _runs(app)
    _acknowledge(norr, run.id, COMMENT)

    again = _acknowledge(soder, run.id, "Jag kvitterar också.")

    assert again.status_code == 400
    assert _acknowledgements(app) == 1
    assert "Larmet är redan kvitterat." in again.text


def test_the_service_acknowledges_a_broken_run_once_with_a_comment(
    app: Flask, world: World, broken: None
) -> None:
    with app.app_context():
        manager = actor_for(world.manager, world.unit_a)
        run = chainstatus.carry_out(chainstatus.start(manager).id).run
        with pytest.raises(chainstatus.VerificationRefused) as blank:
            chainstatus.acknowledge(manager, run, " \n ")
        with pytest.raises(chainstatus.VerificationRefused) as too_long:
            chainstatus.acknowledge(manager, run, "x" * 1001)
        kept = chainstatus.acknowledge(manager, run, "x" * 1000)
        db.session.commit()
        assert chainstatus.alarm() is None
        with pytest.raises(chainstatus.VerificationRefused) as twice:
            chainstatus.acknowledge(manager, run, COMMENT)
        with force_locale("sv"):
            messages = [str(e.value.message) for e in (blank, too_long, twice)]
        coordinator = actor_for(world.coordinator_a, world.unit_a)
        with pytest.raises(Forbidden):
            chainstatus.acknowledge(coordinator, run, COMMENT)
        assert (kept.verification_id, len(kept.comment)) == (run.id, 1000)

    assert messages == [
        "Beskriv vad som gjordes åt brottet i kedjan.",
        "Kommentaren får vara högst 1000 tecken.",
        "Larmet är redan kvitterat.",
    ]
    assert _acknowledgements(app) == 1


def test_an_intact_run_has_no_alarm_to_acknowledge(
    app: Flask, world: World, history: None, manager_client: FlaskClient
) -> None:
    _verify(manager_client)
    chainstatus.wait_all()
    [run] = _runs(app)

    response = _acknowledge(manager_client, run.id, COMMENT)

    assert response.status_code == 400
    assert _acknowledgements(app) == 0
    assert not has_chain_alarm(manager_client.get("/"))


# -- The nightly command ---------------------------------------------------------------------


def test_the_command_records_a_run_the_chain_page_lists_as_nightly(
    app: Flask, history: None, command_env: dict[str, str], manager_client: FlaskClient
) -> None:
    result = CliRunner().invoke(main, ["verify-journal"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "access: 5 entries verified, chain intact",
        "case: 3 entries verified, chain intact",
    ]
    [run] = _runs(app)
    assert (run.started_by_id, run.access_verified, run.case_verified, run.done, run.total) == (
        None, 5, 3, 8, 8)  # fmt: skip
    assert run.finished_at == NOW
    page = manager_client.get("/log/chain")
    assert chain_runs(page) == {
        run.id: ("intact", [SHOWN_NOW, "Nattlig körning", "Intakt", "5", "3", ""])
    }
    assert not has_chain_alarm(manager_client.get("/"))


def test_the_command_on_a_broken_chain_exits_1_and_raises_the_alarm(
    app: Flask, broken: None, command_env: dict[str, str], manager_client: FlaskClient
) -> None:
    result = CliRunner().invoke(main, ["verify-journal"], catch_exceptions=False)

    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"access: BROKEN at entry 3: {ALTERED} (2 entries before it verified)"
    )
    [run] = _runs(app)
    assert (run.started_by_id, run.broken_chain, run.broken_seq) == (None, Chain.ACCESS, 3)
    assert has_chain_alarm(manager_client.get("/"))
    assert chain_runs(manager_client.get("/log/chain"))[run.id][0] == "broken"


def test_the_command_refuses_to_start_while_a_run_is_running(
    app: Flask, history: None, command_env: dict[str, str]
) -> None:
    with app.app_context():
        chainstatus.start(None)

    result = CliRunner().invoke(main, ["verify-journal"])

    assert (result.exit_code, result.output) == (1, "Error: A verification is already running.\n")
    assert len(_runs(app)) == 1


# -- Who may -----------------------------------------------------------------------------------


def test_only_managers_reach_the_chain_status(
    app: Flask, broken: None, coordinator_client: FlaskClient
) -> None:
    with app.app_context():
        run_id = chainstatus.start(None).id
        chainstatus.carry_out(run_id)
    token = csrf_token(coordinator_client)

    responses = [
        coordinator_client.get("/log/chain"),
        coordinator_client.get("/log/"),
        coordinator_client.post("/log/chain/verify", data={"csrf_token": token}),
        coordinator_client.post(
            f"/log/chain/{run_id}/acknowledge", data={"csrf_token": token, "comment": COMMENT}
        ),
    ]
    chainstatus.wait_all()

    assert [response.status_code for response in responses] == [403] * 4
    assert len(_runs(app)) == 1
    assert _acknowledgements(app) == 0
