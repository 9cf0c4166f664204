"""Sign-in and account forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Regexp

from coordinator.forms import NO_CONTROL_CHARACTERS, bounded

# Password fields are bounded generously here; the policy (length 12–128 by default) is the
# service's rule and reports its own message.
_PASSWORD_FIELD_MAX = 256

_CODE = Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the six digits shown in your app."))


class SignInForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            InputRequired(_l("Enter your username.")),
            bounded(64),
            NO_CONTROL_CHARACTERS,
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), bounded(_PASSWORD_FIELD_MAX)],
    )
    next = HiddenField(validators=[bounded(500)])
    submit = SubmitField(_l("Sign in"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[InputRequired(_l("Enter the code.")), bounded(12), _CODE],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True},
    )
    submit = SubmitField(_l("Verify"))


class ChooseUnitForm(FlaskForm):
    unit = RadioField(_l("Care unit"), coerce=int, validators=[InputRequired(_l("Choose a unit."))])
    next = HiddenField(validators=[bounded(500)])
    submit = SubmitField(_l("Continue"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(_l("Enter your current password.")),
            bounded(_PASSWORD_FIELD_MAX),
        ],
    )
    new = PasswordField(
        _l("New password"),
        validators=[InputRequired(_l("Enter a new password.")), bounded(_PASSWORD_FIELD_MAX)],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            InputRequired(_l("Repeat the new password.")),
            EqualTo("new", _l("The two new passwords differ.")),
        ],
    )
    submit = SubmitField(_l("Change password"))


class EnrolTotpForm(FlaskForm):
    code = CodeForm.code
    password = PasswordField(
        _l("Your password"),
        validators=[InputRequired(_l("Enter your password.")), bounded(_PASSWORD_FIELD_MAX)],
    )
    submit = SubmitField(_l("Turn on two-step sign-in"))


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[InputRequired(), bounded(8)])
    next = HiddenField(validators=[bounded(500)])


class SignOutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))
