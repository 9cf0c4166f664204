"""Migrations build the schema the models describe, and can be undone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from coordinator.extensions import db
from tests.conftest import make_app
from tests.databases import DatabaseFactory


@pytest.fixture
def empty_app(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Flask]:
    url = databases.empty()
    app = make_app(url, tmp_path / "instance")
    yield app
    with app.app_context():
        db.engine.dispose()
    databases.drop(url)


def _differences(app: Flask) -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, db.metadata))


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()

        assert _differences(empty_app) == []


def test_every_migration_can_be_undone_and_redone(empty_app: Flask) -> None:
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()
        assert _differences(empty_app) == []
