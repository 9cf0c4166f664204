"""Coordinator: case management for rehabilitation coordinators.

:func:`create_app` wires configuration, extensions, blueprints, error handlers and commands
together and does nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    With no argument the settings come from the defaults, ``instance/config.py`` and the
    environment (``COORDINATOR_INSTANCE``, ``DATABASE_URL``, …); ``config`` overrides them all.
    Raises :class:`coordinator.config.ConfigurationError` when a required secret is missing.
    """
    from coordinator import (
        access,
        cli,
        database,
        errors,
        i18n,
        ratelimit,
        security_headers,
        templating,
    )
    from coordinator import config as settings
    from coordinator.admin.views import bp as admin_bp
    from coordinator.auth import passwords
    from coordinator.auth.service import user_for_session
    from coordinator.auth.views import bp as auth_bp
    from coordinator.consents.views import bp as consents_bp
    from coordinator.contacts.views import bp as contacts_bp
    from coordinator.crypto import runtime as crypto_runtime
    from coordinator.extensions import csrf, db, login_manager, migrate
    from coordinator.home.views import bp as home_bp
    from coordinator.logreview.extract_views import bp as log_extracts_bp
    from coordinator.logreview.views import bp as logreview_bp
    from coordinator.patients.import_views import bp as certificate_import_bp
    from coordinator.patients.views import bp as patients_bp
    from coordinator.plans.views import bp as plans_bp
    from coordinator.reports.views import bp as reports_bp

    instance = settings.instance_path(config)
    app = Flask(
        __name__,
        instance_path=str(instance),
        instance_relative_config=True,
        template_folder=str(settings.PROJECT_ROOT / "templates"),
        static_folder=str(settings.PROJECT_ROOT / "static"),
    )
    app.config.from_object(settings.Config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    settings.finalise(app.config, instance)

    db.init_app(app)
    crypto_runtime.init_app(app)  # refuses to start without keys that fit the database
    migrate.init_app(
        app,
        db,
        directory=str(settings.PROJECT_ROOT / "migrations"),
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(user_for_session)
    passwords.init_app(app)
    i18n.init_app(app)
    access.init_app(app)  # before CSRF: outsiders get 302/403, not a token error
    ratelimit.init_app(app)
    csrf.init_app(app)
    security_headers.init_app(app)
    database.init_app(app)
    errors.init_app(app)
    templating.init_app(app)

    for blueprint in (
        auth_bp,
        home_bp,
        patients_bp,
        certificate_import_bp,
        consents_bp,
        plans_bp,
        contacts_bp,
        reports_bp,
        logreview_bp,
        log_extracts_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
    access.check_all_views_declared(app)
    cli.register(app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    return app
