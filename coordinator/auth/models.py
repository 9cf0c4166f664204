"""Users, care units and sign-in throttling."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.roles import Role
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import UTCDateTime, enum_column
from coordinator.extensions import Model, db


class UnitKind(StrEnum):
    HEALTH_CENTRE = "health_centre"  #: vårdcentral
    CLINIC = "clinic"  #: mottagning/klinik

    @property
    def label(self) -> str:
        return str(_UNIT_KIND_LABELS[self])


class ProviderType(StrEnum):
    PUBLIC = "public"  #: regionens egen regi
    PRIVATE = "private"  #: privat vårdgivare (vårdvalet)

    @property
    def label(self) -> str:
        return str(_PROVIDER_TYPE_LABELS[self])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _PROVIDER_TYPE_LABELS[self]


_UNIT_KIND_LABELS = {UnitKind.HEALTH_CENTRE: _l("Health centre"), UnitKind.CLINIC: _l("Clinic")}
_PROVIDER_TYPE_LABELS = {ProviderType.PUBLIC: _l("Public"), ProviderType.PRIVATE: _l("Private")}


def new_session_token() -> str:
    """A fresh random token that binds sessions to the current password."""
    return secrets.token_urlsafe(24)


#: Which care units a user works in (coordinators and managers; administrators have none).
user_units = Table(
    "user_units",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, ForeignKey("care_units.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_user_units_unit_id", "unit_id"),  # "who works in this unit"
)


class CareUnit(Model):
    """A care unit (*vårdenhet*): a health centre or clinic where coordinators work."""

    __tablename__ = "care_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The unit's name, unique across the installation.
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Health centre (*vårdcentral*) or clinic (*mottagning*).
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind))
    #: Public (*offentlig*) or private (*privat*) provider; reports under the state agreements
    #: are broken down by it.
    provider_type: Mapped[ProviderType] = mapped_column(enum_column(ProviderType))
    #: Inactive units cannot be chosen at sign-in; their history stays.
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    def __repr__(self) -> str:
        return f"<CareUnit {self.id}>"


class User(UserMixin, EncryptedRow, Model):
    """A person who signs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name, stored lower-case; unique.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: Name shown to colleagues and in the access log follow-up.
    full_name: Mapped[str] = mapped_column(String(120))
    #: Professional title (*befattning*), e.g. "Arbetsterapeut"; part of the PDL log record.
    title: Mapped[str | None] = mapped_column(String(80))
    #: Work phone, printed on documents given to patients (a plan names their coordinator).
    phone: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    #: argon2id hash of the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Random token bound into every session cookie; replacing it signs the user out everywhere.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    #: Set when an administrator chose the password; the user must replace it at next sign-in.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Base32 TOTP secret once enrolled (encrypted).
    totp_secret = Encrypted(str, nullable=True)
    #: Secret shown during enrolment, until the user confirms it with a code (encrypted).
    totp_pending_secret = Encrypted(str, nullable=True)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Time step of the last accepted TOTP code: a code is never accepted twice.
    totp_last_timestep: Mapped[int | None] = mapped_column()
    #: Interface language chosen by the user; empty means the installation default.
    locale: Mapped[str | None] = mapped_column(String(8))
    #: Deactivated users cannot sign in; they are never deleted (the logs refer to them).
    is_active: Mapped[bool] = mapped_column(default=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the user last opened the Today page: what is "new since last visit".
    today_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    units: Mapped[list[CareUnit]] = relationship(secondary=user_units, order_by=CareUnit.name)

    def __repr__(self) -> str:
        return f"<User {self.id}>"

    def get_id(self) -> str:
        """The session identifier: the user id bound to the current session token."""
        return f"{self.id}:{self.session_token}"

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    @property
    def active_units(self) -> list[CareUnit]:
        return [unit for unit in self.units if unit.is_active]

    @classmethod
    def find_by_username(cls, username: str) -> User | None:
        """The user with this sign-in name, matched case-insensitively."""
        return db.session.scalar(select(cls).where(cls.username == normalise_username(username)))

    @classmethod
    def count_active_admins(cls) -> int:
        query = select(func.count()).select_from(cls).where(cls.role == Role.ADMIN, cls.is_active)
        return db.session.scalar(query) or 0


def normalise_username(username: str) -> str:
    return username.strip().lower()


class LoginThrottle(Model):
    """Failed sign-in attempts per typed username, for lock-out.

    Keyed by a keyed hash of the name as typed, not by user: unknown names are throttled and
    locked exactly like real ones, so the responses never reveal whether a username exists; and
    nothing typed is stored in clear (people sometimes type their password in the name field).
    """

    __tablename__ = "login_throttles"

    #: HMAC-SHA256 (hex) of the normalised username, keyed by a key derived from the secret key.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Consecutive failures since the last success or lock-out.
    failure_count: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: While in the future, every attempt for this name is refused without checking it.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > at
