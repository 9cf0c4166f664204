"""Sign-in, second factor, care unit choice, password and language. Thin: rules live in service."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from coordinator import clock
from coordinator.access import current_actor, public, signed_in
from coordinator.auth import service, websession
from coordinator.auth.forms import (
    ChangePasswordForm,
    ChooseUnitForm,
    CodeForm,
    EnrolTotpForm,
    LanguageForm,
    SignInForm,
)
from coordinator.auth.models import User
from coordinator.forms import render_form
from coordinator.navigation import safe_next
from coordinator.ratelimit import secret_check

bp = Blueprint("auth", __name__, url_prefix="/auth")

ViewResult = Response | str | tuple[str, int]


def _home() -> str:
    return url_for("home.index")


def _finish_sign_in(user: User, next_url: str | None) -> Response:
    """Every factor has passed: start the session and go on (via the unit choice if needed)."""
    service.complete_sign_in(user)
    websession.start(user, service.default_unit(user), clock.now())
    return redirect(safe_next(next_url, _home()))


@bp.route("/login", methods=["GET", "POST"])
@secret_check
@public
def login() -> ViewResult:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), _home()))
    form = SignInForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_form("auth/login.html", form)
    try:
        user = service.authenticate(form.username.data or "", form.password.data or "")
    except (service.SignInFailed, service.AccountLocked) as error:
        return render_form("auth/login.html", form, error=error)
    if user.has_two_factor:
        websession.begin_pending(user, clock.now())
        return redirect(url_for(".verify_code", next=form.next.data or None))
    return _finish_sign_in(user, form.next.data)


@bp.route("/login/code", methods=["GET", "POST"])
@secret_check
@public
def verify_code() -> ViewResult:
    user = websession.pending_user(clock.now(), current_app.config["SIGN_IN_PENDING_SECONDS"])
    if user is None:
        flash(_("The sign-in was interrupted or took too long. Please sign in again."), "info")
        return redirect(url_for(".login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_form("auth/code.html", form)
    try:
        service.verify_second_factor(user, form.code.data or "")
    except (service.InvalidCode, service.AccountLocked) as error:
        return render_form("auth/code.html", form, error=error)
    return _finish_sign_in(user, request.args.get("next"))


@bp.route("/unit", methods=["GET", "POST"])
@signed_in
def choose_unit() -> ViewResult:
    actor = current_actor()
    if not actor.role.works_in_units:
        return redirect(_home())
    units = actor.user.active_units
    form = ChooseUnitForm(next=request.args.get("next", ""))
    form.unit.choices = [(unit.id, unit.name) for unit in units]
    if not form.is_submitted():
        form.unit.data = actor.unit.id if actor.unit else None
    if not form.validate_on_submit():
        return render_form("auth/choose_unit.html", form, units=units)
    unit = service.unit_for(actor.user, form.unit.data)
    websession.set_unit(unit)
    flash(_("You are now working in %(unit)s.", unit=unit.name), "success")
    return redirect(safe_next(form.next.data, _home()))


@bp.post("/logout")
@signed_in
def logout() -> Response:
    service.sign_out(current_actor().user)
    websession.end()
    flash(_("You have signed out."), "info")
    return redirect(url_for(".login"))


@bp.route("/password", methods=["GET", "POST"])
@secret_check
@signed_in
def change_password() -> ViewResult:
    actor = current_actor()
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_form("auth/password.html", form)
    try:
        service.change_password(actor.user, form.current.data or "", form.new.data or "")
    except (service.WrongPassword, service.PasswordRejected, service.AccountLocked) as error:
        return render_form("auth/password.html", form, error=error)
    # The session token changed: renew this session so only the other ones end.
    websession.start(actor.user, actor.unit, clock.now())
    flash(_("Your password has been changed. Any other sessions have been signed out."), "success")
    return redirect(_home())


@bp.route("/two-step", methods=["GET", "POST"])
@secret_check
@signed_in
def two_factor() -> ViewResult:
    user = current_actor().user
    if user.has_two_factor:
        return render_template("auth/two_factor.html", user=user)
    secret = service.pending_totp_secret(user)
    uri = service.totp_provisioning_uri(user, secret)
    # segno's SVG is markup we generate; the secret is encoded in its path data, not as text.
    qr = Markup(segno.make(uri, error="m").svg_inline(border=2, omitsize=True))  # noqa: S704
    form = EnrolTotpForm()
    page: dict[str, Any] = {"user": user, "secret": secret, "qr": qr}
    if not form.validate_on_submit():
        return render_form("auth/two_factor.html", form, **page)
    try:
        service.enrol_totp(user, form.code.data or "", form.password.data or "")
    except (service.InvalidCode, service.WrongPassword, service.AccountLocked) as error:
        return render_form("auth/two_factor.html", form, error=error, **page)
    flash(_("Two-step sign-in is on. You will be asked for a code when you sign in."), "success")
    return redirect(url_for(".two_factor"))


@bp.post("/language")
@public
def set_language() -> Response:
    form = LanguageForm()
    if not form.validate() or form.language.data not in current_app.config["LANGUAGES"]:
        abort(400)
    websession.set_chosen_locale(form.language.data)
    if current_user.is_authenticated:
        service.set_locale(current_user, form.language.data)
    return redirect(safe_next(form.next.data, _home()))
