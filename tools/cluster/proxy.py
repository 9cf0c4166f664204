"""nginx in front of the instances, configured by deploy/nginx/coordinator.conf itself (its
placeholders filled with the test's ports and paths) and a self-signed certificate."""

from __future__ import annotations

import grp
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from load import free_port

from . import ROOT
from .client import Browser
from .instances import Upstream
from .parameters import LIMITED_SOURCE
from .report import check
from .services import process, program, run, wait_for

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "coordinator.conf"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
_TEST_HEADERS = re.compile(r"^(\s*)# @TEST_HEADERS@$", re.MULTILINE)


@dataclass(frozen=True)
class Proxy:
    """The running nginx: where it listens, and the certificate a client must trust."""

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


def site_values(proxy: Proxy, key: Path, upstreams: list[Upstream]) -> dict[str, str]:
    """What the template's placeholders stand for in this run."""
    servers = "\n    ".join(f"server {u.address} max_fails=1 fail_timeout=10s;" for u in upstreams)
    return {
        "@SERVER_NAME@": "127.0.0.1 localhost",
        "@HTTP_LISTEN@": f"127.0.0.1:{proxy.http_port}",
        "@HTTPS_LISTEN@": f"127.0.0.1:{proxy.https_port}",
        "@UPSTREAMS@": servers,
        "@CERTIFICATE@": str(proxy.certificate),
        "@CERTIFICATE_KEY@": str(key),
        "@STATIC@": str(ROOT / "static"),
        "@LOG_DIR@": str(proxy.folder),
    }


@contextmanager
def nginx(workdir: Path, upstreams: list[Upstream]) -> Iterator[Proxy]:
    """nginx checked by ``nginx -t``, started, and answering over HTTPS; stopped at the end."""
    folder = workdir / "nginx"
    folder.mkdir(mode=0o755)
    cert, key = self_signed(workdir / "credentials")
    proxy = Proxy(free_port(), free_port(), folder, cert)
    site = render_site(site_values(proxy, key, upstreams))
    (folder / "coordinator.conf").write_text(site, encoding="utf-8")
    (folder / "nginx.conf").write_text(nginx_main(folder), encoding="utf-8")
    argv = [program("nginx"), "-p", str(folder), "-e", str(folder / "error.log"),
            "-c", str(folder / "nginx.conf")]  # fmt: skip
    run([*argv, "-t", "-q"], "nginx -t (the rendered deploy/nginx/coordinator.conf)")
    log = folder / "stderr.log"
    with process("nginx", argv, log) as server:
        client = Browser(proxy.certificate, LIMITED_SOURCE)

        def answering() -> bool:
            return client.get(proxy.origin, "/auth/login").status == 200

        wait_for("nginx", answering, server, folder / "error.log")
        yield proxy
