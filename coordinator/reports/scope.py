"""Which care units a report covers: the manager's own, one or all of them."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l

from coordinator.access import Actor
from coordinator.auth.models import CareUnit
from coordinator.auth.roles import Role
from coordinator.errors import Forbidden, NotFound

#: The ``unit`` parameter's value for every unit the manager works in.
ALL = "all"


def require_manager(actor: Actor) -> None:
    """Reports are the managers' (the views say so too; commands and later callers cannot skip
    it)."""
    if actor.role is not Role.MANAGER:
        raise Forbidden(_l("Only managers see the reports."))


def require_own_units(actor: Actor, units: Sequence[CareUnit]) -> None:
    """``units`` are some of the manager's: another unit (or none) is not found."""
    require_manager(actor)
    mine = {unit.id for unit in actor.user.active_units}
    if not units or any(unit.id not in mine for unit in units):
        raise NotFound()


def manager_units(actor: Actor, unit: str | int | None) -> list[CareUnit]:
    """The units a report asked for with ``unit``: None for the current unit, ``"all"`` for
    every unit the manager works in, or one of them by id. Another unit is not found."""
    require_manager(actor)
    if unit is None or unit == "":
        if actor.unit is None:
            raise NotFound()
        return [actor.unit]
    if unit == ALL:
        return list(actor.user.active_units)
    try:
        unit_id = int(unit)
    except ValueError as error:
        raise NotFound() from error
    chosen = [candidate for candidate in actor.user.active_units if candidate.id == unit_id]
    if not chosen:
        raise NotFound()
    return chosen
