"""Forms for managing users and care units."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import InputRequired, Optional

from coordinator.auth.models import ProviderType, UnitKind
from coordinator.auth.roles import Role
from coordinator.forms import (
    NO_CONTROL_CHARACTERS,
    USERNAME_PATTERN,
    CheckboxesField,
    bounded,
)


def _role_choices() -> list[tuple[str, str]]:
    return [(role.value, role.label) for role in Role]


class _UserFields(FlaskForm):
    # Users and units are kept in the clear: no control characters (PostgreSQL refuses NUL).
    full_name = StringField(
        _l("Full name"),
        validators=[InputRequired(_l("Enter the name.")), bounded(120), NO_CONTROL_CHARACTERS],
    )
    title = StringField(
        _l("Title"),
        validators=[Optional(), bounded(80), NO_CONTROL_CHARACTERS],
        description=_l("Profession, e.g. occupational therapist."),
    )
    phone = StringField(
        _l("Work phone"),
        validators=[Optional(), bounded(40), NO_CONTROL_CHARACTERS],
        description=_l("Printed on documents given to patients, e.g. their plan."),
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    role = SelectField(_l("Role"), validators=[InputRequired()])
    units = CheckboxesField(_l("Care units"), coerce=int)

    def __init__(self, *args: object, unit_choices: list[tuple[int, str]], **kwargs: object):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()
        self.units.choices = unit_choices


class UserCreateForm(_UserFields):
    username = StringField(
        _l("Username"), validators=[InputRequired(_l("Enter a username.")), USERNAME_PATTERN]
    )
    password = PasswordField(
        _l("Temporary password"),
        validators=[InputRequired(_l("Enter a temporary password.")), bounded(256)],
        description=_l("The user must choose a new password at first sign-in."),
    )
    submit = SubmitField(_l("Create user"))


class UserEditForm(_UserFields):
    is_active = BooleanField(_l("Active (may sign in)"))
    submit = SubmitField(_l("Save"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New temporary password"),
        validators=[InputRequired(_l("Enter a temporary password.")), bounded(256)],
    )
    submit = SubmitField(_l("Set password"))


class ConfirmForm(FlaskForm):
    """A button that performs one action (CSRF-protected)."""

    submit = SubmitField(_l("Confirm"))


class UnitForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[InputRequired(_l("Enter the name.")), bounded(120), NO_CONTROL_CHARACTERS],
    )
    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    provider_type = SelectField(_l("Provider"), validators=[InputRequired()])
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Labels are translated per request, so the choices are built here, not at import.
        self.kind.choices = [(kind.value, kind.label) for kind in UnitKind]
        self.provider_type.choices = [(p.value, p.label) for p in ProviderType]
