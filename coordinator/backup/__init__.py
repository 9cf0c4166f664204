"""Backups of the whole database, encrypted, and their restore (docs/backup.md).

``coordinator backup`` takes a consistent copy while the app runs — SQLite through its online
backup API, PostgreSQL with ``pg_dump`` on an exported snapshot — and seals it into one file
(:mod:`coordinator.crypto.sealed_file`, under ``KeyRing.backup_key``); ``coordinator restore``
decrypts and verifies the whole file before it touches the database. The plain copy exists
only in a private (0700) temporary folder beside the database or in the instance folder, and
only while the command runs; PostgreSQL's dump never touches the disk in the clear.

:mod:`~coordinator.backup.service` does both; :mod:`~coordinator.backup.sqlite` and
:mod:`~coordinator.backup.postgres` know the engines; :mod:`~coordinator.backup.contents`
describes what a database holds, which a backup records and a restore checks.
"""


class BackupFailed(Exception):
    """The backup or restore could not be done; the message says why and what was left as it
    was. Operator messages, in English like the rest of the command line."""
