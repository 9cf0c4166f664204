"""Log follow-up pages for managers: overview, search, sample checks and chain status.

Each view reads its form, calls the logreview services (which scope by the manager's units and
log every patient shown), and renders. The patient log extract has its own blueprint
(:mod:`coordinator.logreview.extract_views`).
"""

from __future__ import annotations

from flask import (
    Blueprint,
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
from coordinator.auth.roles import Role
from coordinator.errors import DomainError, NotFound
from coordinator.forms import render_form
from coordinator.journal.models import AccessAction
from coordinator.logreview import chainstatus, checks, extract, search
from coordinator.logreview.criteria import Rules
from coordinator.logreview.forms import (
    AcknowledgeForm,
    DrawForm,
    SearchForm,
    SignForm,
    VerifyForm,
    findings_form,
)
from coordinator.logreview.models import Criterion, Finding, LogCheck
from coordinator.reports.scope import manager_units

bp = Blueprint("logreview", __name__, url_prefix="/log")

ViewResult = BaseResponse | str | tuple[str, int]


@bp.app_template_filter("object_label")
def object_label(object_type: str) -> str:
    """What an access-log entry's ``object_type`` means, in the user's language."""
    label = extract.OBJECT_LABELS.get(object_type)
    return str(label) if label is not None else object_type


@bp.get("/")
@roles(Role.MANAGER)
def index() -> ViewResult:
    actor = current_actor()
    interval = current_app.config["LOG_CHECK_INTERVAL_DAYS"]
    signed = {unit: checks.last_signed(unit) for unit in actor.user.active_units}
    units = [(unit, last, checks.is_due(last, interval)) for unit, last in signed.items()]
    return render_template(
        "logreview/index.html", units=units, interval=interval, run=chainstatus.latest_finished(),
        alarm=chainstatus.alarm(), verify_form=VerifyForm(),
    )  # fmt: skip


# -- search ------------------------------------------------------------------------------------


@bp.route("/search", methods=["GET", "POST"])
@roles(Role.MANAGER)
def search_log() -> ViewResult:
    """The search form; posted, one page of results. Posted, not in the query string: a
    personnummer in a URL would end up in proxy logs and the browser's history."""
    actor = current_actor()
    mine = actor.user.active_units
    if request.method == "GET":
        form = SearchForm(mine, search.users_of(mine), formdata=None)
        return render_template("logreview/search.html", form=form, results=None)
    units = manager_units(actor, request.form.get("unit") or None)  # another unit: not found
    form = SearchForm(mine, search.users_of(mine))
    if not form.validate_on_submit():
        return render_template("logreview/search.html", form=form, results=None), 400
    query = search.Query(
        units=units,
        user_id=int(form.user.data) if form.user.data else None,
        personnummer=form.personnummer.data or None,
        action=AccessAction(form.action.data) if form.action.data else None,
        first=form.first.data,
        last=form.last.data,
        page=form.page.data or 1,
    )
    try:
        results = search.search(actor, query)
    except DomainError as error:
        return render_form("logreview/search.html", form, error=error, results=None)
    kept = {name: value for name, value in request.form.items()
            if value and name not in ("page", "csrf_token", "submit")}  # fmt: skip
    return render_template("logreview/search.html", form=form, results=results, kept=kept)


# -- sample checks -----------------------------------------------------------------------------


@bp.get("/checks")
@roles(Role.MANAGER)
def check_list() -> ViewResult:
    actor = current_actor()
    units = actor.user.active_units
    return render_template(
        "logreview/checks.html", summaries=checks.history(actor, units), findings=list(Finding),
        interval=current_app.config["LOG_CHECK_INTERVAL_DAYS"],
    )  # fmt: skip


@bp.route("/checks/new", methods=["GET", "POST"])
@roles(Role.MANAGER)
def new_check() -> ViewResult:
    actor = current_actor()
    units = actor.user.active_units
    form = DrawForm(units, clock.today())
    if form.unit.data is None and actor.unit is not None:
        form.unit.data = str(actor.unit.id)
    rules = Rules.from_config(current_app.config)
    if not form.validate_on_submit():
        return render_form("logreview/new_check.html", form, rules=rules)
    draft = checks.Draft(
        units=form.chosen_units(units),
        first=form.first.data,
        last=form.last.data,
        criteria=frozenset(Criterion(code) for code in form.criteria.data),
    )
    try:
        check = checks.draw(actor, draft, rules)
    except DomainError as error:
        return render_form("logreview/new_check.html", form, error=error, rules=rules)
    flash(_("Sample drawn: %(n)d entries to review.", n=len(check.items)), "success")
    return redirect(url_for("logreview.check", check_id=check.id))


def _check_page(check: LogCheck, status: int = 200, **forms: object) -> tuple[str, int]:
    forms.setdefault("findings", findings_form(check.items))
    forms.setdefault("sign_form", SignForm())
    return render_template(
        "logreview/check.html", check=check, patients=checks.patients_of(current_actor(), check),
        matched=checks.matched_counts(check), documented=checks.documented(check),
        intact=checks.is_intact(check) if check.is_signed else None,
        is_reviewer=check.reviewer_id == current_actor().user.id, **forms,
    ), status  # fmt: skip


@bp.get("/checks/<int:check_id>")
@roles(Role.MANAGER)
def check(check_id: int) -> ViewResult:
    return _check_page(checks.get(current_actor(), check_id))


@bp.post("/checks/<int:check_id>")
@roles(Role.MANAGER)
def judge(check_id: int) -> ViewResult:
    actor = current_actor()
    found = checks.get(actor, check_id)
    form = findings_form(found.items)
    if not form.validate_on_submit():
        return _check_page(found, 400, findings=form)
    judgements = {
        item.id: checks.Judgement(
            Finding(getattr(form, f"finding_{item.id}").data)
            if getattr(form, f"finding_{item.id}").data
            else None,
            getattr(form, f"comment_{item.id}").data or "",
        )
        for item in found.items
    }
    checks.judge(actor, found, judgements)
    flash(_("Findings saved."), "success")
    return redirect(url_for("logreview.check", check_id=check_id))


@bp.post("/checks/<int:check_id>/sign")
@roles(Role.MANAGER)
def sign(check_id: int) -> ViewResult:
    actor = current_actor()
    found = checks.get(actor, check_id)
    form = SignForm()
    if not form.validate_on_submit():
        return _check_page(found, 400, sign_form=form)
    try:
        checks.sign(actor, found, form.summary.data or "")
    except DomainError as error:
        flash(str(error.message), "error")
        return _check_page(found, error.status_code, sign_form=form)
    flash(_("The check is signed."), "success")
    return redirect(url_for("logreview.check", check_id=check_id))


# -- chain status ------------------------------------------------------------------------------


def _chain_page(
    status: int = 200, acknowledge_form: AcknowledgeForm | None = None, error: object = None
) -> ViewResult:
    run = chainstatus.latest()
    running = run is not None and chainstatus.is_running(run)
    return render_template(
        "logreview/chain.html", run=run, running=running, runs=chainstatus.history(),
        alarm=chainstatus.alarm(), bases=chainstatus.bases(), verify_form=VerifyForm(),
        acknowledge_form=acknowledge_form or AcknowledgeForm(), error=error,
    ), status  # fmt: skip


@bp.get("/chain")
@roles(Role.MANAGER)
def chain() -> ViewResult:
    return _chain_page()


@bp.post("/chain/verify")
@roles(Role.MANAGER)
def verify() -> ViewResult:
    form = VerifyForm()
    if not form.validate_on_submit():
        raise NotFound()
    try:
        chainstatus.start_in_background(current_app._get_current_object(), current_actor())  # type: ignore[attr-defined]
    except chainstatus.VerificationRefused as error:
        flash(str(error.message), "error")
    return redirect(url_for("logreview.chain"))


@bp.post("/chain/<int:run_id>/acknowledge")
@roles(Role.MANAGER)
def acknowledge(run_id: int) -> ViewResult:
    actor = current_actor()
    run = chainstatus.get(actor, run_id)
    form = AcknowledgeForm()
    try:
        if not form.validate_on_submit():
            raise chainstatus.VerificationRefused(" ".join(map(str, form.comment.errors)))
        chainstatus.acknowledge(actor, run, form.comment.data or "")
    except DomainError as error:
        # On the form while it is shown (there is an alarm), above the page otherwise.
        if chainstatus.alarm() is None:
            return _chain_page(error.status_code, form, error.message)
        form.comment.errors = [str(error.message)]
        return _chain_page(error.status_code, form)
    flash(_("The alarm is acknowledged."), "success")
    return redirect(url_for("logreview.chain"))
