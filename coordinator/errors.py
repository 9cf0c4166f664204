"""Domain errors and the error pages.

Services raise a :class:`DomainError` subclass whose message is fit for the user. Views catch
the ones that are form feedback; everything else reaches the handlers below, which roll back
the request's unit of work and render a page that reveals nothing about the internals. A
database that cannot serve for now (unreachable, locked, full, out of connections) gets the
503 page with ``Retry-After``: the request wrote nothing and can be sent again as it was.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback

import psycopg
from flask import Flask, Response, current_app, g, make_response, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from coordinator.database import restart_unit_of_work
from coordinator.extensions import db, login_manager

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


# -- the database cannot be used for now --------------------------------------------------------

#: Seconds a client is asked to wait (``Retry-After``) before repeating a request the database
#: could not serve.
RETRY_AFTER_SECONDS = 30

#: SQLite's primary result codes for a database that cannot serve now but may soon: another
#: writer holds the lock past the busy timeout, the file cannot be opened (a volume gone), the
#: disk is full or failing. Every other SQLite error is a bug or a damaged file: a 500.
_SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)
#: PostgreSQL's SQLSTATE classes and codes for the same: the connection (08), insufficient
#: resources such as a full disk or too many connections (53), a lock not granted within
#: ``lock_timeout`` (55P03), a statement cancelled by ``statement_timeout`` (57014), the server
#: shutting down or starting up (57P01-57P03).
_POSTGRES_UNAVAILABLE_CLASSES = frozenset({"08", "53"})
_POSTGRES_UNAVAILABLE = frozenset({"55P03", "57014", "57P01", "57P02", "57P03"})


def database_unavailable(error: BaseException) -> str | None:
    """Why ``error`` means the database cannot serve for now, as a short name for the log
    (``SQLITE_BUSY``, ``55P03``, ``connection failed``); None when it is another failure.

    Such requests are answered 503 and may be repeated as they were: the transaction was rolled
    back whole. Anything else from the database (a constraint, a syntax error) is a bug: 500.
    """
    if isinstance(error, PoolTimeout):
        return "no free connection in the pool"
    if not isinstance(error, DBAPIError):
        return None
    if error.connection_invalidated:
        return "connection lost"
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_UNAVAILABLE:
            return str(getattr(original, "sqlite_errorname", code))
        return None
    if isinstance(original, psycopg.OperationalError):
        state = original.sqlstate
        if state is None:
            return "connection failed"  # raised by the client: no server answered
        if state[:2] in _POSTGRES_UNAVAILABLE_CLASSES or state in _POSTGRES_UNAVAILABLE:
            return state
    return None


def database_unavailable_response(reason: str) -> Response:
    """The 503 page for a request the database could not serve, asking to retry later.

    The request's unit of work is rolled back whole and nothing more is written: the reads it
    logged are forgotten, as the page shows no patient data. The page itself must not touch
    the database, so it shows no menu or user and is in the language chosen in this browser
    session (or the installation's), not the signed-in user's stored one.
    """
    restart_unit_of_work()
    g.pop("persist_despite_failure", None)
    # From here on the request has no known user: Flask-Login would load one from the
    # database for the page (its template context), and the menu would read their roles.
    login_manager._update_request_context_with_user()
    g.pop("actor", None)
    # Only the kind of failure: the driver's message can quote SQL or name the server.
    log.warning("database unavailable (%s): answered 503", reason)
    with force_locale(_locale_without_database()):
        body, status = error_page(503)
    response = make_response(body, status)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _locale_without_database() -> str:
    from coordinator.auth import websession

    chosen = websession.chosen_locale()
    if chosen in current_app.config["LANGUAGES"]:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def _handle_database_error(error: DBAPIError | PoolTimeout) -> Response | tuple[str, int]:
    reason = database_unavailable(error)
    if reason is None:
        return _handle_unexpected(error)
    return database_unavailable_response(reason)


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(DBAPIError, _handle_database_error)
    app.register_error_handler(PoolTimeout, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)
