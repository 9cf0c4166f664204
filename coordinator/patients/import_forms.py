"""The certificate import upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SubmitField


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["csv", "txt"], _l("Choose a .csv or .txt file.")),
        ],
        description=_l(
            "One certificate per line, UTF-8, columns separated by ; or , — at most 1 MB."
        ),
        render_kw={"accept": ".csv,.txt,text/csv,text/plain"},
    )
    #: Checked by default: a file is looked at before anything is saved.
    dry_run = BooleanField(_l("Only check the file; save nothing"), default=True)
    submit = SubmitField(_l("Upload"))
