"""The one source of the current time, always timezone-aware UTC.

Everything that stamps a row or compares against "now" calls :func:`now`, so the journal and the
sign-in rules agree on the time and tests can move it with ``time_machine``.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


#: The calendar the users live in: sick-leave days, milestones and "today" are Swedish dates.
LOCAL_ZONE = ZoneInfo("Europe/Stockholm")


def today() -> date:
    """Today's date in Sweden (a certificate day starts at local midnight, not UTC's)."""
    return now().astimezone(LOCAL_ZONE).date()


def start_of(day: date) -> datetime:
    """The instant a Swedish day begins (its local midnight)."""
    return datetime.combine(day, time.min, LOCAL_ZONE)


def days_between(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants from ``first``'s start up to, not including, the day after ``last``: what
    "recorded from … to …" means in Sweden, for comparing with stored UTC times."""
    return start_of(first), start_of(last + timedelta(days=1))


def local_day(at: datetime) -> date:
    """The Swedish date of an instant."""
    return at.astimezone(LOCAL_ZONE).date()
