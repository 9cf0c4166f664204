"""Steps b, c and e: one session across both instances and through nginx, what nginx does
itself, the sign-in limit shared in Redis per client, and failover when an instance stops.
Step d, the concurrent journal appends, is in :mod:`journal`."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping

import redis
from load import PATIENT_LINK, describe, stop

from . import ROOT
from .client import Browser, Response, form_token
from .parameters import FORGED_ADDRESS, LIMITED_SOURCE, OTHER_SOURCE, RATE_LIMIT, SIGN_IN_SOURCE
from .report import Timings, check
from .startup import Cluster


def session_across_instances(cluster: Cluster, timings: Timings) -> Browser:
    """Step b: a session begun on one instance holds on the other and through nginx, so
    nothing of it lives in one process. The signed-in browser serves steps d and e."""
    browser = Browser(cluster.proxy.certificate, SIGN_IN_SOURCE)
    sign_in_on_a_continue_on_b(cluster, browser, timings)
    one_session_through_nginx(cluster, browser, timings)
    return browser


def sign_in_on_a_continue_on_b(cluster: Cluster, browser: Browser, timings: Timings) -> None:
    a, b, uid = cluster.a, cluster.b, cluster.patient_uid
    token = form_token(browser.get(cluster.direct(a), "/auth/login"), "sign-in page on A")
    form = {"csrf_token": token, "username": cluster.username,
            "password": cluster.seeded.password, "next": ""}  # fmt: skip
    signed_in = browser.post(cluster.direct(a), "/auth/login", form)
    check(signed_in.redirected_to("/"),
          f"sign-in on A: status {signed_in.status} to {signed_in.location()!r}"
          f"{describe(signed_in.body)}")  # fmt: skip
    caseload = browser.get(cluster.direct(b), "/patients/")
    listed = set(PATIENT_LINK.findall(caseload.body))
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


def one_session_through_nginx(cluster: Cluster, browser: Browser, timings: Timings) -> None:
    """Ten pages through nginx, which must spread them over both instances (and send HSTS)."""
    a, b, proxy, uid = cluster.a, cluster.b, cluster.proxy, cluster.patient_uid
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


def shows_patient(page: Response, cluster: Cluster, where: str) -> None:
    """The patient page, signed in: a sign-in page or an error would lack the names."""
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
    """Step c: the sign-in limit counts in Redis, once for both instances, per client address."""
    client = Browser(cluster.proxy.certificate, LIMITED_SOURCE)
    page = client.get(cluster.proxy.origin, "/auth/login")
    token = form_token(page, "sign-in page through nginx")
    shared_limit(cluster, client, token, timings)
    limit_per_client(cluster, client, token, timings)


def failed_sign_in(
    browser: Browser, origin: str, csrf: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A sign-in with an unknown name, each time another, so only the address is counted."""
    form = {"csrf_token": csrf, "username": f"ingen.{secrets.token_hex(4)}",
            "password": "fel-lösenord-123", "next": ""}  # fmt: skip
    return browser.post(origin, "/auth/login", form, headers)


def shared_limit(cluster: Cluster, client: Browser, token: str, timings: Timings) -> None:
    """N failures answered, served by both instances, and the next refused: separate counters
    would allow 2N or more."""
    a, b, origin = cluster.a, cluster.b, cluster.proxy.origin
    served = Counter[str]()
    for number in range(1, RATE_LIMIT + 1):
        answer = failed_sign_in(client, origin, token)
        check(answer.status == 401,
              f"failed sign-in {number} of {RATE_LIMIT}: status {answer.status} "
              f"(401 expected){describe(answer.body)}")  # fmt: skip
        served[answer.upstream] += 1
    check(
        set(served) == {a.address, b.address},
        f"the {RATE_LIMIT} attempts were served by {dict(served)}, not by both instances",
    )
    over = failed_sign_in(client, origin, token)
    check(over.status == 429 and over.headers.get("Retry-After", "").isdigit(),
          f"attempt {RATE_LIMIT + 1}: status {over.status}, Retry-After "
          f"{over.headers.get('Retry-After')!r} (429 with Retry-After expected)")  # fmt: skip
    timings.passed(
        "c. shared limit",
        f"rate limit shared in Redis: {RATE_LIMIT} failed sign-ins answered 401 "
        f"(A {served[a.address]}, B {served[b.address]}), attempt "
        f"{RATE_LIMIT + 1} got 429",
    )


def limit_per_client(cluster: Cluster, client: Browser, token: str, timings: Timings) -> None:
    """Another address is not limited, and a forged X-Forwarded-For does not make the limited
    client another: the address nginx saw counts, not what the client claims."""
    origin = cluster.proxy.origin
    other = Browser(cluster.proxy.certificate, OTHER_SOURCE)
    token_other = form_token(other.get(origin, "/auth/login"), "sign-in page from .2")
    check(
        (status := failed_sign_in(other, origin, token_other).status) == 401,
        f"another client address ({OTHER_SOURCE}): status {status}, 401 expected",
    )
    forged = failed_sign_in(client, origin, token, {"X-Forwarded-For": FORGED_ADDRESS})
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
    """Redis's keys: the limiter names the address it counts in each."""
    client = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
    try:
        return [str(key) for key in client.scan_iter(count=100)]
    finally:
        client.close()


def failover(cluster: Cluster, browser: Browser, timings: Timings) -> None:
    """Step e: with instance A stopped, nginx serves the same session from B, reads and writes."""
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
