"""Support for the security tests: the database's fingerprint, the CSRF refusal page."""

from __future__ import annotations

import hashlib

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from coordinator.extensions import db

CSRF_MESSAGE = (
    "Formuläret kunde inte skickas eftersom dess säkerhetstoken saknas eller har gått ut. "
    "Ladda om sidan och försök igen."
)


def fingerprint(app: Flask) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of all its rows (in primary-key order).

    Counts alone would miss a change in place (an edited unit, a reset password); the digest
    catches those. ``journal_heads`` — each chain's last sequence number and hash — is among
    the tables, so an appended journal or access-log entry shows twice.
    """
    with app.app_context():
        result = {}
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = db.session.execute(select(table).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
            result[table.name] = (len(rows), digest)
        db.session.rollback()
        return result


def changed_tables(
    before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]
) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


def is_csrf_refusal(response: TestResponse) -> bool:
    """Whether ``response`` is the product's CSRF page: 400, the title, the message."""
    return (
        response.status_code == 400
        and "<h1>Felaktig förfrågan</h1>" in response.text
        and CSRF_MESSAGE in response.text
    )
