"""Field-level encryption: the only door through which health data reaches the database.

Use it like this::

    class Patient(EncryptedRow, Model):
        personnummer = Encrypted(str, blind_index=normalise_personnummer)
        note = Encrypted(str, nullable=True)

    select(Patient).where(Patient.personnummer.equals("19121212-1212"))

See ``docs/security.md`` for the threat model and the list of what is encrypted.
"""

from coordinator.crypto.envelope import DecryptionError
from coordinator.crypto.fields import Encrypted, EncryptedRow
from coordinator.crypto.runtime import keys

__all__ = ["DecryptionError", "Encrypted", "EncryptedRow", "keys"]
