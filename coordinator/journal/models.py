"""The two journals. Rows are appended by :mod:`coordinator.journal.service` and never changed.

Both tables are chains: each entry stores the previous entry's ``hash`` as ``prev_hash`` and
its own ``hash``, an HMAC-SHA256 over its canonical content and ``prev_hash`` with a key
derived for that chain (see :mod:`coordinator.journal.chain`). ``journal_heads`` holds the last
sequence number and hash of each chain; appending updates it first, which serialises
concurrent appends in the database (a row lock on PostgreSQL, the write lock on SQLite).
Database triggers refuse UPDATE and DELETE (migration 0002); the only change allowed is the
re-encryption of a case journal entry's sealed heading and body during key rotation.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import User
from coordinator.auth.roles import Role
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.labels import Labelled, register

HASH_BYTES = 32

#: Position in a chain: 64-bit, and on SQLite plain INTEGER so that the primary key is the
#: table's rowid (a BIGINT key would be a separate index to maintain and read through).
SEQUENCE_NUMBER = BigInteger().with_variant(Integer, "sqlite")


class Chain(Labelled):
    ACCESS = "access"
    CASE = "case"


register(Chain, {Chain.ACCESS: _l("access log"), Chain.CASE: _l("case journal")})


class ChainHead(Model):
    """Where each chain ends: its last sequence number and hash."""

    __tablename__ = "journal_heads"

    chain: Mapped[Chain] = mapped_column(enum_column(Chain), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    #: Where the chain kept in the database begins: entries up to ``base_seq`` were archived
    #: and purged (0: none), and ``base_hash`` is the hash of the last of them — the
    #: ``prev_hash`` the first remaining entry must carry (all zeros: none purged).
    base_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    base_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES), default=bytes(HASH_BYTES))


class AccessAction(StrEnum):
    """What was done with patient data (HSLF-FS 2016:40 ch. 4 § 9)."""

    READ = "read"
    CREATE = "create"
    CHANGE = "change"
    DISCLOSE = "disclose"
    PRINT = "print"
    EXPORT = "export"
    SEARCH = "search"
    #: An attempt the rules refused, e.g. a disclosure without consent: nothing was shown or
    #: handed out, but the attempt is followed up like any access.
    DENIED = "denied"

    @property
    def label(self) -> str:
        return str(_ACTION_LABELS[self])


_ACTION_LABELS = {
    AccessAction.READ: _l("Read"),
    AccessAction.CREATE: _l("Created"),
    AccessAction.CHANGE: _l("Changed"),
    AccessAction.DISCLOSE: _l("Disclosed"),
    AccessAction.PRINT: _l("Printed"),
    AccessAction.EXPORT: _l("Exported"),
    AccessAction.SEARCH: _l("Searched"),
    AccessAction.DENIED: _l("Denied"),
}


class AccessLogEntry(AppendOnly, Model):
    """One access to one patient's data (*loggpost*). Kept at least five years; never deleted."""

    append_only_noun = "entries"
    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_patient_id_at", "patient_id", "at"),
        Index("ix_access_log_user_id_at", "user_id", "at"),
        #: The log follow-up's search of a unit's accesses, newest first.
        Index("ix_access_log_unit_id_seq", "unit_id", "seq"),
    )

    #: Position in the chain, from 1 without gaps.
    seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: Who; None only for system commands, which name themselves in ``request_id``.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: In which care unit the user was working.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("care_units.id"))
    role: Mapped[Role | None] = mapped_column(enum_column(Role))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    action: Mapped[AccessAction] = mapped_column(enum_column(AccessAction))
    #: What was accessed, e.g. ``patient``, ``journal_entry``, ``consent`` (no content).
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    #: The request (or command) that made the access; ties together the entries of one page.
    request_id: Mapped[str] = mapped_column(String(64))
    #: Key version whose derived key sealed this entry.
    key_version: Mapped[int]
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))


class EntryKind(StrEnum):
    """What a case journal entry records."""

    NOTE = "note"
    CASE_OPENED = "case_opened"
    CASE_TRANSFERRED = "case_transferred"
    CASE_CLOSED = "case_closed"
    #: Status (offered, active) or follow-up date changed.
    CASE_UPDATED = "case_updated"
    SCREENING_DECIDED = "screening_decided"
    CERTIFICATE_ADDED = "certificate_added"
    PATIENT_UPDATED = "patient_updated"
    CONSENT_RECORDED = "consent_recorded"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    #: Information about the patient was handed to an external recipient.
    DISCLOSURE = "disclosure"
    PLAN_CREATED = "plan_created"
    PLAN_CHANGED = "plan_changed"
    CONTACT_LOGGED = "contact_logged"
    CORRECTION = "correction"

    @property
    def label(self) -> str:
        return str(_KIND_LABELS[self])


_KIND_LABELS = {
    EntryKind.NOTE: _l("Note"),
    EntryKind.CASE_OPENED: _l("Case opened"),
    EntryKind.CASE_TRANSFERRED: _l("Case transferred"),
    EntryKind.CASE_CLOSED: _l("Case closed"),
    EntryKind.CASE_UPDATED: _l("Case updated"),
    EntryKind.SCREENING_DECIDED: _l("Screening decision"),
    EntryKind.CERTIFICATE_ADDED: _l("Certificate registered"),
    EntryKind.PATIENT_UPDATED: _l("Patient details changed"),
    EntryKind.CONSENT_RECORDED: _l("Consent recorded"),
    EntryKind.CONSENT_WITHDRAWN: _l("Consent withdrawn"),
    EntryKind.DISCLOSURE: _l("Information disclosed"),
    EntryKind.PLAN_CREATED: _l("Plan created"),
    EntryKind.PLAN_CHANGED: _l("Plan changed"),
    EntryKind.CONTACT_LOGGED: _l("Contact logged"),
    EntryKind.CORRECTION: _l("Correction"),
}


class CaseJournalEntry(AppendOnly, EncryptedRow, Model):
    """An entry in a patient's case journal (*journalanteckning*): signed, never changed.

    A mistake is corrected by a new entry whose ``corrects_seq`` points to the one it corrects.
    """

    append_only_noun = "entries"

    __tablename__ = "case_journal"
    __table_args__ = (Index("ix_case_journal_patient_id_seq", "patient_id", "seq"),)

    seq: Mapped[int] = mapped_column(SEQUENCE_NUMBER, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Who signed the entry, in which unit and role.
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("care_units.id"))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind))
    #: Heading (*sökord*), encrypted.
    heading = Encrypted(str)
    #: The text, encrypted.
    body = Encrypted(str)
    #: HMAC of heading and body: the chain covers the content without the ciphertext, so
    #: re-encryption under a new key leaves the chain intact.
    content_digest: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    #: The entry this one corrects, if any.
    corrects_seq: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("case_journal.seq"))
    key_version: Mapped[int]
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))

    #: Who signed it (shown with the entry).
    author: Mapped[User] = relationship(viewonly=True, lazy="joined")


class LogPurge(AppendOnly, Model):
    """Access-log entries archived to a file and deleted after the retention time."""

    __tablename__ = "log_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Entries older than this local day were asked for.
    before: Mapped[date] = mapped_column(Date)
    #: The entries removed, first and last sequence number of the chain (a prefix of it).
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    #: Hash of the last entry removed: the new ``journal_heads.base_hash``.
    boundary_hash: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
    #: The archive file's name and SHA-256 (of the file as written, encrypted).
    archive_name: Mapped[str] = mapped_column(String(255))
    archive_sha256: Mapped[bytes] = mapped_column(LargeBinary(HASH_BYTES))
