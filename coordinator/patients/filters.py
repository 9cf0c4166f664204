"""The caseload list's query string: read into :class:`caseload.Filters`, written back for links.

Unknown or malformed values fall back to the defaults (a bookmarked link from an older
version still opens), and nothing in the query string is personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import url_for
from flask_babel import lazy_gettext as _l

from coordinator.access import Actor
from coordinator.auth.roles import Role
from coordinator.patients.caseload import Filters, FollowUpFilter, Scope, Sort, StatusFilter
from coordinator.patients.diagnoses import AgreementGroup, DiagnosisGroup
from coordinator.patients.forms import CaseloadForm
from coordinator.patients.models import CaseStatus
from coordinator.patients.screening import Signal
from coordinator.patients.sickleave import DEGREES, LENGTH_BANDS, band_label
from coordinator.plans.queries import PlanFilter

E = TypeVar("E", bound=StrEnum)

_ANY = ("", _l("Any"))


def _enum(kind: type[E], value: str | None, default: E | None) -> E | None:
    try:
        return kind(value) if value else default
    except ValueError:
        return default


def _int(value: str | None, allowed: Any) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number in allowed else None


def read(args: Mapping[str, str], actor: Actor) -> tuple[CaseloadForm, Filters]:
    """The filter form filled from ``args`` and the filters it means."""
    form = CaseloadForm(formdata=args)
    _set_choices(form)
    default_scope = Scope.MINE if actor.role is Role.COORDINATOR else Scope.UNIT
    scope = _enum(Scope, args.get("scope"), default_scope) or default_scope
    if actor.role is not Role.COORDINATOR and scope is Scope.MINE:
        scope = Scope.UNIT  # a manager has no caseload of their own
    form.scope.data = scope.value
    page = _int(args.get("page"), range(1, 100_000)) or 1
    chosen = Filters(
        scope=scope,
        status=_enum(StatusFilter, args.get("status"), StatusFilter.OPEN) or StatusFilter.OPEN,
        signal=_enum(Signal, args.get("signal"), None),
        band_start=_int(args.get("band"), [low for low, _ in LENGTH_BANDS]),
        degree=_int(args.get("degree"), DEGREES),
        group=args.get("group") if args.get("group") in _GROUP_VALUES else None,
        follow_up=_enum(FollowUpFilter, args.get("follow_up"), None),
        plan=_enum(PlanFilter, args.get("plan"), None),
        sort=_enum(Sort, args.get("sort"), Sort.NAME) or Sort.NAME,
        descending=args.get("descending") in ("y", "1", "on", "true"),
        page=page,
    )
    return form, chosen


_GROUP_VALUES = {g.value for g in DiagnosisGroup} | {g.value for g in AgreementGroup}


def _set_choices(form: CaseloadForm) -> None:
    form.scope.choices = [
        (Scope.MINE.value, _l("My patients")),
        (Scope.UNIT.value, _l("All patients of the unit")),
        (Scope.UNASSIGNED.value, _l("Without coordinator")),
    ]
    form.status.choices = [
        (StatusFilter.OPEN.value, _l("Open cases")),
        *[(status.value, status.label) for status in CaseStatus],
        (StatusFilter.ALL.value, _l("All")),
    ]
    form.signal.choices = [_ANY, *[(signal.value, signal.label) for signal in Signal]]
    form.band.choices = [_ANY, *[(str(b[0]), band_label(b) + " " + str(_l("days")))
                                 for b in LENGTH_BANDS]]  # fmt: skip
    form.degree.choices = [_ANY, *[(str(d), f"{d} %") for d in DEGREES]]
    form.group.choices = [
        _ANY,
        *[(group.value, group.label) for group in AgreementGroup],
        *[(group.value, group.label) for group in DiagnosisGroup],
    ]
    form.follow_up.choices = [
        _ANY,
        (FollowUpFilter.DUE.value, _l("Due or overdue")),
        (FollowUpFilter.WEEK.value, _l("Within 7 days")),
        (FollowUpFilter.NONE.value, _l("No date set")),
    ]
    form.plan.choices = [_ANY, *[(which.value, which.label) for which in PlanFilter]]
    form.sort.choices = [(sort.value, sort.label) for sort in Sort]


def url_for_page(args: Mapping[str, str], page: int) -> str:
    """The list's URL with the same filters and another page."""
    query = {key: value for key, value in args.items() if key != "page" and value}
    query["page"] = str(page)
    return url_for("patients.index") + "?" + urlencode(query)


def url_for_filters(**values: str) -> str:
    return url_for("patients.index") + "?" + urlencode(values)
