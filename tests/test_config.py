"""Configuration: sources in order, the instance folder, and refusing unsafe settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator import create_app
from coordinator.config import (
    Config,
    ConfigurationError,
    database_url,
    engine_options,
    from_environment,
    instance_path,
)
from tests.conftest import TEST_KEYS

GOOD_KEY = "k" * 64


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests set the environment themselves (CI's PostgreSQL run sets DATABASE_URL)."""
    for variable in (
        "DATABASE_URL",
        "COORDINATOR_INSTANCE",
        "COORDINATOR_SECRET_KEY",
        "COORDINATOR_SESSION_IDLE_MINUTES",
    ):
        monkeypatch.delenv(variable, raising=False)
    # Not the subject here (see tests/crypto/test_runtime.py); a valid key ring for every app.
    monkeypatch.setenv("COORDINATOR_ENCRYPTION_KEYS", TEST_KEYS)


def test_without_a_secret_key_the_app_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="No secret key: run `coordinator init`"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("key", ["dev", "changeme", "short-but-not-placeholder"])
def test_a_placeholder_or_short_secret_key_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigurationError, match="placeholder or shorter than 32"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": key})


def test_the_secret_key_is_read_from_the_instance_folder(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text(GOOD_KEY + "\n")

    app = create_app({"INSTANCE_PATH": str(tmp_path)})

    assert app.config["SECRET_KEY"] == GOOD_KEY
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'coordinator.db'}"


def test_instance_config_file_then_environment_then_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.py").write_text("SESSION_IDLE_MINUTES = 20\nLOGIN_MAX_FAILURES = 3\n")
    monkeypatch.setenv("COORDINATOR_SESSION_IDLE_MINUTES", "10")

    app = create_app(
        {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": GOOD_KEY, "LOGIN_MAX_FAILURES": 4}
    )

    assert app.config["SESSION_IDLE_MINUTES"] == 10
    assert app.config["LOGIN_MAX_FAILURES"] == 4


def test_the_instance_folder_moves_with_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COORDINATOR_INSTANCE", str(tmp_path / "elsewhere"))

    assert instance_path() == tmp_path / "elsewhere"
    assert instance_path({"INSTANCE_PATH": "/srv/x"}) == Path("/srv/x")


def test_database_url_from_the_environment_overrides_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.example/coordinator")

    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": GOOD_KEY})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://app@db.example/coordinator"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "sqlite:////srv/i/coordinator.db"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////tmp/other.db", "sqlite:////tmp/other.db"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert database_url(given, Path("/srv/i")) == expected


def test_an_unparseable_environment_value_is_named() -> None:
    with pytest.raises(ConfigurationError, match="COORDINATOR_SESSION_IDLE_MINUTES"):
        from_environment({"COORDINATOR_SESSION_IDLE_MINUTES": "half an hour"})


def test_the_secure_default_is_kept(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": GOOD_KEY})

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["DEBUG"] is False


def test_an_access_log_retention_below_five_years_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HSLF-FS 2016:40 ch. 4: access logs are kept at least five years; longer is allowed."""
    settings = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": GOOD_KEY}
    assert create_app(settings).config["ACCESS_LOG_RETENTION_YEARS"] == 5

    monkeypatch.setenv("COORDINATOR_ACCESS_LOG_RETENTION_YEARS", "4")
    with pytest.raises(ConfigurationError, match="ACCESS_LOG_RETENTION_YEARS must be at least 5"):
        create_app(settings)
    with pytest.raises(ConfigurationError, match="ACCESS_LOG_RETENTION_YEARS must be at least 5"):
        create_app({**settings, "ACCESS_LOG_RETENTION_YEARS": 0})

    monkeypatch.setenv("COORDINATOR_ACCESS_LOG_RETENTION_YEARS", "7")
    assert create_app(settings).config["ACCESS_LOG_RETENTION_YEARS"] == 7


def test_the_secrets_can_come_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(GOOD_KEY + "\n")
    (tmp_path / "keys").write_text(TEST_KEYS + "\n")
    environ = {
        "COORDINATOR_SECRET_KEY_FILE": str(tmp_path / "secret"),
        "COORDINATOR_ENCRYPTION_KEYS_FILE": str(tmp_path / "keys"),
    }

    assert from_environment(environ) == {"SECRET_KEY": GOOD_KEY, "ENCRYPTION_KEYS": TEST_KEYS}


def test_a_secret_given_both_ways_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(GOOD_KEY)
    environ = {
        "COORDINATOR_SECRET_KEY": GOOD_KEY,
        "COORDINATOR_SECRET_KEY_FILE": str(tmp_path / "secret"),
    }

    with pytest.raises(ConfigurationError) as refused:
        from_environment(environ)

    assert (
        str(refused.value) == "Set COORDINATOR_SECRET_KEY or COORDINATOR_SECRET_KEY_FILE, not both."
    )


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"

    with pytest.raises(ConfigurationError) as refused:
        from_environment({"COORDINATOR_ENCRYPTION_KEYS_FILE": str(missing)})

    assert str(refused.value) == (
        f"COORDINATOR_ENCRYPTION_KEYS_FILE names {missing}, which cannot be read: "
        "No such file or directory."
    )


@pytest.mark.parametrize("proxies", [-1, 6])
def test_a_trusted_proxy_count_out_of_range_is_refused(tmp_path: Path, proxies: int) -> None:
    with pytest.raises(ConfigurationError, match=r"^TRUSTED_PROXIES must be between 0 and 5 "):
        create_app(
            {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": GOOD_KEY, "TRUSTED_PROXIES": proxies}
        )


def _engine_options(url: str, **settings: object) -> dict[str, object]:
    defaults = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    return engine_options({**defaults, "SQLALCHEMY_DATABASE_URI": url, **settings})


def test_postgresql_connections_are_pooled_as_configured() -> None:
    options = _engine_options(
        "postgresql+psycopg://app@db/coordinator", DATABASE_POOL_SIZE=2, DATABASE_MAX_OVERFLOW=1
    )

    assert (options["pool_size"], options["max_overflow"]) == (2, 1)
    assert "pool_size" not in _engine_options("sqlite:///coordinator.db")


@pytest.mark.parametrize(("pool", "overflow"), [(0, 0), (1, -1)])
def test_a_pool_without_connections_is_refused(pool: int, overflow: int) -> None:
    with pytest.raises(ConfigurationError, match=r"^DATABASE_POOL_SIZE must be at least 1 and"):
        _engine_options(
            "postgresql+psycopg://app@db/coordinator",
            DATABASE_POOL_SIZE=pool,
            DATABASE_MAX_OVERFLOW=overflow,
        )
