"""The one source of the current time, always timezone-aware UTC.

Everything that stamps a row or compares against "now" calls :func:`now`, so the journal and the
sign-in rules agree on the time and tests can move it with ``time_machine``.
"""

from datetime import UTC, datetime


def now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)
