"""Encrypted model attributes: ``name = Encrypted(str)`` on a model, and that is all.

Why a descriptor and not a column ``TypeDecorator``: the associated data binds each value to
its row, and a column type never sees the row it is writing. The descriptor does: on
assignment it seals the value with the row's ``uid`` and stores the bytes in a ``LargeBinary``
column of the same name; on access it opens them (once; the plaintext is kept on the instance
while the stored bytes are unchanged). Plaintext never reaches the database or SQL parameters.

A field declared with ``blind_index=normalise`` also maintains an indexed ``<name>_bidx``
column: HMAC-SHA256 over the normalised value. ``Model.field.equals(value)`` is the SQL
condition for an exact-match search: one indexed ``IN`` over the value's index under each
active key version (during a rotation, rows not yet re-indexed still match).
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Generic, Literal, TypeVar, overload

from sqlalchemy import LargeBinary, Uuid
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from coordinator.crypto import runtime
from coordinator.crypto.envelope import open_sealed, seal
from coordinator.crypto.keys import KeyRing

T = TypeVar("T")
V = TypeVar("V")

#: Length of a blind index value in bytes (a full HMAC-SHA256).
BLIND_INDEX_BYTES = 32

_CACHE = "_coordinator_plaintext"


class EncryptedRow:
    """Mixin for models with encrypted fields: a random, stable row identity.

    The ``uid`` is generated in Python before the first insert (the integer id is not known
    until the database assigns it) and is what the associated data binds each value to. It
    also serves as the identifier in URLs, where a sequence number would leak counts.
    """

    uid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)

    def ensure_uid(self) -> str:
        if self.uid is None:
            self.uid = uuid.uuid4()
        return self.uid.hex


class Codec(Generic[T]):
    def __init__(self, encode: Callable[[T], bytes], decode: Callable[[bytes], T]) -> None:
        self.encode, self.decode = encode, decode


_CODECS: dict[type, Codec[Any]] = {
    str: Codec[str](lambda v: v.encode("utf-8"), lambda b: b.decode("utf-8")),
    date: Codec[date](
        lambda v: v.isoformat().encode("ascii"), lambda b: date.fromisoformat(b.decode("ascii"))
    ),
    dict: Codec[dict[str, Any]](
        lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(),
        lambda b: json.loads(b),
    ),
    list: Codec[list[Any]](
        lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode(),
        lambda b: json.loads(b),
    ),
}

#: Every encrypted field, by model: what key rotation walks.
REGISTRY: dict[type, list[Encrypted[Any]]] = {}


class Encrypted(Generic[V]):
    """An attribute stored encrypted with AES-256-GCM, bound to its table, column and row."""

    @overload
    def __init__(
        self: Encrypted[T],
        kind: type[T],
        *,
        nullable: Literal[False] = False,
        blind_index: Callable[[str], str] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Encrypted[T | None],
        kind: type[T],
        *,
        nullable: Literal[True],
        blind_index: Callable[[str], str] | None = None,
    ) -> None: ...

    def __init__(
        self,
        kind: type[Any],
        *,
        nullable: bool = False,
        blind_index: Callable[[str], str] | None = None,
    ) -> None:
        if kind not in _CODECS:
            raise TypeError(f"Encrypted() supports {', '.join(t.__name__ for t in _CODECS)}")
        if blind_index is not None and kind is not str:
            raise TypeError("blind indexes are kept for text fields only")
        self.kind = kind
        self.codec = _CODECS[kind]
        self.nullable = nullable
        self.normalise = blind_index
        self.name = self.table = self.attribute = self.index_attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        if not issubclass(owner, EncryptedRow):
            raise TypeError(
                f"{owner.__name__}.{name}: a model with Encrypted fields needs EncryptedRow"
            )
        self.owner = owner
        self.name = name
        self.table = owner.__dict__["__tablename__"]
        self.attribute = f"_{name}_sealed"
        # Declarative mapping runs after __set_name__, so these columns are mapped as if
        # they had been written in the class body.
        setattr(owner, self.attribute, mapped_column(name, LargeBinary, nullable=self.nullable))
        if self.normalise is not None:
            self.index_attribute = f"_{name}_bidx"
            setattr(
                owner,
                self.index_attribute,
                mapped_column(
                    f"{name}_bidx",
                    LargeBinary(BLIND_INDEX_BYTES),
                    nullable=self.nullable,
                    index=True,
                ),
            )
        REGISTRY.setdefault(owner, []).append(self)

    @property
    def index_column(self) -> str | None:
        """Name of the blind index column, if the field has one."""
        return f"{self.name}_bidx" if self.normalise is not None else None

    # -- instance access -----------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: type) -> Encrypted[V]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> V: ...

    def __get__(self, instance: object | None, owner: type) -> Encrypted[V] | V:
        if instance is None:
            return self
        sealed = getattr(instance, self.attribute)
        if sealed is None:
            return None  # type: ignore[return-value]
        cache: dict[str, tuple[bytes, Any]] = instance.__dict__.setdefault(_CACHE, {})
        cached = cache.get(self.name)
        if cached is not None and cached[0] is sealed and self.kind is str:
            return cached[1]
        value = self.decrypt(instance.uid.hex, sealed)  # type: ignore[attr-defined]
        cache[self.name] = (sealed, value)
        return value

    def __set__(self, instance: EncryptedRow, value: V) -> None:
        if value is None:
            if not self.nullable:
                raise ValueError(f"{self.table}.{self.name} cannot be empty")
            setattr(instance, self.attribute, None)
            if self.index_attribute:
                setattr(instance, self.index_attribute, None)
            instance.__dict__.get(_CACHE, {}).pop(self.name, None)
            return
        if not isinstance(value, self.kind):
            raise TypeError(f"{self.table}.{self.name} takes {self.kind.__name__}")
        sealed = self.encrypt(instance.ensure_uid(), value)
        setattr(instance, self.attribute, sealed)
        if self.index_attribute:
            setattr(instance, self.index_attribute, self.blind_index(value, runtime.keys().current))
        instance.__dict__.setdefault(_CACHE, {})[self.name] = (sealed, value)

    # -- the operations, also used by key rotation ---------------------------------------

    def encrypt(self, row: str, value: Any) -> bytes:
        return seal(runtime.keys(), self.table, self.name, row, self.codec.encode(value))

    def decrypt(self, row: str, sealed: bytes, keyring: KeyRing | None = None) -> Any:
        """Open a stored value; a loop over many rows passes the key ring it took once."""
        keyring = keyring or runtime.keys()
        return self.codec.decode(open_sealed(keyring, self.table, self.name, row, sealed))

    def blind_index(self, value: str, version: int) -> bytes:
        """The blind index of ``value`` under one key version."""
        if self.normalise is None:
            raise TypeError(f"{self.table}.{self.name} has no blind index")
        key = runtime.keys().blind_index_key(version, self.table, self.name)
        return hmac.digest(key, self.normalise(value).encode("utf-8"), "sha256")

    def equals(self, value: str) -> ColumnElement[bool]:
        """SQL condition: this field equals ``value`` (exact match through the blind index).

        Raises ``ValueError`` when the normaliser rejects the value.
        """
        return self.index.in_(list(self.search_indexes([value])))

    @property
    def index(self) -> Any:
        """The blind index column (for batched ``IN`` lookups)."""
        if self.normalise is None:
            raise TypeError(f"{self.table}.{self.name} has no blind index to search")
        return getattr(self.owner, self.index_attribute)

    def search_indexes(self, values: Iterable[str]) -> dict[bytes, str]:
        """Each value's blind index under every active key version (during a rotation a row
        may still carry its old version's), mapped back to the value it stands for."""
        versions = runtime.keys().active_versions
        return {self.blind_index(value, version): value for value in values for version in versions}
