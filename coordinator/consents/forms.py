"""Forms of the consent pages: each short enough to fill in during a phone call."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional, ValidationError

from coordinator import clock
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.consents.service import NAME_MAX, NOTE_MAX, PURPOSE_MAX, SUMMARY_MAX
from coordinator.forms import DATE_HINT, bounded, enum_choices


class _RecipientFields(FlaskForm):
    """Kind, named recipient and purpose: what a consent (and a printed form) is about."""

    kind = SelectField(_l("Consent to"), validators=[InputRequired(_l("Choose what it is for."))])
    recipient_name = StringField(
        _l("Named recipient"),
        validators=[Optional(), bounded(NAME_MAX)],
        description=_l(
            "Optional: an organisation or person, e.g. the employer's name. Empty: any "
            "recipient of this kind."
        ),
        render_kw={"autocomplete": "off"},
    )
    purpose = TextAreaField(
        _l("Purpose"),
        validators=[Optional(), bounded(PURPOSE_MAX)],
        description=_l("Empty: the standard purpose for the kind."),
        render_kw={"rows": 2},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = enum_choices(ConsentKind)


class ConsentForm(_RecipientFields):
    answer = RadioField(
        _l("The patient's answer"),
        validators=[InputRequired(_l("Choose the answer."))],
        default=ConsentAnswer.GIVEN.value,
    )
    method = RadioField(
        _l("Given"), validators=[InputRequired(_l("Choose how."))], default=ConsentMethod.ORAL.value
    )
    form_reference = StringField(
        _l("Signed form kept at"),
        validators=[Optional(), bounded(NAME_MAX)],
        description=_l("For a written consent: e.g. the document id in the record system."),
        render_kw={"autocomplete": "off"},
    )
    given_on = DateField(_l("Date"), validators=[InputRequired(DATE_HINT)], default=clock.today)
    valid_until = DateField(
        _l("Valid until"),
        validators=[Optional()],
        description=_l("Optional. Empty: until the patient withdraws it."),
    )
    note = TextAreaField(
        _l("The patient's words"),
        validators=[Optional(), bounded(NOTE_MAX)],
        description=_l("E.g. the reason for refusing, or a condition the patient set."),
        render_kw={"rows": 2},
    )
    submit = SubmitField(_l("Record"))
    #: Prints the form for signature instead of recording (posts to the print view).
    print_form = SubmitField(_l("Print a consent form to sign"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer.choices = enum_choices(ConsentAnswer)
        self.method.choices = enum_choices(ConsentMethod)


class PrintConsentForm(_RecipientFields):
    """The fields a printed consent form names (the record-consent form posts them)."""


class WithdrawForm(FlaskForm):
    withdrawn_on = DateField(
        _l("Withdrawn on"), validators=[InputRequired(DATE_HINT)], default=clock.today
    )
    note = TextAreaField(
        _l("The patient's words"),
        validators=[Optional(), bounded(NOTE_MAX)],
        render_kw={"rows": 2},
    )
    submit = SubmitField(_l("Withdraw consent"))


class DisclosureForm(FlaskForm):
    recipient = SelectField(_l("Disclosed to"), validators=[InputRequired(_l("Choose who."))])
    recipient_name = StringField(
        _l("Recipient by name"),
        validators=[Optional(), bounded(NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    disclosed_on = DateField(_l("Date"), validators=[InputRequired(DATE_HINT)], default=clock.today)
    summary = TextAreaField(
        _l("What was disclosed"),
        validators=[InputRequired(_l("Say in short what was disclosed.")), bounded(SUMMARY_MAX)],
        render_kw={"rows": 3},
    )
    submit = SubmitField(_l("Register disclosure"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recipient.choices = enum_choices(ConsentKind.recipients())


class PeriodForm(FlaskForm):
    """The statistics' period, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("The end is before the start."))
