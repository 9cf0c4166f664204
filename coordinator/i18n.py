"""Interface language: Swedish by default, English available, chosen per user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_request_context
from flask_babel import force_locale
from flask_login import current_user

from coordinator.auth import websession
from coordinator.extensions import babel

#: Language names as shown in the switcher, each in its own language.
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}

#: Language of messages produced outside a web request (the command line speaks English;
#: documents made for patients choose their language explicitly with ``force_locale``).
COMMAND_LINE_LOCALE = "en"


def select_locale() -> str:
    """The signed-in user's choice, else the choice made before signing in, else the default."""
    if not has_request_context():
        return COMMAND_LINE_LOCALE
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    chosen = websession.chosen_locale()
    if chosen in languages:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


@contextmanager
def in_record_language() -> Iterator[None]:
    """Render texts that go into the record (journal entries, standard purposes) in the
    installation's language, whoever writes them: the record reads the same for everyone."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        yield


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
