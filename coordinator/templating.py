"""What every template can use: the acting user, the menu, the languages, date formatting."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import LazyString, format_date, format_datetime, get_locale
from markupsafe import Markup, escape

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


def _lazy_text_as_html(text: LazyString) -> Markup:
    """A lazy message as HTML: its text, escaped.

    flask-babel's lazy strings answer ``__html__`` with their text as it is, which tells Jinja
    (and WTForms, and ``|join``) that they are markup already. A message formatted with typed
    text — "%(name)s is already in the directory." for an organisation named
    ``<script>…`` — then reached the page unescaped. Messages are text (none holds markup):
    escape them like every other string.
    """
    return escape(str(text))


def init_app(app: Flask) -> None:
    LazyString.__html__ = _lazy_text_as_html
    app.context_processor(_context)
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_personnummer, "personnummer")
