"""Certificate import from an uploaded CSV file: check it (dry run), then import it.

The uploaded file is read into memory and handed to the importer; it is never stored — not on
disk, not in the session — so importing after a check means choosing the file again.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator.access import current_actor, roles
from coordinator.auth.roles import Role
from coordinator.forms import render_form
from coordinator.patients import importer
from coordinator.patients.import_forms import ImportForm

bp = Blueprint("certificate_import", __name__, url_prefix="/patients/import")

TEMPLATE = "patients/import.html"


@bp.get("/")
@roles(Role.COORDINATOR)
def upload() -> str:
    return render_template(TEMPLATE, form=ImportForm())


@bp.post("/")
@roles(Role.COORDINATOR)
def import_file() -> Response | tuple[str, int]:
    """A dry run shows the plan (200); errors list every line (400); an import redirects."""
    form = ImportForm()
    if not form.validate():
        return render_form(TEMPLATE, form)
    dry_run = bool(form.dry_run.data)
    try:
        report = importer.run(current_actor(), form.file.data.read(), dry_run=dry_run)
    except importer.ImportRefused as refused:
        return render_template(TEMPLATE, form=form, refused=refused), 400
    if report.is_dry_run:
        # The same form again, unticked: importing for real means choosing the file again.
        again = ImportForm(formdata=None, dry_run=False)
        return render_template(TEMPLATE, form=again, report=report), 200
    flash(
        _(
            "Imported %(certificates)d certificates and registered %(patients)d new patients; "
            "%(skipped)d duplicate lines were skipped.",
            certificates=report.new_certificates,
            patients=report.new_patients,
            skipped=report.duplicates,
        ),
        "success",
    )
    return redirect(url_for("patients.index"))
