"""Sealed files: encrypted, chunked, authenticated files that verify on their own.

Access-log archives (:mod:`coordinator.journal.retention`) and backups
(:mod:`coordinator.backup`) are written in this one format::

    MAGIC | header length (4 bytes) | header (JSON: plain, but authenticated) | chunk | chunk …

A chunk is ``last-chunk flag (1 byte) | length (4 bytes) | nonce (12 bytes) | ciphertext``: up
to a few megabytes of the content, zlib-compressed, encrypted with AES-256-GCM. Its associated
data binds the SHA-256 of everything before the first chunk, the chunk's index and its flag, so
a chunk cannot be altered, reordered, dropped, moved to another file or cut off after the last
one and still decrypt.

Each kind of file has its own MAGIC and its own key (a purpose label of its own in
:class:`~coordinator.crypto.keys.KeyRing`): a backup is never read as an archive, nor the
reverse. No key is ever written into the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_HEADER_LENGTH = struct.Struct(">I")
_FRAME = struct.Struct(">BI")  # last-chunk flag, ciphertext length
_INDEX = struct.Struct(">QB")  # chunk index, last-chunk flag (in the associated data)
_MAX_HEADER_BYTES = 64 * 1024
_MAX_CHUNK_BYTES = 1 << 30

_T = TypeVar("_T")


@dataclass(frozen=True)
class Kind:
    """One kind of sealed file."""

    #: The first bytes of every file of this kind.
    magic: bytes
    #: What a file of this kind is called in a reason: "the archive is cut".
    noun: str
    #: What another file is not: "not an access-log archive".
    name: str


class Broken(Exception):
    """The file does not verify; ``reason`` says where and why (never any content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- writing ------------------------------------------------------------------------------------


class Writer:
    """Writes the header at once, then each piece of content given to :meth:`write` as a chunk.

    A chunk is sealed only when the next one arrives or :meth:`finish` is called, so the last
    one is marked as such without the caller knowing in advance which one it is.
    """

    def __init__(self, handle: BinaryIO, kind: Kind, header: Mapping[str, Any], key: bytes) -> None:
        encoded = json.dumps(header).encode("utf-8")
        prelude = kind.magic + _HEADER_LENGTH.pack(len(encoded)) + encoded
        handle.write(prelude)
        self._handle = handle
        self._digest = hashlib.sha256(prelude)
        self._bound = hashlib.sha256(prelude).digest()
        self._cipher = AESGCM(key)
        self._index = 0
        self._pending: bytes | None = None

    def write(self, plain: bytes) -> None:
        if self._pending is not None:
            self._seal(self._pending, is_last=False)
        self._pending = plain

    def finish(self) -> bytes:
        """Seal the last chunk (empty if nothing was written); the SHA-256 of the whole file."""
        self._seal(self._pending or b"", is_last=True)
        self._pending = None
        return self._digest.digest()

    def _seal(self, plain: bytes, *, is_last: bool) -> None:
        nonce = os.urandom(_NONCE_BYTES)
        associated = self._bound + _INDEX.pack(self._index, is_last)
        sealed = self._cipher.encrypt(nonce, zlib.compress(plain), associated)
        chunk = _FRAME.pack(is_last, len(sealed)) + nonce + sealed
        self._digest.update(chunk)
        self._handle.write(chunk)
        self._index += 1


def create_exclusively(path: Path, write: Callable[[BinaryIO], _T]) -> _T:
    """Write a new file at ``path`` (mode 0600) through ``write``, durably, all or nothing.

    The content goes to a hidden partial file beside it, is synced, and is then linked to
    ``path`` — which never replaces a file already there (:class:`FileExistsError`). The
    partial file is removed whatever happens, so a failure leaves nothing behind.
    """
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # left by a run that stopped before it was complete
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            result = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    sync_folder(path.parent)
    return result


def sync_folder(folder: Path) -> None:
    """Make a new or renamed file's name durable, not only its content."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- reading ------------------------------------------------------------------------------------


class Reader:
    """A sealed file, read in exact amounts and hashed as it goes."""

    def __init__(self, handle: BinaryIO, kind: Kind) -> None:
        self.handle = handle
        self.kind = kind
        #: SHA-256 of what was read so far (of the whole file after :meth:`drain`).
        self.digest = hashlib.sha256()

    def read(self, size: int) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        if len(data) != size:
            raise Broken(f"the {self.kind.noun} is cut: its end is missing")
        return data

    def at_end(self) -> bool:
        rest = self.handle.read(1)
        self.digest.update(rest)
        return not rest

    def drain(self) -> None:
        while chunk := self.handle.read(1 << 20):
            self.digest.update(chunk)

    def header(self) -> tuple[dict[str, Any], bytes]:
        """The header's fields, and the digest of everything before the first chunk (which
        every chunk binds). The fields are not authentic until a chunk has decrypted."""
        magic = self.handle.read(len(self.kind.magic))
        self.digest.update(magic)
        if magic != self.kind.magic:
            raise Broken(f"not {self.kind.name}")
        length_bytes = self.read(_HEADER_LENGTH.size)
        (length,) = _HEADER_LENGTH.unpack(length_bytes)
        if length > _MAX_HEADER_BYTES:
            raise Broken("its header is damaged")
        raw = self.read(length)
        try:
            fields = json.loads(raw)
        except ValueError:
            raise Broken("its header is damaged") from None
        if not isinstance(fields, dict):
            raise Broken("its header is damaged")
        return fields, hashlib.sha256(self.kind.magic + length_bytes + raw).digest()

    def chunks(self, key: bytes, bound: bytes) -> Iterator[bytes]:
        """The plaintext of each chunk, in order, up to the one marked last."""
        cipher = AESGCM(key)
        index = 0
        while True:
            is_last, length = _FRAME.unpack(self.read(_FRAME.size))
            if is_last > 1 or length > _MAX_CHUNK_BYTES:
                raise Broken(f"part {index + 1} is damaged")
            nonce = self.read(_NONCE_BYTES)
            sealed = self.read(length)
            try:
                plain = cipher.decrypt(nonce, sealed, bound + _INDEX.pack(index, is_last))
            except InvalidTag:
                raise Broken(
                    f"part {index + 1} does not decrypt: the file was altered, its parts "
                    "reordered or cut, or it was written with other keys"
                ) from None
            yield zlib.decompress(plain)
            if is_last:
                if not self.at_end():
                    raise Broken("data follows its last part")
                return
            index += 1
