"""The canary: one known value per key version, proving at start-up that the keys fit the data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from coordinator import clock
from coordinator.database import UTCDateTime
from coordinator.extensions import Model


class EncryptionCanary(Model):
    """A fixed value sealed under one key version when that version was introduced."""

    __tablename__ = "encryption_canaries"

    #: The key version this canary was sealed with.
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: Nonce followed by the AES-GCM ciphertext of :data:`runtime.CANARY_PLAINTEXT`.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
