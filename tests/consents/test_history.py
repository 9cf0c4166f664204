"""Consents, withdrawals and disclosures are history: neither the ORM nor the database lets
them be changed or deleted; only key rotation's rewrite of a sealed column goes through."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from coordinator.consents import service
from coordinator.consents.models import (
    Consent,
    ConsentAnswer,
    ConsentKind,
    ConsentWithdrawal,
    Disclosure,
)
from coordinator.consents.service import Recipient
from coordinator.database import AppendOnlyError
from coordinator.extensions import db
from coordinator.patients import service as patients
from tests.conftest import World
from tests.consents.support import give, june
from tests.crypto.support import actor_for, stored
from tests.databases import is_postgres

pytestmark = pytest.mark.usefixtures("frozen")

PURPOSE = "Planera återgång i arbete med chefen."


@pytest.fixture
def history(app: Flask, world: World) -> dict[str, int]:
    """A consent (withdrawn) and a disclosure made on it, committed; their ids."""
    with app.app_context():
        me = actor_for(world.coordinator_a, world.unit_a)
        patient = patients.get_patient(me, uuid.UUID(world.patient_a.uid))
        consent = give(me, patient, ConsentKind.EMPLOYER, june(1), purpose=PURPOSE)
        disclosure = service.disclose(
            me, patient, Recipient(ConsentKind.EMPLOYER), june(5), "Sjukskrivningstid."
        )
        withdrawal = service.withdraw(me, patient, consent, june(10), None)
        ids = {"consent": consent.id, "disclosure": disclosure.id, "withdrawal": withdrawal.id}
        db.session.commit()
        return ids


CHANGES: dict[str, tuple[type, str, Callable[[object], None]]] = {
    "consent-answer": (Consent, "consent", lambda c: setattr(c, "answer", ConsentAnswer.REFUSED)),
    "consent-purpose": (Consent, "consent", lambda c: setattr(c, "purpose", "Allt.")),
    "withdrawal-day": (
        ConsentWithdrawal, "withdrawal", lambda w: setattr(w, "withdrawn_on", june(11)),
    ),
    "disclosure-summary": (Disclosure, "disclosure", lambda d: setattr(d, "summary", "Inget.")),
}  # fmt: skip


@pytest.mark.parametrize(("model", "key", "change"), CHANGES.values(), ids=CHANGES.keys())
def test_the_orm_refuses_to_change_a_record(
    app: Flask, history: dict[str, int], model: type, key: str, change: Callable[[object], None]
) -> None:
    with app.app_context():
        row = db.session.get(model, history[key])
        change(row)

        with pytest.raises(AppendOnlyError, match=rf"^{model.__name__} records are never changed$"):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize("model", [Consent, ConsentWithdrawal, Disclosure])
def test_the_orm_refuses_to_delete_a_record(
    app: Flask, history: dict[str, int], model: type
) -> None:
    key = {Consent: "consent", ConsentWithdrawal: "withdrawal", Disclosure: "disclosure"}[model]
    with app.app_context():
        db.session.delete(db.session.get(model, history[key]))

        with pytest.raises(AppendOnlyError, match=rf"^{model.__name__} records are never deleted$"):
            db.session.commit()
        db.session.rollback()

        assert db.session.get(model, history[key]) is not None


REFUSED_SQL = {
    "consent-answer": ("UPDATE consents SET answer = 'refused'", "consents"),
    "consent-day": ("UPDATE consents SET given_on = '2026-05-01'", "consents"),
    "consent-other-patient": ("UPDATE consents SET patient_id = patient_id + 1", "consents"),
    "consent-delete": ("DELETE FROM consents", "consents"),
    "withdrawal-day": (
        "UPDATE consent_withdrawals SET withdrawn_on = '2026-06-11'",
        "consent_withdrawals",
    ),
    "withdrawal-delete": ("DELETE FROM consent_withdrawals", "consent_withdrawals"),
    "disclosure-day": ("UPDATE disclosures SET disclosed_on = '2026-06-06'", "disclosures"),
    "disclosure-recipient": ("UPDATE disclosures SET recipient = 'municipality'", "disclosures"),
    "disclosure-delete": ("DELETE FROM disclosures", "disclosures"),
}


def _rows() -> tuple[object, ...]:
    return tuple(
        tuple(db.session.execute(text(f"SELECT * FROM {table} ORDER BY id")).all())  # noqa: S608
        for table in ("consents", "consent_withdrawals", "disclosures")
    )


@pytest.mark.parametrize(("statement", "table"), REFUSED_SQL.values(), ids=REFUSED_SQL.keys())
def test_the_database_refuses_to_rewrite_or_delete_a_record(
    app: Flask, history: dict[str, int], statement: str, table: str
) -> None:
    with app.app_context():
        before = _rows()
        db.session.rollback()

        with pytest.raises(DatabaseError) as refused:
            db.session.execute(text(statement))
        db.session.rollback()

        assert _rows() == before
    assert f"{table} is append-only" in str(refused.value)


@pytest.mark.skipif(not is_postgres(), reason="SQLite has no TRUNCATE")
@pytest.mark.parametrize("table", ["consents", "consent_withdrawals", "disclosures"])
def test_postgres_refuses_to_truncate_a_table(
    app: Flask, history: dict[str, int], table: str
) -> None:
    with app.app_context(), pytest.raises(DatabaseError) as refused:
        db.session.execute(text(f"TRUNCATE {table} CASCADE"))
    assert f"{table} is append-only" in str(refused.value)


def test_re_encrypting_a_sealed_column_is_allowed(app: Flask, history: dict[str, int]) -> None:
    """What key rotation does: new ciphertext of the same text, nothing else touched."""
    table = Consent.__table__
    with app.app_context():
        consent = db.session.get(Consent, history["consent"])
        assert consent is not None
        old = stored("consents", "purpose", consent.id)
        sealed = Consent.purpose.encrypt(consent.uid.hex, PURPOSE)
        db.session.rollback()

        db.session.execute(update(table).where(table.c.id == consent.id).values(purpose=sealed))
        db.session.commit()
        db.session.expire_all()

        again = db.session.scalars(select(Consent).where(Consent.id == history["consent"])).one()
        assert (stored("consents", "purpose", again.id), again.purpose) == (sealed, PURPOSE)
        assert sealed != old
