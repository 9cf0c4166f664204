"""The patient log extract (*loggutdrag*): on screen and as a PDF."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("log_extracts", __name__, url_prefix="/log/extracts")
