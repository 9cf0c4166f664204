"""Where to send the user next: safe return addresses and the main menu."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def current_path() -> str:
    """The path and query of this request, to come back to after signing in."""
    query = request.query_string.decode("utf-8", "replace")
    return f"{request.path}?{query}" if query else request.path


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects).

    Only plain absolute paths pass: no scheme, no host, no protocol-relative ``//host`` and no
    backslash, which some browsers read as a slash.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return fallback
    return target
