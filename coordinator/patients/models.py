"""Patients, their sick-leave certificates and their coordination cases.

Identity, contact details, diagnoses and every free text are encrypted. What stays in the clear
is what lists must filter and sort on without decrypting a whole unit: dates, degrees, statuses
and the responsible coordinator — attached to a row whose identity is sealed (docs/security.md).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import User
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.patients.identity import normalise_name, normalise_personnummer

if TYPE_CHECKING:
    from coordinator.contacts.models import ContactPerson, Organisation


class Employment(StrEnum):
    """The patient's occupation status (*sysselsättning*): decides which actors matter."""

    EMPLOYED = "employed"
    UNEMPLOYED = "unemployed"
    SELF_EMPLOYED = "self_employed"
    STUDENT = "student"
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(_EMPLOYMENT_LABELS[self])

    @property
    def has_employer(self) -> bool:
        """Whether there can be an employer to contact: the unemployed have none (their way
        back goes through Arbetsförmedlingen), the self-employed are their own."""
        return self not in (Employment.UNEMPLOYED, Employment.SELF_EMPLOYED)


class Gender(StrEnum):
    """Gender as the statistics count it: the legal sex from the number unless stated."""

    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(_GENDER_LABELS[self])


class CaseStatus(StrEnum):
    """Where coordination stands (Rehabstöd: Ingen/Kontaktad/Aktiv/Avslutad)."""

    #: Registered or newly sick-listed; coordination need not yet settled.
    NEW = "new"
    #: Coordination has been offered to the patient.
    OFFERED = "offered"
    #: Coordination is ongoing (the patient has agreed).
    ACTIVE = "active"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])

    @property
    def is_open(self) -> bool:
        return self is not CaseStatus.CLOSED


class CaseOutcome(StrEnum):
    """How a case ended (what the managers' statistics count)."""

    RETURNED_FULL_TIME = "returned_full_time"
    RETURNED_PART_TIME = "returned_part_time"
    OTHER_OCCUPATION = "other_occupation"
    STUDIES = "studies"
    HANDED_OVER = "handed_over"
    DECLINED = "declined"
    MOVED = "moved"
    DECEASED = "deceased"

    @property
    def label(self) -> str:
        return str(_OUTCOME_LABELS[self])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _OUTCOME_LABELS[self]


class ScreeningDecision(StrEnum):
    """The coordinator's answer to "does this patient need coordination?"."""

    OFFER = "offer"
    NOT_NEEDED = "not_needed"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return str(_DECISION_LABELS[self])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _DECISION_LABELS[self]


class CertificateSource(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"


_EMPLOYMENT_LABELS = {
    Employment.EMPLOYED: _l("Employed"),
    Employment.UNEMPLOYED: _l("Unemployed"),
    Employment.SELF_EMPLOYED: _l("Self-employed"),
    Employment.STUDENT: _l("Student"),
    Employment.OTHER: _l("Other"),
}
_GENDER_LABELS = {Gender.WOMAN: _l("Woman"), Gender.MAN: _l("Man"), Gender.OTHER: _l("Other")}
_STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.OFFERED: _l("Offered"),
    CaseStatus.ACTIVE: _l("Active"),
    CaseStatus.CLOSED: _l("Closed"),
}
_OUTCOME_LABELS = {
    CaseOutcome.RETURNED_FULL_TIME: _l("Returned to work full time"),
    CaseOutcome.RETURNED_PART_TIME: _l("Returned to work part time"),
    CaseOutcome.OTHER_OCCUPATION: _l("Other occupation"),
    CaseOutcome.STUDIES: _l("Studies"),
    CaseOutcome.HANDED_OVER: _l("Still sick-listed, handed over"),
    CaseOutcome.DECLINED: _l("Declined coordination"),
    CaseOutcome.MOVED: _l("Moved"),
    CaseOutcome.DECEASED: _l("Deceased"),
}
_DECISION_LABELS = {
    ScreeningDecision.OFFER: _l("Offer coordination"),
    ScreeningDecision.NOT_NEEDED: _l("Coordination not needed"),
    ScreeningDecision.DECLINED: _l("Patient declined"),
}


class Patient(EncryptedRow, Model):
    """A patient registered at a care unit."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The care unit whose coordinators work with the patient; every query is scoped by it.
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    #: Personnummer or samordningsnummer (encrypted; blind index over the 12-digit form).
    personnummer = Encrypted(str, blind_index=normalise_personnummer)
    #: Given name(s) (*förnamn*; encrypted).
    first_name = Encrypted(str)
    #: Family name (*efternamn*; encrypted; blind index over the case-folded name).
    last_name = Encrypted(str, blind_index=normalise_name)
    #: Stated gender when it differs from the legal sex the number encodes (encrypted).
    stated_gender = Encrypted(str, nullable=True)
    #: Contact details (encrypted).
    phone = Encrypted(str, nullable=True)
    email = Encrypted(str, nullable=True)
    #: Postal address, lines separated by newlines (encrypted).
    address = Encrypted(str, nullable=True)
    employment: Mapped[Employment] = mapped_column(
        enum_column(Employment), default=Employment.EMPLOYED
    )
    #: Occupation (*yrke*), free text (encrypted).
    occupation = Encrypted(str, nullable=True)
    #: The employer (*arbetsgivare*) in the directory, and the patient's manager there (*chef*).
    #: Only for patients with an employer: not the unemployed or the self-employed.
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    employer_manager_id: Mapped[int | None] = mapped_column(ForeignKey("contact_persons.id"))
    #: Protected identity (*skyddad identitet*): name and address are masked in lists and
    #: prints, and showing them is logged.
    is_protected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    # -- The current sick-leave case, derived from the certificates by
    # -- patients.certificates.refresh_summary; never edited directly. ---------------------
    #: First and last certified day of the patient's latest sick-leave case.
    sick_leave_start: Mapped[date | None] = mapped_column(Date)
    sick_leave_end: Mapped[date | None] = mapped_column(Date)
    #: Certified days in that case (overlaps once, gap days not counted).
    sick_leave_days: Mapped[int | None] = mapped_column(SmallInteger)
    #: Degree in percent on the case's last certified day.
    sick_leave_degree: Mapped[int | None] = mapped_column(SmallInteger)
    #: Rehabilitation-chain milestones: the dates day 90, 180 and 365 are reached.
    day_90_on: Mapped[date | None] = mapped_column(Date)
    day_180_on: Mapped[date | None] = mapped_column(Date)
    day_365_on: Mapped[date | None] = mapped_column(Date)
    #: Last day of the sick-leave case before the latest one (recurrence screening).
    previous_sick_leave_end: Mapped[date | None] = mapped_column(Date)
    #: ICD-10 code of the latest certificate of the case (encrypted).
    diagnosis = Encrypted(str, nullable=True)
    #: When a certificate was last registered (the Today page's "new since last visit").
    certificate_added_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    employer: Mapped[Organisation | None] = relationship(viewonly=True)
    employer_manager: Mapped[ContactPerson | None] = relationship(viewonly=True)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:  # never the name or number
        return f"<Patient {self.id}>"


class Certificate(EncryptedRow, Model):
    """A sick-leave certificate (*sjukintyg*, FK 7804) as registered for a patient."""

    __tablename__ = "certificates"
    __table_args__ = (Index("ix_certificates_patient_id_start_on", "patient_id", "start_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: The certified period, both days included.
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    #: Sick-leave degree (*sjukskrivningsgrad*) in percent: 25, 50, 75 or 100.
    degree: Mapped[int] = mapped_column(SmallInteger)
    #: ICD-10 code, normalised (``F43.2``; encrypted).
    diagnosis_code = Encrypted(str)
    #: The doctor who issued it (encrypted).
    doctor = Encrypted(str, nullable=True)
    source: Mapped[CertificateSource] = mapped_column(enum_column(CertificateSource))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    def __repr__(self) -> str:
        return f"<Certificate {self.id}>"


class CoordinationCase(EncryptedRow, Model):
    """A coordination episode (*ärende*) for a patient: status, coordinator, screening, outcome.

    A patient has at most one open case; the latest case is the current one. Every change is
    also a case journal entry, which is where its history lives.
    """

    __tablename__ = "coordination_cases"
    __table_args__ = (Index("ix_coordination_cases_patient_id_id", "patient_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    #: The responsible coordinator; empty until someone takes the case.
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: When the current coordinator got the case (Today: "assigned to you since last visit").
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), default=CaseStatus.NEW)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: The coordinator's screening decision and its reason (reason encrypted).
    screening_decision: Mapped[ScreeningDecision | None] = mapped_column(
        enum_column(ScreeningDecision)
    )
    screening_reason = Encrypted(str, nullable=True)
    screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When coordination began (the case became active): the indicators count active cases
    #: at a past date from it.
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Next date the coordinator has set to follow the case up (*bevakning*).
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[CaseOutcome | None] = mapped_column(enum_column(CaseOutcome))
    #: Optimistic lock: two people changing the same case cannot overwrite each other.
    version: Mapped[int] = mapped_column(default=1)

    coordinator: Mapped[User | None] = relationship(viewonly=True, lazy="joined")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<CoordinationCase {self.id}>"


# The employer relationships name the directory's models: they must be mapped with the patient.
from coordinator.contacts import models as _directory  # noqa: E402, F401
