"""Configuration: one object with the defaults, overridden in a fixed order.

Order of precedence (later wins):

1. :class:`Config` below — the defaults, each documented;
2. ``config.py`` in the instance folder (optional, Python syntax);
3. the environment variables in :data:`ENVIRONMENT` (the only place the code reads ``os.environ``);
4. the mapping passed to ``create_app(config)`` (tests, the development server).

:func:`finalise` then fills the derived values (database URL, secret key from the key file) and
refuses to start when a required secret is missing or weak.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from limits import parse_many
from sqlalchemy.engine import make_url

#: The checkout's root: templates, static files and migrations live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Name of the file in the instance folder that holds the session-signing key.
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)

#: Name of the embedded SQLite database file in the instance folder.
SQLITE_FILE = "coordinator.db"

#: Values known to be placeholders; a secret key equal to one of these is refused.
_PLACEHOLDER_SECRETS = frozenset({"dev", "development", "secret", "changeme", "change-me", "test"})

#: The shortest secret key accepted (characters of a hex or urlsafe token).
MIN_SECRET_KEY_LENGTH = 32

#: The shortest access-log retention the law allows, in years (HSLF-FS 2016:40 ch. 4).
MIN_ACCESS_LOG_RETENTION_YEARS = 5


class ConfigurationError(RuntimeError):
    """The configuration cannot give a safe, working application."""


class Config:
    """Defaults for every setting. Override them in ``instance/config.py`` or the environment."""

    #: SQLAlchemy URL of the database. Empty: the SQLite file ``coordinator.db`` in the instance
    #: folder. ``postgresql://`` URLs are run through the psycopg 3 driver.
    SQLALCHEMY_DATABASE_URI = ""
    #: Engine options. ``hide_parameters`` keeps bound values (which may be personal data) out of
    #: exception messages and therefore out of logs.
    SQLALCHEMY_ENGINE_OPTIONS: Mapping[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    #: Seconds a statement waits for a lock another transaction holds before it gives up; the
    #: request is then answered 503 "temporarily unavailable" and can be repeated. SQLite: the
    #: busy timeout (writers queue for the database's one write lock). PostgreSQL:
    #: ``lock_timeout``, where 0 waits as long as it takes (PostgreSQL's own default).
    SQLITE_BUSY_TIMEOUT_SECONDS = 10.0
    POSTGRES_LOCK_TIMEOUT_SECONDS = 0.0
    #: PostgreSQL connections each app process keeps open, and how many more it may open at a
    #: peak. A gunicorn sync worker serves one request at a time and uses one connection, so
    #: 1 + 1 is plenty; the server's ``max_connections`` must exceed instances × workers × (pool
    #: + overflow) plus the commands' (docs/deployment.md).
    DATABASE_POOL_SIZE = 5
    DATABASE_MAX_OVERFLOW = 10

    #: Key that signs session cookies and CSRF tokens. Empty: read from ``instance/secret_key``,
    #: which ``coordinator init`` creates. Never a built-in fallback.
    SECRET_KEY = ""

    #: The encryption key ring as JSON (see ``coordinator/crypto/keys.py``). Empty: read from
    #: ``instance/encryption_keys``, which ``coordinator init`` creates with mode 0600. Never a
    #: built-in fallback, and never stored in the database.
    ENCRYPTION_KEYS = ""

    #: Minutes of inactivity after which a signed-in user is signed out.
    SESSION_IDLE_MINUTES = 30
    #: Seconds a half-finished sign-in (password given, second factor not yet) stays valid.
    SIGN_IN_PENDING_SECONDS = 300
    #: Consecutive failed sign-in attempts for one username before it is locked.
    LOGIN_MAX_FAILURES = 5
    #: Minutes a username stays locked after too many failures.
    LOGIN_LOCKOUT_MINUTES = 15
    #: Attempts one client address may make at the steps that check a secret (password, code,
    #: password change, second-factor enrolment), counted together, in Flask-Limiter's
    #: notation. A health centre behind one address signs in a few dozen staff in the morning.
    SIGN_IN_RATE_LIMIT = "60 per minute;600 per hour"
    #: Where the rate-limit counters live (Flask-Limiter storage URI): each process's memory by
    #: default; with several app instances a shared store such as ``redis://host:6379/0``.
    RATELIMIT_STORAGE_URI = "memory://"
    #: When the shared store cannot be reached, count in the process's memory until it is back
    #: rather than refuse every sign-in (each instance then limits on its own for a while).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_ENABLED = True
    #: Tell a limited client how long to wait (``Retry-After``) and what is left.
    RATELIMIT_HEADERS_ENABLED = True

    #: Shortest and longest password accepted (OWASP ASVS 2.1.1–2.1.2: length, no composition
    #: rules).
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128
    #: Name of the argon2-cffi parameter profile used for password hashes (``argon2.profiles``).
    PASSWORD_HASH_PROFILE = "RFC_9106_LOW_MEMORY"  # noqa: S105 (a parameter set)

    #: Issuer name shown in authenticator apps when a user enrols TOTP.
    TOTP_ISSUER = "Coordinator"

    #: Interface languages offered; the first is the default.
    LANGUAGES = ("sv", "en")
    BABEL_DEFAULT_LOCALE = "sv"
    BABEL_DEFAULT_TIMEZONE = "Europe/Stockholm"

    #: Session cookie: never readable by scripts, not sent cross-site, only over HTTPS. The
    #: development server (``coordinator run``) serves plain HTTP on loopback and turns off
    #: ``SESSION_COOKIE_SECURE`` for itself; nothing else should.
    SESSION_COOKIE_NAME = "coordinator_session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: Redirect plain HTTP to HTTPS and send HSTS. Off by default because TLS normally ends at
    #: the reverse proxy in front of the app (see the deployment notes).
    FORCE_HTTPS = False
    #: How many reverse proxies in front of the app add ``X-Forwarded-For``, ``-Proto``,
    #: ``-Host`` and ``-Port`` (nginx in front of gunicorn: 1). The app then takes the client's
    #: address and scheme from those headers — the sign-in rate limit counts per client, not
    #: per proxy — and ignores whatever a client put there itself. 0 trusts no such header:
    #: right when clients reach the app directly, wrong behind a proxy (every client would
    #: share the proxy's address and its rate limit). See docs/deployment.md.
    TRUSTED_PROXIES = 0

    #: CSRF tokens live as long as the session; the idle timeout bounds them.
    WTF_CSRF_TIME_LIMIT = None
    #: Largest request body accepted, in bytes.
    MAX_CONTENT_LENGTH = 1024 * 1024

    #: Days without a certificate that still join two certificates into one sick-leave case
    #: (*glapp*; the national statistics use 5; 0–90). After changing it, run
    #: ``coordinator refresh-sick-leave``.
    SICK_LEAVE_GAP_DAYS = 5
    #: Screening: sick-listed more than this many days is a signal.
    SCREENING_SICK_LISTED_DAYS = 14
    #: Screening: certified through at least this many days means long sick leave is expected.
    SCREENING_EXPECTED_LONG_DAYS = 60
    #: Milestones (day 90/180/365) this many days ahead are flagged and shown on Today.
    MILESTONE_NOTICE_DAYS = 14
    #: Rows per page of the caseload list.
    CASELOAD_PAGE_SIZE = 50
    #: Consents ending within this many days are shown on Today and flagged on the patient page.
    CONSENT_EXPIRY_NOTICE_DAYS = 14
    #: A KBT treatment counts as completed in the reports under the state agreements only with
    #: at least this many sessions (the 2011 agreement's criterion; regions used 10–15).
    KBT_MIN_SESSIONS = 10
    #: Kronor per reimbursable employer or Arbetsförmedlingen contact in the quarterly report
    #: (3 000 kr under the 2017 agreement, seed 002); the report page can try another.
    REIMBURSEMENT_RATE = 3000

    #: Sample checks of the access log (docs/security.md, "Following up the access log"):
    #: the start page reminds a manager when no check covering their unit was signed in this
    #: many days (monthly by default).
    LOG_CHECK_INTERVAL_DAYS = 30
    #: Entries drawn at random, and at most this many per risk criterion.
    LOG_CHECK_RANDOM = 10
    LOG_CHECK_PER_CRITERION = 5
    #: The working day (local hours, end not included); weekends are outside it.
    LOG_WORKING_DAY_START = 7
    LOG_WORKING_DAY_END = 18
    #: "Many patients in a short time": this many patients opened within this many minutes.
    LOG_BURST_PATIENTS = 15
    LOG_BURST_MINUTES = 10

    #: Years an access-log entry is kept before ``coordinator purge-logs`` may archive and
    #: delete it. HSLF-FS 2016:40 ch. 4 requires at least five, so a lower value is refused.
    ACCESS_LOG_RETENTION_YEARS = 5

    #: The PostgreSQL tools ``coordinator backup`` and ``coordinator restore`` run. Empty: the
    #: newest ``/usr/lib/postgresql/<version>/bin/`` one (Debian's layout), else the one on the
    #: PATH. Their major version must be at least the server's (docs/backup.md).
    PG_DUMP = ""
    PG_RESTORE = ""

    #: Password given to the demo users by ``coordinator demo-data``. Empty: one is generated
    #: and printed once.
    DEMO_PASSWORD = ""


def _int(value: str) -> int:
    return int(value)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


#: Environment variables read at start-up: name → (setting, parser). Listed in the README.
ENVIRONMENT: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "COORDINATOR_SECRET_KEY": ("SECRET_KEY", str),
    "COORDINATOR_ENCRYPTION_KEYS": ("ENCRYPTION_KEYS", str),
    "COORDINATOR_SESSION_IDLE_MINUTES": ("SESSION_IDLE_MINUTES", _int),
    "COORDINATOR_FORCE_HTTPS": ("FORCE_HTTPS", _bool),
    "COORDINATOR_TRUSTED_PROXIES": ("TRUSTED_PROXIES", _int),
    "COORDINATOR_SIGN_IN_RATE_LIMIT": ("SIGN_IN_RATE_LIMIT", str),
    "COORDINATOR_RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "COORDINATOR_DATABASE_POOL_SIZE": ("DATABASE_POOL_SIZE", _int),
    "COORDINATOR_DATABASE_MAX_OVERFLOW": ("DATABASE_MAX_OVERFLOW", _int),
    "COORDINATOR_POSTGRES_LOCK_TIMEOUT_SECONDS": ("POSTGRES_LOCK_TIMEOUT_SECONDS", float),
    "COORDINATOR_DEMO_PASSWORD": ("DEMO_PASSWORD", str),
    "COORDINATOR_SICK_LEAVE_GAP_DAYS": ("SICK_LEAVE_GAP_DAYS", _int),
    "COORDINATOR_SCREENING_SICK_LISTED_DAYS": ("SCREENING_SICK_LISTED_DAYS", _int),
    "COORDINATOR_MILESTONE_NOTICE_DAYS": ("MILESTONE_NOTICE_DAYS", _int),
    "COORDINATOR_CONSENT_EXPIRY_NOTICE_DAYS": ("CONSENT_EXPIRY_NOTICE_DAYS", _int),
    "COORDINATOR_KBT_MIN_SESSIONS": ("KBT_MIN_SESSIONS", _int),
    "COORDINATOR_REIMBURSEMENT_RATE": ("REIMBURSEMENT_RATE", _int),
    "COORDINATOR_LOG_CHECK_INTERVAL_DAYS": ("LOG_CHECK_INTERVAL_DAYS", _int),
    "COORDINATOR_LOG_CHECK_RANDOM": ("LOG_CHECK_RANDOM", _int),
    "COORDINATOR_LOG_CHECK_PER_CRITERION": ("LOG_CHECK_PER_CRITERION", _int),
    "COORDINATOR_LOG_WORKING_DAY_START": ("LOG_WORKING_DAY_START", _int),
    "COORDINATOR_LOG_WORKING_DAY_END": ("LOG_WORKING_DAY_END", _int),
    "COORDINATOR_LOG_BURST_PATIENTS": ("LOG_BURST_PATIENTS", _int),
    "COORDINATOR_LOG_BURST_MINUTES": ("LOG_BURST_MINUTES", _int),
    "COORDINATOR_ACCESS_LOG_RETENTION_YEARS": ("ACCESS_LOG_RETENTION_YEARS", _int),
    "COORDINATOR_PG_DUMP": ("PG_DUMP", str),
    "COORDINATOR_PG_RESTORE": ("PG_RESTORE", str),
}

#: The environment variable that moves the instance folder.
INSTANCE_VARIABLE = "COORDINATOR_INSTANCE"


def instance_path(overrides: Mapping[str, Any] | None = None) -> Path:
    """Return the instance folder: the override, ``$COORDINATOR_INSTANCE``, or ``./instance``."""
    chosen = (overrides or {}).get("INSTANCE_PATH") or os.environ.get(INSTANCE_VARIABLE)
    return Path(chosen).resolve() if chosen else PROJECT_ROOT / "instance"


#: Secrets that may instead be read from a file named by ``<variable>_FILE`` (a mounted secret,
#: systemd's ``LoadCredential=``): the key material then never sits in the environment.
SECRET_FILE_VARIABLES = ("COORDINATOR_SECRET_KEY", "COORDINATOR_ENCRYPTION_KEYS")


def _read_secret_file(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise ConfigurationError(
            f"{variable}_FILE names {path}, which cannot be read: {reason}."
        ) from None


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings given by environment variables, parsed.

    A secret comes from its variable or from the file its ``_FILE`` variable names, not both.
    """
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for variable in SECRET_FILE_VARIABLES:
        path = environ.get(f"{variable}_FILE")
        if not path:
            continue
        if environ.get(variable):
            raise ConfigurationError(f"Set {variable} or {variable}_FILE, not both.")
        setting, _ = ENVIRONMENT[variable]
        settings[setting] = _read_secret_file(variable, path)
    for variable, (setting, parse) in ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            settings[setting] = parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{variable} has an invalid value: {exc}") from exc
    return settings


def database_url(configured: str, instance: Path) -> str:
    """Return the SQLAlchemy URL to use, defaulting to SQLite in the instance folder.

    Plain ``postgres://`` and ``postgresql://`` URLs (as hosting platforms hand them out) are
    pointed at the psycopg 3 driver, the one the project installs.
    """
    if not configured:
        return f"sqlite:///{instance / SQLITE_FILE}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured[len(prefix) :]
    return configured


def engine_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The engine options, with the configured lock timeout handed to the database driver and
    PostgreSQL's connection pool sized as configured."""
    for name in ("SQLITE_BUSY_TIMEOUT_SECONDS", "POSTGRES_LOCK_TIMEOUT_SECONDS"):
        if settings[name] < 0:
            raise ConfigurationError(f"{name} must not be negative.")
    if settings["DATABASE_POOL_SIZE"] < 1 or settings["DATABASE_MAX_OVERFLOW"] < 0:
        raise ConfigurationError(
            "DATABASE_POOL_SIZE must be at least 1 and DATABASE_MAX_OVERFLOW at least 0."
        )
    options = dict(settings["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args", {}))
    backend = make_url(settings["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    if backend == "sqlite":
        connect_args.setdefault("timeout", float(settings["SQLITE_BUSY_TIMEOUT_SECONDS"]))
    elif backend == "postgresql":
        options.setdefault("pool_size", settings["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", settings["DATABASE_MAX_OVERFLOW"])
    if backend == "postgresql" and settings["POSTGRES_LOCK_TIMEOUT_SECONDS"] > 0:
        milliseconds = max(1, round(settings["POSTGRES_LOCK_TIMEOUT_SECONDS"] * 1000))
        given = connect_args.get("options", "")
        connect_args["options"] = f"{given} -c lock_timeout={milliseconds}".strip()
    options["connect_args"] = connect_args
    return options


def read_secret_key(instance: Path) -> str:
    """Return the secret key stored in the instance folder, or an empty string if there is none."""
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        return ""
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not ASCII text"
        raise ConfigurationError(
            f"The secret key file {path} cannot be read: {reason}. Delete it and run "
            "`coordinator init` to create a new one (everyone signed in is signed out)."
        ) from None


def finalise(settings: dict[str, Any], instance: Path) -> None:
    """Fill derived settings in place and refuse unsafe ones."""
    settings["SQLALCHEMY_DATABASE_URI"] = database_url(
        settings.get("SQLALCHEMY_DATABASE_URI", ""), instance
    )
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = read_secret_key(instance)
    check_secret_key(settings["SECRET_KEY"], instance)
    if settings["BABEL_DEFAULT_LOCALE"] not in settings["LANGUAGES"]:
        raise ConfigurationError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES.")
    if not 0 <= settings["SICK_LEAVE_GAP_DAYS"] <= 90:  # Rehabstöd allows 0–90 too
        raise ConfigurationError("SICK_LEAVE_GAP_DAYS must be between 0 and 90.")
    if not 0 <= settings["CONSENT_EXPIRY_NOTICE_DAYS"] <= 365:
        raise ConfigurationError("CONSENT_EXPIRY_NOTICE_DAYS must be between 0 and 365.")
    if not 1 <= settings["KBT_MIN_SESSIONS"] <= 100:
        raise ConfigurationError("KBT_MIN_SESSIONS must be between 1 and 100.")
    if not 0 <= settings["REIMBURSEMENT_RATE"] <= 100_000:
        raise ConfigurationError("REIMBURSEMENT_RATE must be between 0 and 100000 (kronor).")
    _check_log_follow_up(settings)
    if not 0 <= settings["TRUSTED_PROXIES"] <= 5:
        raise ConfigurationError("TRUSTED_PROXIES must be between 0 and 5 (nginx in front: 1).")
    try:
        parse_many(settings["SIGN_IN_RATE_LIMIT"])
    except ValueError as exc:
        raise ConfigurationError(f"SIGN_IN_RATE_LIMIT is not a rate: {exc}") from exc
    if settings["ACCESS_LOG_RETENTION_YEARS"] < MIN_ACCESS_LOG_RETENTION_YEARS:
        raise ConfigurationError(
            f"ACCESS_LOG_RETENTION_YEARS must be at least {MIN_ACCESS_LOG_RETENTION_YEARS}: "
            "access logs are kept at least five years (HSLF-FS 2016:40 ch. 4)."
        )


def check_secret_key(key: str, instance: Path) -> None:
    """Raise :class:`ConfigurationError` unless ``key`` is a real, long enough secret."""
    if not key:
        raise ConfigurationError(
            f"No secret key: run `coordinator init` to create {instance / SECRET_KEY_FILE}, "
            "or set COORDINATOR_SECRET_KEY."
        )
    if key.lower() in _PLACEHOLDER_SECRETS or len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"The secret key is a placeholder or shorter than {MIN_SECRET_KEY_LENGTH} characters; "
            "generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`."
        )


def _check_log_follow_up(settings: Mapping[str, Any]) -> None:
    for name, low, high in (
        ("LOG_CHECK_INTERVAL_DAYS", 1, 366),
        ("LOG_CHECK_RANDOM", 0, 200),
        ("LOG_CHECK_PER_CRITERION", 0, 100),
        ("LOG_BURST_PATIENTS", 2, 1000),
        ("LOG_BURST_MINUTES", 1, 24 * 60),
    ):
        if not low <= settings[name] <= high:
            raise ConfigurationError(f"{name} must be between {low} and {high}.")
    if not 0 <= settings["LOG_WORKING_DAY_START"] < settings["LOG_WORKING_DAY_END"] <= 24:
        raise ConfigurationError(
            "LOG_WORKING_DAY_START and LOG_WORKING_DAY_END must be hours, 0 <= start < end <= 24."
        )
