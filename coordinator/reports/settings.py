"""What a manager sets for a unit's reports: indicator targets and the area's population."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from coordinator import clock
from coordinator.access import Actor
from coordinator.errors import InvalidField
from coordinator.extensions import db
from coordinator.reports.models import DEFAULT_TARGETS, Indicator, IndicatorTarget, UnitPopulation
from coordinator.reports.scope import manager_units

#: Larger than any Swedish region's working-age population: a typing error.
POPULATION_MAX = 2_000_000
#: A median above a year is no target.
DAYS_MAX = 365


def targets(unit_id: int) -> dict[Indicator, int]:
    """The unit's targets in force, the defaults where none is set."""
    latest = (
        select(func.max(IndicatorTarget.id))
        .where(IndicatorTarget.unit_id == unit_id)
        .group_by(IndicatorTarget.indicator)
    )
    rows = db.session.execute(
        select(IndicatorTarget.indicator, IndicatorTarget.target).where(
            IndicatorTarget.id.in_(latest)
        )
    )
    return {**DEFAULT_TARGETS, **{indicator: target for indicator, target in rows}}


def populations(unit_ids: Iterable[int]) -> dict[int, int]:
    """The population in force (latest set) per unit."""
    ids = list(unit_ids)
    latest = (
        select(func.max(UnitPopulation.id))
        .where(UnitPopulation.unit_id.in_(ids))
        .group_by(UnitPopulation.unit_id)
    )
    rows = db.session.execute(
        select(UnitPopulation.unit_id, UnitPopulation.population).where(
            UnitPopulation.id.in_(latest)
        )
    )
    return {unit_id: population for unit_id, population in rows}


def set_target(actor: Actor, unit_id: int, indicator: Indicator, value: int) -> None:
    """Set one target for one of the manager's units (kept as history)."""
    manager_units(actor, unit_id)
    limit = 100 if indicator.is_share else DAYS_MAX
    if not 0 <= value <= limit:
        raise InvalidField(indicator.value, _l("Give a number from 0 to %(max)d.", max=limit))
    if targets(unit_id)[indicator] == value:
        return
    db.session.add(IndicatorTarget(unit_id=unit_id, indicator=indicator, target=value,
                                   set_by_id=actor.user.id, set_at=clock.now()))  # fmt: skip
    db.session.flush()


def set_population(actor: Actor, unit_id: int, value: int) -> None:
    """Set the population aged 16–67 of one of the manager's units' area."""
    manager_units(actor, unit_id)
    if not 1 <= value <= POPULATION_MAX:
        raise InvalidField("population", _l("Give a number from 1 to %(max)d.", max=POPULATION_MAX))
    db.session.add(UnitPopulation(unit_id=unit_id, population=value, set_by_id=actor.user.id,
                                  set_at=clock.now()))  # fmt: skip
    db.session.flush()
