"""The servers under the application: Debian's packages, PostgreSQL and Redis, and the way
every server of the test is started in a process group of its own and stopped again."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from load import free_port, stop_group, tail
from protection import progress

from .parameters import START_SECONDS
from .report import Failed

PACKAGES = {"nginx": "/usr/sbin/nginx", "redis-server": "/usr/bin/redis-server"}

Popen = subprocess.Popen[bytes]


def program(name: str) -> str:
    """A program's full path; the sbin folders too, which a non-root PATH often lacks."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise Failed(f"{name} is not installed")
    return found


def as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else [program("sudo"), *argv]


def run(argv: list[str], what: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output becomes the failure's message when it does not."""
    done = subprocess.run(  # noqa: S603 (fixed arguments, programs found on the PATH)
        argv, capture_output=True, text=True, timeout=START_SECONDS * 3, check=False, **options
    )
    if done.returncode != 0:
        raise Failed(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def install_missing(need_postgres: bool) -> list[str]:
    """Debian's packages for what is not installed yet (CI starts from a fresh machine)."""
    missing = [name for name, path in PACKAGES.items() if not Path(path).exists()]
    if need_postgres and postgres_bin() is None:
        missing.append("postgresql")
    if missing:
        progress(f"installing {' '.join(missing)} from Debian's packages")
        apt = program("apt-get")
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(as_root([apt, "update", "-qq"]), "apt-get update", env=environment)
        install = [apt, "install", "-y", "-qq", "--no-install-recommends", *missing]
        run(as_root(install), "apt-get install", env=environment)
    return missing


@contextmanager
def process(name: str, argv: list[str], log: Path, **options: Any) -> Iterator[Popen]:
    """A server in a process group of its own, stopped with its children however this ends."""
    with log.open("w") as output:
        started = subprocess.Popen(  # noqa: S603 (fixed arguments, programs found on the PATH)
            argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **options
        )
    try:
        yield started
    finally:
        stop_group(started)
        progress(f"{name} stopped")


def wait_for(what: str, ready: Callable[[], bool], server: Popen | None, log: Path) -> None:
    """Poll ``ready`` until it holds; a server that exits meanwhile fails at once, with its log."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise Failed(f"{what} exited with status {server.returncode}:\n{tail(log)}")
        try:
            if ready():
                return
        except (OSError, redis.RedisError):
            pass
        time.sleep(0.2)
    raise Failed(f"{what} did not answer within {START_SECONDS} s:\n{tail(log)}")


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them off the PATH)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    return versions[-1].parent if versions else None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of its own on a free loopback port, as .ci/run starts one."""
    binaries = postgres_bin()
    if binaries is None:
        raise Failed("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    folder = Path(tempfile.mkdtemp(prefix="coordinator-cluster-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_postgres = [program("runuser"), "-u", "postgres", "--"]
    port, data = free_port(), folder / "data"
    pg_ctl = [*as_postgres, str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        run([*as_postgres, str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], "initdb")  # fmt: skip
        options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
        run([*pg_ctl, "-l", str(folder / "server.log"), "-w", "-t", str(START_SECONDS),
             "-o", options, "start"], "pg_ctl start")  # fmt: skip
        progress(f"PostgreSQL started on 127.0.0.1:{port}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(  # noqa: S603 (fixed arguments)
            [*pg_ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)
        progress("PostgreSQL stopped and removed")


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Redis without persistence: the rate-limit counters only need to outlive one run."""
    port = free_port()
    argv = [program("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    log = workdir / "redis.log"
    with process("Redis", argv, log) as server:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        try:
            wait_for("Redis", lambda: bool(client.ping()), server, log)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            client.close()


def show_logs(workdir: Path) -> None:
    """The end of each instance's and nginx's log: a failed check rarely says why by itself."""
    for log in (*sorted(workdir.glob("gunicorn-*.log")), workdir / "nginx" / "error.log"):
        if log.exists():
            print(f"--- the end of {log.name}:\n{tail(log, 20)}", file=sys.stderr)
