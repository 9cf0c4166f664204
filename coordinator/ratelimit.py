"""Per-address rate limits (Flask-Limiter) on the steps that check a secret.

The per-username lock-out (:mod:`coordinator.auth.throttle`) stops guessing one account's
password or code; it cannot stop one address trying a few passwords on each of many accounts.
The limit here counts every attempt from a client address at any of those steps together: the
password, the code, a password change and an enrolment of the second factor. Counters live in
each process's memory unless ``RATELIMIT_STORAGE_URI`` names a shared store, so with several app
instances configure one (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

F = TypeVar("F", bound=Callable[..., object])

#: The extension. Its storage is (re)built by each app's ``init_app`` from that app's settings.
limiter = Limiter(key_func=get_remote_address)


def _sign_in_limit() -> str:
    limit: str = current_app.config["SIGN_IN_RATE_LIMIT"]
    return limit


def secret_check(view: F) -> F:
    """Count a POST to ``view`` against the client address's sign-in attempts."""
    return cast(F, limiter.shared_limit(_sign_in_limit, scope="sign-in", methods=["POST"])(view))


def init_app(app: Flask) -> None:
    limiter.init_app(app)
