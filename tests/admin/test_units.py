"""Administrators manage care units."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from coordinator.auth.models import CareUnit, ProviderType, UnitKind
from coordinator.extensions import db
from tests.conftest import World
from tests.helpers import alert, field_errors, submit


def _units(app: Flask) -> list[tuple[str, UnitKind, ProviderType, bool]]:
    with app.app_context():
        rows = db.session.scalars(select(CareUnit).order_by(CareUnit.name))
        return [(u.name, u.kind, u.provider_type, u.is_active) for u in rows]


def test_creating_a_unit(app: Flask, admin_client: FlaskClient, world: World) -> None:
    response = submit(
        admin_client,
        "/admin/units/new",
        {
            "name": "Mottagningen Väst",
            "kind": "clinic",
            "provider_type": "private",
            "is_active": "y",
        },
    )

    assert response.status_code == 302
    assert ("Mottagningen Väst", UnitKind.CLINIC, ProviderType.PRIVATE, True) in _units(app)
    listing = admin_client.get("/admin/units").text
    assert "<td>Mottagning</td>" in listing
    assert "<td>Privat</td>" in listing


def test_a_duplicate_unit_name_is_refused(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        "/admin/units/new",
        {"name": "Vårdcentralen Norr", "kind": "health_centre", "provider_type": "public"},
    )

    assert response.status_code == 409
    assert alert(response) == "Det finns redan en vårdenhet med det namnet."
    assert len(_units(app)) == 2


def test_an_unknown_kind_is_refused(app: Flask, admin_client: FlaskClient, world: World) -> None:
    response = submit(
        admin_client,
        "/admin/units/new",
        {"name": "Sjukhuset", "kind": "hospital", "provider_type": "public"},
    )

    assert response.status_code == 400
    assert field_errors(response) == {"kind": "Inte ett giltigt val"}
    assert len(_units(app)) == 2


def test_deactivating_a_unit_removes_it_from_the_choice_at_sign_in(
    app: Flask, admin_client: FlaskClient, manager_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/units/{world.unit_a.id}",
        {"name": "Vårdcentralen Norr", "kind": "health_centre", "provider_type": "public"},
    )

    assert response.status_code == 302
    assert ("Vårdcentralen Norr", UnitKind.HEALTH_CENTRE, ProviderType.PUBLIC, False) in (
        _units(app)
    )
    # The manager was working in unit A: the next request asks for a unit again.
    detour = manager_client.get("/patients/")
    assert detour.headers["Location"] == "/auth/unit?next=/patients/"
    chooser = manager_client.get(detour.headers["Location"]).text
    assert f'type="radio" value="{world.unit_a.id}"' not in chooser
    assert f'type="radio" value="{world.unit_b.id}"' in chooser


def test_renaming_a_unit_to_its_own_name_is_allowed(
    app: Flask, admin_client: FlaskClient, world: World
) -> None:
    response = submit(
        admin_client,
        f"/admin/units/{world.unit_b.id}",
        {
            "name": "Vårdcentralen Söder",
            "kind": "clinic",
            "provider_type": "private",
            "is_active": "y",
        },
    )

    assert response.status_code == 302
    assert ("Vårdcentralen Söder", UnitKind.CLINIC, ProviderType.PRIVATE, True) in _units(app)
