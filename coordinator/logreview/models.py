"""The follow-up of the access log (HSLF-FS 2016:40 ch. 4 § 9): sample checks and the record
of chain verifications.

A sample check (*stickprovskontroll*) is drawn, reviewed and signed. While it is a draft the
reviewer marks its items; signing seals it (an HMAC over its content, see
:mod:`coordinator.logreview.checks`) and from then on database triggers refuse any change but
key rotation's re-encryption of the comments (migration 0008), and nothing is ever deleted.
Each item copies the access-log entry it samples, so a check stays whole after the entries it
looked at have been archived and purged.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.journal.models import HASH_BYTES, AccessAction, Chain
from coordinator.labels import Labelled, register


class Criterion(Labelled):
    """Why an entry was drawn into a sample: at random, or one of the risk-based picks."""

    RANDOM = "random"
    PROTECTED_IDENTITY = "protected_identity"
    OUTSIDE_CASELOAD = "outside_caseload"
    OUTSIDE_WORKING_HOURS = "outside_working_hours"
    MANY_PATIENTS = "many_patients"
    SAME_SURNAME = "same_surname"
    AFTER_CLOSING = "after_closing"


register(
    Criterion,
    {
        Criterion.RANDOM: _l("Random entries"),
        Criterion.PROTECTED_IDENTITY: _l("Patient with protected identity"),
        Criterion.OUTSIDE_CASELOAD: _l("Patient outside the user's caseload"),
        Criterion.OUTSIDE_WORKING_HOURS: _l("Outside working hours"),
        Criterion.MANY_PATIENTS: _l("Many patients in a short time"),
        Criterion.SAME_SURNAME: _l("Patient with the user's surname"),
        Criterion.AFTER_CLOSING: _l("After the case was closed"),
    },
)


class Finding(Labelled):
    """The reviewer's judgement of one sampled access."""

    JUSTIFIED = "justified"
    FOLLOW_UP = "follow_up"
    UNJUSTIFIED = "unjustified"


register(
    Finding,
    {
        Finding.JUSTIFIED: _l("Justified"),
        Finding.FOLLOW_UP: _l("Needs follow-up"),
        Finding.UNJUSTIFIED: _l("Unjustified"),
    },
)


#: The care units a check covers.
log_check_units = Table(
    "log_check_units",
    Model.metadata,
    Column("check_id", ForeignKey("log_checks.id"), primary_key=True),
    Column("unit_id", ForeignKey("care_units.id"), primary_key=True),
)


class LogCheck(EncryptedRow, Model):
    """One sample check: who drew it, over which period and units, by which criteria."""

    __tablename__ = "log_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The reviewer, and the unit and role they worked in.
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    #: The accesses looked at: from the first to the last day, both included (local days).
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    #: The criteria and their parameters as drawn, as JSON (what the check documents).
    criteria: Mapped[str] = mapped_column(Text)
    #: Entries in scope in the period when the sample was drawn.
    population: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    #: Set once, when the reviewer signs; the check is final from then on.
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: The reviewer's summary of the check (encrypted: it may name what was found).
    summary = Encrypted(str, nullable=True)
    #: HMAC over the signed content (plain fields and comments), under ``key_version``.
    seal: Mapped[bytes | None] = mapped_column(LargeBinary(HASH_BYTES))
    key_version: Mapped[int | None]

    reviewer: Mapped[User] = relationship(viewonly=True, lazy="joined")
    units: Mapped[list[CareUnit]] = relationship(
        secondary=log_check_units, viewonly=True, lazy="selectin", order_by=CareUnit.name
    )
    items: Mapped[list[LogCheckItem]] = relationship(
        viewonly=True, lazy="selectin", order_by="LogCheckItem.position"
    )

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def __repr__(self) -> str:
        return f"<LogCheck {self.id}>"


class LogCheckItem(EncryptedRow, Model):
    """One sampled access-log entry, copied, with the reviewer's finding."""

    __tablename__ = "log_check_items"
    __table_args__ = (Index("ix_log_check_items_check_id_position", "check_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("log_checks.id"))
    position: Mapped[int]
    #: The sampled entry: its place in the access-log chain (no foreign key: the entry may be
    #: archived and purged after the retention time, the check is kept) and its fields.
    access_seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    access_unit_id: Mapped[int | None] = mapped_column(ForeignKey("care_units.id"))
    access_role: Mapped[Role | None] = mapped_column(enum_column(Role))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    action: Mapped[AccessAction] = mapped_column(enum_column(AccessAction))
    object_type: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(64))
    #: The criteria that picked the entry, comma-separated in :class:`Criterion` order.
    reasons: Mapped[str] = mapped_column(String(200))
    finding: Mapped[Finding | None] = mapped_column(enum_column(Finding))
    #: The reviewer's comment (encrypted: it may say why the patient was looked up).
    comment = Encrypted(str, nullable=True)

    user: Mapped[User | None] = relationship(viewonly=True, lazy="joined")
    access_unit: Mapped[CareUnit | None] = relationship(viewonly=True, lazy="joined")

    @property
    def criteria(self) -> list[Criterion]:
        return [Criterion(code) for code in self.reasons.split(",") if code]

    def __repr__(self) -> str:
        return f"<LogCheckItem {self.id}>"


class ChainVerification(Model):
    """One run of the verification of both chains, from the web or the nightly command.

    Progress is written while it runs, so any app instance can show it; a run whose
    ``updated_at`` stopped moving was interrupted (its process ended).
    """

    __tablename__ = "chain_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    #: Who started it; None for the command (``coordinator verify-journal``).
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Entries to check (both chains, when it started) and entries checked so far.
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    access_verified: Mapped[int | None] = mapped_column(BigInteger)
    case_verified: Mapped[int | None] = mapped_column(BigInteger)
    #: The first break found, if any.
    broken_chain: Mapped[Chain | None] = mapped_column(enum_column(Chain))
    broken_seq: Mapped[int | None] = mapped_column(BigInteger)
    broken_reason: Mapped[str | None] = mapped_column(String(200))
    #: Why the run could not finish (e.g. a key missing), if it failed.
    error: Mapped[str | None] = mapped_column(String(200))

    started_by: Mapped[User | None] = relationship(viewonly=True, lazy="joined")
    acknowledgement: Mapped[ChainAlarmAcknowledgement | None] = relationship(
        viewonly=True, lazy="joined"
    )

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    @property
    def is_broken(self) -> bool:
        return self.broken_chain is not None

    def __repr__(self) -> str:
        return f"<ChainVerification {self.id}>"


class ChainAlarmAcknowledgement(AppendOnly, Model):
    """A manager's acknowledgement of a broken chain, with what they did about it."""

    __tablename__ = "chain_alarm_acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("chain_verifications.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("care_units.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: What was done (no patient data: the alarm is about the system).
    comment: Mapped[str] = mapped_column(Text)

    user: Mapped[User] = relationship(viewonly=True, lazy="joined")
