"""Log follow-up pages for managers: search, sample checks, log extracts and chain status."""

from __future__ import annotations

from flask import Blueprint

from coordinator.logreview import models  # noqa: F401  (the tables, for the migrations)

bp = Blueprint("logreview", __name__, url_prefix="/log")
