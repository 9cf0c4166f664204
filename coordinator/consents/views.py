"""Consent pages: record an answer, withdraw a consent, register a disclosure, print, and the
managers' consent statistics. Each view parses a form, calls one service, and answers."""

from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.access import current_actor, roles
from coordinator.auth.roles import Role
from coordinator.consents import printing, queries, service
from coordinator.consents.forms import (
    ConsentForm,
    DisclosureForm,
    PeriodForm,
    PrintConsentForm,
    WithdrawForm,
)
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.errors import DomainError
from coordinator.forms import render_form
from coordinator.patients import service as patients
from coordinator.printing import pdf_response

bp = Blueprint("consents", __name__)

ViewResult = Response | str | tuple[str, int]


def _back_to_patient(patient_uid: uuid.UUID) -> Response:
    return redirect(url_for("patients.show", patient_uid=patient_uid, _anchor="consents"))


def _preselect(field_data: str | None, name: str, allowed: list[ConsentKind]) -> str | None:
    """A kind named in the query string (links from the panel), if it is one of ``allowed``."""
    wanted = request.args.get(name)
    return wanted if wanted in {kind.value for kind in allowed} else field_data


@bp.route("/patients/<uuid:patient_uid>/consents/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def record(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = ConsentForm()
    if not form.is_submitted():
        form.kind.data = _preselect(form.kind.data, "kind", list(ConsentKind))
    if not form.validate_on_submit():
        return render_form("consents/record.html", form, patient=patient)
    entry = service.ConsentInput(
        kind=ConsentKind(form.kind.data),
        answer=ConsentAnswer(form.answer.data),
        method=ConsentMethod(form.method.data),
        given_on=form.given_on.data or clock.today(),
        purpose=form.purpose.data or "",
        recipient_name=form.recipient_name.data,
        form_reference=form.form_reference.data,
        valid_until=form.valid_until.data,
        note=form.note.data,
    )
    try:
        consent = service.record(actor, patient, entry)
    except DomainError as error:
        return render_form("consents/record.html", form, error=error, patient=patient)
    if consent.answer is ConsentAnswer.GIVEN:
        flash(_("The consent was recorded."), "success")
    else:
        flash(_("The refusal was recorded."), "success")
    return _back_to_patient(patient.uid)


@bp.post("/patients/<uuid:patient_uid>/consents/form")
@roles(Role.COORDINATOR)
def print_form(patient_uid: uuid.UUID) -> ViewResult:
    """A consent form to sign (PDF), for the kind, recipient and purpose on the record form."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = PrintConsentForm()
    if not form.validate():
        shown = ConsentForm()
        for name in ("kind", "recipient_name", "purpose"):  # the fields the print form has
            shown[name].errors = form[name].errors
        return render_form("consents/record.html", shown, patient=patient)
    printed = printing.consent_form(
        actor, patient, ConsentKind(form.kind.data), form.recipient_name.data,
        form.purpose.data or "",
    )  # fmt: skip
    return pdf_response(printed.data, printed.filename)


@bp.get("/patients/<uuid:patient_uid>/consents/summary")
@roles(Role.COORDINATOR)
def print_summary(patient_uid: uuid.UUID) -> Response:
    """The patient's consents, their history and the disclosures made (PDF)."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    notice = current_app.config["CONSENT_EXPIRY_NOTICE_DAYS"]
    printed = printing.consent_summary(actor, patient, notice)
    return pdf_response(printed.data, printed.filename)


@bp.route(
    "/patients/<uuid:patient_uid>/consents/<uuid:consent_uid>/withdraw", methods=["GET", "POST"]
)
@roles(Role.COORDINATOR)
def withdraw(patient_uid: uuid.UUID, consent_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    consent = service.open_consent(actor, patient, consent_uid)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return render_form("consents/withdraw.html", form, patient=patient, consent=consent)
    try:
        service.withdraw(actor, patient, consent, form.withdrawn_on.data or clock.today(),
                         form.note.data)  # fmt: skip
    except DomainError as error:
        return render_form(
            "consents/withdraw.html", form, error=error, patient=patient, consent=consent
        )
    flash(_("The consent was withdrawn. Nothing more may be disclosed on it."), "success")
    return _back_to_patient(patient.uid)


@bp.route("/patients/<uuid:patient_uid>/disclosures/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def disclose(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = DisclosureForm()
    if not form.is_submitted():
        form.recipient.data = _preselect(form.recipient.data, "recipient", ConsentKind.recipients())
    if not form.validate_on_submit():
        return render_form("consents/disclose.html", form, patient=patient)
    recipient = service.Recipient(ConsentKind(form.recipient.data), form.recipient_name.data)
    try:
        service.disclose(
            actor, patient, recipient, form.disclosed_on.data or clock.today(),
            form.summary.data or "",
        )  # fmt: skip
    except service.ConsentMissing as error:
        return render_form(
            "consents/disclose.html", form, error=error, patient=patient, missing=error.kind
        )
    except DomainError as error:
        return render_form("consents/disclose.html", form, error=error, patient=patient)
    flash(_("The disclosure was registered."), "success")
    return _back_to_patient(patient.uid)


@bp.get("/consents/statistics")
@roles(Role.MANAGER)
def statistics() -> ViewResult:
    """The unit's consent funnel per kind for a period (counts only)."""
    actor = current_actor()
    form = PeriodForm(request.args)
    today = clock.today()
    if not form.start.raw_data:
        form.start.data = date(today.year, 1, 1)
    if not form.end.raw_data:
        form.end.data = today
    start, end = form.start.data, form.end.data
    if not form.validate() or start is None or end is None:
        html = render_template("consents/statistics.html", form=form, rows=None, unit=actor.unit)
        return html, 400
    rows = queries.funnel(actor, start, end)
    return render_template(
        "consents/statistics.html", form=form, rows=rows, unit=actor.unit, start=start, end=end
    )
