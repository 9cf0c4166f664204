"""Master keys and the keys derived from them.

One master key per *key version*. Master keys live outside the database: in the instance key
file (``instance/encryption_keys``, mode 0600, created by ``coordinator init``) or, in
production, in the ``COORDINATOR_ENCRYPTION_KEYS`` environment variable. Both hold the same
JSON document::

    {"keys": [{"version": 1, "key": "<32 random bytes, base64>", "status": "active"}]}

The highest *active* version encrypts new values. A *retired* version no longer decrypts fields
or feeds blind indexes (``coordinator rotate-keys`` retires it once no row uses it); it stays in
the key ring only so that journal entries sealed while it was current can still be verified.

Every key the code uses is derived from a master key with HKDF-SHA256 and a purpose label, so
no key serves two purposes: one per encrypted column, one per blind index, one per journal
chain, one for access-log archives, one for backups, one for the canary.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Name of the key file in the instance folder.
KEY_FILE = "encryption_keys"

#: Length of a master key and of every derived key, in bytes (AES-256, HMAC-SHA256).
KEY_BYTES = 32

#: Highest key version the two-byte header field can name.
MAX_VERSION = 0xFFFF


class KeyRingError(Exception):
    """Base of the key ring's errors."""


class KeyRingInvalid(KeyRingError):
    """The key file or variable cannot be used; the message says why (never the key)."""


class UnknownKeyVersion(KeyRingError):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"key version {version} is not in the key ring")


class RetiredKeyVersion(KeyRingError):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"key version {version} is retired and no longer decrypts data")


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class MasterKey:
    version: int
    secret: bytes
    status: KeyStatus = KeyStatus.ACTIVE

    def __repr__(self) -> str:  # never the secret
        return f"<MasterKey v{self.version} {self.status.value}>"


def _derive(master: bytes, label: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode("utf-8")
    ).derive(master)


class KeyRing:
    """The master keys of an installation and the derived keys, computed once and cached."""

    def __init__(self, keys: Iterable[MasterKey]) -> None:
        self._keys = {key.version: key for key in keys}
        self._check()
        self._ciphers: dict[tuple[int, str, str], AESGCM] = {}
        self._macs: dict[tuple[int, str], bytes] = {}

    def _check(self) -> None:
        if not self._keys:
            raise KeyRingInvalid("the key ring holds no keys")
        if not any(key.status is KeyStatus.ACTIVE for key in self._keys.values()):
            raise KeyRingInvalid("the key ring holds no active key")
        for key in self._keys.values():
            if not 1 <= key.version <= MAX_VERSION:
                raise KeyRingInvalid(f"key version {key.version} is outside 1–{MAX_VERSION}")
            if len(key.secret) != KEY_BYTES:
                raise KeyRingInvalid(f"key version {key.version} is not {KEY_BYTES} bytes")
        if len({key.secret for key in self._keys.values()}) != len(self._keys):
            raise KeyRingInvalid("two key versions share the same key material")

    # -- versions ------------------------------------------------------------------------

    @cached_property
    def current(self) -> int:
        """The version that encrypts new values: the highest active one."""
        return max(v for v, key in self._keys.items() if key.status is KeyStatus.ACTIVE)

    @cached_property
    def active_versions(self) -> tuple[int, ...]:
        """Versions that may still decrypt fields, current first."""
        active = [v for v, key in self._keys.items() if key.status is KeyStatus.ACTIVE]
        return tuple(sorted(active, reverse=True))

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def master(self, version: int) -> MasterKey:
        try:
            return self._keys[version]
        except KeyError:
            raise UnknownKeyVersion(version) from None

    def _active_secret(self, version: int) -> bytes:
        key = self.master(version)
        if key.status is not KeyStatus.ACTIVE:
            raise RetiredKeyVersion(version)
        return key.secret

    def secrets(self) -> frozenset[bytes]:
        """Every master key's bytes (for the start-up check that no secret is reused)."""
        return frozenset(key.secret for key in self._keys.values())

    # -- derived keys --------------------------------------------------------------------

    def field_cipher(self, version: int, table: str, column: str) -> AESGCM:
        """The AES-256-GCM cipher of one encrypted column under one key version."""
        slot = (version, table, column)
        cipher = self._ciphers.get(slot)
        if cipher is None:
            secret = self._active_secret(version)
            cipher = AESGCM(_derive(secret, f"coordinator/field/v1/{table}/{column}"))
            self._ciphers[slot] = cipher
        return cipher

    def blind_index_key(self, version: int, table: str, column: str) -> bytes:
        """The HMAC key of one blind index under one key version."""
        return self._mac_key(version, f"coordinator/blind-index/v1/{table}/{column}", active=True)

    def seal_key(self, version: int, chain: str) -> bytes:
        """The HMAC key that seals one journal chain's entries (retired versions still verify)."""
        return self._mac_key(version, f"coordinator/journal-seal/v1/{chain}", active=False)

    def archive_key(self, version: int) -> bytes:
        """The AES-256-GCM key of access-log archives (retired versions still open old ones)."""
        return self._mac_key(version, "coordinator/log-archive/v1", active=False)

    def backup_key(self, version: int) -> bytes:
        """The AES-256-GCM key of backups (retired versions still open old ones)."""
        return self._mac_key(version, "coordinator/backup/v1", active=False)

    def canary_cipher(self, version: int) -> AESGCM:
        """The cipher of the canary value (retired versions included: their canary stays)."""
        return AESGCM(_derive(self.master(version).secret, "coordinator/canary/v1"))

    def _mac_key(self, version: int, label: str, *, active: bool) -> bytes:
        slot = (version, label)
        key = self._macs.get(slot)
        if key is None:
            secret = self._active_secret(version) if active else self.master(version).secret
            key = _derive(secret, label)
            self._macs[slot] = key
        return key

    # -- changes -------------------------------------------------------------------------

    def with_new_version(self) -> KeyRing:
        """A copy with a fresh random key one version above the highest."""
        version = max(self._keys) + 1
        if version > MAX_VERSION:
            raise KeyRingInvalid("no key versions left")
        fresh = MasterKey(version, secrets.token_bytes(KEY_BYTES))
        return KeyRing([*self._keys.values(), fresh])

    def with_retired(self, versions: Iterable[int]) -> KeyRing:
        """A copy in which ``versions`` (never the current one) are retired."""
        retiring = set(versions)
        if self.current in retiring:
            raise KeyRingInvalid("the current key version cannot be retired")
        return KeyRing(
            MasterKey(k.version, k.secret, KeyStatus.RETIRED if k.version in retiring else k.status)
            for k in self._keys.values()
        )

    # -- text form -----------------------------------------------------------------------

    @classmethod
    def generate(cls) -> KeyRing:
        return cls([MasterKey(1, secrets.token_bytes(KEY_BYTES))])

    @classmethod
    def parse(cls, text: str, *, source: str) -> KeyRing:
        """Read the JSON form; ``source`` names the file or variable in error messages."""
        try:
            document = json.loads(text)
            entries = document["keys"]
            keys = [
                MasterKey(
                    version=int(entry["version"]),
                    secret=base64.b64decode(entry["key"], validate=True),
                    status=KeyStatus(entry.get("status", KeyStatus.ACTIVE)),
                )
                for entry in entries
            ]
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise KeyRingInvalid(
                f"{source} is not a valid key document ({type(error).__name__}); expected "
                '{"keys": [{"version": 1, "key": "<base64>", "status": "active"}]}'
            ) from None
        if len({key.version for key in keys}) != len(keys):
            raise KeyRingInvalid(f"{source} names a key version twice")
        try:
            return cls(keys)
        except KeyRingInvalid as error:
            raise KeyRingInvalid(f"{source}: {error}") from None

    def dumps(self) -> str:
        entries = [
            {
                "version": key.version,
                "key": base64.b64encode(key.secret).decode("ascii"),
                "status": key.status.value,
            }
            for key in sorted(self._keys.values(), key=lambda k: k.version)
        ]
        return json.dumps({"keys": entries}, indent=2)
