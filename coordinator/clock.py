"""The one source of the current time, always timezone-aware UTC.

Everything that stamps a row or compares against "now" calls :func:`now`, so the journal and the
sign-in rules agree on the time and tests can move it with ``time_machine``.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


#: The calendar the users live in: sick-leave days, milestones and "today" are Swedish dates.
LOCAL_ZONE = ZoneInfo("Europe/Stockholm")


def today() -> date:
    """Today's date in Sweden (a certificate day starts at local midnight, not UTC's)."""
    return now().astimezone(LOCAL_ZONE).date()
