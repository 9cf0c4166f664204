"""Test databases: migrated once per run, then copied for each test.

SQLite (the default): the template is a file, copied per test. PostgreSQL (when DATABASE_URL is
set, as in CI's second run): the template is a database, cloned per test with
``CREATE DATABASE … TEMPLATE``. Either way every test starts from a schema built by the real
migrations, and no test sees another's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coordinator.config import database_url as normalise_url

#: The PostgreSQL server to test against, or None for SQLite.
POSTGRES_URL = (
    normalise_url(os.environ.get("DATABASE_URL", ""), Path())
    if os.environ.get("DATABASE_URL")
    else None
)

_counter = itertools.count()


def is_postgres() -> bool:
    return POSTGRES_URL is not None


class DatabaseFactory:
    """Hands out fresh databases, empty or at the head of the migrations."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.prefix = f"coordinator_test_{os.getpid()}"
        self.template: str | None = None

    # -- URLs ---------------------------------------------------------------------------

    def _server_url(self, database: str) -> str:
        assert POSTGRES_URL is not None
        return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)

    @contextmanager
    def _admin(self) -> Iterator[object]:
        engine = create_engine(self._server_url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    # -- databases ----------------------------------------------------------------------

    def empty(self) -> str:
        """A URL to a new database with no tables."""
        name = f"{self.prefix}_{next(_counter)}"
        if not is_postgres():
            return f"sqlite:///{self.workdir / (name + '.db')}"
        with self._admin() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return self._server_url(name)

    def set_template(self, url: str) -> None:
        self.template = url

    def copy_of_template(self) -> str:
        """A URL to a new database holding a copy of the migrated template."""
        assert self.template is not None, "the template has not been migrated yet"
        name = f"{self.prefix}_{next(_counter)}"
        if not is_postgres():
            source = make_url(self.template).database
            assert source is not None
            target = self.workdir / (name + ".db")
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        template_name = make_url(self.template).database
        with self._admin() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        return self._server_url(name)

    def drop(self, url: str) -> None:
        if not is_postgres():
            database = make_url(url).database
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            return
        name = make_url(url).database
        with self._admin() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
