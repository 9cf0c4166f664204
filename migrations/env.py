"""Alembic environment: runs migrations against the app's own engine and metadata."""

from alembic import context
from flask import current_app

config = context.config
migrate = current_app.extensions["migrate"]
metadata = migrate.db.metadata


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting (``--sql``)."""
    url = migrate.db.engine.url.render_as_string(hide_password=False)
    context.configure(
        url=url, target_metadata=metadata, literal_binds=True, **migrate.configure_args
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty_autogenerate(context, revision, directives):
        # An autogenerate that finds no change writes no empty revision file.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    arguments = dict(migrate.configure_args)
    arguments.setdefault("process_revision_directives", skip_empty_autogenerate)
    with migrate.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Altering a SQLite table means rebuilding it, and dropping the old copy fails while
            # enforced foreign keys refer to its rows. SQLite's documented procedure: turn the
            # enforcement off outside the transaction, and check every reference before commit.
            _sqlite_foreign_keys(connection, enforced=False)
        try:
            context.configure(connection=connection, target_metadata=metadata, **arguments)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration broke references: {broken[:5]}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, enforced=True)


def _sqlite_foreign_keys(connection, enforced: bool) -> None:
    """Set enforcement on the driver's connection: through SQLAlchemy the PRAGMA would run
    inside a transaction, where SQLite ignores it."""
    connection.connection.driver_connection.execute(
        f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}"
    )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
