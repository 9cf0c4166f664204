"""Patient search and case journal forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired

from coordinator.forms import bounded
from coordinator.journal.service import BODY_MAX, HEADING_MAX


class SearchForm(FlaskForm):
    personnummer = StringField(
        _l("Personnummer"),
        validators=[InputRequired(_l("Enter a personnummer.")), bounded(20)],
        description=_l("10 or 12 digits, e.g. 19121212-1212."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    submit = SubmitField(_l("Search"))


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
    submit = SubmitField(_l("Sign and save"))
