"""Today: the coordinator's work queue — what needs attention, gathered from every feature.

A feature adds to the queue by registering a provider::

    @today.provider
    def consents_expiring(context: today.Context) -> Iterable[today.Group]: ...

Providers get the coordinator's caseload rows (computed once, see :mod:`.caseload`) and return
groups of patient ids with a heading; the page loads all patients shown in one query and logs
them as read. This module registers the providers the patients feature owns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from coordinator import clock
from coordinator.access import Actor
from coordinator.patients import caseload
from coordinator.patients.caseload import CaseloadRow, Filters, Scope, StatusFilter
from coordinator.patients.models import CaseStatus, Patient
from coordinator.patients.screening import ScreeningRules, signal_text

#: How many patients a group shows before "and N more" links to the filtered list.
GROUP_LIMIT = 15
#: What counts as "new" for a user who has never opened Today.
FIRST_VISIT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Context:
    actor: Actor
    today: date
    #: The previous visit to Today: what is new is newer than this.
    since: datetime
    rules: ScreeningRules
    #: The actor's open cases and the unit's unassigned ones.
    rows: list[CaseloadRow]


@dataclass
class Group:
    #: Stable identifier (CSS anchor, tests).
    key: str
    title: str
    #: Patients in the group, most urgent first, each with a short note ("day 90 on 3 Dec").
    items: list[tuple[int, str]]
    #: Query arguments of the caseload list showing the whole group, if there is one.
    list_args: dict[str, str] | None = None
    #: Filled by :func:`queue`: the patients shown, by id.
    patients: dict[int, Patient] = field(default_factory=dict)

    @property
    def shown(self) -> list[tuple[Patient, str]]:
        return [(self.patients[pid], note) for pid, note in self.items[:GROUP_LIMIT]]

    @property
    def more(self) -> int:
        return max(0, len(self.items) - GROUP_LIMIT)


Provider = Callable[[Context], Iterable[Group]]
_PROVIDERS: list[Provider] = []


def provider(function: Provider) -> Provider:
    """Register a source of attention items (the extension point later features use)."""
    _PROVIDERS.append(function)
    return function


def start_visit(actor: Actor) -> datetime:
    """Record this visit; return the previous one (what "new since last visit" compares to)."""
    now = clock.now()
    previous = actor.user.today_seen_at or now - FIRST_VISIT_WINDOW
    actor.user.today_seen_at = now
    return previous


def queue(actor: Actor, since: datetime, rules: ScreeningRules) -> list[Group]:
    """Every provider's groups, with their patients loaded and logged as read."""
    today = clock.today()
    mine, _ = caseload.rows(
        actor, Filters(scope=Scope.MINE, status=StatusFilter.OPEN), today, rules
    )
    unassigned, _ = caseload.rows(
        actor, Filters(scope=Scope.UNASSIGNED, status=StatusFilter.OPEN), today, rules
    )
    context = Context(actor, today, since, rules, mine + unassigned)
    in_queue = {row.patient_id for row in context.rows}
    groups = []
    for source in _PROVIDERS:
        for group in source(context):
            # Only the coordinator's own queue: a provider cannot widen what is shown.
            group.items = [(pid, note) for pid, note in group.items if pid in in_queue]
            if group.items:
                groups.append(group)
    shown = {pid for group in groups for pid, _ in group.items[:GROUP_LIMIT]}
    rows = [row for row in context.rows if row.patient_id in shown]
    caseload.load(actor, rows)
    patients = {row.patient_id: row.patient for row in rows if row.patient is not None}
    for group in groups:
        group.patients = patients
    return groups


# -- The patients feature's own providers -------------------------------------------------


@provider
def new_certificates(context: Context) -> Iterable[Group]:
    items = [
        (row.patient_id, _note_sick_leave(row))
        for row in sorted(context.rows, key=lambda r: -r.days)
        if row.certificate_added_at is not None and row.certificate_added_at > context.since
    ]
    yield Group("new-certificates", str(_l("New certificates since your last visit")), items)


@provider
def assigned_to_me(context: Context) -> Iterable[Group]:
    items = [
        (row.patient_id, str(_l("Now yours")))
        for row in context.rows
        if row.coordinator_id == context.actor.user.id
        and row.assigned_at is not None
        and row.assigned_at > context.since
    ]
    yield Group("assigned", str(_l("Cases given to you since your last visit")), items)


@provider
def to_screen(context: Context) -> Iterable[Group]:
    items = [
        (row.patient_id, ", ".join(signal_text(s, context.rules) for s in row.signals[:2]))
        for row in sorted(context.rows, key=lambda r: -r.days)
        if row.status is CaseStatus.NEW and row.signals
    ]
    yield Group(
        "to-screen",
        str(_l("Patients with signals to screen")),
        items,
        {"status": "new", "scope": "unit"},
    )


@provider
def milestones(context: Context) -> Iterable[Group]:
    horizon = context.today + timedelta(days=context.rules.milestone_notice_days)
    upcoming = [
        row for row in context.rows if row.milestone is not None and row.milestone[1] <= horizon
    ]
    upcoming.sort(key=lambda row: row.milestone[1] if row.milestone else date.max)
    items = [
        (
            row.patient_id,
            str(_l("Day %(n)d on %(date)s", n=row.milestone[0], date=row.milestone[1].isoformat())),
        )
        for row in upcoming
        if row.milestone is not None
    ]
    yield Group("milestones", str(_l("Milestones within %(n)d days",
                                     n=context.rules.milestone_notice_days)), items,
                {"sort": "milestone"})  # fmt: skip


@provider
def follow_ups(context: Context) -> Iterable[Group]:
    due = [
        row
        for row in context.rows
        if row.follow_up_on is not None and row.follow_up_on <= context.today
    ]
    due.sort(key=lambda row: row.follow_up_on or date.max)
    items = [
        (row.patient_id, str(_l("Due %(date)s", date=row.follow_up_on.isoformat())))
        for row in due
        if row.follow_up_on is not None
    ]
    yield Group("follow-ups", str(_l("Follow-ups due or overdue")), items,
                {"follow_up": "due", "sort": "follow_up"})  # fmt: skip


def _note_sick_leave(row: CaseloadRow) -> str:
    if not row.days:
        return str(_l("Not sick-listed today"))
    return str(_l("Day %(n)d, %(degree)d %%", n=row.days, degree=row.summary.degree or 0))
