"""The app instances: gunicorn with deploy/gunicorn.conf.py and the settings of
deploy/coordinator.env.example, so that the test runs production's configuration itself."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from load import Instance, free_port, wait_until_answering

from . import ROOT
from .parameters import RATE_LIMIT, WORKERS
from .report import Failed, check
from .services import Popen, process

GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
ENV_EXAMPLE = ROOT / "deploy" / "coordinator.env.example"


@dataclass(frozen=True)
class Upstream:
    """One gunicorn instance; nginx names it by :attr:`address` in ``X-Upstream``."""

    name: str
    port: int
    log: Path
    server: Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def secret_files(instance: Instance, workdir: Path) -> dict[str, str]:
    """The secrets as files (mode 0600), as systemd's LoadCredential= hands them over."""
    folder = workdir / "credentials"
    folder.mkdir(mode=0o700)
    variables = {}
    for variable, value in (("COORDINATOR_SECRET_KEY", instance.secret_key),
                            ("COORDINATOR_ENCRYPTION_KEYS", instance.encryption_keys)):  # fmt: skip
        path = folder / variable.lower()
        path.touch(mode=0o600)
        path.write_text(value, encoding="utf-8")
        variables[f"{variable}_FILE"] = str(path)
    return variables


def production_settings() -> dict[str, str]:
    """The settings deploy/coordinator.env.example gives every instance (its KEY=VALUE lines,
    as systemd's EnvironmentFile= reads them)."""
    settings = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, equals, value = line.partition("=")
            check(bool(equals), f"{ENV_EXAMPLE}: not a KEY=VALUE line: {line!r}")
            settings[name.strip()] = value.strip()
    return settings


def app_environment(instance: Instance, secrets_: Mapping[str, str], store: str) -> dict[str, str]:
    """Production's settings, with the test's database, Redis and a small sign-in limit."""
    environment = {
        **instance.environment(),
        **production_settings(),
        **secrets_,
        "DATABASE_URL": instance.database_url,
        "COORDINATOR_RATELIMIT_STORAGE_URI": store,
        "COORDINATOR_SIGN_IN_RATE_LIMIT": f"{RATE_LIMIT} per minute",
        "GUNICORN_WORKERS": str(WORKERS),
    }
    del environment["COORDINATOR_SECRET_KEY"], environment["COORDINATOR_ENCRYPTION_KEYS"]
    return environment


@contextmanager
def app_instance(name: str, environment: Mapping[str, str], workdir: Path) -> Iterator[Upstream]:
    """An instance started (not yet answering: see :func:`wait_answering`), stopped at the end."""
    port = free_port()
    log = workdir / f"gunicorn-{name}.log"
    argv = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(GUNICORN_CONFIG),
            "coordinator:create_app()"]  # fmt: skip
    bound = {**environment, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with process(f"instance {name}", argv, log, env=bound, cwd=ROOT) as server:
        yield Upstream(name, port, log, server)


def wait_answering(upstream: Upstream) -> None:
    """Apart from :func:`app_instance`, so that both instances start at once and then wait."""
    try:
        wait_until_answering(upstream.server, f"http://{upstream.address}", upstream.log)
    except SystemExit as error:  # load.py's way to give up
        raise Failed(f"instance {upstream.name}: {error}") from None
