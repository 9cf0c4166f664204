"""Report pages for managers: caseload review, sick-leave statistics, the quarterly report and
the indicator table. Each view reads its form, calls the reports services, and renders or
answers with a file; every file is logged as an export of the patients it counts."""

from __future__ import annotations

import uuid
from datetime import date

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from coordinator import clock
from coordinator.access import current_actor, roles
from coordinator.auth.models import CareUnit
from coordinator.auth.roles import Role
from coordinator.errors import InvalidField, NotFound
from coordinator.journal import service as journal
from coordinator.patients import cases
from coordinator.printing import pdf_response
from coordinator.reports import exports, indicators, quarterly, review, settings, statistics
from coordinator.reports.forms import (
    MonthForm,
    PeriodForm,
    PopulationForm,
    QuarterForm,
    ReassignForm,
    TargetsForm,
)
from coordinator.reports.models import Indicator
from coordinator.reports.scope import manager_units

bp = Blueprint("reports", __name__, url_prefix="/reports")

ViewResult = BaseResponse | str | tuple[str, int]


def _csv_response(text: str, filename: str) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _units_param() -> str | None:
    return request.args.get("unit") or None


def _scope_label(units: list[CareUnit]) -> str:
    return units[0].name if len(units) == 1 else _("All my units")


@bp.get("/")
@roles(Role.MANAGER)
def index() -> ViewResult:
    return redirect(url_for("reports.caseload"))


# -- Caseload review ---------------------------------------------------------------------------


@bp.get("/caseload")
@roles(Role.MANAGER)
def caseload() -> ViewResult:
    actor = current_actor()
    today = clock.today()
    form = MonthForm(actor.user.active_units, request.args)
    units = manager_units(actor, _units_param())
    if not form.validate():
        return render_template("reports/caseload.html", form=form, reviews=None), 400
    month = form.chosen_month(today)
    reviews = review.caseload_review(actor, units, month, today)
    return render_template(
        "reports/caseload.html", form=form, reviews=reviews, month=month,
        measures=list(review.ReviewMeasure), current_unit=actor.unit,
    )  # fmt: skip


def _coordinator_param() -> int | None:
    value = request.args.get("coordinator", "none")
    if value == "none":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise NotFound() from error


@bp.get("/caseload/patients")
@roles(Role.MANAGER)
def caseload_patients() -> ViewResult:
    """The patients behind one figure of the review (current unit), with reassignment."""
    actor = current_actor()
    today = clock.today()
    form = MonthForm(actor.user.active_units, request.args)
    try:
        measure = review.ReviewMeasure(request.args.get("measure", ""))
        unit_id = int(request.args.get("unit", ""))
    except ValueError as error:
        raise NotFound() from error
    if not form.validate():
        raise NotFound()
    month = form.chosen_month(today)
    coordinator_id = _coordinator_param()
    found = review.review_patients(actor, unit_id, coordinator_id, measure, month, today)
    reassign = ReassignForm()
    reassign.coordinator.choices = [(user.id, user.full_name)
                                    for user in cases.unit_coordinators(unit_id)]  # fmt: skip
    return render_template(
        "reports/caseload_patients.html", found=found, measure=measure, month=month,
        coordinator_id=coordinator_id, reassign=reassign, unit_id=unit_id,
        back=request.full_path,
    )  # fmt: skip


@bp.post("/caseload/reassign")
@roles(Role.MANAGER)
def caseload_reassign() -> ViewResult:
    actor = current_actor()
    form = ReassignForm()
    unit_id = actor.unit.id if actor.unit else 0
    form.coordinator.choices = [(user.id, user.full_name)
                                for user in cases.unit_coordinators(unit_id)]  # fmt: skip
    back = request.form.get("back", "")
    target = back if back.startswith("/reports/caseload") else url_for("reports.caseload")
    if not form.validate():
        flash(_("Choose the coordinator to give the cases to."), "error")
        return redirect(target)
    try:
        uids = [uuid.UUID(value) for value in form.cases.data or []]
    except ValueError as error:
        raise NotFound() from error
    try:
        moved = review.reassign(actor, uids, form.coordinator.data)
    except InvalidField as error:  # refused before anything moved
        flash(str(error.message), "error")
        return redirect(target)
    flash(_("%(n)d cases reassigned.", n=moved), "success")
    return redirect(target)


# -- Sick-leave statistics ---------------------------------------------------------------------


def _period(form: PeriodForm, today: date) -> tuple[date, date]:
    start = form.start.data or today.replace(day=1)
    end = form.end.data or today
    return start, end


@bp.get("/statistics")
@roles(Role.MANAGER)
def sick_leave() -> ViewResult:
    actor = current_actor()
    form = PeriodForm(actor.user.active_units, request.args)
    units = manager_units(actor, _units_param())
    if not form.validate():
        return render_template("reports/statistics.html", form=form, stats=None), 400
    start, end = _period(form, clock.today())
    if not form.start.data:
        form.start.data = start
    if not form.end.data:
        form.end.data = end
    stats = statistics.sick_leave_statistics(units, start, end)
    return render_template(
        "reports/statistics.html", form=form, stats=stats, scope=_scope_label(units),
        unit_param=_units_param() or "",
    )  # fmt: skip


@bp.get("/statistics.csv")
@roles(Role.MANAGER)
def sick_leave_csv() -> ViewResult:
    actor = current_actor()
    form = PeriodForm(actor.user.active_units, request.args)
    units = manager_units(actor, _units_param())
    if not form.validate():
        raise NotFound()
    start, end = _period(form, clock.today())
    stats = statistics.sick_leave_statistics(units, start, end)
    key = request.args.get("table", "")
    if key not in {table.key for table in stats.tables}:
        raise NotFound()
    journal.record_export(actor, stats.patient_ids, f"statistics:{key}")
    filename = f"sjukskrivningar-{key}-{start.isoformat()}-{end.isoformat()}.csv"
    return _csv_response(statistics.statistics_csv(stats, key), filename)


# -- Quarterly report --------------------------------------------------------------------------


def _quarterly(form: QuarterForm) -> quarterly.QuarterlyReport:
    actor = current_actor()
    units = manager_units(actor, _units_param())
    year, quarter = quarterly.quarter_of(clock.today())
    return quarterly.quarterly_report(
        units,
        form.year.data or year,
        int(form.quarter.data or quarter),
        form.rate.data if form.rate.data is not None else current_app.config["REIMBURSEMENT_RATE"],
        current_app.config["KBT_MIN_SESSIONS"],
    )


@bp.get("/quarterly")
@roles(Role.MANAGER)
def quarter() -> ViewResult:
    actor = current_actor()
    manager_units(actor, _units_param())  # another unit is not found, before the form says so
    form = QuarterForm(actor.user.active_units, request.args)
    if not form.validate():
        return render_template("reports/quarterly.html", form=form, report=None), 400
    report = _quarterly(form)
    form.year.data, form.quarter.data = report.year, str(report.quarter)
    form.rate.data = report.rate
    patients = quarterly.reconciliation_patients(actor, report)
    return render_template(
        "reports/quarterly.html", form=form, report=report, patients=patients,
        current_unit=actor.unit, unit_param=_units_param() or "",
    )  # fmt: skip


def _quarterly_file(suffix: str) -> ViewResult:
    """The quarterly report as a file, logged as an export of every patient it counts."""
    actor = current_actor()
    form = QuarterForm(actor.user.active_units, request.args)
    if not form.validate():
        raise NotFound()
    report = _quarterly(form)
    journal.record_export(actor, report.patient_ids, f"quarterly:{report.year}Q{report.quarter}")
    filename = f"kvartalsrapport-{report.year}-Q{report.quarter}.{suffix}"
    if suffix == "pdf":
        return pdf_response(exports.quarterly_pdf(report), filename)
    return _csv_response(exports.quarterly_csv(report), filename)


@bp.get("/quarterly.csv")
@roles(Role.MANAGER)
def quarter_csv() -> ViewResult:
    return _quarterly_file("csv")


@bp.get("/quarterly.pdf")
@roles(Role.MANAGER)
def quarter_pdf() -> ViewResult:
    return _quarterly_file("pdf")


# -- Indicators and settings -------------------------------------------------------------------


def _one_unit() -> CareUnit:
    units = manager_units(current_actor(), _units_param())
    if len(units) != 1:
        raise NotFound()
    return units[0]


@bp.get("/indicators")
@roles(Role.MANAGER)
def indicator_table() -> ViewResult:
    actor = current_actor()
    choices = actor.user.active_units
    form = PeriodForm(choices, request.args)
    unit = _one_unit()
    form.unit.choices = [(str(u.id), u.name) for u in choices]
    form.unit.data = str(unit.id)
    today = clock.today()
    if not form.validate():
        return render_template("reports/indicators.html", form=form, rows=None, unit=unit), 400
    start = form.start.data or date(today.year, 1, 1)
    end = form.end.data or today
    form.start.data, form.end.data = start, end
    rows = indicators.indicators(unit, start, end, today)
    goals = settings.targets(unit.id)
    targets_form = TargetsForm(data={indicator.value: goals[indicator] for indicator in Indicator})
    population = settings.populations([unit.id]).get(unit.id)
    population_form = PopulationForm(data={"population": population})
    return render_template(
        "reports/indicators.html", form=form, rows=rows, unit=unit, targets_form=targets_form,
        population_form=population_form, population=population, reference_day=min(end, today),
    )  # fmt: skip


@bp.post("/indicators/targets")
@roles(Role.MANAGER)
def save_targets() -> ViewResult:
    actor = current_actor()
    unit = _one_unit()
    form = TargetsForm()
    back = url_for("reports.indicator_table", unit=unit.id)
    if not form.validate():
        flash(_("Check the targets: shares are 0–100 %, the median 0–365 days."), "error")
        return redirect(back)
    for indicator in Indicator:
        settings.set_target(actor, unit.id, indicator, form[indicator.value].data)
    flash(_("Targets saved."), "success")
    return redirect(back)


@bp.post("/population")
@roles(Role.MANAGER)
def save_population() -> ViewResult:
    actor = current_actor()
    unit = _one_unit()
    form = PopulationForm()
    back = url_for("reports.indicator_table", unit=unit.id)
    if not form.validate():
        flash(_("Give the population as a whole number from 1 to 2 000 000."), "error")
        return redirect(back)
    settings.set_population(actor, unit.id, form.population.data or 0)
    flash(_("Population saved."), "success")
    return redirect(back)
