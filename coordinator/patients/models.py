"""Patients: who the coordinator works with. Identity and names are encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from coordinator import clock
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import UTCDateTime
from coordinator.extensions import Model
from coordinator.patients.identity import normalise_name, normalise_personnummer


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:  # never the name or number
        return f"<Patient {self.id}>"
