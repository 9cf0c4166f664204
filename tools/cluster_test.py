"""The cluster test: two app instances behind nginx on PostgreSQL and Redis, as in production.

    make cluster-test
    .venv/bin/python tools/cluster_test.py            # a throw-away PostgreSQL server
    DATABASE_URL=postgresql://postgres@127.0.0.1:54330/postgres \\
        .venv/bin/python tools/cluster_test.py        # a fresh database on that server

Issue 11 asks that everything holding state across requests works with several app instances.
This proves it end to end with the production configuration itself — ``deploy/gunicorn.conf.py``,
the settings of ``deploy/coordinator.env.example`` (the test's database and Redis in place of
its addresses) and ``deploy/nginx/coordinator.conf`` (placeholders filled with temporary ports
and paths):

a. installs nginx and Redis from Debian's packages if they are missing (and PostgreSQL when no
   ``DATABASE_URL`` is given), starts a throw-away PostgreSQL cluster, Redis, ``coordinator
   init`` and a seeded coordinator with patients, two gunicorn instances sharing the secrets
   (read from files, as systemd's credentials give them) and Redis as the rate-limit store,
   and nginx with a self-signed certificate that the client trusts alone;
b. signs in on instance A and continues on instance B with the same cookies, then through
   nginx, where both instances serve the one session (a test-only ``X-Upstream`` header names
   the instance that answered); also the HTTP→HTTPS redirect, the static files, HSTS and the
   body-size limit;
c. trips the sign-in rate limit through nginx across both instances: N failed sign-ins are
   answered, served by both, and the next gets 429 (separate counters would allow 2N or more);
   another client address is not limited, a forged ``X-Forwarded-For`` does not escape it;
d. appends journal notes and contacts to one patient from many threads at once, through A, B
   and nginx; the database holds exactly what was posted, and ``coordinator verify-journal``
   finds both chains intact with as many entries as the database holds;
e. stops instance A: nginx moves the signed-in session to B, a GET and a POST alike.

Everything listens on 127.0.0.1 on free ports and lives in a temporary folder; every process is
stopped and every folder (and the fresh database) removed at the end, also on failure, on
Ctrl-C and when the hard limit of ten minutes is reached. Each step prints ``ok: …``; a failure
prints what was wrong and the end of the servers' logs. Exit status 0 when everything passed,
1 on a failure, 2 at the time limit, 130 when interrupted.
"""

from __future__ import annotations

import grp
import http.client
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from ipaddress import IPv4Address
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The load test's pieces (instance, seeding, gunicorn's start and stop, the forms) are reused.
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from flask import Flask  # noqa: E402
from load import (  # noqa: E402
    _PATIENT_LINK,
    _TOKEN,
    Instance,
    Seeded,
    command,
    contact_form,
    describe,
    free_port,
    seed,
    stop,
    tail,
    wait_until_answering,
)
from protection import fresh_database, progress  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from coordinator import create_app  # noqa: E402
from coordinator.contacts.models import ContactEvent  # noqa: E402
from coordinator.extensions import db  # noqa: E402
from coordinator.journal.models import (  # noqa: E402
    AccessAction,
    AccessLogEntry,
    CaseJournalEntry,
    EntryKind,
)
from coordinator.patients.models import Patient  # noqa: E402

#: Seconds the whole run may take before it is stopped (exit status 2).
HARD_LIMIT = 600
#: Seconds any one server may take to start answering, and any one request to be answered.
START_SECONDS = 60
REQUEST_SECONDS = 30
#: The sign-in limit the instances are given: small, so that tripping it is quick.
RATE_LIMIT = 8
#: Gunicorn workers per instance: more than one, so that even one instance has several
#: processes whose memory counters would disagree.
WORKERS = 2
#: Step d: threads posting at once, and notes and contacts each thread posts.
THREADS = 12
NOTES_PER_THREAD = 3
CONTACTS_PER_THREAD = 1
#: Client source addresses (all loopback): the sign-in of steps b, d and e, the rate-limit
#: client of step c, and the other client that must not share its limit.
SIGN_IN_SOURCE = "127.0.0.3"
LIMITED_SOURCE = "127.0.0.1"
OTHER_SOURCE = "127.0.0.2"
FORGED_ADDRESS = "127.0.0.99"

PACKAGES = {"nginx": "/usr/sbin/nginx", "redis-server": "/usr/bin/redis-server"}
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "coordinator.conf"
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
ENV_EXAMPLE = ROOT / "deploy" / "coordinator.env.example"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
_TEST_HEADERS = re.compile(r"^(\s*)# @TEST_HEADERS@$", re.MULTILINE)


Popen = subprocess.Popen[bytes]


class Failed(Exception):
    """A check did not hold: the message says which and what was seen."""


class Overrun(Exception):
    """The run took longer than :data:`HARD_LIMIT`."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    mark: float = field(default_factory=time.monotonic)

    def passed(self, step: str, message: str) -> None:
        now = time.monotonic()
        seconds, self.mark = now - self.mark, now
        self.steps.append((step, seconds))
        print(f"ok: {step[:2]} {message} ({seconds:.1f} s)", flush=True)


# -- processes ------------------------------------------------------------------------------


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise Failed(f"{name} is not installed")
    return found


def as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else [program("sudo"), *argv]


def run(argv: list[str], what: str, **options: Any) -> subprocess.CompletedProcess[str]:
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


def stop_group(server: Popen) -> None:
    try:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def wait_for(what: str, ready: Callable[[], bool], server: Popen | None, log: Path) -> None:
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


# -- PostgreSQL and Redis ---------------------------------------------------------------------


def postgres_bin() -> Path | None:
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


# -- the app instances ----------------------------------------------------------------------


@dataclass(frozen=True)
class Upstream:
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
    try:
        wait_until_answering(upstream.server, f"http://{upstream.address}", upstream.log)
    except SystemExit as error:  # load.py's way to give up
        raise Failed(f"instance {upstream.name}: {error}") from None


# -- nginx ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    http_port: int
    https_port: int
    folder: Path
    certificate: Path

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A P-256 certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Coordinator cluster test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "certificate.pem", folder / "certificate.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def render_site(values: Mapping[str, str]) -> str:
    """deploy/nginx/coordinator.conf with its placeholders filled (comments, which name them,
    left as they are), plus the test's header."""
    site = NGINX_TEMPLATE.read_text(encoding="utf-8")
    site, headers = _TEST_HEADERS.subn(r"\1add_header X-Upstream $upstream_addr always;", site)
    check(headers == 1, f"{NGINX_TEMPLATE} has {headers} TEST_HEADERS lines, not 1")
    lines = site.splitlines(keepends=True)
    code = [line for line in lines if not line.lstrip().startswith("#")]
    unknown = {name for line in code for name in _PLACEHOLDER.findall(line)} - set(values)
    check(not unknown, f"{NGINX_TEMPLATE} has placeholders the test does not know: {unknown}")
    return "".join(
        line if line.lstrip().startswith("#") else _PLACEHOLDER.sub(lambda m: values[m[0]], line)
        for line in lines
    )


def nginx_main(folder: Path) -> str:
    """The main configuration: the site inside an http block, everything in ``folder``.

    As root the master process keeps root (to read the key) and the workers run as nobody,
    as Debian's nginx does with www-data; they then need to reach the static folder and the
    temporary folders, which is what production needs too."""
    user = ""
    if os.geteuid() == 0:
        group = "nogroup" if "nogroup" in {g.gr_name for g in grp.getgrall()} else "nobody"
        user = f"user nobody {group};"
    temp = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                          "uwsgi", "scgi")
    )  # fmt: skip
    return f"""{user}
worker_processes 2;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder / "access.log"};
    {temp}
    include {folder / "coordinator.conf"};
}}
"""


@contextmanager
def nginx(workdir: Path, upstreams: list[Upstream]) -> Iterator[Proxy]:
    folder = workdir / "nginx"
    folder.mkdir(mode=0o755)
    cert, key = self_signed(workdir / "credentials")
    proxy = Proxy(free_port(), free_port(), folder, cert)
    servers = "\n    ".join(f"server {u.address} max_fails=1 fail_timeout=10s;" for u in upstreams)
    values = {
        "@SERVER_NAME@": "127.0.0.1 localhost",
        "@HTTP_LISTEN@": f"127.0.0.1:{proxy.http_port}",
        "@HTTPS_LISTEN@": f"127.0.0.1:{proxy.https_port}",
        "@UPSTREAMS@": servers,
        "@CERTIFICATE@": str(cert),
        "@CERTIFICATE_KEY@": str(key),
        "@STATIC@": str(ROOT / "static"),
        "@LOG_DIR@": str(folder),
    }
    (folder / "coordinator.conf").write_text(render_site(values), encoding="utf-8")
    (folder / "nginx.conf").write_text(nginx_main(folder), encoding="utf-8")
    argv = [program("nginx"), "-p", str(folder), "-e", str(folder / "error.log"),
            "-c", str(folder / "nginx.conf")]  # fmt: skip
    run([*argv, "-t", "-q"], "nginx -t (the rendered deploy/nginx/coordinator.conf)")
    log = folder / "stderr.log"
    with process("nginx", argv, log) as server:
        client = Browser(proxy, LIMITED_SOURCE)

        def answering() -> bool:
            return client.get(proxy.origin, "/auth/login").status == 200

        wait_for("nginx", answering, server, folder / "error.log")
        yield proxy


# -- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str

    @property
    def upstream(self) -> str:
        return self.headers.get("X-Upstream", "")

    def location(self) -> str:
        return self.headers.get("Location", "")

    def redirected_to(self, path: str) -> bool:
        """A redirect to ``path`` (an anchor on the page, such as ``#note``, aside)."""
        return self.status == 302 and urlsplit(self.location()).path == path


class Browser:
    """One browser: its cookies, its source address, and TLS that trusts the test's
    certificate alone. Threads may share one (a user's tabs); each request is a connection of
    its own. Cookies go to every origin — the instances themselves speak plain HTTP, like nginx
    towards them, and get the Secure session cookie nevertheless."""

    def __init__(self, proxy: Proxy, source: str) -> None:
        self.source = source
        self.tls = ssl.create_default_context(cafile=str(proxy.certificate))
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, origin: str, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return self.send(origin, "GET", path, None, headers)

    def post(
        self, origin: str, path: str, form: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> Response:  # fmt: skip
        # Over HTTPS Flask-WTF wants a same-origin Referer, as a browser sends it.
        sent = {"Referer": origin + path, **(headers or {})}
        return self.send(origin, "POST", path, urlencode(form).encode(), sent)

    def send(
        self, origin: str, method: str, path: str, body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> Response:  # fmt: skip
        scheme, _, host_port = origin.partition("://")
        host, port = host_port.rsplit(":", 1)
        source = (self.source, 0)
        connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(host, int(port), context=self.tls,
                                        timeout=REQUEST_SECONDS, source_address=source)
            if scheme == "https"
            else http.client.HTTPConnection(host, int(port), timeout=REQUEST_SECONDS,
                                            source_address=source)
        )  # fmt: skip
        with self.lock:
            cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        sent = {"Connection": "close", **({"Cookie": cookie} if cookie else {}), **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            response = Response(answer.status, answer.headers, answer.read().decode())
        finally:
            connection.close()
        self.keep_cookies(response.headers.get_all("Set-Cookie") or [])
        return response

    def keep_cookies(self, headers: list[str]) -> None:
        with self.lock:
            for header in headers:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or morsel["expires"].startswith("Thu, 01 Jan 1970"):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value


def form_token(response: Response, what: str) -> str:
    check(response.status == 200, f"{what}: status {response.status}")
    token = _TOKEN.search(response.body)
    if token is None:
        raise Failed(f"{what}: no CSRF token on the page")
    return token[1]


# -- the steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
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


def session_across_instances(cluster: Cluster, timings: Timings) -> Browser:
    a, b, proxy, uid = cluster.a, cluster.b, cluster.proxy, cluster.patient_uid
    browser = Browser(proxy, SIGN_IN_SOURCE)
    token = form_token(browser.get(cluster.direct(a), "/auth/login"), "sign-in page on A")
    form = {"csrf_token": token, "username": cluster.username,
            "password": cluster.seeded.password, "next": ""}  # fmt: skip
    signed_in = browser.post(cluster.direct(a), "/auth/login", form)
    check(signed_in.redirected_to("/"),
          f"sign-in on A: status {signed_in.status} to {signed_in.location()!r}"
          f"{describe(signed_in.body)}")  # fmt: skip
    caseload = browser.get(cluster.direct(b), "/patients/")
    listed = set(_PATIENT_LINK.findall(caseload.body))
    expected = set(cluster.seeded.caseloads[cluster.username])
    check(caseload.status == 200 and listed == expected,
          f"caseload on B: status {caseload.status}, {len(listed)} patients listed "
          f"({len(listed & expected)} of the {len(expected)} expected)")  # fmt: skip
    shows_patient(browser.get(cluster.direct(b), f"/patients/{uid}"), cluster, "on B")
    timings.passed(
        "b. session A → B",
        f"signed in on instance A; caseload ({len(expected)} patients) and the "
        "patient page on instance B with the same cookies",
    )
    served = Counter[str]()
    for _ in range(10):
        page = browser.get(proxy.origin, f"/patients/{uid}")
        shows_patient(page, cluster, "through nginx")
        check(page.headers.get("Strict-Transport-Security") == "max-age=63072000",
              "through nginx: no HSTS header")  # fmt: skip
        served[page.upstream] += 1
    check(
        set(served) == {a.address, b.address},
        f"through nginx: served by {dict(served)}, not by both {a.address} and {b.address}",
    )
    timings.passed(
        "b. session via nginx",
        f"10 requests through nginx (HTTPS) in one session: A served "
        f"{served[a.address]}, B served {served[b.address]}",
    )
    return browser


def shows_patient(page: Response, cluster: Cluster, where: str) -> None:
    check(page.status == 200, f"patient page {where}: status {page.status}")
    first, last = cluster.names
    check(first in page.body and last in page.body, f"patient page {where}: name not shown")


def proxy_edges(cluster: Cluster, browser: Browser, timings: Timings) -> None:
    """What nginx does itself: redirect HTTP, serve static files, refuse large bodies."""
    proxy = cluster.proxy
    plain = browser.get(f"http://127.0.0.1:{proxy.http_port}", "/patients/?page=2")
    check(plain.status == 301 and plain.location() == "https://127.0.0.1/patients/?page=2",
          f"plain HTTP: status {plain.status} to {plain.location()!r}")  # fmt: skip
    style = browser.get(proxy.origin, "/static/css/app.css")
    on_disk = (ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")
    check(style.status == 200 and style.body == on_disk and style.upstream == "",
          f"static file: status {style.status}, from {style.upstream or 'nginx'}, "
          f"{'same' if style.body == on_disk else 'other'} content")  # fmt: skip
    check("max-age=3600" in style.headers.get("Cache-Control", "")
          and style.headers.get("X-Content-Type-Options") == "nosniff",
          f"static file headers: {dict(style.headers)}")  # fmt: skip
    big = browser.post(proxy.origin, "/auth/login", {"padding": "x" * (1024 * 1024 + 1)})
    check(
        big.status == 413 and big.upstream == "",
        f"a body over 1 MiB: status {big.status}, from {big.upstream or 'nginx'}",
    )
    timings.passed(
        "b. nginx itself",
        "nginx redirects HTTP to HTTPS, serves static files with caching headers, "
        "refuses bodies over 1 MiB",
    )


def rate_limit_across_instances(cluster: Cluster, timings: Timings) -> None:
    a, b, proxy = cluster.a, cluster.b, cluster.proxy
    client = Browser(proxy, LIMITED_SOURCE)
    token = form_token(client.get(proxy.origin, "/auth/login"), "sign-in page through nginx")

    def attempt(browser: Browser, csrf: str, **headers: str) -> Response:
        form = {"csrf_token": csrf, "username": f"ingen.{secrets.token_hex(4)}",
                "password": "fel-lösenord-123", "next": ""}  # fmt: skip
        return browser.post(proxy.origin, "/auth/login", form, headers)

    served = Counter[str]()
    for number in range(1, RATE_LIMIT + 1):
        answer = attempt(client, token)
        check(answer.status == 401,
              f"failed sign-in {number} of {RATE_LIMIT}: status {answer.status} "
              f"(401 expected){describe(answer.body)}")  # fmt: skip
        served[answer.upstream] += 1
    check(
        set(served) == {a.address, b.address},
        f"the {RATE_LIMIT} attempts were served by {dict(served)}, not by both instances",
    )
    over = attempt(client, token)
    check(over.status == 429 and over.headers.get("Retry-After", "").isdigit(),
          f"attempt {RATE_LIMIT + 1}: status {over.status}, Retry-After "
          f"{over.headers.get('Retry-After')!r} (429 with Retry-After expected)")  # fmt: skip
    timings.passed(
        "c. shared limit",
        f"rate limit shared in Redis: {RATE_LIMIT} failed sign-ins answered 401 "
        f"(A {served[a.address]}, B {served[b.address]}), attempt "
        f"{RATE_LIMIT + 1} got 429",
    )
    other = Browser(proxy, OTHER_SOURCE)
    token_other = form_token(other.get(proxy.origin, "/auth/login"), "sign-in page from .2")
    check(
        (status := attempt(other, token_other).status) == 401,
        f"another client address ({OTHER_SOURCE}): status {status}, 401 expected",
    )
    forged = attempt(client, token, **{"X-Forwarded-For": FORGED_ADDRESS})
    check(forged.status == 429,
          f"a forged X-Forwarded-For from {LIMITED_SOURCE}: status {forged.status}, 429 "
          "expected")  # fmt: skip
    keys = limiter_keys(cluster.redis_url)
    check(any(LIMITED_SOURCE in k for k in keys) and any(OTHER_SOURCE in k for k in keys)
          and not any(FORGED_ADDRESS in k for k in keys),
          f"the counters in Redis: {sorted(keys)}")  # fmt: skip
    timings.passed(
        "c. per client",
        f"the limit is per client: {OTHER_SOURCE} is not limited, {LIMITED_SOURCE} "
        f"with a forged X-Forwarded-For: {FORGED_ADDRESS} still is",
    )


def limiter_keys(url: str) -> list[str]:
    client = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
    try:
        return [str(key) for key in client.scan_iter(count=100)]
    finally:
        client.close()


@dataclass(eq=False)  # a thread must stay hashable
class Poster(threading.Thread):
    """One thread of step d: K notes and C contacts on the patient, after the start signal."""

    cluster: Cluster
    browser: Browser
    origin: str
    start_line: threading.Barrier
    number: int
    problems: list[str] = field(default_factory=list)
    posted: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__init__(name=f"poster-{self.number}", daemon=True)

    def run(self) -> None:
        uid, patient = self.cluster.patient_uid, f"/patients/{self.cluster.patient_uid}"
        try:
            token = form_token(self.browser.get(self.origin, patient), f"{self.name}: page")
        except (Failed, OSError, http.client.HTTPException) as error:
            self.problems.append(str(error))
            token = ""
        self.start_line.wait(timeout=START_SECONDS)
        if not token:
            return
        for index in range(NOTES_PER_THREAD):
            note = {"csrf_token": token, "heading": "Klustertest", "corrects": "",
                    "body": f"Anteckning {index + 1} från tråd {self.number}."}  # fmt: skip
            self.post("note", f"{patient}/journal", note, patient)
        organisation = self.cluster.seeded.organisation_uids[self.number % 2]
        for index in range(CONTACTS_PER_THREAD):
            contact = contact_form(token, organisation, index)
            self.post("contact", f"{patient}/contacts/new", contact, f"/patients/{uid}/contacts")

    def post(self, what: str, path: str, form: Mapping[str, str], redirect_to: str) -> None:
        try:
            answer = self.browser.post(self.origin, path, form)
        except (OSError, http.client.HTTPException) as error:
            self.problems.append(f"{self.name} {what}: {type(error).__name__}: {error}")
            return
        if answer.redirected_to(redirect_to):
            self.posted[what] += 1
        else:
            self.problems.append(f"{self.name} {what} via {self.origin}: status {answer.status} "
                                 f"to {answer.location()!r}{describe(answer.body)}")  # fmt: skip


def chain_counts(app: Flask, uid: str) -> dict[str, int]:
    """What the database holds: the patient's notes, contact entries and contacts, and the
    length of each chain."""
    with app.app_context():
        patient_id = db.session.scalar(select(Patient.id).where(Patient.uid == uuid.UUID(uid)))
        kinds = dict(
            db.session.execute(
                select(CaseJournalEntry.kind, func.count())
                .where(CaseJournalEntry.patient_id == patient_id)
                .group_by(CaseJournalEntry.kind)
            ).all()
        )
        counts = {
            "notes": kinds.get(EntryKind.NOTE, 0),
            "contact entries": kinds.get(EntryKind.CONTACT_LOGGED, 0),
            "contacts": db.session.scalar(
                select(func.count()).where(ContactEvent.patient_id == patient_id)
            ) or 0,
            "contacts logged as accessed": db.session.scalar(
                select(func.count()).where(
                    AccessLogEntry.patient_id == patient_id,
                    AccessLogEntry.action == AccessAction.CREATE,
                    AccessLogEntry.object_type == "contact",
                )
            ) or 0,
            "case": db.session.scalar(select(func.count()).select_from(CaseJournalEntry)) or 0,
            "access": db.session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0,
        }  # fmt: skip
        db.session.remove()
        return counts


def concurrent_journal(
    cluster: Cluster, browser: Browser, app: Flask, instance: Instance, timings: Timings
) -> None:
    before = chain_counts(app, cluster.patient_uid)
    origins = [cluster.direct(cluster.a), cluster.direct(cluster.b), cluster.proxy.origin]
    start_line = threading.Barrier(THREADS)
    posters = [Poster(cluster, browser, origins[n % 3], start_line, n + 1) for n in range(THREADS)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join(timeout=START_SECONDS * 3)
    check(not any(p.is_alive() for p in posters), "step d: threads still posting after 180 s")
    problems = [problem for p in posters for problem in p.problems]
    check(not problems, "concurrent posts failed:\n  " + "\n  ".join(problems[:10]))
    notes, contacts = THREADS * NOTES_PER_THREAD, THREADS * CONTACTS_PER_THREAD
    after = chain_counts(app, cluster.patient_uid)
    grown = {"notes": notes, "contact entries": contacts, "contacts": contacts,
             "contacts logged as accessed": contacts, "case": notes + contacts}  # fmt: skip
    expected = {name: before[name] + grown.get(name, 0) for name in before if name != "access"}
    held = {name: after[name] for name in expected}
    check(held == expected and after["access"] > before["access"],
          f"after the concurrent posts the database holds {after}, expected {expected} and "
          f"more than {before['access']} access-log entries")  # fmt: skip
    timings.passed(
        "d. concurrent posts",
        f"{THREADS} threads at once (A, B and nginx) posted {notes} notes and "
        f"{contacts} contacts; all stored",
    )
    verify = command(instance, "verify-journal")
    output = (verify.stdout + verify.stderr).strip()
    lines = {
        f"access: {after['access']} entries verified, chain intact",
        f"case: {after['case']} entries verified, chain intact",
    }
    check(
        verify.returncode == 0 and lines <= set(verify.stdout.splitlines()),
        f"verify-journal exit {verify.returncode}, expected {sorted(lines)}:\n{output}",
    )
    timings.passed(
        "d. verify-journal",
        f"verify-journal: both chains intact, {after['access']} access-log entries "
        f"and {after['case']} case-journal entries, as the database holds",
    )


def failover(cluster: Cluster, browser: Browser, timings: Timings) -> None:
    stop(cluster.a.server)
    uid, origin = cluster.patient_uid, cluster.proxy.origin
    for _ in range(4):
        page = browser.get(origin, f"/patients/{uid}")
        shows_patient(page, cluster, "after A stopped")
        check(page.upstream.endswith(cluster.b.address),
              f"after A stopped: served by {page.upstream!r}")  # fmt: skip
    token = form_token(browser.get(origin, f"/patients/{uid}"), "patient page after A stopped")
    note = {"csrf_token": token, "heading": "Klustertest", "corrects": "",
            "body": "Anteckning när instans A är nere."}  # fmt: skip
    posted = browser.post(origin, f"/patients/{uid}/journal", note)
    check(
        posted.redirected_to(f"/patients/{uid}"),
        f"a note after A stopped: status {posted.status} to {posted.location()!r}"
        f"{describe(posted.body)}",
    )
    timings.passed(
        "e. failover", "instance A stopped: nginx serves the session from B, a page and a note"
    )


# -- the run --------------------------------------------------------------------------------


def build(stack: ExitStack, workdir: Path, timings: Timings) -> tuple[Cluster, Flask, Instance]:
    """Step a: everything started, the instance created and seeded."""
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
    instance = Instance(workdir / "instance", url)
    init = command(instance, "init")
    check(init.returncode == 0, f"coordinator init failed:\n{init.stdout}{init.stderr}")
    app = create_app(instance.app_settings())
    with app.app_context():
        # Seeded data only, never a secret: a fixed seed keeps runs alike.
        seeded = seed(1, random.Random(11))  # noqa: S311
        username = next(iter(seeded.caseloads))
        patient_uid = seeded.caseloads[username][0]
        patient = db.session.scalars(
            select(Patient).where(Patient.uid == uuid.UUID(patient_uid))
        ).one()
        names = (patient.first_name, patient.last_name)
        db.session.remove()
        db.engine.dispose()
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


def run_all(workdir: Path, timings: Timings) -> None:
    with ExitStack() as stack:
        try:
            cluster, app, instance = build(stack, workdir, timings)
        except SystemExit as error:  # load.py's helpers give up this way
            raise Failed(str(error)) from None
        try:
            browser = session_across_instances(cluster, timings)
            proxy_edges(cluster, browser, timings)
            rate_limit_across_instances(cluster, timings)
            concurrent_journal(cluster, browser, app, instance, timings)
            failover(cluster, browser, timings)
        except Failed:
            show_logs(workdir)
            raise
        finally:
            with app.app_context():
                db.engine.dispose()


def show_logs(workdir: Path) -> None:
    for log in (*sorted(workdir.glob("gunicorn-*.log")), workdir / "nginx" / "error.log"):
        if log.exists():
            print(f"--- the end of {log.name}:\n{tail(log, 20)}", file=sys.stderr)


def _overrun(_signal: int, _frame: FrameType | None) -> None:
    raise Overrun()


def _terminated(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt()  # unwind as Ctrl-C does: everything is stopped and removed


def main() -> int:
    timings = Timings()
    signal.signal(signal.SIGALRM, _overrun)
    signal.signal(signal.SIGTERM, _terminated)
    signal.alarm(HARD_LIMIT)
    try:
        with tempfile.TemporaryDirectory(prefix="coordinator-cluster-") as folder:
            workdir = Path(folder)
            if os.geteuid() == 0:
                workdir.chmod(0o711)  # nginx's workers (nobody) pass through to their folder
            run_all(workdir, timings)
    except Failed as failure:
        print(f"FAILED: {failure}", flush=True)
        return 1
    except Overrun:
        print(f"FAILED: the run took longer than its limit of {HARD_LIMIT} s and was stopped.")
        return 2
    except KeyboardInterrupt:
        print("Interrupted: every server was stopped and the temporary files removed.")
        return 130
    finally:
        signal.alarm(0)
    total = time.monotonic() - timings.started
    print(f"\nCluster test passed in {total:.1f} s:")
    for step, seconds in timings.steps:
        print(f"  {seconds:6.1f} s  {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
