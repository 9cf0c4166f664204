"""The directory of external actors, and the log of contacts with them about patients.

The directory is shared by every unit of the product: an employer, a Försäkringskassan office
or a municipality is the same organisation whichever health centre calls it. Its contact
persons are personal data and encrypted; so is the organisation number, which for a sole
trader (*enskild firma*) is the owner's personnummer. Organisation names stay in the clear:
they are what the directory is searched by, and they are public in the trade register.

A contact (*kontakt*) about a patient is history: written once, never changed or deleted (the
ORM refuses and database triggers back it up, as for the consents). A wrong entry is corrected
by a journal note that points to the contact's journal entry.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import User
from coordinator.consents.models import ConsentKind, Disclosure
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.labels import Labelled, register

if TYPE_CHECKING:
    from coordinator.patients.models import Patient


def normalise_org_number(value: str) -> str:
    """The blind index's form of an organisation number: its ten digits."""
    digits = "".join(character for character in value if character.isdigit())
    return digits[-10:]


class OrganisationType(Labelled):
    """What kind of actor an organisation is: decides the consent a disclosure to it needs."""

    EMPLOYER = "employer"
    #: Försäkringskassan.
    SOCIAL_INSURANCE = "social_insurance"
    #: Arbetsförmedlingen.
    EMPLOYMENT_SERVICE = "employment_service"
    #: The municipality's social services (*kommunen, socialtjänsten*).
    MUNICIPALITY = "municipality"
    #: Occupational health service (*företagshälsovård*).
    OCCUPATIONAL_HEALTH = "occupational_health"
    #: Another care provider (*annan vårdgivare*).
    CARE_PROVIDER = "care_provider"
    OTHER = "other"

    @property
    def consent_kind(self) -> ConsentKind | None:
        """The consent a disclosure to an organisation of this type needs; None for "other",
        to which nothing about a patient may be disclosed."""
        try:
            return ConsentKind(self.value)
        except ValueError:
            return None


class Channel(Labelled):
    """How the contact was held."""

    PHONE = "phone"
    MEETING = "meeting"
    VIDEO = "video"
    LETTER = "letter"
    EMAIL = "email"
    WORKPLACE_VISIT = "workplace_visit"


class ContactKind(Labelled):
    """What the contact was."""

    INFORMATION = "information"
    #: *Avstämningsmöte*: called by Försäkringskassan with the patient, care and often the
    #: employer (SFB 110 kap. 14 §).
    RECONCILIATION_MEETING = "reconciliation_meeting"
    #: *Trepartssamtal*: the patient, the employer and the care unit together.
    THREE_PARTY_MEETING = "three_party_meeting"
    PLANNING = "planning"
    FOLLOW_UP = "follow_up"
    OTHER = "other"


class Initiator(Labelled):
    """Who took the initiative (reimbursement under the state agreement needs care's own)."""

    CARE = "care"
    EXTERNAL = "external"
    PATIENT = "patient"


register(
    OrganisationType,
    {
        OrganisationType.EMPLOYER: _l("Employer"),
        OrganisationType.SOCIAL_INSURANCE: _l("Försäkringskassan"),
        OrganisationType.EMPLOYMENT_SERVICE: _l("Arbetsförmedlingen"),
        OrganisationType.MUNICIPALITY: _l("Municipality / social services"),
        OrganisationType.OCCUPATIONAL_HEALTH: _l("Occupational health service"),
        OrganisationType.CARE_PROVIDER: _l("Another care provider"),
        OrganisationType.OTHER: _l("Other"),
    },
)
register(
    Channel,
    {
        Channel.PHONE: _l("Phone"),
        Channel.MEETING: _l("Meeting"),
        Channel.VIDEO: _l("Video meeting"),
        Channel.LETTER: _l("Letter"),
        Channel.EMAIL: _l("E-mail"),
        Channel.WORKPLACE_VISIT: _l("Workplace visit"),
    },
)
register(
    ContactKind,
    {
        ContactKind.INFORMATION: _l("Information"),
        ContactKind.RECONCILIATION_MEETING: _l("Reconciliation meeting"),
        ContactKind.THREE_PARTY_MEETING: _l("Three-party meeting"),
        ContactKind.PLANNING: _l("Planning"),
        ContactKind.FOLLOW_UP: _l("Follow-up"),
        ContactKind.OTHER: _l("Other"),
    },
)
register(
    Initiator,
    {
        Initiator.CARE: _l("The care unit"),
        Initiator.EXTERNAL: _l("The external party"),
        Initiator.PATIENT: _l("The patient"),
    },
)


class Organisation(EncryptedRow, Model):
    """An employer, agency or other actor in the directory, shared by every unit."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[OrganisationType] = mapped_column(enum_column(OrganisationType), index=True)
    #: The name as written, e.g. "Försäkringskassan, Jönköping" (in the clear: searched).
    name: Mapped[str] = mapped_column(String(200))
    #: The case-folded name: what searches and the duplicate check compare.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    #: Organisation number (*organisationsnummer*), validated. Encrypted, with a blind index:
    #: a sole trader's is a personnummer. Several workplaces of one employer share it.
    org_number = Encrypted(str, nullable=True, blind_index=normalise_org_number)
    #: Postal address, lines separated by newlines.
    address: Mapped[str | None] = mapped_column(String(400))
    phone: Mapped[str | None] = mapped_column(String(40))
    #: Practical notes, e.g. opening hours or the switchboard's routine (encrypted: notes tend
    #: to name people).
    notes = Encrypted(str, nullable=True)
    #: Who added it; empty for employers migration 0006 moved here from patients' details.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Optimistic lock: two people editing the same organisation cannot overwrite each other.
    lock: Mapped[int] = mapped_column(default=1)

    #: Loaded only where shown (the organisation page, the log form): not with every contact.
    persons: Mapped[list[ContactPerson]] = relationship(
        back_populates="organisation", order_by="ContactPerson.id"
    )

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<Organisation {self.id}>"


class ContactPerson(EncryptedRow, Model):
    """A person at an organisation (personal data: every field is encrypted)."""

    __tablename__ = "contact_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name = Encrypted(str)
    #: E.g. HR, manager, *handläggare* (encrypted).
    role = Encrypted(str, nullable=True)
    phone = Encrypted(str, nullable=True)
    email = Encrypted(str, nullable=True)
    #: The person no longer works there: kept for the contacts logged with them, not offered.
    left_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    lock: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship(back_populates="persons")

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012

    @property
    def is_current(self) -> bool:
        return self.left_on is None

    def __repr__(self) -> str:
        return f"<ContactPerson {self.id}>"


class ContactEvent(AppendOnly, EncryptedRow, Model):
    """A contact with an external actor about a patient (*kontakt*), as the coordinator logged
    it. Kind, channel, initiative and date stay in the clear: the managers' statistics count
    them. What was said is encrypted."""

    __tablename__ = "contact_events"
    __table_args__ = (
        Index("ix_contact_events_patient_id_occurred_at", "patient_id", "occurred_at"),
        Index("ix_contact_events_unit_id_next_step_on", "unit_id", "next_step_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: The patient's unit (the managers' statistics, the directory's scoped lists).
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"))
    #: The coordination case the contact serves (reimbursement looks at its treatments).
    case_id: Mapped[int] = mapped_column(ForeignKey("coordination_cases.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    contact_person_id: Mapped[int | None] = mapped_column(ForeignKey("contact_persons.id"))
    #: When the contact took place.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    kind: Mapped[ContactKind] = mapped_column(enum_column(ContactKind))
    initiated_by: Mapped[Initiator] = mapped_column(enum_column(Initiator))
    #: What the contact was about (encrypted).
    notes = Encrypted(str, nullable=True)
    #: The disclosure registered with the contact, if information about the patient was
    #: given (its summary and the consent that allowed it are there).
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"), unique=True)
    #: The plan's measure the contact serves.
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id"), index=True)
    #: What happens next, and when (encrypted; the date drives the Today page).
    next_step = Encrypted(str, nullable=True)
    next_step_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    patient: Mapped[Patient] = relationship(viewonly=True)
    organisation: Mapped[Organisation] = relationship(viewonly=True, lazy="joined")
    disclosure: Mapped[Disclosure | None] = relationship(viewonly=True, lazy="joined")
    person: Mapped[ContactPerson | None] = relationship(viewonly=True, lazy="joined")
    recorded_by: Mapped[User] = relationship(viewonly=True, lazy="joined")

    @property
    def is_disclosure(self) -> bool:
        return self.disclosure_id is not None

    def __repr__(self) -> str:
        return f"<ContactEvent {self.id}>"
