"""Patient pages: the caseload, registration, search, and a patient's case file.

Coordinators and managers of the current unit see them (managers read only), never
administrators (separation of duties). Every patient shown is logged by the services.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.access import Actor, current_actor, roles
from coordinator.auth.roles import Role
from coordinator.consents.service import ConsentMissing
from coordinator.database import restart_unit_of_work
from coordinator.errors import DomainError
from coordinator.forms import render_form
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import caseload, cases, certificates, filters, overview, service
from coordinator.patients.certificates import CertificateInput, OverlappingCertificates
from coordinator.patients.forms import (
    ActivateForm,
    CertificateForm,
    CloseForm,
    FollowUpForm,
    NoteForm,
    OpenCaseForm,
    PatientForm,
    RevealForm,
    ScreeningForm,
    SearchForm,
    TransferForm,
)
from coordinator.patients.identity import looks_like_personnummer
from coordinator.patients.models import (
    CaseOutcome,
    Employment,
    Gender,
    Patient,
    ScreeningDecision,
)
from coordinator.patients.screening import ScreeningRules, signal_text

bp = Blueprint("patients", __name__, url_prefix="/patients")

ViewResult = Response | str | tuple[str, int]

#: Who may see patient data. Administrators are left out on purpose (separation of duties).
PATIENT_ROLES = (Role.COORDINATOR, Role.MANAGER)


def rules() -> ScreeningRules:
    return ScreeningRules.from_config(current_app.config)


@bp.app_template_filter("signal")
def _signal_filter(signal: Any) -> str:
    return signal_text(signal, rules())


# -- The caseload ----------------------------------------------------------------------


@bp.get("/")
@roles(*PATIENT_ROLES)
def index() -> str:
    actor = current_actor()
    form, chosen = filters.read(request.args, actor)
    page = caseload.caseload(
        actor, chosen, clock.today(), rules(), current_app.config["CASELOAD_PAGE_SIZE"]
    )
    return render_template(
        "patients/index.html",
        unit=actor.unit,
        page=page,
        form=form,
        search=SearchForm(formdata=None),
        page_url=lambda number: filters.url_for_page(request.args, number),
        today=clock.today(),
        may_write=actor.role is Role.COORDINATOR,
    )


@bp.post("/search")
@roles(*PATIENT_ROLES)
def search() -> ViewResult:
    """Search by POST: a personnummer or name in a URL would end up in proxy logs and history."""
    actor = current_actor()
    form = SearchForm()
    if not form.validate():
        return render_form("patients/search.html", form)
    query = form.query.data or ""
    by_number = looks_like_personnummer(query)
    if by_number:
        try:
            patient = service.find_by_personnummer(actor, query)
        except DomainError as error:
            form.query.errors = [str(error.message)]
            return render_form("patients/search.html", form)
        if patient is not None:
            return redirect(url_for(".show", patient_uid=patient.uid))
        found: list[Patient] = []
    else:
        found = service.find_by_name(actor, query)
        if len(found) == 1:
            return redirect(url_for(".show", patient_uid=found[0].uid))
    if not found:
        message = (
            _("No patient with that personnummer is registered in this unit.")
            if by_number
            else _("No patient in this unit has that name (patients with protected identity "
                   "are found by personnummer only).")
        )  # fmt: skip
        return render_template("patients/search.html", form=form, error=message), 404
    return render_template("patients/search.html", form=form, found=found)


# -- Registration and details ----------------------------------------------------------


def _details(form: PatientForm) -> service.PatientDetails:
    return service.PatientDetails(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        stated_gender=Gender(form.stated_gender.data) if form.stated_gender.data else None,
        phone=form.phone.data,
        email=form.email.data,
        address=form.address.data,
        employment=Employment(form.employment.data),
        occupation=form.occupation.data,
        is_protected=bool(form.is_protected.data),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def register() -> ViewResult:
    actor = current_actor()
    form = PatientForm()
    if not form.validate_on_submit():
        return render_form("patients/register.html", form)
    try:
        patient = service.register_patient(actor, form.personnummer.data or "", _details(form))
    except service.AlreadyRegistered as error:
        return render_form("patients/register.html", form, error=error, existing=error.patient)
    except DomainError as error:
        return render_form("patients/register.html", form, error=error)
    flash(_("The patient was registered."), "success")
    return redirect(url_for(".show", patient_uid=patient.uid))


@bp.route("/<uuid:patient_uid>/edit", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def edit(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    form = PatientForm(obj=None if request.method == "POST" else _form_values(patient))
    del form.personnummer  # the number identifies the record; it is not edited
    if not form.validate_on_submit():
        return render_form("patients/edit.html", form, patient=patient)
    try:
        changed = service.update_patient(actor, patient, _details(form))
    except DomainError as error:
        return render_form("patients/edit.html", form, error=error, patient=patient)
    flash(_("The details were saved.") if changed else _("Nothing was changed."), "success")
    return redirect(url_for(".show", patient_uid=patient.uid))


def _form_values(patient: Patient) -> Any:
    """The patient's current details as form data (an object with the form's attributes)."""
    values = {name: getattr(patient, name) or "" for name in _TEXT_DETAILS}
    values |= {"employment": patient.employment.value, "is_protected": patient.is_protected}
    return SimpleNamespace(**values)


_TEXT_DETAILS = ("first_name", "last_name", "stated_gender", "phone", "email", "address",
                 "occupation")  # fmt: skip


# -- The patient page -------------------------------------------------------------------


@bp.get("/<uuid:patient_uid>")
@roles(*PATIENT_ROLES)
def show(patient_uid: uuid.UUID) -> str:
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    return _patient_page(actor, patient)[0]


@bp.post("/<uuid:patient_uid>/identity")
@roles(*PATIENT_ROLES)
def reveal(patient_uid: uuid.UUID) -> ViewResult:
    """Show a protected identity on deliberate request; the opening is logged."""
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    form = RevealForm()
    if not form.validate():
        return redirect(url_for(".show", patient_uid=patient.uid))
    service.reveal_identity(actor, patient)
    return _patient_page(actor, patient, revealed=True)


def _patient_page(
    actor: Actor,
    patient: Patient,
    *,
    forms: dict[str, Any] | None = None,
    error: DomainError | None = None,
    revealed: bool = False,
    status: int | None = None,
) -> tuple[str, int]:
    """The patient page, with any submitted form (and its errors) in place of the blank one."""
    notice = current_app.config["CONSENT_EXPIRY_NOTICE_DAYS"]
    view = overview.overview(
        actor, patient, clock.today(), rules(), notice, current_app.config["KBT_MIN_SESSIONS"]
    )
    blank = _blank_forms(view, actor)
    shown = blank | (forms or {})
    # A refused transfer is shown again with the same coordinators to choose from.
    shown["transfer"].coordinator.choices = blank["transfer"].coordinator.choices
    main = next(iter(forms.values())) if forms else blank["note"]
    for form in shown.values():  # every case form carries the version the user saw
        if hasattr(form, "version") and view.case is not None and not form.version.data:
            form.version.data = str(view.case.version)
    html, code = render_form(
        "patients/show.html",
        main,
        error=error,
        view=view,
        forms=shown,
        revealed=revealed or not patient.is_protected,
        may_write=actor.role is Role.COORDINATOR,
        today=clock.today(),
        missing=error.kind if isinstance(error, ConsentMissing) else None,
    )
    if status is None and not forms and error is None:
        status = 200  # a page shown after an action that needed no form (e.g. reveal)
    return html, status or code


def _blank_forms(view: overview.Overview, actor: Actor) -> dict[str, Any]:
    transfer = TransferForm(formdata=None)
    if view.case is not None:
        transfer.coordinator.choices = [
            (user.id, user.full_name)
            for user in cases.unit_coordinators(view.case.unit_id)
            if user.id != view.case.coordinator_id
        ]
    close = CloseForm(formdata=None)
    close.closed_on.data = clock.today()
    follow_up = FollowUpForm(formdata=None)
    follow_up.follow_up_on.data = view.case.follow_up_on if view.case else None
    return {
        "note": NoteForm(formdata=None),
        "certificate": CertificateForm(formdata=None),
        "screening": ScreeningForm(formdata=None),
        "activate": ActivateForm(formdata=None),
        "follow_up": follow_up,
        "transfer": transfer,
        "close": close,
        "open_case": OpenCaseForm(formdata=None),
        "reveal": RevealForm(formdata=None),
    }


# -- Actions on the patient page: each a short form, a service call, a redirect ---------


def _act(
    patient_uid: uuid.UUID,
    name: str,
    form: Any,
    action: Callable[[Actor, Patient], object],
    done: str,
) -> ViewResult:
    """Validate ``form``, run ``action``; on refusal show the page with the form's errors."""
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    if not form.validate():
        return _patient_page(actor, patient, forms={name: form})
    try:
        action(actor, patient)
    except cases.StaleEdit as error:
        # Show the case as the other user left it: the refused change is discarded.
        restart_unit_of_work()
        patient = service.get_patient(actor, patient_uid)
        return _patient_page(actor, patient, error=error, status=error.status_code)
    except DomainError as error:
        return _patient_page(actor, patient, forms={name: form}, error=error)
    flash(done, "success")
    return redirect(url_for(".show", patient_uid=patient.uid, _anchor=name.replace("_", "-")))


@bp.post("/<uuid:patient_uid>/certificates")
@roles(Role.COORDINATOR)
def add_certificate(patient_uid: uuid.UUID) -> ViewResult:
    form = CertificateForm()

    def action(actor: Actor, patient: Patient) -> object:
        entry = CertificateInput(
            start_on=form.start_on.data,
            end_on=form.end_on.data,
            degree=form.degree.data,
            diagnosis_code=form.diagnosis_code.data or "",
            doctor=form.doctor.data,
        )
        try:
            return certificates.add_certificate(
                actor, patient, entry, accept_overlap=bool(form.accept_overlap.data)
            )
        except OverlappingCertificates:
            form.accept_overlap.render_kw = {"data-shown": "1"}
            raise

    return _act(patient_uid, "certificate", form, action, _("The certificate was registered."))


@bp.post("/<uuid:patient_uid>/case/screening")
@roles(Role.COORDINATOR)
def decide(patient_uid: uuid.UUID) -> ViewResult:
    form = ScreeningForm()
    return _act(
        patient_uid, "screening", form,
        lambda actor, patient: cases.decide_screening(
            actor, patient, ScreeningDecision(form.decision.data), form.reason.data or "",
            form.expected_version,
        ),
        _("The decision was recorded."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/case/activate")
@roles(Role.COORDINATOR)
def activate(patient_uid: uuid.UUID) -> ViewResult:
    form = ActivateForm()
    return _act(
        patient_uid, "activate", form,
        lambda actor, patient: cases.activate(actor, patient, form.expected_version),
        _("Coordination has started."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/case/follow-up")
@roles(Role.COORDINATOR)
def follow_up(patient_uid: uuid.UUID) -> ViewResult:
    form = FollowUpForm()
    return _act(
        patient_uid, "follow_up", form,
        lambda actor, patient: cases.set_follow_up(
            actor, patient, form.follow_up_on.data, form.expected_version
        ),
        _("The follow-up date was saved."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/case/transfer")
@roles(Role.COORDINATOR)
def transfer(patient_uid: uuid.UUID) -> ViewResult:
    form = TransferForm()
    return _act(
        patient_uid, "transfer", form,
        lambda actor, patient: cases.transfer(
            actor, patient, form.coordinator.data or 0, form.expected_version
        ),
        _("The case was transferred."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/case/close")
@roles(Role.COORDINATOR)
def close(patient_uid: uuid.UUID) -> ViewResult:
    form = CloseForm()
    return _act(
        patient_uid, "close", form,
        lambda actor, patient: cases.close(
            actor, patient, CaseOutcome(form.outcome.data), form.closed_on.data,
            form.expected_version,
        ),
        _("The case was closed."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/case/open")
@roles(Role.COORDINATOR)
def open_case(patient_uid: uuid.UUID) -> ViewResult:
    form = OpenCaseForm()
    return _act(
        patient_uid, "open_case", form,
        lambda actor, patient: cases.open_case(actor, patient, actor.user.id),
        _("A new case was opened."),
    )  # fmt: skip


@bp.post("/<uuid:patient_uid>/journal")
@roles(Role.COORDINATOR)
def add_note(patient_uid: uuid.UUID) -> ViewResult:
    form = NoteForm()

    def action(actor: Actor, patient: Patient) -> object:
        corrects = journal.entry_of(patient, form.corrects.data) if form.corrects.data else None
        return journal.add_entry(
            actor, patient, EntryKind.NOTE, form.heading.data or "", form.body.data or "",
            corrects=corrects,
        )  # fmt: skip

    return _act(patient_uid, "note", form, action, _("The note was signed and saved."))
