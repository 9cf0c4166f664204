"""Which access-log entries a sample check draws, and why (HSLF-FS 2016:40 ch. 4 § 9).

The entries in scope are those of a period made by users (system commands are left out) in
one of the checked units, or to a patient registered at one of them. They are read once —
one row per entry, with the patient's unit, protection flag and surname index — and every
criterion is a function over those rows, so each can be tested on constructed data and the
rules read in one place:

* **random** — entries drawn at random (seeded; the seed is stored with the check);
* **protected identity** — the patient has protected identity;
* **outside the caseload** — a coordinator's access to a patient whose case is assigned to
  someone else and never to them, or made from another unit than the patient's;
* **outside working hours** — local time before the working day starts or after it ends,
  or on a Saturday or Sunday;
* **many patients in a short time** — a user opened, one page at a time, at least
  ``patients`` different patients within ``minutes`` (list pages, which show many patients
  at once as a matter of course, do not count);
* **same surname** — the patient's family name equals one of the user's own (compared
  through the name's blind index: no name is decrypted);
* **after closing** — the patient's cases were all closed before the day of the access.

Each risk criterion contributes up to ``per_criterion`` entries drawn at random from those it
matches; an entry drawn for one criterion is listed with every criterion it meets.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, or_, select

from coordinator import clock
from coordinator.auth.models import User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.logreview.models import Criterion
from coordinator.patients.identity import normalise_name
from coordinator.patients.models import CoordinationCase, Patient

#: Up to this many patients, the cases are fetched by listing their ids.
_LISTED_PATIENTS = 2000
#: Saturday and Sunday (``date.weekday()``).
_WEEKEND = frozenset({5, 6})


@dataclass(frozen=True)
class Rules:
    """The documented parameters of a draw."""

    random: int = 10
    per_criterion: int = 5
    #: The working day, local hours: from ``day_start`` up to, not including, ``day_end``.
    day_start: int = 7
    day_end: int = 18
    burst_patients: int = 15
    burst_minutes: int = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rules:
        return cls(
            random=int(config["LOG_CHECK_RANDOM"]),
            per_criterion=int(config["LOG_CHECK_PER_CRITERION"]),
            day_start=int(config["LOG_WORKING_DAY_START"]),
            day_end=int(config["LOG_WORKING_DAY_END"]),
            burst_patients=int(config["LOG_BURST_PATIENTS"]),
            burst_minutes=int(config["LOG_BURST_MINUTES"]),
        )


class Access(NamedTuple):
    """One access-log entry in scope, with what the criteria need of its patient."""

    seq: int
    at: datetime
    user_id: int
    unit_id: int | None
    role: Role | None
    patient_id: int
    action: AccessAction
    object_type: str
    request_id: str
    patient_unit_id: int
    is_protected: bool
    surname_index: bytes | None


@dataclass(frozen=True)
class CaseSpan:
    """A coordination case as the criteria see it."""

    coordinator_id: int | None
    opened_at: datetime
    closed_on: date | None


@dataclass
class Context:
    """What the criteria read besides the entries: cases and the users' surname indexes."""

    cases: dict[int, list[CaseSpan]] = field(default_factory=dict)
    #: Per user, the blind indexes of the surnames they may have.
    surnames: dict[int, frozenset[bytes]] = field(default_factory=dict)


def _in_scope(units: Sequence[int], first: date, last: date, *columns: Any) -> Select[Any]:
    """``columns`` of the entries of ``first``–``last`` (local days) in scope of ``units``."""
    start, end = clock.days_between(first, last)
    return (
        select(*columns)
        .select_from(AccessLogEntry)
        .join(Patient, Patient.id == AccessLogEntry.patient_id)
        .where(
            AccessLogEntry.at >= start,
            AccessLogEntry.at < end,
            AccessLogEntry.user_id.is_not(None),
            or_(AccessLogEntry.unit_id.in_(units), Patient.unit_id.in_(units)),
        )
    )


def scope(units: Sequence[int], first: date, last: date) -> list[Access]:
    """The entries of ``first``–``last`` (local days) in scope of ``units``, in chain order."""
    query = _in_scope(
        units, first, last,
        AccessLogEntry.seq, AccessLogEntry.at, AccessLogEntry.user_id, AccessLogEntry.unit_id,
        AccessLogEntry.role, AccessLogEntry.patient_id, AccessLogEntry.action,
        AccessLogEntry.object_type, AccessLogEntry.request_id,
        Patient.unit_id, Patient.is_protected, Patient.last_name.index,
    ).order_by(AccessLogEntry.seq)  # fmt: skip
    return [Access._make(row) for row in db.session.execute(query)]


def context(entries: Sequence[Access], units: Sequence[int], first: date, last: date) -> Context:
    """The cases of the patients in scope and the surname indexes of the users.

    One query: for a few patients their ids are listed; for many (a region's month names tens
    of thousands) the scope is the subquery, since thousands of bound ids cost more than
    reading the period's entries again (docs/performance.md)."""
    ids = sorted({entry.patient_id for entry in entries})
    patients: Sequence[int] | Select[Any] = ids
    if len(ids) > _LISTED_PATIENTS:
        patients = _in_scope(units, first, last, AccessLogEntry.patient_id).distinct()
    cases: dict[int, list[CaseSpan]] = defaultdict(list)
    rows = db.session.execute(
        select(
            CoordinationCase.patient_id,
            CoordinationCase.coordinator_id,
            CoordinationCase.opened_at,
            CoordinationCase.closed_on,
        ).where(CoordinationCase.patient_id.in_(patients))
    )
    for patient_id, coordinator_id, opened_at, closed_on in rows:
        cases[patient_id].append(CaseSpan(coordinator_id, opened_at, closed_on))
    user_ids = sorted({entry.user_id for entry in entries})
    names = db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    surnames = {
        user_id: frozenset(Patient.last_name.search_indexes(possible_surnames(full_name)))
        for user_id, full_name in names
    }
    return Context(dict(cases), surnames)


def possible_surnames(full_name: str) -> list[str]:
    """The family names a full name may carry: every word but the first, and every run of
    them ("Anna Berg Lind" → "berg", "lind", "berg lind")."""
    words = normalise_name(full_name).split()[1:]
    return [
        " ".join(words[first:last])
        for first in range(len(words))
        for last in range(first + 1, len(words) + 1)
    ]


# -- the criteria --------------------------------------------------------------------------


def protected_identity(entries: Sequence[Access], _context: Context, _rules: Rules) -> set[int]:
    return {entry.seq for entry in entries if entry.is_protected}


def outside_caseload(entries: Sequence[Access], context: Context, _rules: Rules) -> set[int]:
    matched = set()
    for entry in entries:
        if entry.role is not Role.COORDINATOR:
            continue
        if entry.unit_id != entry.patient_unit_id:
            matched.add(entry.seq)
            continue
        assigned = {case.coordinator_id for case in context.cases.get(entry.patient_id, [])}
        assigned.discard(None)
        if assigned and entry.user_id not in assigned:
            matched.add(entry.seq)
    return matched


def outside_working_hours(entries: Sequence[Access], _context: Context, rules: Rules) -> set[int]:
    matched = set()
    for entry in entries:
        local = entry.at.astimezone(clock.LOCAL_ZONE)
        if local.weekday() in _WEEKEND or not rules.day_start <= local.hour < rules.day_end:
            matched.add(entry.seq)
    return matched


def many_patients(entries: Sequence[Access], _context: Context, rules: Rules) -> set[int]:
    """Entries inside a window of ``burst_minutes`` in which the user opened at least
    ``burst_patients`` different patients, one patient per page."""
    patients_per_request: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        patients_per_request[entry.request_id].add(entry.patient_id)
    by_user: dict[int, list[Access]] = defaultdict(list)
    for entry in entries:
        if len(patients_per_request[entry.request_id]) == 1:
            by_user[entry.user_id].append(entry)
    window = timedelta(minutes=rules.burst_minutes)
    matched: set[int] = set()
    for opened in by_user.values():
        opened.sort(key=lambda entry: entry.at)
        inside: deque[Access] = deque()
        counts: dict[int, int] = defaultdict(int)
        for entry in opened:
            inside.append(entry)
            counts[entry.patient_id] += 1
            while entry.at - inside[0].at >= window:
                dropped = inside.popleft()
                counts[dropped.patient_id] -= 1
                if not counts[dropped.patient_id]:
                    del counts[dropped.patient_id]
            if len(counts) >= rules.burst_patients:
                matched.update(item.seq for item in inside)
    return matched


def same_surname(entries: Sequence[Access], context: Context, _rules: Rules) -> set[int]:
    return {
        entry.seq
        for entry in entries
        if entry.surname_index is not None
        and entry.surname_index in context.surnames.get(entry.user_id, frozenset())
    }


def after_closing(entries: Sequence[Access], context: Context, _rules: Rules) -> set[int]:
    matched = set()
    for entry in entries:
        cases = context.cases.get(entry.patient_id)
        if not cases:
            continue
        day = clock.local_day(entry.at)
        current = [
            case
            for case in cases
            if case.opened_at <= entry.at and (case.closed_on is None or case.closed_on >= day)
        ]
        if not current and any(case.closed_on is not None and case.closed_on < day
                               for case in cases):  # fmt: skip
            matched.add(entry.seq)
    return matched


RISK_CRITERIA: dict[Criterion, Callable[[Sequence[Access], Context, Rules], set[int]]] = {
    Criterion.PROTECTED_IDENTITY: protected_identity,
    Criterion.OUTSIDE_CASELOAD: outside_caseload,
    Criterion.OUTSIDE_WORKING_HOURS: outside_working_hours,
    Criterion.MANY_PATIENTS: many_patients,
    Criterion.SAME_SURNAME: same_surname,
    Criterion.AFTER_CLOSING: after_closing,
}


@dataclass(frozen=True)
class Sample:
    """A drawn sample: the entries, why each was drawn, and how many each criterion matched."""

    entries: list[Access]
    reasons: dict[int, list[Criterion]]
    matched: dict[Criterion, int]
    population: int


def draw(
    entries: Sequence[Access],
    context: Context,
    rules: Rules,
    chosen: Iterable[Criterion],
    seed: str,
) -> Sample:
    """Draw the sample from ``entries`` by the ``chosen`` criteria, reproducibly from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 (reproducible from the stored seed, drawn by secrets)
    chosen = [criterion for criterion in Criterion if criterion in set(chosen)]
    matches: dict[Criterion, set[int]] = {
        criterion: RISK_CRITERIA[criterion](entries, context, rules)
        for criterion in chosen
        if criterion is not Criterion.RANDOM
    }
    drawn_at_random: set[int] = set()
    if Criterion.RANDOM in chosen:
        every = [entry.seq for entry in entries]
        drawn_at_random.update(rng.sample(every, min(rules.random, len(every))))
    picked = set(drawn_at_random)
    for seqs in matches.values():
        candidates = sorted(seqs - picked)
        picked.update(rng.sample(candidates, min(rules.per_criterion, len(candidates))))
    reasons = {
        seq: [Criterion.RANDOM] * (seq in drawn_at_random)
        + [criterion for criterion, seqs in matches.items() if seq in seqs]
        for seq in picked
    }
    sample = [entry for entry in entries if entry.seq in picked]
    matched = {criterion: len(seqs) for criterion, seqs in matches.items()}
    if Criterion.RANDOM in chosen:
        matched = {Criterion.RANDOM: len(entries), **matched}
    return Sample(sample, reasons, matched, len(entries))
