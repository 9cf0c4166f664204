"""Checks the services apply to values a form has already parsed: free text and the day
something happened. Each refusal is an :class:`InvalidField` shown next to its field."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from coordinator.errors import InvalidField

#: How far back something may be registered after the fact.
BACKDATING_LIMIT = timedelta(days=366)


def text(value: str | None, field_name: str, limit: int, *, required: object = None) -> str | None:
    """``value`` stripped (None when empty); refused when too long, or empty and ``required``
    (the message to show)."""
    value = (value or "").strip() or None
    if value is None and required is not None:
        raise InvalidField(field_name, required)
    if value is not None and len(value) > limit:
        raise InvalidField(field_name, _l("At most %(max)d characters.", max=limit))
    return value


def past_day(day: date, field_name: str, today: date) -> None:
    """A day something happened: not in the future, at most a year back."""
    if day > today:
        raise InvalidField(field_name, _l("The date cannot be in the future."))
    if day < today - BACKDATING_LIMIT:
        raise InvalidField(field_name, _l("The date cannot be more than a year back."))
