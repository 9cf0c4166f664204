"""Password hashing with argon2id (argon2-cffi), parameters chosen by configuration."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app

_EXTENSION_KEY = "coordinator.password_hasher"


class _Hasher:
    def __init__(self, profile_name: str) -> None:
        try:
            parameters = getattr(argon2.profiles, profile_name)
        except AttributeError:
            raise ValueError(f"unknown argon2 profile {profile_name!r}") from None
        self.hasher = argon2.PasswordHasher.from_parameters(parameters)
        # Verified against when the username is unknown, so both paths cost the same time.
        self.dummy_hash = self.hasher.hash("not a password of anyone")


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION_KEY] = _Hasher(app.config["PASSWORD_HASH_PROFILE"])


def _hasher() -> _Hasher:
    hasher: _Hasher = current_app.extensions[_EXTENSION_KEY]
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against a stored hash; with no hash, spend the same time and fail."""
    hasher = _hasher()
    try:
        return hasher.hasher.verify(password_hash or hasher.dummy_hash, password) and (
            password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the configured ones."""
    return _hasher().hasher.check_needs_rehash(password_hash)
