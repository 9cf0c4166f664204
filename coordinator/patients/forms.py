"""Forms of the patient pages. Short: each fits a phone call."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Optional

from coordinator.forms import DATE_HINT, VersionedForm, bounded, enum_choices
from coordinator.journal.service import BODY_MAX, HEADING_MAX
from coordinator.patients.cases import REASON_MAX
from coordinator.patients.certificates import DOCTOR_MAX
from coordinator.patients.models import CaseOutcome, Employment, Gender, ScreeningDecision
from coordinator.patients.sickleave import DEGREES


class SearchForm(FlaskForm):
    query = StringField(
        _l("Personnummer or name"),
        validators=[InputRequired(_l("Enter a personnummer or a name.")), bounded(120)],
        description=_l("A personnummer (e.g. 19121212-1212), a family name, or a full name."),
        render_kw={"autocomplete": "off"},
    )
    submit = SubmitField(_l("Search"))


class PatientForm(FlaskForm):
    """The patient's details; the personnummer only when registering."""

    personnummer = StringField(
        _l("Personnummer or samordningsnummer"),
        validators=[InputRequired(_l("Enter the personnummer.")), bounded(20)],
        description=_l("10 or 12 digits, e.g. 19121212-1212."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    first_name = StringField(
        _l("Given name"), validators=[InputRequired(_l("Enter the given name.")), bounded(80)]
    )
    last_name = StringField(
        _l("Family name"), validators=[InputRequired(_l("Enter the family name.")), bounded(80)]
    )
    stated_gender = SelectField(
        _l("Gender"),
        default="",
        description=_l(
            "Legal sex follows from the number; record the stated gender if it differs."
        ),
    )
    phone = StringField(_l("Phone"), validators=[Optional(), bounded(40)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})  # fmt: skip
    email = StringField(
        _l("E-mail"),
        validators=[Optional(), Email(_l("Enter a valid e-mail address.")), bounded(120)],
        render_kw={"autocomplete": "off"},
    )
    address = TextAreaField(_l("Address"), validators=[Optional(), bounded(300)],
                            render_kw={"rows": 2})  # fmt: skip
    employment = SelectField(_l("Employment"), default="employed")
    occupation = StringField(_l("Occupation"), validators=[Optional(), bounded(120)])
    is_protected = BooleanField(
        _l("Protected identity (skyddad identitet)"),
        description=_l("Name and address are then hidden in lists and prints."),
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Choices are set per instance (as in the admin forms): labels follow the request's
        # language, and WTForms warns about choices given as tuples at declaration.
        self.stated_gender.choices = [("", _l("As the personnummer says")), *enum_choices(Gender)]
        self.employment.choices = enum_choices(Employment)


class CertificateForm(FlaskForm):
    start_on = DateField(_l("From"), validators=[InputRequired(DATE_HINT)], description=DATE_HINT)
    end_on = DateField(_l("To"), validators=[InputRequired(DATE_HINT)])
    degree = RadioField(
        _l("Degree"),
        validators=[InputRequired(_l("Choose the degree."))],
        coerce=int,
        default=100,
    )
    diagnosis_code = StringField(
        _l("Diagnosis (ICD-10)"),
        validators=[InputRequired(_l("Enter the diagnosis code.")), bounded(10)],
        description=_l("The code on the certificate, e.g. F43.2 or M54.5."),
        render_kw={"autocomplete": "off", "list": "icd10-codes"},
    )
    doctor = StringField(_l("Issued by"), validators=[Optional(), bounded(DOCTOR_MAX)])
    accept_overlap = BooleanField(_l("Register it anyway: the certificates really overlap"))
    submit = SubmitField(_l("Register certificate"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.degree.choices = [(d, f"{d} %") for d in DEGREES]


class ScreeningForm(VersionedForm):
    decision = RadioField(
        _l("Decision"),
        validators=[InputRequired(_l("Choose a decision."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[InputRequired(_l("Give a reason for the decision.")), bounded(REASON_MAX)],
        render_kw={"rows": 2},
    )
    submit = SubmitField(_l("Record decision"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decision.choices = enum_choices(ScreeningDecision)


class ActivateForm(VersionedForm):
    submit = SubmitField(_l("Start coordination"))


class FollowUpForm(VersionedForm):
    follow_up_on = DateField(_l("Next follow-up"), validators=[Optional()],
                             description=_l("Leave empty to remove the date."))  # fmt: skip
    submit = SubmitField(_l("Set date"))


class TransferForm(VersionedForm):
    coordinator = SelectField(_l("Coordinator"), coerce=int, validate_choice=False)
    submit = SubmitField(_l("Transfer"))


class CloseForm(VersionedForm):
    outcome = SelectField(_l("Outcome"), validators=[InputRequired(_l("Choose the outcome."))])
    closed_on = DateField(_l("Closed on"), validators=[InputRequired(DATE_HINT)])
    submit = SubmitField(_l("Close case"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcome.choices = enum_choices(CaseOutcome)


class OpenCaseForm(FlaskForm):
    submit = SubmitField(_l("Open a new case"))


class RevealForm(FlaskForm):
    submit = SubmitField(_l("Show name and address"))


class NoteForm(FlaskForm):
    heading = StringField(
        _l("Heading"),
        validators=[InputRequired(_l("Enter a heading.")), bounded(HEADING_MAX)],
        description=_l("A keyword (sökord), e.g. Telefonkontakt or Planering."),
    )
    body = TextAreaField(
        _l("Text"),
        validators=[InputRequired(_l("Write the note.")), bounded(BODY_MAX)],
        render_kw={"rows": 5},
    )
    #: The entry this note corrects, if it is a correction.
    corrects = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    submit = SubmitField(_l("Sign and save"))


class CaseloadForm(FlaskForm):
    """The list's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    scope = SelectField(_l("Patients"), default="mine")
    status = SelectField(_l("Status"), default="open")
    signal = SelectField(_l("Signal"), default="")
    band = SelectField(_l("Sick-leave length"), default="")
    degree = SelectField(_l("Degree"), default="")
    group = SelectField(_l("Diagnosis group"), default="")
    follow_up = SelectField(_l("Follow-up"), default="")
    plan = SelectField(_l("Plan"), default="")
    sort = SelectField(_l("Sort by"), default="name")
    descending = BooleanField(_l("Descending"))
    page = IntegerField(default=1, validators=[Optional()])
    submit = SubmitField(_l("Show"))
