"""Domain errors and the error pages.

Services raise a :class:`DomainError` subclass whose message is fit for the user. Views catch
the ones that are form feedback; everything else reaches the handlers below, which roll back
the request's unit of work and render a page that reveals nothing about the internals.
"""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from coordinator.extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain refused the request; ``message`` is shown to the user."""

    status_code = 400
    default_message = _l("The request could not be carried out.")

    def __init__(self, message: object | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class InvalidField(DomainError):
    """A value the form accepted is refused by a rule of the domain; shown next to ``field``."""

    def __init__(self, field: str, message: object | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    status_code = 404
    default_message = _l("The page or record was not found.")


class Forbidden(DomainError):
    status_code = 403
    default_message = _l("You do not have access to this page.")


#: Titles and explanations for HTTP errors, in the user's language. Nothing from the exception
#: itself is shown: its text may come from a library and name internals.
_HTTP_MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    401: (_l("Sign-in required"), _l("Sign in to continue.")),
    403: (_l("No access"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("The page or record was not found.")),
    405: (_l("Not allowed"), _l("That action is not possible on this page.")),
    413: (_l("Too large"), _l("What you sent is larger than the service accepts.")),
    429: (_l("Too many attempts"), _l("Too many attempts in a short time. Wait and try again.")),
    500: (
        _l("Something went wrong"),
        _l(
            "An unexpected error occurred. Nothing was saved. Try again, and contact support if it "
            "happens again."
        ),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l("The service is temporarily unavailable. Nothing was saved. Try again in a moment."),
    ),
}

_CSRF_MESSAGE = _l(
    "The form could not be sent because its security token is missing or has expired. "
    "Reload the page and try again."
)


def error_page(status: int, message: object | None = None) -> tuple[str, int]:
    """Render the error page for ``status`` with an optional user-facing message."""
    title, description = _HTTP_MESSAGES.get(status, _HTTP_MESSAGES[500])
    body = render_template(
        "errors/error.html", status=status, title=title, message=message or description
    )
    return body, status


def _handle_domain_error(error: DomainError) -> tuple[str, int]:
    db.session.rollback()
    return error_page(error.status_code, error.message)


def _handle_csrf_error(_error: CSRFError) -> tuple[str, int]:
    db.session.rollback()
    return error_page(400, _CSRF_MESSAGE)


def _handle_http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    db.session.rollback()
    if error.code is None or error.code < 400:
        return error  # redirects raised as exceptions pass through untouched
    return error_page(error.code)


def where_it_failed(error: BaseException) -> str:
    """The call stack of an exception as file, line and function only.

    An exception's message, and the source lines a normal traceback quotes, can carry the
    values being processed — personal data — so neither goes to the log.
    """
    frames = traceback.extract_tb(error.__traceback__)
    return "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in frames)


def _handle_unexpected(error: Exception) -> tuple[str, int]:
    db.session.rollback()
    # Only errors that vouch for their message (it names places, never values) add it.
    detail = getattr(error, "log_detail", None)
    log.error(
        "unhandled error: %s%s\n%s",
        type(error).__name__,
        f" ({detail})" if detail else "",
        where_it_failed(error),
    )
    return error_page(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
