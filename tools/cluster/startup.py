"""Step a: the cluster started — packages, PostgreSQL with a fresh database, Redis, the
instance created and seeded, two app instances and nginx — and what the later steps need of it."""

from __future__ import annotations

import os
import random
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from load import Instance, Seeded, command, seed
from protection import fresh_database
from sqlalchemy import select

from coordinator import create_app
from coordinator.extensions import db
from coordinator.patients.models import Patient

from .instances import Upstream, app_environment, app_instance, secret_files, wait_answering
from .parameters import WORKERS
from .proxy import Proxy, nginx
from .report import Timings, check
from .services import install_missing, redis_server, throwaway_postgres


@dataclass(frozen=True)
class Cluster:
    """The running servers and the seeded coordinator and patient the steps work with."""

    a: Upstream
    b: Upstream
    proxy: Proxy
    redis_url: str
    seeded: Seeded
    username: str
    patient_uid: str
    #: The patient's names, which the patient page must show.
    names: tuple[str, str]

    def direct(self, upstream: Upstream) -> str:
        return f"http://{upstream.address}"


def build(stack: ExitStack, workdir: Path, timings: Timings) -> tuple[Cluster, Flask, Instance]:
    """Step a: everything started, the instance created and seeded."""
    url, store = storage(stack, workdir, timings)
    instance = Instance(workdir / "instance", url)
    app, seeded = initialised(instance)
    username, patient_uid, names = first_patient(app, seeded)
    timings.passed(
        "a. init, seeding", "coordinator init on PostgreSQL; a unit, a coordinator and 20 patients"
    )
    environment = app_environment(instance, secret_files(instance, workdir), store)
    a = stack.enter_context(app_instance("A", environment, workdir))
    b = stack.enter_context(app_instance("B", environment, workdir))
    wait_answering(a)  # both start at once: on two cores that halves the wait
    wait_answering(b)
    proxy = stack.enter_context(nginx(workdir, [a, b]))
    timings.passed(
        "a. gunicorn ×2, nginx",
        f"gunicorn A on {a.address}, B on {b.address} ({WORKERS} workers each, "
        f"deploy/gunicorn.conf.py, deploy/coordinator.env.example), nginx on {proxy.origin} "
        "(deploy/nginx/coordinator.conf)",
    )
    return Cluster(a, b, proxy, store, seeded, username, patient_uid, names), app, instance


def storage(stack: ExitStack, workdir: Path, timings: Timings) -> tuple[str, str]:
    """The packages, then a fresh database (on ``DATABASE_URL``'s server when one is given, as
    in CI, else on a throw-away one) and Redis: their URLs."""
    configured = os.environ.get("DATABASE_URL", "")
    installed = install_missing(need_postgres=not configured)
    timings.passed(
        "a. packages",
        "nginx, Redis"
        + ("" if configured else " and PostgreSQL")
        + " installed "
        + (f"(now: {', '.join(installed)})" if installed else "(already)"),
    )
    server = configured or stack.enter_context(throwaway_postgres())
    url = stack.enter_context(fresh_database(server, workdir))
    store = stack.enter_context(redis_server(workdir))
    timings.passed(
        "a. PostgreSQL, Redis",
        f"PostgreSQL ({'DATABASE_URL' if configured else 'throw-away'}) with a "
        f"fresh database, Redis on {store}",
    )
    return url, store


def initialised(instance: Instance) -> tuple[Flask, Seeded]:
    """``coordinator init`` as an operator runs it, then one coordinator and their patients."""
    init = command(instance, "init")
    check(init.returncode == 0, f"coordinator init failed:\n{init.stdout}{init.stderr}")
    app = create_app(instance.app_settings())
    with app.app_context():
        # Seeded data only, never a secret: a fixed seed keeps runs alike.
        seeded = seed(1, random.Random(11))  # noqa: S311
    return app, seeded


def first_patient(app: Flask, seeded: Seeded) -> tuple[str, str, tuple[str, str]]:
    """The coordinator, their first patient and that patient's names (encrypted: read through
    the app). The test's own connections are closed while the servers run; step d opens some
    again, briefly."""
    with app.app_context():
        username = next(iter(seeded.caseloads))
        patient_uid = seeded.caseloads[username][0]
        patient = db.session.scalars(
            select(Patient).where(Patient.uid == uuid.UUID(patient_uid))
        ).one()
        names = (patient.first_name, patient.last_name)
        db.session.remove()
        db.engine.dispose()
    return username, patient_uid, names
