"""Administration of users and care units (administrators only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from coordinator.access import current_actor, roles
from coordinator.admin import service
from coordinator.admin.forms import (
    ConfirmForm,
    PasswordResetForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
)
from coordinator.auth import service as auth_service
from coordinator.auth.models import ProviderType, UnitKind
from coordinator.auth.roles import Role
from coordinator.errors import DomainError
from coordinator.forms import render_form

bp = Blueprint("admin", __name__, url_prefix="/admin")

ViewResult = Response | str | tuple[str, int]
admin_only = roles(Role.ADMIN)


def _unit_choices() -> list[tuple[int, str]]:
    return [(unit.id, unit.name) for unit in service.list_units()]


def _user_details(form: UserCreateForm | UserEditForm, *, is_active: bool) -> service.UserDetails:
    return service.UserDetails(
        full_name=form.full_name.data or "",
        title=form.title.data,
        phone=form.phone.data,
        role=Role(form.role.data),
        unit_ids=form.units.data or [],
        is_active=is_active,
    )


@bp.get("/")
@admin_only
def index() -> Response:
    return redirect(url_for(".users"))


@bp.get("/users")
@admin_only
def users() -> str:
    all_users = service.list_users()
    return render_template(
        "admin/users.html", users=all_users, locks=service.locks(all_users), form=ConfirmForm()
    )


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def user_new() -> ViewResult:
    form = UserCreateForm(unit_choices=_unit_choices())
    if not form.validate_on_submit():
        return render_form("admin/user_new.html", form)
    try:
        user = service.create_user(
            form.username.data or "", form.password.data or "", _user_details(form, is_active=True)
        )
    except DomainError as error:
        return render_form("admin/user_new.html", form, error=error)
    flash(_("User %(username)s was created.", username=user.username), "success")
    return redirect(url_for(".users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def user_edit(user_id: int) -> ViewResult:
    user = service.get_user(user_id)
    form = UserEditForm(obj=user, unit_choices=_unit_choices())
    page: dict[str, Any] = {
        "user": user,
        "password_form": PasswordResetForm(formdata=None),
        "action_form": ConfirmForm(formdata=None),
        "locked_until": auth_service.locked_until(user),
    }
    if not form.is_submitted():
        form.role.data = user.role.value
        form.units.data = [unit.id for unit in user.units]
    if not form.validate_on_submit():
        return render_form("admin/user_edit.html", form, **page)
    try:
        service.update_user(
            user,
            _user_details(form, is_active=form.is_active.data),
            acting_user=current_actor().user,
        )
    except DomainError as error:
        return render_form("admin/user_edit.html", form, error=error, **page)
    flash(_("The changes to %(username)s were saved.", username=user.username), "success")
    return redirect(url_for(".users"))


@bp.post("/users/<int:user_id>/password")
@admin_only
def user_password(user_id: int) -> ViewResult:
    user = service.get_user(user_id)
    form = PasswordResetForm()
    if form.validate():
        try:
            service.reset_password(user, form.password.data or "")
        except DomainError as error:
            flash(str(error.message), "error")
            return redirect(url_for(".user_edit", user_id=user.id))
        flash(
            _(
                "A temporary password was set; %(username)s must change it at sign-in.",
                username=user.username,
            ),
            "success",
        )
    else:
        for message in form.password.errors:
            flash(str(message), "error")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/two-step/reset")
@admin_only
def user_reset_two_factor(user_id: int) -> Response:
    user = service.get_user(user_id)
    if ConfirmForm().validate():
        auth_service.reset_totp(user)
        flash(
            _("Two-step sign-in was turned off for %(username)s.", username=user.username),
            "success",
        )
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/unlock")
@admin_only
def user_unlock(user_id: int) -> Response:
    user = service.get_user(user_id)
    if ConfirmForm().validate():
        auth_service.unlock(user)
        flash(_("Sign-in for %(username)s was unlocked.", username=user.username), "success")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.get("/units")
@admin_only
def units() -> str:
    return render_template("admin/units.html", units=service.list_units())


def _unit_details(form: UnitForm) -> service.UnitDetails:
    return service.UnitDetails(
        name=form.name.data or "",
        kind=UnitKind(form.kind.data),
        provider_type=ProviderType(form.provider_type.data),
        is_active=form.is_active.data,
    )


@bp.route("/units/new", methods=["GET", "POST"])
@admin_only
def unit_new() -> ViewResult:
    form = UnitForm()
    if not form.validate_on_submit():
        return render_form("admin/unit_form.html", form, unit=None)
    try:
        unit = service.create_unit(_unit_details(form))
    except DomainError as error:
        return render_form("admin/unit_form.html", form, error=error, unit=None)
    flash(_("The care unit %(name)s was created.", name=unit.name), "success")
    return redirect(url_for(".units"))


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@admin_only
def unit_edit(unit_id: int) -> ViewResult:
    unit = service.get_unit(unit_id)
    form = UnitForm(obj=unit)
    if not form.is_submitted():
        form.kind.data = unit.kind.value
        form.provider_type.data = unit.provider_type.value
    if not form.validate_on_submit():
        return render_form("admin/unit_form.html", form, unit=unit)
    try:
        service.update_unit(unit, _unit_details(form))
    except DomainError as error:
        return render_form("admin/unit_form.html", form, error=error, unit=unit)
    flash(_("The care unit %(name)s was saved.", name=unit.name), "success")
    return redirect(url_for(".units"))
