"""Mapping, plan and treatment pages. Each view parses a form, calls one service, and answers;
a save refused because someone else saved first starts the request over and shows what they
saved beside the user's own (kept) input."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.access import Actor, current_actor, roles
from coordinator.auth.models import ProviderType
from coordinator.auth.roles import Role
from coordinator.consents.models import ConsentKind
from coordinator.consents.service import ConsentMissing, Recipient
from coordinator.database import restart_unit_of_work
from coordinator.errors import DomainError, NotFound
from coordinator.forms import render_form
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import mapping, overview, printing, service, treatments
from coordinator.plans import today as _today  # noqa: F401 (registers the Today groups)
from coordinator.plans.common import StaleEdit, case_for_planning
from coordinator.plans.forms import (
    BLANK_MEASURES,
    AgreeForm,
    FollowUpForm,
    MappingForm,
    PlanForm,
    ProgressForm,
    ShareForm,
    TreatmentForm,
)
from coordinator.plans.models import (
    AgreementMethod,
    MeasureStatus,
    PlanVersion,
    ResponsibleActor,
    ReturnBelief,
    ReturnGoal,
    TreatmentKind,
    TreatmentProvider,
)
from coordinator.printing import pdf_response

bp = Blueprint("plans", __name__, url_prefix="/patients/<uuid:patient_uid>")

ViewResult = Response | str | tuple[str, int]
#: Managers read plans (reviewing caseloads); only coordinators write.
READERS = (Role.COORDINATOR, Role.MANAGER)


def _kbt_min() -> int:
    return int(current_app.config["KBT_MIN_SESSIONS"])


def _to_plan(patient: Patient, anchor: str | None = None) -> Response:
    return redirect(url_for("plans.show", patient_uid=patient.uid, _anchor=anchor))


# -- The mapping ---------------------------------------------------------------------------


@bp.route("/mapping", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def edit_mapping(patient_uid: uuid.UUID) -> ViewResult:
    """The mapping's draft (a new version from the signed one when the latest is signed)."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    if request.method == "GET":
        latest = mapping.for_editing(actor, patient)
        form = MappingForm(obj=latest)
        form.belief.data = latest.return_belief if latest else None
        form.version.data = str(latest.lock) if latest else ""
        form.based_on.data = str(latest.number) if latest else "0"
        return render_form("plans/mapping_edit.html", form, patient=patient, latest=latest)
    latest = mapping.latest_of(case_for_planning(actor, patient))
    form = MappingForm()
    if not form.validate_on_submit():
        return render_form("plans/mapping_edit.html", form, patient=patient, latest=latest)
    entry = mapping.MappingInput(
        form.sections, ReturnBelief(form.belief.data) if form.belief.data else None
    )
    try:
        saved = mapping.save(actor, patient, entry, expected_lock=form.expected_version or 0,
                             based_on=form.based_on_number, sign=bool(form.sign.data))  # fmt: skip
    except StaleEdit as error:
        restart_unit_of_work()
        patient = patients.get_patient(actor, patient_uid)
        latest = mapping.for_editing(actor, patient)
        form.version.data = str(latest.lock) if latest else ""
        form.based_on.data = str(latest.number) if latest else "0"
        return render_form("plans/mapping_edit.html", form, error=error, patient=patient,
                           latest=latest, other=latest)  # fmt: skip
    except DomainError as error:
        return render_form("plans/mapping_edit.html", form, error=error, patient=patient,
                           latest=latest)  # fmt: skip
    if saved.is_signed:
        flash(_("The mapping was signed and written to the journal."), "success")
    else:
        flash(_("The draft was saved."), "success")
    return _to_plan(patient, "mapping")


@bp.get("/mapping/<int:number>")
@roles(*READERS)
def show_mapping(patient_uid: uuid.UUID, number: int) -> str:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    shown = mapping.open_mapping(actor, patient, number)
    return render_template("plans/mapping_show.html", patient=patient, mapping=shown,
                           labels=mapping.SECTION_LABELS)  # fmt: skip


# -- The plan page and its actions ---------------------------------------------------------


@bp.get("/plan")
@roles(*READERS)
def show(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    return _plan_page(actor, patient)


def _plan_page(
    actor: Actor,
    patient: Patient,
    *,
    forms: dict[str, Any] | None = None,
    error: DomainError | None = None,
    status: int | None = None,
) -> tuple[str, int]:
    view = overview.overview(actor, patient, clock.today(), _kbt_min(), full=True)
    lock = str(view.plan.lock) if view.plan else ""
    agree = AgreeForm(formdata=None)
    if view.plan is not None and view.plan.draft is not None:
        agree.number.data = str(view.plan.draft.number)
        agree.next_follow_up_on.data = view.plan.next_follow_up_on
    follow_up = FollowUpForm(formdata=None)
    blank = {"agree": agree, "follow_up": follow_up}
    shown = blank | (forms or {})
    for form in shown.values():
        if not form.version.data:
            form.version.data = lock
    main = next(iter(forms.values())) if forms else follow_up
    html, code = render_form(
        "plans/show.html",
        main,
        error=error,
        patient=patient,
        view=view,
        forms=shown,
        may_write=actor.role is Role.COORDINATOR,
        today=clock.today(),
        progress=lambda measure: _progress_form(measure, lock, (forms or {}).get("progress")),
        missing=error.kind if isinstance(error, ConsentMissing) else None,
    )
    if status is None and not forms and error is None:
        status = 200
    return html, status or code


def _progress_form(measure: Any, lock: str, submitted: ProgressForm | None) -> ProgressForm:
    """The measure's progress form: blank, or the one refused for it (with its errors)."""
    if submitted is not None and submitted.measure_uid == measure.uid:
        return submitted
    form = ProgressForm(formdata=None, prefix=f"m{measure.id}")
    form.status.data = measure.status.value
    form.outcome.data = measure.outcome
    form.version.data = lock
    return form


def _act(patient_uid: uuid.UUID, name: str, form: Any, action: Any, done: str) -> ViewResult:
    """Validate ``form``, run ``action``; refused: the plan page with the form's errors."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    if not form.validate():
        return _plan_page(actor, patient, forms={name: form})
    try:
        result = action(actor, patient)
    except StaleEdit as error:
        restart_unit_of_work()
        patient = patients.get_patient(actor, patient_uid)
        return _plan_page(actor, patient, error=error, status=error.status_code)
    except DomainError as error:
        return _plan_page(actor, patient, forms={name: form}, error=error)
    flash(done, "success")
    if isinstance(result, Response):
        return result
    return _to_plan(patient, name.replace("_", "-"))


@bp.post("/plan/agree")
@roles(Role.COORDINATOR)
def agree(patient_uid: uuid.UUID) -> ViewResult:
    form = AgreeForm()

    def action(actor: Actor, patient: Patient) -> object:
        return service.agree(
            actor, patient, int(form.number.data or 0),
            service.Agreement(form.agreed_on.data or clock.today(),
                              AgreementMethod(form.method.data), form.next_follow_up_on.data,
                              form.note.data),
            form.expected_version,
        )  # fmt: skip

    done = _("The patient's agreement was recorded: this version is now in force.")
    return _act(patient_uid, "agree", form, action, done)


@bp.post("/plan/follow-ups")
@roles(Role.COORDINATOR)
def follow_up(patient_uid: uuid.UUID) -> ViewResult:
    form = FollowUpForm()

    def action(actor: Actor, patient: Patient) -> object:
        service.follow_up(
            actor, patient,
            service.FollowUpInput(form.held_on.data or clock.today(), form.notes.data or "",
                                  form.next_on.data, bool(form.end_plan.data)),
            form.expected_version,
        )  # fmt: skip
        if form.change_plan.data and not form.end_plan.data:
            return redirect(url_for("plans.edit", patient_uid=patient.uid))
        return None

    return _act(patient_uid, "follow_up", form, action, _("The follow-up was recorded."))


@bp.post("/plan/measures/<uuid:measure_uid>")
@roles(Role.COORDINATOR)
def progress(patient_uid: uuid.UUID, measure_uid: uuid.UUID) -> ViewResult:
    form = ProgressForm(prefix=request.args.get("prefix", ""))
    form.measure_uid = measure_uid

    def action(actor: Actor, patient: Patient) -> object:
        return service.update_measure(actor, patient, measure_uid, MeasureStatus(form.status.data),
                                      form.outcome.data, form.expected_version)  # fmt: skip

    return _act(patient_uid, "progress", form, action, _("The measure was updated."))


# -- Editing the plan ------------------------------------------------------------------------


@bp.route("/plan/edit", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def edit(patient_uid: uuid.UUID) -> ViewResult:
    """Create the plan, edit its draft, or start a new version of the plan in force."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    if request.method == "GET":
        plan = service.for_editing(actor, patient)
        form = PlanForm(formdata=None)
        _fill_plan_form(form, plan.latest if plan else None, plan.lock if plan else None)
        return render_form("plans/edit.html", form, patient=patient, plan=plan)
    plan = service.plan_of(case_for_planning(actor, patient))
    form = PlanForm()
    if not form.validate_on_submit():
        return render_form("plans/edit.html", form, patient=patient, plan=plan)
    try:
        service.save(actor, patient, _plan_input(form), based_on=form.based_on_number,
                     expected_lock=form.expected_version or 0)  # fmt: skip
    except StaleEdit as error:
        restart_unit_of_work()
        patient = patients.get_patient(actor, patient_uid)
        plan = service.for_editing(actor, patient)
        if plan is not None:  # the next save is made on what is stored now
            form.version.data, form.based_on.data = str(plan.lock), str(plan.latest.number)
        return render_form("plans/edit.html", form, error=error, patient=patient, plan=plan,
                           other=plan.latest if plan else None)  # fmt: skip
    except service.MeasureInvalid as error:
        row = form.measures.entries[_row_of(form, error.index)]
        getattr(row.form, error.subfield).errors = [error.detail]
        # The detail is at the row's field; the message naming the measure goes above the form.
        above = DomainError(error.message)
        return render_form("plans/edit.html", form, error=above, patient=patient, plan=plan)
    except DomainError as error:
        return render_form("plans/edit.html", form, error=error, patient=patient, plan=plan)
    flash(_("The plan was saved. Record the patient's agreement when you have gone through it "
            "together."), "success")  # fmt: skip
    return _to_plan(patient, "draft")


def _kept_rows(form: PlanForm) -> list[int]:
    """Indexes of the measure rows that are filled in and not removed."""
    return [i for i, row in enumerate(form.measures.entries)
            if not row.form.is_blank and not row.form.remove.data]  # fmt: skip


def _row_of(form: PlanForm, index: int) -> int:
    return _kept_rows(form)[index]


def _plan_input(form: PlanForm) -> service.PlanInput:
    measures = []
    for i in _kept_rows(form):
        row = form.measures.entries[i].form
        try:
            uid = uuid.UUID(row.uid.data) if row.uid.data else None
        except ValueError:
            uid = None
        measures.append(service.MeasureInput(
            description=row.description.data or "", actor=ResponsibleActor(row.actor.data),
            actor_name=row.actor_name.data, starts_on=row.starts_on.data, due_on=row.due_on.data,
            status=MeasureStatus(row.status.data), uid=uid,
        ))  # fmt: skip
    return service.PlanInput(
        goal=ReturnGoal(form.goal.data),
        goal_degree=int(form.goal_degree.data or 0),
        starts_on=form.starts_on.data or clock.today(),
        target_on=form.target_on.data or clock.today(),
        goal_text=form.goal_text.data,
        intermediate_goals=form.intermediate_goals.data,
        measures=measures,
    )


def _fill_plan_form(form: PlanForm, version: PlanVersion | None, lock: int | None) -> None:
    """The form filled from ``version`` (empty for a new plan), plus blank measure rows."""
    form.version.data = str(lock) if lock is not None else ""
    while form.measures.entries:
        form.measures.pop_entry()
    if version is not None:
        form.based_on.data = str(version.number)
        form.goal.data = version.goal.value
        form.goal_degree.data = version.goal_degree
        form.starts_on.data = version.starts_on
        form.target_on.data = version.target_on
        form.goal_text.data = version.goal_text
        form.intermediate_goals.data = version.intermediate_goals
        for measure in version.measures:
            row = form.measures.append_entry()
            row.form.uid.data = measure.uid.hex
            row.form.description.data = measure.description
            row.form.actor.data = measure.actor.value
            row.form.actor_name.data = measure.actor_name
            row.form.starts_on.data = measure.starts_on
            row.form.due_on.data = measure.due_on
            row.form.status.data = measure.status.value
    for _blank in range(BLANK_MEASURES + (1 if version is None else 0)):
        form.measures.append_entry()


@bp.get("/plan/versions/<int:number>")
@roles(*READERS)
def version(patient_uid: uuid.UUID, number: int) -> str:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    plan = service.open_plan(actor, patient)
    shown = plan.version(number)
    if shown is None:
        raise NotFound()
    return render_template("plans/version.html", patient=patient, plan=plan, version=shown)


# -- Printing and sharing --------------------------------------------------------------------


@bp.get("/plan/print")
@roles(Role.COORDINATOR)
def print_plan(patient_uid: uuid.UUID) -> Response:
    """The plan for the patient (PDF): the version in force, or the one asked for."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    plan = service.open_plan(actor, patient)
    number = request.args.get("version", type=int)
    shown = plan.version(number) if number else plan.current
    if shown is None:
        raise NotFound()
    printed = printing.plan(actor, patient, plan, shown)
    return pdf_response(printed.data, printed.filename)


@bp.route("/plan/share", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def share(patient_uid: uuid.UUID) -> ViewResult:
    """Share the plan in force with an external recipient: needs the matching consent, is
    registered as a disclosure, and gives the PDF to hand over."""
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    plan = service.open_plan(actor, patient)
    form = ShareForm()
    if not form.validate_on_submit():
        return render_form("plans/share.html", form, patient=patient, plan=plan)
    recipient = Recipient(ConsentKind(form.recipient.data), form.recipient_name.data)
    try:
        shown, _disclosure = service.share(actor, patient, recipient,
                                           form.shared_on.data or clock.today())  # fmt: skip
    except ConsentMissing as error:
        return render_form("plans/share.html", form, error=error, patient=patient, plan=plan,
                           missing=error.kind)  # fmt: skip
    except DomainError as error:
        return render_form("plans/share.html", form, error=error, patient=patient, plan=plan)
    printed = printing.plan(actor, patient, plan, shown, shared_with=recipient)
    return pdf_response(printed.data, printed.filename)


# -- Treatments ------------------------------------------------------------------------------


@bp.route("/treatments/new", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def new_treatment(patient_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    form = TreatmentForm(kbt_min=_kbt_min())
    if not form.validate_on_submit():
        return render_form("plans/treatment.html", form, patient=patient, treatment=None)
    try:
        treatments.record(actor, patient, _treatment_input(form))
    except DomainError as error:
        return render_form("plans/treatment.html", form, error=error, patient=patient,
                           treatment=None)  # fmt: skip
    flash(_("The treatment was registered."), "success")
    return _to_plan(patient, "treatments")


@bp.route("/treatments/<uuid:treatment_uid>", methods=["GET", "POST"])
@roles(Role.COORDINATOR)
def edit_treatment(patient_uid: uuid.UUID, treatment_uid: uuid.UUID) -> ViewResult:
    actor = current_actor()
    patient = patients.get_patient(actor, patient_uid)
    treatment = treatments.open_treatment(actor, patient, treatment_uid)
    if request.method == "GET":
        form = TreatmentForm(formdata=None, obj=treatment, kbt_min=_kbt_min())
        form.version.data = str(treatment.lock)
        return render_form("plans/treatment.html", form, patient=patient, treatment=treatment)
    form = TreatmentForm(kbt_min=_kbt_min())
    if not form.validate_on_submit():
        return render_form("plans/treatment.html", form, patient=patient, treatment=treatment)
    try:
        treatments.update(actor, patient, treatment, _treatment_input(form),
                          form.expected_version)  # fmt: skip
    except StaleEdit as error:
        restart_unit_of_work()
        patient = patients.get_patient(actor, patient_uid)
        treatment = treatments.open_treatment(actor, patient, treatment_uid)
        form.version.data = str(treatment.lock)
        return render_form("plans/treatment.html", form, error=error, patient=patient,
                           treatment=treatment, other=treatment)  # fmt: skip
    except DomainError as error:
        return render_form("plans/treatment.html", form, error=error, patient=patient,
                           treatment=treatment)  # fmt: skip
    flash(_("The treatment was saved."), "success")
    return _to_plan(patient, "treatments")


def _treatment_input(form: TreatmentForm) -> treatments.TreatmentInput:
    return treatments.TreatmentInput(
        kind=TreatmentKind(form.kind.data),
        provider=TreatmentProvider(form.provider.data),
        provider_type=ProviderType(form.provider_type.data),
        started_on=form.started_on.data,
        completed_on=form.completed_on.data,
        sessions=form.sessions.data,
        note=form.note.data,
    )
