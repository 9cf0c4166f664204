"""What a database holds: its schema revision, the rows of every table, the chains' heads.

A backup records it in its header (counts and hashes only: nothing a copy of the database
would not show); a restore compares the restored database with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Runs one SQL statement without parameters and returns its rows (any DB-API connection).
Query = Callable[[str], Sequence[Sequence[Any]]]

#: The tables of the current schema, per engine.
_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND name NOT LIKE 'sqlite_%' ORDER BY name",
    "postgresql": "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
}

#: Rows every initialised database has before anyone uses it: they are not "data" that a
#: restore would overwrite.
_BOOKKEEPING = frozenset({"alembic_version", "encryption_canaries", "journal_heads"})


@dataclass(frozen=True)
class Head:
    """Where a journal chain ends: its last sequence number and that entry's hash."""

    chain: str
    seq: int
    hash: bytes


@dataclass(frozen=True)
class Contents:
    #: The Alembic revision of the schema (None: not initialised).
    revision: str | None
    #: Rows per table, by table name.
    tables: Mapping[str, int]
    heads: tuple[Head, ...]

    @property
    def patients(self) -> int:
        return self.tables.get("patients", 0)

    @property
    def journal_entries(self) -> int:
        return self.tables.get("case_journal", 0)

    @property
    def access_log_entries(self) -> int:
        return self.tables.get("access_log", 0)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def has_data(self) -> bool:
        """Whether anything beyond what ``coordinator init`` writes is there."""
        return any(rows for name, rows in self.tables.items() if name not in _BOOKKEEPING)

    def to_header(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "tables": dict(sorted(self.tables.items())),
            "heads": {head.chain: [head.seq, head.hash.hex()] for head in self.heads},
        }

    @classmethod
    def from_header(cls, fields: Mapping[str, Any]) -> Contents:
        """Raises ValueError, KeyError or TypeError when the fields are not a valid record."""
        revision = fields["revision"]
        if not isinstance(revision, str | None):
            raise TypeError("revision")
        tables = {str(name): int(rows) for name, rows in fields["tables"].items()}
        heads = tuple(
            Head(str(chain), int(seq), bytes.fromhex(hash_hex))
            for chain, (seq, hash_hex) in sorted(fields["heads"].items())
        )
        return cls(revision, tables, heads)


EMPTY = Contents(None, {}, ())


def read(query: Query, dialect: str) -> Contents:
    """Count every table's rows and read the revision and the chains' heads, through
    ``query`` (in one transaction, for a consistent result)."""
    names = [str(row[0]) for row in query(_TABLES[dialect])]
    tables = {name: int(query(_count(name))[0][0]) for name in names}
    revision = None
    if tables.get("alembic_version"):
        revision = str(query("SELECT version_num FROM alembic_version")[0][0])
    heads: tuple[Head, ...] = ()
    if "journal_heads" in tables:
        rows = query("SELECT chain, seq, hash FROM journal_heads ORDER BY chain")
        heads = tuple(Head(str(chain), int(seq), bytes(hash_)) for chain, seq, hash_ in rows)
    return Contents(revision, tables, heads)


def _count(table: str) -> str:
    """The count of a table named by the catalogue, quoted as an identifier (on both engines)."""
    quoted = '"' + table.replace('"', '""') + '"'
    # A name from the database's own catalogue, quoted: nothing typed reaches it.
    return f"SELECT count(*) FROM {quoted}"  # noqa: S608  # nosec B608
