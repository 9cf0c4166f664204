"""Migration 0002 moves the TOTP secrets that 0001 stored in plain text behind encryption."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from coordinator.auth.models import User
from coordinator.database import UTCDateTime
from coordinator.extensions import db
from tests.conftest import make_app
from tests.crypto.support import stored
from tests.databases import DatabaseFactory

#: The users table as revision 0001 left it (the columns an insert needs).
USERS_0001 = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("full_name", sa.String),
    sa.column("role", sa.String),
    sa.column("password_hash", sa.String),
    sa.column("session_token", sa.String),
    sa.column("must_change_password", sa.Boolean),
    sa.column("password_changed_at", UTCDateTime),
    sa.column("totp_secret", sa.String),
    sa.column("totp_pending_secret", sa.String),
    sa.column("is_active", sa.Boolean),
    sa.column("created_at", UTCDateTime),
)


@pytest.fixture
def empty_app(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Flask]:
    url = databases.empty()
    app = make_app(url, tmp_path / "instance")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)


def _user(user_id: int, totp_secret: str | None, pending: str | None) -> dict[str, object]:
    at = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    return {
        "id": user_id,
        "username": f"user{user_id}",
        "full_name": f"Användare {user_id}",
        "role": "coordinator",
        "password_hash": "not-a-real-hash",
        "session_token": f"token-{user_id}",
        "must_change_password": False,
        "password_changed_at": at,
        "totp_secret": totp_secret,
        "totp_pending_secret": pending,
        "is_active": True,
        "created_at": at,
    }


def test_upgrading_seals_the_totp_secrets_stored_in_plain_text(empty_app: Flask) -> None:
    enrolled, pending, both = (pyotp.random_base32() for _ in range(3))
    with empty_app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as connection:
            connection.execute(
                USERS_0001.insert(),
                [
                    _user(1, enrolled, None),
                    _user(2, None, pending),
                    _user(3, both, both),
                    _user(4, None, None),
                ],
            )

        upgrade()

        raw = {
            (user_id, column): db.session.execute(
                sa.text(f"SELECT {column} FROM users WHERE id = :id"),  # noqa: S608
                {"id": user_id},
            ).scalar_one()
            for user_id in (1, 2, 3, 4)
            for column in ("totp_secret", "totp_pending_secret")
        }
        sealed = stored("users", "totp_secret", 1)
        read = {
            user.id: (user.totp_secret, user.totp_pending_secret)
            for user in db.session.scalars(sa.select(User).order_by(User.id))
        }
        identities = db.session.scalars(sa.select(User.uid)).all()

    assert read == {1: (enrolled, None), 2: (None, pending), 3: (both, both), 4: (None, None)}
    for secret, value in (
        (enrolled, raw[1, "totp_secret"]),
        (pending, raw[2, "totp_pending_secret"]),
        (both, raw[3, "totp_secret"]),
        (both, raw[3, "totp_pending_secret"]),
    ):
        assert isinstance(value, bytes)
        assert secret.encode() not in value
        assert value[:3] == bytes([1, 0, 1])  # format 1, key version 1
    assert raw[3, "totp_secret"] != raw[3, "totp_pending_secret"]  # bound to its column
    assert raw[1, "totp_pending_secret"] is None
    assert raw[4, "totp_secret"] is None
    assert len(sealed) == 31 + len(enrolled)
    assert len(set(identities)) == 4  # every user got a row identity of its own


def test_downgrading_gives_the_secrets_back_in_plain_text(empty_app: Flask) -> None:
    secret, pending = pyotp.random_base32(), pyotp.random_base32()
    with empty_app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as connection:
            connection.execute(
                USERS_0001.insert(), [_user(1, secret, pending), _user(2, None, None)]
            )
        upgrade()

        downgrade(revision="0001")

        with db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    USERS_0001.c.id, USERS_0001.c.totp_secret, USERS_0001.c.totp_pending_secret
                ).order_by(USERS_0001.c.id)
            ).all()

    assert [tuple(row) for row in rows] == [(1, secret, pending), (2, None, None)]
