"""Consents (*samtycken*), their withdrawals, and the disclosures they allowed.

All three are history: a record is written once and never changed or deleted (the ORM refuses,
database triggers back it up). A new answer from the patient is a new consent record; taking a
consent back is a :class:`ConsentWithdrawal` beside it. What holds today is a query
(:mod:`coordinator.consents.service`), never a status column someone updates.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import User
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model


class ConsentKind(StrEnum):
    """What the patient consents to: coordination itself, or disclosure to a type of recipient.

    Lag (2019:1297) om koordineringsinsatser § 2: coordination only with the patient's consent;
    § 3: Försäkringskassan is informed only with consent. Every other disclosure to an actor
    outside the care unit needs the patient's consent too (OSL 25:1, 12:2).
    """

    COORDINATION = "coordination"
    EMPLOYER = "employer"
    #: Försäkringskassan.
    SOCIAL_INSURANCE = "social_insurance"
    #: Arbetsförmedlingen.
    EMPLOYMENT_SERVICE = "employment_service"
    #: The municipality's social services (*kommunen, socialtjänsten*).
    MUNICIPALITY = "municipality"
    #: The employer's occupational health service (*företagshälsovården*).
    OCCUPATIONAL_HEALTH = "occupational_health"
    #: Another care provider (*annan vårdgivare*).
    CARE_PROVIDER = "care_provider"

    @property
    def label(self) -> str:
        return str(_KIND_LABELS[self])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _KIND_LABELS[self]

    @property
    def default_purpose(self) -> str:
        """The purpose written when the coordinator leaves it empty."""
        return str(_DEFAULT_PURPOSES[self])

    @property
    def is_disclosure(self) -> bool:
        return self is not ConsentKind.COORDINATION

    @classmethod
    def recipients(cls) -> list[ConsentKind]:
        """The recipient types data can be disclosed to."""
        return [kind for kind in cls if kind.is_disclosure]


class ConsentAnswer(StrEnum):
    GIVEN = "given"
    #: The patient said no (*avböjt*). Recorded too: it is information, not a failure.
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return str(_ANSWER_LABELS[self])


class ConsentMethod(StrEnum):
    """How the patient gave their answer."""

    ORAL = "oral"
    #: On a signed form; the record says where the form is kept.
    WRITTEN = "written"
    #: Through a digital service (e.g. 1177).
    DIGITAL = "digital"

    @property
    def label(self) -> str:
        return str(_METHOD_LABELS[self])

    @property
    def lazy_label(self) -> object:
        return _METHOD_LABELS[self]


_KIND_LABELS = {
    ConsentKind.COORDINATION: _l("Coordination"),
    ConsentKind.EMPLOYER: _l("Employer"),
    ConsentKind.SOCIAL_INSURANCE: _l("Försäkringskassan"),
    ConsentKind.EMPLOYMENT_SERVICE: _l("Arbetsförmedlingen"),
    ConsentKind.MUNICIPALITY: _l("Municipality / social services"),
    ConsentKind.OCCUPATIONAL_HEALTH: _l("Occupational health service"),
    ConsentKind.CARE_PROVIDER: _l("Another care provider"),
}
_DEFAULT_PURPOSES = {
    ConsentKind.COORDINATION: _l(
        "Coordination interventions by the care unit's rehabilitation coordinator to support "
        "return to work."
    ),
    ConsentKind.EMPLOYER: _l(
        "Contact with the employer about work adjustments and a plan for return to work."
    ),
    ConsentKind.SOCIAL_INSURANCE: _l(
        "Information to Försäkringskassan about the need for rehabilitation and participation "
        "in reconciliation meetings."
    ),
    ConsentKind.EMPLOYMENT_SERVICE: _l(
        "Contact with Arbetsförmedlingen about support for finding or returning to work."
    ),
    ConsentKind.MUNICIPALITY: _l(
        "Contact with the municipality's social services about support the patient needs."
    ),
    ConsentKind.OCCUPATIONAL_HEALTH: _l(
        "Contact with the occupational health service about work-related rehabilitation."
    ),
    ConsentKind.CARE_PROVIDER: _l(
        "Exchange of information with another care provider about the patient's rehabilitation."
    ),
}
_ANSWER_LABELS = {ConsentAnswer.GIVEN: _l("Given"), ConsentAnswer.REFUSED: _l("Refused")}
_METHOD_LABELS = {
    ConsentMethod.ORAL: _l("Oral"),
    ConsentMethod.WRITTEN: _l("Written"),
    ConsentMethod.DIGITAL: _l("Digital"),
}


class Consent(AppendOnly, EncryptedRow, Model):
    """The patient's answer, given or refused, to one kind of consent (*samtycke*)."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_patient_id_kind", "patient_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: The unit that recorded it (the patient's unit; for the managers' statistics).
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    kind: Mapped[ConsentKind] = mapped_column(enum_column(ConsentKind))
    answer: Mapped[ConsentAnswer] = mapped_column(enum_column(ConsentAnswer))
    #: A named recipient (organisation or person; encrypted). Empty: any recipient of the
    #: kind. A named consent covers that recipient only.
    recipient_name = Encrypted(str, nullable=True)
    #: What the information may be used for (*ändamål*; encrypted).
    purpose = Encrypted(str)
    method: Mapped[ConsentMethod] = mapped_column(enum_column(ConsentMethod))
    #: Where a signed form is kept, e.g. the record system's document id (encrypted).
    form_reference = Encrypted(str, nullable=True)
    #: The day the patient answered.
    given_on: Mapped[date] = mapped_column(Date)
    #: Last day the consent holds; empty: until withdrawn.
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    #: The patient's own words: their reason for refusing, or a condition (encrypted).
    note = Encrypted(str, nullable=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    recorded_by: Mapped[User] = relationship(viewonly=True, lazy="joined")
    withdrawal: Mapped[ConsentWithdrawal | None] = relationship(
        viewonly=True, lazy="selectin", uselist=False
    )

    @property
    def is_refusal(self) -> bool:
        return self.answer is ConsentAnswer.REFUSED

    def __repr__(self) -> str:
        return f"<Consent {self.id}>"


class ConsentWithdrawal(AppendOnly, EncryptedRow, Model):
    """The patient took a given consent back (*återkallat*). At most one per consent."""

    __tablename__ = "consent_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), unique=True)
    #: From this day on the consent no longer holds.
    withdrawn_on: Mapped[date] = mapped_column(Date)
    #: What the patient said (encrypted).
    note = Encrypted(str, nullable=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    recorded_by: Mapped[User] = relationship(viewonly=True, lazy="joined")

    def __repr__(self) -> str:
        return f"<ConsentWithdrawal {self.id}>"


class Disclosure(AppendOnly, EncryptedRow, Model):
    """Information about the patient handed to an external recipient (*utlämnande*), with the
    consent that allowed it."""

    __tablename__ = "disclosures"
    __table_args__ = (
        Index("ix_disclosures_patient_id_disclosed_on", "patient_id", "disclosed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    #: The consent in force for this recipient on the day (never empty: no consent, no
    #: disclosure).
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    recipient: Mapped[ConsentKind] = mapped_column(enum_column(ConsentKind))
    #: The recipient by name (encrypted).
    recipient_name = Encrypted(str, nullable=True)
    disclosed_on: Mapped[date] = mapped_column(Date)
    #: What was disclosed, in short (encrypted).
    summary = Encrypted(str)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    recorded_by: Mapped[User] = relationship(viewonly=True, lazy="joined")

    def __repr__(self) -> str:
        return f"<Disclosure {self.id}>"
