"""The stored form of an encrypted value, and sealing and opening it.

Layout (31 bytes of overhead)::

    format (1 byte) | key version (2 bytes, big-endian) | nonce (12 bytes) | ciphertext + tag

AES-256-GCM with a random 96-bit nonce. The associated data is the header followed by the
table, column and row identity, so a value copied into another row or column, or given another
key version, fails authentication instead of decrypting (the binding CipherSweet and the AWS
Database Encryption SDK make).
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag

from coordinator.crypto.keys import KeyRing, KeyRingError

FORMAT = 1
HEADER = struct.Struct(">BH")
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER.size + NONCE_BYTES + TAG_BYTES


class DecryptionError(Exception):
    """A stored value cannot be decrypted. Names where it is, never what it holds."""

    def __init__(self, table: str, column: str, row: str, reason: str) -> None:
        self.table, self.column, self.row, self.reason = table, column, row, reason
        super().__init__(self.log_detail)

    @property
    def log_detail(self) -> str:
        """Safe for the application log: where, and why, never the value."""
        return f"cannot decrypt {self.table}.{self.column} of row {self.row}: {self.reason}"


def _associated_data(header: bytes, table: str, column: str, row: str) -> bytes:
    return header + f"\x1f{table}\x1f{column}\x1f{row}".encode()


def seal(keys: KeyRing, table: str, column: str, row: str, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` for one column of one row under the current key version."""
    version = keys.current
    header = HEADER.pack(FORMAT, version)
    nonce = os.urandom(NONCE_BYTES)
    cipher = keys.field_cipher(version, table, column)
    associated = _associated_data(header, table, column, row)
    return header + nonce + cipher.encrypt(nonce, plaintext, associated)


def key_version(sealed: bytes) -> int:
    """The key version a stored value was sealed with (0 when it is too short to tell)."""
    if len(sealed) < HEADER.size:
        return 0
    return int(HEADER.unpack_from(sealed)[1])


def open_sealed(keys: KeyRing, table: str, column: str, row: str, sealed: bytes) -> bytes:
    """Decrypt a stored value, or raise :class:`DecryptionError` saying why it cannot be."""
    if len(sealed) < OVERHEAD:
        raise DecryptionError(table, column, row, "the stored value is truncated")
    form, version = HEADER.unpack_from(sealed)
    if form != FORMAT:
        raise DecryptionError(table, column, row, f"unknown storage format {form}")
    try:
        cipher = keys.field_cipher(version, table, column)
    except KeyRingError as error:
        raise DecryptionError(table, column, row, str(error)) from None
    header = sealed[: HEADER.size]
    nonce = sealed[HEADER.size : HEADER.size + NONCE_BYTES]
    associated = _associated_data(header, table, column, row)
    try:
        return cipher.decrypt(nonce, sealed[HEADER.size + NONCE_BYTES :], associated)
    except InvalidTag:
        raise DecryptionError(
            table,
            column,
            row,
            "authentication failed: the value was altered, was copied from another row or "
            "column, or the key does not match",
        ) from None
