"""The test's browser: plain ``http.client``, so that the source address, the cookies and the
trusted certificate are exactly what the test says, and a redirect is seen, not followed."""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from load import TOKEN

from .parameters import REQUEST_SECONDS
from .report import Failed, check


@dataclass(frozen=True)
class Response:
    """An answer, read in full; ``upstream`` is the instance nginx says served it ("" when
    nginx answered itself or the request went to an instance directly)."""

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

    def __init__(self, certificate: Path, source: str) -> None:
        self.source = source
        self.tls = ssl.create_default_context(cafile=str(certificate))
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
        connection = self.connect(origin)
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

    def connect(self, origin: str) -> http.client.HTTPConnection:
        """A connection from this browser's source address: the rate limit counts per address."""
        scheme, _, host_port = origin.partition("://")
        host, port = host_port.rsplit(":", 1)
        source = (self.source, 0)
        return (
            http.client.HTTPSConnection(host, int(port), context=self.tls,
                                        timeout=REQUEST_SECONDS, source_address=source)
            if scheme == "https"
            else http.client.HTTPConnection(host, int(port), timeout=REQUEST_SECONDS,
                                            source_address=source)
        )  # fmt: skip

    def keep_cookies(self, headers: list[str]) -> None:
        with self.lock:
            for header in headers:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or morsel["expires"].startswith("Thu, 01 Jan 1970"):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value


def form_token(response: Response, what: str) -> str:
    """The page's CSRF token, which every form the test posts needs."""
    check(response.status == 200, f"{what}: status {response.status}")
    token = TOKEN.search(response.body)
    if token is None:
        raise Failed(f"{what}: no CSRF token on the page")
    return token[1]
