"""The directory's pages, the patient's contacts and the log-a-contact form, and the patient's
employer. Each view parses a form, calls one service, and answers."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.access import Actor, current_actor, roles
from coordinator.auth.roles import Role
from coordinator.consents.service import ConsentMissing
from coordinator.contacts import directory, service
from coordinator.contacts import today as _today  # noqa: F401 (registers the Today group)
from coordinator.contacts.forms import (
    ContactForm,
    DirectorySearchForm,
    EmployerForm,
    OrganisationForm,
    PersonForm,
    RemoveEmployerForm,
)
from coordinator.contacts.models import (
    Channel,
    ContactKind,
    Initiator,
    Organisation,
    OrganisationType,
)
from coordinator.database import restart_unit_of_work
from coordinator.errors import DomainError
from coordinator.forms import render_form
from coordinator.patients import service as patients
from coordinator.patients.models import Patient

bp = Blueprint("contacts", __name__)

ViewResult = Response | str | tuple[str, int]
READERS = (Role.COORDINATOR, Role.MANAGER)
#: What a directory search opened from a patient's page is for.
PURPOSES = ("employer", "contact")


def _uid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


# -- The directory ------------------------------------------------------------------------------


@bp.get("/directory/")
@roles(*READERS)
def directory_index() -> str:
    """Search the directory; opened from a patient's page, each hit is a choice for them."""
    actor = current_actor()
    form = DirectorySearchForm(request.args)
    form.validate()
    patient, purpose = _picking_for(actor)
    if purpose == "employer" and not form.type.data:
        form.type.data = OrganisationType.EMPLOYER.value
    found = directory.search(form.q.data or "", form.chosen_type) if not form.errors else []
    return render_template(
        "contacts/directory.html", form=form, found=found[: directory.SEARCH_LIMIT],
        more=len(found) > directory.SEARCH_LIMIT, patient=patient, purpose=purpose,
        may_write=actor.role is Role.COORDINATOR, choose=EmployerForm(formdata=None),
    )  # fmt: skip


def _picking_for(actor: Actor) -> tuple[Patient | None, str | None]:
    """The patient (of the actor's unit) and purpose a directory page was opened for."""
    patient_uid, purpose = _uid(request.args.get("patient")), request.args.get("purpose")
    if patient_uid is None or purpose not in PURPOSES:
        return None, None
    return patients.get_patient(actor, patient_uid), purpose


@bp.route("/directory/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def directory_new() -> ViewResult:
    actor = current_actor()
    patient, purpose = _picking_for(actor)
    form = OrganisationForm()
    if request.method == "GET" and purpose == "employer":
        form.type.data = OrganisationType.EMPLOYER.value
    context: dict[str, Any] = {"patient": patient, "purpose": purpose, "organisation": None}
    if not form.validate_on_submit():
        return render_form("contacts/organisation_form.html", form, **context)
    try:
        organisation = directory.create_organisation(actor, form.entry())
    except directory.DuplicateOrganisation as error:
        return render_form("contacts/organisation_form.html", form, error=error,
                           existing=error.existing, **context)  # fmt: skip
    except DomainError as error:
        return render_form("contacts/organisation_form.html", form, error=error, **context)
    flash(_("%(name)s was added to the directory.", name=organisation.name), "success")
    if patient is not None and purpose == "employer":
        return redirect(url_for(".employer", patient_uid=patient.uid, chosen=organisation.uid))
    if patient is not None:
        return redirect(url_for(".new_contact", patient_uid=patient.uid,
                                organisation=organisation.uid))  # fmt: skip
    return redirect(url_for(".directory_show", organisation_uid=organisation.uid))


@bp.get("/directory/<uuid:organisation_uid>")
@roles(*READERS)
def directory_show(organisation_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    shown = directory.get_organisation(organisation_uid)
    return _organisation_page(actor, shown)


def _organisation_page(
    actor: Actor,
    shown: Organisation,
    person_form: PersonForm | None = None,
    error: DomainError | None = None,
) -> tuple[str, int]:
    form = person_form or PersonForm(formdata=None)
    return render_form(
        "contacts/organisation.html", form, error=error, organisation=shown,
        persons=sorted(shown.persons, key=lambda p: (not p.is_current, p.name.casefold())),
        employees=service.patients_employed_at(actor, shown),
        contacts=service.contacts_with(actor, shown),
        may_write=actor.role is Role.COORDINATOR,
    )  # fmt: skip


@bp.route("/directory/<uuid:organisation_uid>/edit", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def directory_edit(organisation_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    shown = directory.get_organisation(organisation_uid)
    form = OrganisationForm(obj=None if request.method == "POST" else shown)
    if request.method == "GET":
        form.type.data = shown.type.value
        form.version.data = str(shown.lock)
    context: dict[str, Any] = {"organisation": shown, "patient": None, "purpose": None}
    if not form.validate_on_submit():
        return render_form("contacts/organisation_form.html", form, **context)
    try:
        directory.update_organisation(actor, shown, form.entry(), form.expected_version)
    except directory.StaleEntry as error:
        restart_unit_of_work()
        shown = directory.get_organisation(organisation_uid)
        form.version.data = str(shown.lock)
        context["organisation"] = shown
        return render_form("contacts/organisation_form.html", form, error=error, other=shown,
                           **context)  # fmt: skip
    except directory.DuplicateOrganisation as error:
        return render_form("contacts/organisation_form.html", form, error=error,
                           existing=error.existing, **context)  # fmt: skip
    except DomainError as error:
        return render_form("contacts/organisation_form.html", form, error=error, **context)
    flash(_("The changes were saved."), "success")
    return redirect(url_for(".directory_show", organisation_uid=shown.uid))


@bp.post("/directory/<uuid:organisation_uid>/persons")
@roles(Role.COORDINATOR)
def directory_add_person(organisation_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    shown = directory.get_organisation(organisation_uid)
    form = PersonForm()
    if not form.validate():
        return _organisation_page(actor, shown, form)
    try:
        person = directory.add_person(actor, shown, form.entry())
    except DomainError as error:
        return _organisation_page(actor, shown, form, error)
    flash(_("%(name)s was added.", name=person.name), "success")
    return redirect(url_for(".directory_show", organisation_uid=shown.uid, _anchor="persons"))


@bp.route("/directory/<uuid:organisation_uid>/persons/<uuid:person_uid>",
          methods=["GET", "POST"])  # fmt: skip
@roles(Role.COORDINATOR)
def directory_edit_person(organisation_uid: uuid.UUID, person_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    shown = directory.get_organisation(organisation_uid)
    person = directory.person_of(shown, person_uid)
    form = PersonForm(obj=None if request.method == "POST" else person)
    if request.method == "GET":
        form.version.data = str(person.lock)
    context: dict[str, Any] = {"organisation": shown, "person": person}
    if not form.validate_on_submit():
        return render_form("contacts/person_form.html", form, **context)
    try:
        directory.update_person(actor, person, form.entry(), form.left_on.data,
                                form.expected_version)  # fmt: skip
    except directory.StaleEntry as error:
        restart_unit_of_work()
        shown = directory.get_organisation(organisation_uid)
        person = directory.person_of(shown, person_uid)
        form.version.data = str(person.lock)
        return render_form("contacts/person_form.html", form, error=error, organisation=shown,
                           person=person)  # fmt: skip
    except DomainError as error:
        return render_form("contacts/person_form.html", form, error=error, **context)
    flash(_("The changes were saved."), "success")
    return redirect(url_for(".directory_show", organisation_uid=shown.uid, _anchor="persons"))


# -- A patient's contacts ---------------------------------------------------------------------


@bp.get("/patients/<uuid:patient_uid>/contacts")
@roles(*READERS)
def contacts(patient_uid: uuid.UUID) -> str:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    try:
        only = OrganisationType(request.args.get("type", ""))
    except ValueError:
        only = None
    shown = service.timeline(actor, patient, only)
    return render_template(
        "contacts/timeline.html", patient=patient, timeline=shown, only=only,
        types=list(OrganisationType), may_write=actor.role is Role.COORDINATOR,
    )  # fmt: skip


@bp.route("/patients/<uuid:patient_uid>/contacts/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def new_contact(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = ContactForm()
    offered = _offer(actor, patient, form)
    if not form.validate_on_submit():
        return _contact_form(patient, form, offered)
    try:
        service.log_contact(actor, patient, _contact_input(form, offered))
    except ConsentMissing as error:
        return _contact_form(patient, form, offered, error, missing=error.kind)
    except DomainError as error:
        return _contact_form(patient, form, offered, error)
    flash(_("The contact was logged."), "success")
    return redirect(url_for(".contacts", patient_uid=patient.uid))


def _offer(actor: Actor, patient: Patient, form: ContactForm) -> list[Organisation]:
    """Fill the form's choices: organisations, their people, the plan's measures."""
    offered = service.organisations_for_contacts(patient)
    chosen = _uid(request.args.get("organisation"))
    if chosen is not None and all(o.uid != chosen for o in offered):
        extra = directory.get_organisation(chosen)
        offered = [extra, *offered]
    form.organisation.choices = [("", _("Choose…"))] + [
        (o.uid.hex, f"{o.name} ({o.type.label})") for o in offered
    ]
    form.person.choices = [("", _("Nobody in particular"))] + [
        (p.uid.hex, f"{p.name}{', ' + p.role if p.role else ''} — {o.name}")
        for o in offered
        for p in directory.current_persons(o)
    ]
    form.measure.choices = [("", _("None"))] + [
        (m.uid.hex, m.description) for m in service.measures_for_contacts(actor, patient)
    ]
    if request.method == "GET":
        form.organisation.data = _default_organisation(patient, offered, chosen)
        form.measure.data = request.args.get("measure", "")
    return offered


def _default_organisation(
    patient: Patient, offered: list[Organisation], chosen: uuid.UUID | None
) -> str:
    if chosen is not None:
        return chosen.hex
    if patient.employer is not None and patient.employment.has_employer:
        return patient.employer.uid.hex
    if not patient.employment.has_employer:  # the unemployed: steered to Arbetsförmedlingen
        agency = next((o for o in offered if o.type is OrganisationType.EMPLOYMENT_SERVICE), None)
        return agency.uid.hex if agency else ""
    return ""


def _contact_input(form: ContactForm, offered: list[Organisation]) -> service.ContactInput:
    organisation = next((o for o in offered if o.uid.hex == form.organisation.data), None)
    persons = {p.uid.hex: p for o in offered for p in o.persons}
    measure = _uid(form.measure.data)
    return service.ContactInput(
        organisation=organisation,
        occurred_on=form.occurred_on.data,
        occurred_time=form.occurred_time.data,
        channel=Channel(form.channel.data),
        kind=ContactKind(form.kind.data),
        initiated_by=Initiator(form.initiated_by.data),
        person=persons.get(form.person.data or ""),
        new_person=form.new_person,
        notes=form.notes.data,
        is_disclosure=bool(form.is_disclosure.data),
        disclosed=form.disclosed.data,
        measure_uid=measure,
        next_step=form.next_step.data,
        next_step_on=form.next_step_on.data,
    )


def _contact_form(
    patient: Patient,
    form: ContactForm,
    offered: list[Organisation],
    error: DomainError | None = None,
    missing: Any = None,
) -> tuple[str, int]:
    return render_form(
        "contacts/log.html", form, error=error, patient=patient, missing=missing,
        offered=offered, today=clock.today(),
    )  # fmt: skip


# -- The patient's employer --------------------------------------------------------------------


@bp.route("/patients/<uuid:patient_uid>/employer", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def employer(patient_uid: uuid.UUID) -> ViewResult:
    """The patient's employer: the current one with their manager, or one chosen in the
    directory (``?chosen=``) to confirm with a manager."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = EmployerForm()
    chosen_uid = _uid(form.organisation.data if request.method == "POST" else
                      request.args.get("chosen"))  # fmt: skip
    chosen = directory.get_organisation(chosen_uid) if chosen_uid else patient.employer
    form.manager.choices = [("", _("Not known"))] + [
        (p.uid.hex, f"{p.name}{', ' + p.role if p.role else ''}")
        for p in (directory.current_persons(chosen) if chosen else [])
    ]
    context: dict[str, Any] = {
        "patient": patient,
        "chosen": chosen,
        "remove": RemoveEmployerForm(formdata=None),
    }
    if request.method == "GET":
        form.organisation.data = chosen.uid.hex if chosen else ""
        manager = patient.employer_manager
        form.manager.data = manager.uid.hex if manager and chosen is patient.employer else ""
    if not form.validate_on_submit() or chosen is None:
        return render_form("contacts/employer.html", form, **context)
    manager_uid = _uid(form.manager.data)
    try:
        manager = directory.person_of(chosen, manager_uid) if manager_uid else None
        changed = service.set_employer(actor, patient, chosen, manager)
    except DomainError as error:
        return render_form("contacts/employer.html", form, error=error, **context)
    flash(_("The employer was saved.") if changed else _("Nothing was changed."), "success")
    return redirect(url_for("patients.show", patient_uid=patient.uid))


@bp.post("/patients/<uuid:patient_uid>/employer/remove")
@roles(Role.COORDINATOR)
def remove_employer(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = RemoveEmployerForm()
    if form.validate() and service.set_employer(actor, patient, None):
        flash(_("The employer was removed."), "success")
    return redirect(url_for("patients.show", patient_uid=patient.uid))
