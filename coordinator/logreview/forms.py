"""Forms of the log follow-up pages, all posted: the search too, since a personnummer in a
query string would end up in proxy logs and the browser's history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    Field,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from coordinator.auth.models import CareUnit, User
from coordinator.forms import (
    DATE_HINT,
    NO_CONTROL_CHARACTERS,
    OPTIONAL_CHOICE,
    CheckboxesField,
    bounded,
    enum_choices,
    plausible_day,
)
from coordinator.journal.models import AccessAction
from coordinator.logreview.checks import COMMENT_MAX
from coordinator.logreview.models import Criterion, Finding, LogCheckItem
from coordinator.reports.forms import unit_choices
from coordinator.reports.scope import ALL


def _period_ends_after_start(form: Any, field: Field) -> None:
    if form.first.data and field.data and field.data < form.first.data:
        raise ValidationError(_l("The period must end on or after its first day."))


class SearchForm(FlaskForm):
    unit = SelectField(_l("Unit"), validators=[OPTIONAL_CHOICE])
    user = SelectField(_l("User"), validators=[OPTIONAL_CHOICE])
    personnummer = StringField(_l("Patient (personnummer)"), validators=[Optional(), bounded(20)])
    action = SelectField(_l("Action"), validators=[OPTIONAL_CHOICE])
    first = DateField(_l("From"), validators=[Optional(), plausible_day], description=DATE_HINT)
    last = DateField(
        _l("To"), validators=[Optional(), plausible_day, _period_ends_after_start],
        description=DATE_HINT,
    )  # fmt: skip
    page = IntegerField(validators=[Optional(), NumberRange(min=1)])
    submit = SubmitField(_l("Search"))

    def __init__(self, units: list[CareUnit], users: list[User], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.unit.choices = unit_choices(units)
        self.user.choices = [("", str(_l("Anyone")))] + [(str(u.id), u.full_name) for u in users]
        self.action.choices = [("", str(_l("Any action"))), *enum_choices(AccessAction)]


def last_month(today: date) -> tuple[date, date]:
    """The calendar month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


class DrawForm(FlaskForm):
    unit = SelectField(_l("Units"))
    first = DateField(_l("From"), validators=[InputRequired(DATE_HINT)], description=DATE_HINT)
    last = DateField(
        _l("To"),
        validators=[InputRequired(DATE_HINT), _period_ends_after_start],
        description=DATE_HINT,
    )
    criteria = CheckboxesField(
        _l("Criteria"), validators=[InputRequired(_l("Choose at least one criterion."))]
    )
    submit = SubmitField(_l("Draw sample"))

    def __init__(self, units: list[CareUnit], today: date, *args: Any, **kw: Any) -> None:
        first, last = last_month(today)
        every = [criterion.value for criterion in Criterion]
        kw.setdefault("data", {"first": first, "last": last, "criteria": every})
        super().__init__(*args, **kw)
        self.unit.choices = unit_choices(units)
        self.criteria.choices = enum_choices(Criterion)

    def chosen_units(self, units: list[CareUnit]) -> list[CareUnit]:
        if self.unit.data == ALL:
            return units
        return [unit for unit in units if str(unit.id) == self.unit.data]


class FindingsForm(FlaskForm):
    """One finding and comment per sampled item; fields named after the item ids."""

    submit = SubmitField(_l("Save findings"))


def findings_form(items: list[LogCheckItem], *args: Any, **kw: Any) -> FindingsForm:
    """A :class:`FindingsForm` with a finding and a comment field for each of ``items``."""

    class Form(FindingsForm):
        pass

    for item in items:
        setattr(
            Form,
            f"finding_{item.id}",
            RadioField(
                _l("Finding"),
                validators=[OPTIONAL_CHOICE],
                default=item.finding.value if item.finding else None,
            ),
        )
        setattr(
            Form,
            f"comment_{item.id}",
            StringField(
                _l("Comment"),
                validators=[bounded(COMMENT_MAX), NO_CONTROL_CHARACTERS],  # kept in the clear
                default=item.comment,
            ),
        )
    form = Form(*args, **kw)
    for item in items:
        form[f"finding_{item.id}"].choices = enum_choices(Finding)
    return form


class SignForm(FlaskForm):
    summary = TextAreaField(
        _l("Summary"),
        validators=[bounded(COMMENT_MAX), NO_CONTROL_CHARACTERS],
        description=_l("What the check found and what will be followed up."),
    )
    submit = SubmitField(_l("Sign the check"))


class VerifyForm(FlaskForm):
    submit = SubmitField(_l("Verify the chains now"))


class AcknowledgeForm(FlaskForm):
    comment = TextAreaField(
        _l("What was done"),
        validators=[
            InputRequired(_l("Say what was done about the break.")),
            bounded(1000),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField(_l("Acknowledge the alarm"))
