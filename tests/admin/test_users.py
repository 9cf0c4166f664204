"""Administrators manage users: create, change role and units, deactivate, reset, unlock."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from coordinator.auth.models import User
from coordinator.auth.roles import Role
from coordinator.extensions import db
from tests.conftest import World
from tests.helpers import alert, field_errors, flashes, sign_in, submit

TEMPORARY = "temporary password 1"


def _user(app: Flask, username: str) -> User | None:
    with app.app_context():
        user = User.find_by_username(username)
        if user is not None:
            _ = user.units
            db.session.expunge(user)
        return user


def _count_users(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User)) or 0


def _new_user(world: World, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": "Ny.Koordinator",
        "full_name": "Nina Nyberg",
        "title": "Fysioterapeut",
        "role": "coordinator",
        "units": [str(world.unit_a.id)],
        "password": TEMPORARY,
    }
    data.update(overrides)
    return data


def test_the_user_list_shows_every_user_with_role_and_units(
    admin_client: FlaskClient, world: World
) -> None:
    page = admin_client.get("/admin/users").text

    for username in ("admin", "chef", "koord.a", "koord.b"):
        assert f">{username}</a>" in page
    assert "<td>Vårdcentralen Norr, Vårdcentralen Söder</td>" in page
    assert "<td>Chef</td>" in page


def test_an_administrator_creates_a_coordinator_who_must_choose_a_password(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(admin_client, "/admin/users/new", _new_user(world))

    assert response.status_code == 302
    assert flashes(admin_client.get("/admin/users")) == [
        ("success", "Användaren ny.koordinator har skapats.")
    ]
    user = _user(app, "ny.koordinator")
    assert user is not None
    assert (user.full_name, user.title, user.role) == (
        "Nina Nyberg",
        "Fysioterapeut",
        Role.COORDINATOR,
    )
    assert [unit.name for unit in user.units] == ["Vårdcentralen Norr"]
    assert user.must_change_password is True
    client = app.test_client()
    sign_in(client, "ny.koordinator", TEMPORARY)
    assert client.get("/").headers["Location"] == "/auth/password"


def test_a_taken_username_is_refused_whatever_its_case(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(admin_client, "/admin/users/new", _new_user(world, username="KOORD.A"))

    assert response.status_code == 409
    assert alert(response) == "Användarnamnet används redan."
    assert _count_users(app) == 4


def test_invalid_user_input_is_refused_field_by_field_and_nothing_is_created(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        "/admin/users/new",
        _new_user(world, username="ny koordinator!", full_name="", title="x" * 81),
    )

    assert response.status_code == 400
    assert field_errors(response) == {
        "username": "2–64 tecken: bokstäverna a–z, siffror, punkt, bindestreck eller understreck.",
        "full_name": "Ange namnet.",
        "title": "Högst 80 tecken.",
    }
    assert _count_users(app) == 4


def test_a_too_short_temporary_password_is_refused(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(admin_client, "/admin/users/new", _new_user(world, password="kort"))

    assert response.status_code == 400
    assert alert(response) == "Lösenordet måste vara minst 12 tecken."
    assert _count_users(app) == 4


def test_an_administrator_cannot_be_placed_in_a_care_unit(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(admin_client, "/admin/users/new", _new_user(world, role="admin"))

    assert response.status_code == 400
    assert alert(response) == "En administratör kan inte arbeta i vårdenheter."
    assert _count_users(app) == 4


def test_a_coordinator_needs_at_least_one_unit(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(admin_client, "/admin/users/new", _new_user(world, units=[]))

    assert response.status_code == 400
    assert alert(response) == "Koordinatorer och chefer måste arbeta i minst en vårdenhet."


def test_changing_role_and_units(app: Flask, admin_client: FlaskClient, world: World) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}",
        {
            "full_name": "Anna Andersson",
            "title": "",
            "role": "manager",
            "units": [str(world.unit_a.id), str(world.unit_b.id)],
            "is_active": "y",
        },
    )

    assert response.status_code == 302
    user = _user(app, "koord.a")
    assert user is not None
    assert (user.full_name, user.title, user.role) == ("Anna Andersson", None, Role.MANAGER)
    assert sorted(unit.name for unit in user.units) == ["Vårdcentralen Norr", "Vårdcentralen Söder"]


def test_deactivating_a_user_ends_their_sessions_at_once(
    app: Flask, admin_client: FlaskClient, coordinator_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}",
        {"full_name": "Testperson", "role": "coordinator", "units": [str(world.unit_a.id)]},
    )

    assert response.status_code == 302
    assert coordinator_client.get("/").status_code == 302
    assert sign_in(app.test_client(), "koord.a").status_code == 401


def test_an_administrator_cannot_demote_or_deactivate_themself(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.admin.id}",
        {"full_name": "Admin", "role": "admin", "units": []},  # is_active unticked
    )

    assert response.status_code == 400
    assert alert(response) == "Du kan inte ändra din egen roll eller inaktivera dig själv."
    user = _user(app, "admin")
    assert user is not None
    assert user.is_active


def test_resetting_a_password_signs_the_user_out_and_requires_a_new_one(
    app: Flask, admin_client: FlaskClient, coordinator_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}/password",
        {"password": TEMPORARY},
        form_url=f"/admin/users/{world.coordinator_a.id}",
    )

    assert response.status_code == 302
    assert coordinator_client.get("/").status_code == 302
    user = _user(app, "koord.a")
    assert user is not None
    assert user.must_change_password


def test_a_short_reset_password_is_refused_with_a_message(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}/password",
        {"password": "kort"},
        form_url=f"/admin/users/{world.coordinator_a.id}",
    )

    page = admin_client.get(response.headers["Location"])
    assert flashes(page) == [("error", "Lösenordet måste vara minst 12 tecken.")]
    assert sign_in(app.test_client(), "koord.a").status_code == 302


def test_an_administrator_sees_and_lifts_a_lock(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    for _ in range(5):
        sign_in(app.test_client(), "koord.a", "wrong password!")
    assert "Spärrad till" in admin_client.get("/admin/users").text

    response = submit(
        admin_client,
        f"/admin/users/{world.coordinator_a.id}/unlock",
        {},
        form_url=f"/admin/users/{world.coordinator_a.id}",
    )

    assert response.status_code == 302
    assert "Spärrad till" not in admin_client.get("/admin/users").text
    assert sign_in(app.test_client(), "koord.a").status_code == 302


def test_an_unknown_user_id_is_a_404(admin_client: FlaskClient, world: World) -> None:
    assert admin_client.get("/admin/users/9999").status_code == 404
