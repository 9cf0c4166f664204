"""What every template can use: the acting user, the menu, the languages, date formatting."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import format_date, format_datetime, get_locale

from coordinator.i18n import LANGUAGE_NAMES
from coordinator.menu import main_menu
from coordinator.navigation import current_path
from coordinator.patients.identity import format_personnummer


def _context() -> dict[str, Any]:
    actor = g.get("actor")
    return {
        "actor": actor,
        "menu": main_menu(actor),
        "languages": LANGUAGE_NAMES,
        "current_locale": str(get_locale()),
        "here": current_path(),
    }


def init_app(app: Flask) -> None:
    app.context_processor(_context)
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_personnummer, "personnummer")
