"""The log extract's form: one personnummer, posted (never in a URL)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired

from coordinator.forms import bounded


class ExtractForm(FlaskForm):
    personnummer = StringField(
        _l("Personnummer"),
        validators=[InputRequired(_l("Enter the patient's personnummer.")), bounded(20)],
        description=_l("E.g. 19121212-1212. The patient must be registered in one of your units."),
        render_kw={"autocomplete": "off"},
    )
    submit = SubmitField(_l("Show"))
