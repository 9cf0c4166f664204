"""Counting failed sign-in attempts and locking a username after too many.

The counter is incremented with one atomic upsert, so parallel guesses cannot slip past the
limit by racing each other.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from coordinator.auth.models import LoginThrottle, normalise_username
from coordinator.database import UTCDateTime, persist_despite_failure
from coordinator.extensions import db


def _hash_key() -> bytes:
    """A key for hashing typed usernames, derived from (and distinct from) the secret key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"coordinator:login-throttle")
    return hkdf.derive(current_app.config["SECRET_KEY"].encode())


def key_for(username: str) -> str:
    digest = hmac.new(_hash_key(), normalise_username(username).encode(), hashlib.sha256)
    return digest.hexdigest()


def locked_until(username: str, at: datetime) -> datetime | None:
    """When the lock on this username ends, or None if it is not locked at ``at``."""
    row = db.session.get(LoginThrottle, key_for(username), populate_existing=True)
    if row is None or not row.is_locked(at):
        return None
    return row.locked_until


def forget_expired_lock(username: str, at: datetime) -> None:
    """Start counting afresh once a lock has run out."""
    row = db.session.get(LoginThrottle, key_for(username))
    if row is not None and row.locked_until is not None and not row.is_locked(at):
        db.session.delete(row)
        db.session.flush()


def record_failure(username: str, at: datetime) -> datetime | None:
    """Count one failed attempt; return the end of the lock if this attempt caused one."""
    config = current_app.config
    limit = config["LOGIN_MAX_FAILURES"]
    until = at + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LoginThrottle).values(
        key=key_for(username),
        failure_count=1,
        last_failure_at=at,
        locked_until=until if limit <= 1 else None,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            "failure_count": LoginThrottle.failure_count + 1,
            "last_failure_at": bindparam("failed_at", at, type_=UTCDateTime()),
            "locked_until": case(
                (
                    LoginThrottle.failure_count + 1 >= limit,
                    bindparam("lock_until", until, type_=UTCDateTime()),
                ),
                else_=LoginThrottle.locked_until,
            ),
        },
    )
    db.session.execute(statement)
    persist_despite_failure()  # the refusal that follows must not undo the count
    return locked_until(username, at)


def clear(username: str) -> None:
    """Forget the failures of a username (after a successful sign-in, or an admin's unlock)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key_for(username)))


def locks_for(usernames: dict[int, str], at: datetime) -> dict[int, datetime]:
    """For many users at once: ``{user id: end of lock}`` for those locked at ``at``."""
    keys = {key_for(name): user_id for user_id, name in usernames.items()}
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return {
        keys[row.key]: row.locked_until
        for row in rows
        if row.locked_until is not None and row.is_locked(at)
    }
