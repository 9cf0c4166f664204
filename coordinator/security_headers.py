"""HTTP security headers (Flask-Talisman): a strict CSP, no framing, no sniffing."""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

#: No inline script or style anywhere; everything comes from our own origin.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_app(app: Flask) -> None:
    # Talisman keeps its options on the instance, so each app gets its own rather than sharing
    # one from extensions.py (tests build many apps with different settings).
    Talisman(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=app.config["FORCE_HTTPS"],
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        permissions_policy={
            "camera": "()",
            "microphone": "()",
            "geolocation": "()",
            "browsing-topics": "()",
        },
    )
