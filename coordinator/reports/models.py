"""What managers set for their reports: indicator targets and the population of a unit's area.

Both are history, not settings overwritten: each change is a new row, and the latest row is
the value in force — so a report can say who set a target and when.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from coordinator import clock
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.labels import Labelled, register


class Indicator(Labelled):
    """The indicator table's rows (seed 004 ≈ 6320: indicator · target · result)."""

    #: Share of active cases with a current (agreed, not ended) plan.
    PLAN_COVERAGE = "plan_coverage"
    #: Share of sick-leave cases past 28 days where coordination has been decided.
    COORDINATION_DECIDED = "coordination_decided"
    #: Median days from sick-leave start to the coordinator's screening decision.
    DAYS_TO_FIRST_CONTACT = "days_to_first_contact"
    #: Share of current plans followed up in the last 30 days.
    PLAN_FOLLOWED_UP = "plan_followed_up"

    @property
    def is_share(self) -> bool:
        """A percentage where higher is better; otherwise days, where lower is better."""
        return self is not Indicator.DAYS_TO_FIRST_CONTACT


register(
    Indicator,
    {
        Indicator.PLAN_COVERAGE: _l("Active cases with a current plan"),
        Indicator.COORDINATION_DECIDED: _l(
            "Sick-leave cases over 28 days with coordination decided"
        ),
        Indicator.DAYS_TO_FIRST_CONTACT: _l(
            "Median days from sick-leave start to first coordinator contact"
        ),
        Indicator.PLAN_FOLLOWED_UP: _l("Plans followed up in the last 30 days"),
    },
)  # fmt: skip

#: Targets until a manager sets the unit's own (percent, or days for the median).
DEFAULT_TARGETS = {
    Indicator.PLAN_COVERAGE: 90,
    Indicator.COORDINATION_DECIDED: 80,
    Indicator.DAYS_TO_FIRST_CONTACT: 14,
    Indicator.PLAN_FOLLOWED_UP: 80,
}


class IndicatorTarget(AppendOnly, Model):
    """A unit's target for one indicator, as set by a manager; the latest row is in force."""

    __tablename__ = "indicator_targets"
    __table_args__ = (Index("ix_indicator_targets_unit_id_indicator", "unit_id", "indicator"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"))
    indicator: Mapped[Indicator] = mapped_column(enum_column(Indicator))
    #: Percent for the shares, days for the median.
    target: Mapped[int]
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    def __repr__(self) -> str:
        return f"<IndicatorTarget {self.id}>"


class UnitPopulation(AppendOnly, Model):
    """Inhabitants aged 16–67 of the unit's area: the quarterly report's per-1000 rate (the
    state agreement's reports counted treatments per 1000 inhabitants of working age)."""

    __tablename__ = "unit_populations"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    population: Mapped[int]
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    def __repr__(self) -> str:
        return f"<UnitPopulation {self.id}>"
