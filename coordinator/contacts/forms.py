"""Forms of the directory and the contact log. The log form fits a phone call: who, when, what
was said, anything disclosed, and what happens next — the rest has sensible defaults."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Optional

from coordinator import clock
from coordinator.consents.service import SUMMARY_MAX
from coordinator.contacts import directory, service
from coordinator.contacts.models import Channel, ContactKind, Initiator, OrganisationType
from coordinator.forms import (
    DATE_HINT,
    NO_CONTROL_CHARACTERS,
    OPTIONAL_CHOICE,
    VersionedForm,
    bounded,
    enum_choices,
)


class DirectorySearchForm(FlaskForm):
    """The directory's search (GET: nothing in it is patient data)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Name or organisation number"),
        validators=[Optional(), bounded(100), NO_CONTROL_CHARACTERS],
    )
    type = SelectField(_l("Kind"), default="", validators=[OPTIONAL_CHOICE])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type.choices = [("", str(_l("All kinds"))), *enum_choices(OrganisationType)]

    @property
    def chosen_type(self) -> OrganisationType | None:
        return OrganisationType(self.type.data) if self.type.data else None


class OrganisationForm(VersionedForm):
    type = SelectField(_l("Kind"), default=OrganisationType.EMPLOYER.value)
    name = StringField(
        _l("Name"),
        validators=[InputRequired(_l("Enter the organisation's name.")),
                    bounded(directory.NAME_MAX), NO_CONTROL_CHARACTERS],
        description=_l("For an office or workplace, add the place: "
                       "\"Försäkringskassan, Jönköping\"."),
    )  # fmt: skip
    org_number = StringField(
        _l("Organisation number"),
        validators=[Optional(), bounded(20)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    address = TextAreaField(
        _l("Address"), validators=[Optional(), bounded(directory.ADDRESS_MAX),
                                   NO_CONTROL_CHARACTERS],
        render_kw={"rows": 2},
    )  # fmt: skip
    phone = StringField(_l("Phone"), validators=[Optional(), bounded(directory.PHONE_MAX)])
    notes = TextAreaField(
        _l("Notes"), validators=[Optional(), bounded(directory.NOTES_MAX)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type.choices = enum_choices(OrganisationType)

    def entry(self) -> directory.OrganisationInput:
        return directory.OrganisationInput(
            type=OrganisationType(self.type.data),
            name=self.name.data or "",
            org_number=self.org_number.data,
            address=self.address.data,
            phone=self.phone.data,
            notes=self.notes.data,
        )


class PersonForm(VersionedForm):
    name = StringField(
        _l("Name"),
        validators=[InputRequired(_l("Enter the person's name.")), bounded(directory.NAME_MAX)],
    )
    role = StringField(
        _l("Role"), validators=[Optional(), bounded(directory.ROLE_MAX)],
        render_kw={"placeholder": _l("e.g. HR, manager, handläggare")},
    )  # fmt: skip
    phone = StringField(_l("Phone"), validators=[Optional(), bounded(directory.PHONE_MAX)])
    email = StringField(_l("E-mail"), validators=[Optional(), bounded(directory.EMAIL_MAX)])
    left_on = DateField(
        _l("Left the organisation on"), validators=[Optional()], description=DATE_HINT
    )
    submit = SubmitField(_l("Save"))

    def entry(self) -> directory.PersonInput:
        return directory.PersonInput(
            self.name.data or "", self.role.data, self.phone.data, self.email.data
        )


class ContactForm(FlaskForm):
    """Log a contact: short enough to fill in during the call."""

    organisation = SelectField(
        _l("With"), validators=[InputRequired(_l("Choose who the contact was with."))]
    )
    person = SelectField(_l("Contact person"), default="", validators=[OPTIONAL_CHOICE])
    new_person_name = StringField(
        _l("Or a new person: name"), validators=[Optional(), bounded(directory.NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )  # fmt: skip
    new_person_role = StringField(
        _l("Role"), validators=[Optional(), bounded(directory.ROLE_MAX)],
        render_kw={"placeholder": _l("e.g. HR, manager, handläggare")},
    )  # fmt: skip
    new_person_phone = StringField(
        _l("Phone"), validators=[Optional(), bounded(directory.PHONE_MAX)]
    )
    occurred_on = DateField(_l("Date"), validators=[InputRequired(DATE_HINT)], default=clock.today)
    occurred_time = TimeField(_l("Time"), validators=[Optional()])
    channel = SelectField(_l("How"), default=Channel.PHONE.value)
    kind = SelectField(_l("What"), default=ContactKind.INFORMATION.value)
    initiated_by = RadioField(_l("Initiated by"), default=Initiator.CARE.value)
    notes = TextAreaField(
        _l("What was said"), validators=[Optional(), bounded(service.NOTES_MAX)],
        render_kw={"rows": 3},
    )  # fmt: skip
    is_disclosure = BooleanField(_l("Information about the patient was disclosed"))
    disclosed = TextAreaField(
        _l("What was disclosed"), validators=[Optional(), bounded(SUMMARY_MAX)],
        render_kw={"rows": 2},
        description=_l("Needs the patient's consent to this recipient on the contact's date."),
    )  # fmt: skip
    measure = SelectField(_l("Serves the measure"), default="", validators=[OPTIONAL_CHOICE])
    next_step = StringField(
        _l("Next step"), validators=[Optional(), bounded(service.NEXT_STEP_MAX)],
        render_kw={"autocomplete": "off"},
    )  # fmt: skip
    next_step_on = DateField(_l("Next step by"), validators=[Optional()], description=DATE_HINT)
    submit = SubmitField(_l("Log the contact"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel.choices = enum_choices(Channel)
        self.kind.choices = enum_choices(ContactKind)
        self.initiated_by.choices = enum_choices(Initiator)

    @property
    def new_person(self) -> directory.PersonInput | None:
        if not (self.new_person_name.data or "").strip():
            return None
        return directory.PersonInput(
            self.new_person_name.data or "", self.new_person_role.data, self.new_person_phone.data
        )


class EmployerForm(FlaskForm):
    """Choose the patient's employer (a directory entry) and their manager there."""

    organisation = HiddenField(validators=[InputRequired()])
    manager = SelectField(_l("The patient's manager"), default="", validators=[OPTIONAL_CHOICE])
    submit = SubmitField(_l("Save the employer"))


class RemoveEmployerForm(FlaskForm):
    submit = SubmitField(_l("No employer"))
