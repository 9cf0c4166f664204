"""Patient pages: the unit's patients, search by personnummer, and a patient's case journal.

Coordinators and managers of the current unit see them, never administrators (separation of
duties). Every patient shown is logged by the service, not here.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator.access import current_actor, roles
from coordinator.auth.roles import Role
from coordinator.errors import DomainError
from coordinator.forms import render_form
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import service
from coordinator.patients.forms import NoteForm, SearchForm
from coordinator.patients.models import Patient

bp = Blueprint("patients", __name__, url_prefix="/patients")

ViewResult = Response | str | tuple[str, int]

#: Who may see patient data. Administrators are left out on purpose (separation of duties).
PATIENT_ROLES = (Role.COORDINATOR, Role.MANAGER)


@bp.get("/")
@roles(*PATIENT_ROLES)
def index() -> str:
    actor = current_actor()
    return render_template(
        "patients/index.html",
        unit=actor.unit,
        patients=service.list_patients(actor),
        form=SearchForm(formdata=None),
    )


@bp.post("/search")
@roles(*PATIENT_ROLES)
def search() -> ViewResult:
    """Search by POST: a personnummer in a URL would end up in proxy logs and history."""
    actor = current_actor()
    form = SearchForm()
    if not form.validate():
        return render_form("patients/search.html", form)
    try:
        patient = service.find_by_personnummer(actor, form.personnummer.data or "")
    except DomainError as error:
        return render_form("patients/search.html", form, error=error)
    if patient is None:
        return render_template(
            "patients/search.html",
            form=form,
            error=_("No patient with that personnummer is registered in this unit."),
        ), 404
    return redirect(url_for(".show", patient_uid=patient.uid))


@bp.get("/<uuid:patient_uid>")
@roles(*PATIENT_ROLES)
def show(patient_uid: uuid.UUID) -> str:
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    return _patient_page(patient, NoteForm(formdata=None))[0]


def _patient_page(
    patient: Patient, form: NoteForm, error: DomainError | None = None
) -> tuple[str, int]:
    actor = current_actor()
    return render_form(
        "patients/show.html",
        form,
        error=error,
        patient=patient,
        entries=journal.timeline(actor, patient),
        may_write=actor.role is Role.COORDINATOR,
    )


@bp.post("/<uuid:patient_uid>/journal")
@roles(Role.COORDINATOR)
def add_note(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = service.get_patient(actor, patient_uid)
    form = NoteForm()
    if not form.validate():
        return _patient_page(patient, form)
    try:
        journal.add_entry(
            actor, patient, EntryKind.NOTE, form.heading.data or "", form.body.data or ""
        )
    except DomainError as error:
        return _patient_page(patient, form, error)
    flash(_("The note was signed and saved."), "success")
    return redirect(url_for(".show", patient_uid=patient.uid))
