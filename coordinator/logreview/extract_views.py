"""The patient log extract (*loggutdrag*): on screen and as a PDF."""

from __future__ import annotations

import uuid

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from coordinator.access import current_actor, roles
from coordinator.auth.roles import Role
from coordinator.errors import InvalidField, NotFound
from coordinator.logreview import extract
from coordinator.logreview.extract_forms import ExtractForm
from coordinator.printing import pdf_response

bp = Blueprint("log_extracts", __name__, url_prefix="/log/extracts")

ViewResult = Response | str | tuple[str, int]

_TEMPLATE = "logreview/extract.html"


@bp.route("/", methods=["GET", "POST"])
@roles(Role.MANAGER)
def index() -> ViewResult:
    """The form; posted with a personnummer, the patient's extract under it. Posted, not in the
    query string: a personnummer in a URL would end up in proxy logs and the browser's history."""
    actor = current_actor()
    form = ExtractForm()
    if request.method == "GET":
        return render_template(_TEMPLATE, form=form, extract=None)
    if not form.validate_on_submit():
        return render_template(_TEMPLATE, form=form, extract=None), 400
    try:
        patient = extract.find_patient(actor, form.personnummer.data or "")
    except InvalidField as error:
        form.personnummer.errors = [str(error.message)]
        return render_template(_TEMPLATE, form=form, extract=None), error.status_code
    except NotFound as error:
        return render_template(_TEMPLATE, form=form, extract=None, error=error.message), 404
    found = extract.patient_extract(actor, patient)
    return render_template(_TEMPLATE, form=form, extract=found)


@bp.get("/<uuid:patient_uid>.pdf")
@roles(Role.MANAGER)
def pdf(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    printed = extract.printed_extract(actor, extract.get_patient(actor, patient_uid))
    return pdf_response(printed.data, printed.filename)
