"""The report pages' forms. Choices of what to show are read from the query string (no CSRF:
they change nothing); settings and reassignment are posted."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp, ValidationError

from coordinator.auth.models import CareUnit
from coordinator.forms import OPTIONAL_CHOICE, plausible_day
from coordinator.reports.models import Indicator
from coordinator.reports.scope import ALL

#: Longest period the statistics cover in one go.
MAX_PERIOD_DAYS = 3 * 366


def unit_choices(units: list[CareUnit]) -> list[tuple[str, str]]:
    choices = [(str(unit.id), unit.name) for unit in units]
    if len(units) > 1:
        choices.append((ALL, str(_l("All my units"))))
    return choices


class _Query(FlaskForm):
    class Meta:
        csrf = False

    unit = SelectField(_l("Unit"), validators=[OPTIONAL_CHOICE])
    submit = SubmitField(_l("Show"))

    def __init__(self, units: list[CareUnit], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit.choices = unit_choices(units)


class PeriodForm(_Query):
    start = DateField(_l("From"), validators=[Optional(), plausible_day])
    end = DateField(_l("To"), validators=[Optional(), plausible_day])

    def validate_end(self, field: DateField) -> None:
        start, end = self.start.data, field.data
        if start and end and end < start:
            raise ValidationError(_l("The end is before the start."))
        if start and end and (end - start).days > MAX_PERIOD_DAYS:
            raise ValidationError(_l("Choose a period of at most three years."))


class MonthForm(_Query):
    month = StringField(
        _l("Month"),
        validators=[Optional(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$",
                                       message=_l("Write the month as YYYY-MM."))],
    )  # fmt: skip

    def chosen_month(self, today: date) -> date:
        if self.month.data:
            year, month = self.month.data.split("-")
            return date(int(year), int(month), 1)
        return today.replace(day=1)


class QuarterForm(_Query):
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(2000, 2100)])
    quarter = SelectField(_l("Quarter"), validators=[OPTIONAL_CHOICE])
    rate = IntegerField(
        _l("Amount per contact (kr)"), validators=[Optional(), NumberRange(0, 100_000)]
    )

    def __init__(self, units: list[CareUnit], *args: Any, **kwargs: Any) -> None:
        super().__init__(units, *args, **kwargs)
        self.quarter.choices = [(str(n), f"Q{n}") for n in range(1, 5)]


class ReassignForm(FlaskForm):
    cases = SelectMultipleField(_l("Cases"), choices=[], validate_choice=False)
    coordinator = SelectField(_l("Give to"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Reassign"))


class PopulationForm(FlaskForm):
    population = IntegerField(
        _l("Inhabitants aged 16–67 in the unit's area"),
        validators=[InputRequired(), NumberRange(1, 2_000_000)],
    )
    submit = SubmitField(_l("Save population"))


class TargetsForm(FlaskForm):
    plan_coverage = IntegerField(
        Indicator.PLAN_COVERAGE.lazy_label, validators=[InputRequired(), NumberRange(0, 100)]
    )
    coordination_decided = IntegerField(
        Indicator.COORDINATION_DECIDED.lazy_label, validators=[InputRequired(), NumberRange(0, 100)]
    )
    days_to_first_contact = IntegerField(
        Indicator.DAYS_TO_FIRST_CONTACT.lazy_label,
        validators=[InputRequired(), NumberRange(0, 365)],
    )
    plan_followed_up = IntegerField(
        Indicator.PLAN_FOLLOWED_UP.lazy_label, validators=[InputRequired(), NumberRange(0, 100)]
    )
    submit = SubmitField(_l("Save targets"))
