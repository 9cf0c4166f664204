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
        context.configure(connection=connection, target_metadata=metadata, **arguments)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
