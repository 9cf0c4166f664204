"""Key rotation: add a key version, re-encrypt every sealed value under it, retire the old one.

Resumable by construction. A rotation is *in progress* while the key ring holds an active
version other than the current one; running again then resumes instead of adding yet another
version. Rows are re-encrypted in batches, each committed on its own, and a row already under
the current version is skipped, so a run killed at any point leaves every value readable (old
versions stay active until the end) and the next run finishes the work. Blind indexes are
recomputed in the same pass. Old versions are retired only after a final scan finds no value
still sealed with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Table, select, update
from sqlalchemy.orm import class_mapper

from coordinator.crypto import runtime
from coordinator.crypto.envelope import key_version
from coordinator.crypto.fields import REGISTRY, Encrypted
from coordinator.crypto.keys import KeyRing
from coordinator.extensions import db


class RotationRefused(RuntimeError):
    """The rotation cannot proceed; the message says what to do."""


@dataclass
class RotationReport:
    #: The version added by this run; None when it resumed an earlier rotation.
    added: int | None = None
    current: int = 0
    #: Values re-encrypted, by table.
    reencrypted: Counter[str] = field(default_factory=Counter)
    #: Versions retired by this run.
    retired: list[int] = field(default_factory=list)
    #: Values still sealed with an old version after the pass (written meanwhile by an app
    #: instance that had not yet loaded the new key), by version.
    remaining: Counter[int] = field(default_factory=Counter)
    #: Set when the key ring cannot be rewritten here (keys from the environment).
    instructions: str = ""


Progress = Callable[[str, int, int], None]


def _keys_from_file() -> bool:
    return not current_app.config.get("ENCRYPTION_KEYS")


def _install(keyring: KeyRing) -> None:
    """Save the key ring (file-based keys) and use it in this process from now on."""
    if _keys_from_file():
        runtime.save(keyring, Path(current_app.instance_path))
    current_app.extensions[runtime.EXTENSION] = keyring


def rotate(
    batch_size: int = 500,
    progress: Progress | None = None,
    started: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Rotate to a new key version, or finish an interrupted rotation; see the module notes.

    ``started`` is called once the version to rotate to is settled (and saved), ``progress``
    after every committed batch with the table, rows done and rows in all.
    """
    keyring = runtime.keys()
    report = RotationReport()
    if len(keyring.active_versions) == 1:
        if not _keys_from_file():
            raise RotationRefused(
                "The keys come from COORDINATOR_ENCRYPTION_KEYS (or the file its _FILE names): "
                "add a new version there, restart every app instance with it, then run "
                "rotate-keys to re-encrypt."
            )
        keyring = keyring.with_new_version()
        _install(keyring)
        report.added = keyring.current
    report.current = keyring.current
    runtime.write_canary(keyring.current)
    db.session.commit()
    if started is not None:
        started(report)
    for model, fields in REGISTRY.items():
        report.reencrypted[model.__tablename__] = _reencrypt(model, fields, batch_size, progress)  # type: ignore[attr-defined]
    report.remaining = values_not_current(keyring)
    old = [v for v in keyring.active_versions if v != keyring.current]
    if report.remaining:
        return report
    if _keys_from_file():
        _install(keyring.with_retired(old))
        report.retired = old
    elif old:
        report.instructions = (
            f"No value uses version(s) {', '.join(map(str, old))} any more: mark them "
            '"status": "retired" in COORDINATOR_ENCRYPTION_KEYS.'
        )
    return report


def _batches(table: Table, columns: list[Any], key: Any, batch_size: int) -> Any:
    last = None
    while True:
        query = select(key, *columns).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        rows = db.session.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _reencrypt(
    model: type, fields: list[Encrypted[Any]], batch_size: int, progress: Progress | None
) -> int:
    keyring = runtime.keys()
    table: Table = model.__table__  # type: ignore[attr-defined]
    key = class_mapper(model).primary_key[0]
    sealed_columns = [table.c[f.name] for f in fields]
    total = db.session.scalar(select(db.func.count()).select_from(table)) or 0
    done = changed = 0
    for rows in _batches(table, [table.c.uid, *sealed_columns], key, batch_size):
        for row in rows:
            values = _fresh_values(keyring, fields, row[1].hex, row[2:])
            if values:
                db.session.execute(update(table).where(key == row[0]).values(**values))
                changed += 1
        db.session.commit()  # each batch stands on its own: a crash loses at most one
        done += len(rows)
        if progress is not None:
            progress(table.name, done, total)
    return changed


def _fresh_values(
    keyring: KeyRing, fields: list[Encrypted[Any]], row: str, sealed: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for encrypted, stored in zip(fields, sealed, strict=True):
        if stored is None or key_version(stored) == keyring.current:
            continue
        plaintext = encrypted.decrypt(row, stored)
        values[encrypted.name] = encrypted.encrypt(row, plaintext)
        if encrypted.index_column is not None:
            values[encrypted.index_column] = encrypted.blind_index(plaintext, keyring.current)
    return values


def values_not_current(keyring: KeyRing) -> Counter[int]:
    """Count, by key version, the stored values not sealed with the current version."""
    remaining: Counter[int] = Counter()
    for model, fields in REGISTRY.items():
        table: Table = model.__table__  # type: ignore[attr-defined]
        columns = [table.c[f.name] for f in fields]
        result = db.session.execute(select(*columns).execution_options(yield_per=5000))
        for row in result:
            for stored in row:
                if stored is not None and key_version(stored) != keyring.current:
                    remaining[key_version(stored)] += 1
    db.session.commit()
    return remaining
