"""Form building blocks shared by every domain package, and how a form page is answered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, SelectMultipleField
from wtforms.validators import Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from coordinator.errors import DomainError

#: The hint (and message) of every date field.
DATE_HINT = _l("Write the date as YYYY-MM-DD.")

#: The days a date that filters or bounds a search may be: before and after anything on
#: record, and far enough from the calendar's ends (years 1 and 9999) that the day arithmetic
#: behind the search cannot overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def plausible_day(_form: Any, field: Field) -> None:
    """A date field's day lies between :data:`FIRST_DAY` and :data:`LAST_DAY`."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(
            _l("Write a date between %(first)s and %(last)s.",
               first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
        )  # fmt: skip


#: ``Optional`` for a choice (select or radio): only a missing or empty value is no choice.
#: Plain ``Optional`` takes whitespace as empty too and then clears the field's "not a valid
#: choice" error, so the view got " " as the choice (a 500 where it became an enum member).
OPTIONAL_CHOICE = Optional(strip_whitespace=False)

#: The longest value any single-line text field accepts, unless a field says otherwise.
SHORT_TEXT = 200


def bounded(maximum: int = SHORT_TEXT, minimum: int = 0) -> Length:
    """A length check with a message in the user's language."""
    if minimum:
        message = _l("Between %(min)d and %(max)d characters.", min=minimum, max=maximum)
    else:
        message = _l("At most %(max)d characters.", max=maximum)
    return Length(min=minimum, max=maximum, message=message)


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def enum_choices(members: Iterable[Any]) -> list[tuple[str, str]]:
    """Choices for a select or radio field from enum members with a ``label``: an enum class
    (every member) or a list of members. Set them per form instance, in the request's language.
    """
    return [(member.value, member.label) for member in members]


class VersionedForm(FlaskForm):
    """A form that changes a record under optimistic locking: it carries the record's version
    (lock) as the user saw it, and the service refuses the change if it has moved on."""

    version = HiddenField()

    @property
    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


#: Refuses the C0 control characters other than tab and line breaks, and DEL: nothing a person
#: types, and PostgreSQL cannot take NUL in a text value at all (the query itself fails).
NO_CONTROL_CHARACTERS = Regexp(
    r"\A[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\Z",
    message=_l("Remove the invisible control characters (such as NUL)."),
)

USERNAME_PATTERN = Regexp(
    r"^[A-Za-z0-9._-]{2,64}$",
    message=_l("2–64 characters: letters a–z, digits, dot, hyphen or underscore."),
)


def render_form(
    template: str, form: FlaskForm, *, error: DomainError | None = None, **context: Any
) -> tuple[str, int]:
    """Render a form page with the status that says what happened.

    200 when the form is shown for the first time, 400 when it came back invalid (each field
    names its problem), and the error's own status when a service refused it (its message is
    shown above the form as ``error``, or next to its field for an ``InvalidField``).
    """
    if error is not None:
        status = error.status_code
    elif form.is_submitted():
        status = 400
    else:
        status = 200
    message = error.message if error is not None else None
    name = getattr(error, "field", "")
    field = getattr(form, name, None) if name else None
    if field is not None:  # the rule concerns one field: say it next to that field
        field.errors = [*field.errors, message]
        message = None
    return render_template(template, form=form, error=message, **context), status
