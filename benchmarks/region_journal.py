"""The second part of ``region.py``'s generator: the case journal and the access log. Entries
are planned in time order, their values sealed in the pool, and both hash chains sealed entry
by entry here, as the app does, before the rows are bulk-loaded through ``region_bulk``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from flask import current_app
from protection import (
    progress,
)
from region_bulk import (
    AT_TEXT,
    bulk_insert,
    indexes_built_afterwards,
    large_cache,
    pooled,
    references_checked_afterwards,
)
from region_people import Region, Sizes
from sqlalchemy import (
    Table,
    select,
    update,
)

from coordinator import clock
from coordinator.auth.roles import Role
from coordinator.crypto import runtime
from coordinator.extensions import db
from coordinator.journal import chain
from coordinator.journal.models import (
    AccessAction,
    CaseJournalEntry,
    Chain,
    ChainHead,
    EntryKind,
)
from coordinator.patients.models import CaseStatus, CoordinationCase, Patient

#: Journal entries per worker task.
CHUNK = 10_000

# -- fictitious journal text ----------------------------------------------------------------

#: Kinds of later journal entries (the first is always "case opened") and how common.
LATER_KINDS = {
    EntryKind.NOTE: 55, EntryKind.CERTIFICATE_ADDED: 15, EntryKind.CASE_UPDATED: 8,
    EntryKind.CONTACT_LOGGED: 10, EntryKind.PLAN_CHANGED: 4, EntryKind.PLAN_CREATED: 2,
    EntryKind.CONSENT_RECORDED: 4, EntryKind.SCREENING_DECIDED: 2,
}  # fmt: skip
HEADINGS = {
    EntryKind.CASE_OPENED: ("Ärende öppnat",),
    EntryKind.NOTE: ("Telefonkontakt", "Besök", "Uppföljning", "Samtal med patienten",
                     "Avstämning med läkare"),
    EntryKind.CERTIFICATE_ADDED: ("Intyg registrerat",),
    EntryKind.CASE_UPDATED: ("Ärendet ändrat",),
    EntryKind.CONTACT_LOGGED: ("Kontakt med arbetsgivaren", "Kontakt med Försäkringskassan"),
    EntryKind.PLAN_CHANGED: ("Plan ändrad",),
    EntryKind.PLAN_CREATED: ("Plan upprättad",),
    EntryKind.CONSENT_RECORDED: ("Samtycke registrerat",),
    EntryKind.SCREENING_DECIDED: ("Bedömning: erbjuds koordinering",),
}  # fmt: skip
SENTENCES = (
    "Patienten beskriver fortsatt trötthet efter lunch men klarar nu halvtid.",
    "Överenskommet att kontakta arbetsgivaren om anpassade arbetsuppgifter.",
    "Uppföljning hos arbetsterapeut bokad om två veckor.",
    "Läkaren förlänger sjukskrivningen med oförändrad omfattning.",
    "Patienten har påbörjat KBT och upplever viss förbättring av sömnen.",
    "Försäkringskassans handläggare informerad efter patientens samtycke.",
    "Ingen förändring sedan förra kontakten; planen står fast.",
    "Diskuterat återgång i arbete med stegvis ökad tid från nästa månad.",
)


def entry_text(kind: EntryKind, rng: random.Random) -> tuple[str, str]:
    heading = rng.choice(HEADINGS[kind])
    body = " ".join(rng.sample(SENTENCES, rng.randint(1, 4)))
    return heading, body


# -- the generator: the case journal and the access log -------------------------------------


#: One journal entry to write: (time in µs since the epoch, patient id, unit id, author id,
#: the ``EntryKind``'s value) — a plain tuple: a million are made, sorted by time and sent to
#: the pool, and plain tuples are the cheapest to make, compare and pickle.
Planned = tuple[int, int, int, int, str]


def plan_journal(region: Region, sizes: Sizes, rng: random.Random) -> list[Planned]:
    """``sizes.entries`` entries in time order: each patient's case opened when registered,
    the rest spread over the patients (a skewed share each) at random times since; the heavy
    patient gets ``sizes.heavy`` in all and the light one exactly one."""
    registered = dict(db.session.execute(select(Patient.id, Patient.created_at)).all())
    cases = db.session.execute(
        select(CoordinationCase.patient_id, CoordinationCase.coordinator_id,
               CoordinationCase.status)
    ).all()  # fmt: skip
    db.session.remove()
    assigned = {patient_id: coordinator_id for patient_id, coordinator_id, _ in cases}
    active = {patient_id for patient_id, _, status in cases if status is CaseStatus.ACTIVE}
    patients = region.patients
    # The two measured patients alike but for their journals: active cases, sick-listed.
    alike = [p for p in patients if p.unit_id == region.big_unit and p.id in active
             and p.start is not None and p.previous_end is None]  # fmt: skip
    region.heavy, region.light = alike[0], alike[-1]
    fixed = {region.heavy.id: sizes.heavy, region.light.id: 1}
    others = [p for p in patients if p.id not in fixed]
    extra = max(0, sizes.entries - sum(fixed.values()) - len(others))
    weights = [rng.expovariate(1.0) for _ in others]
    counts = Counter(rng.choices(range(len(others)), weights=weights, k=extra))
    now_us = int(clock.now().timestamp() * 1e6)
    kinds = [kind.value for kind in LATER_KINDS]
    kind_weights, opened_kind = list(LATER_KINDS.values()), EntryKind.CASE_OPENED.value
    plan: list[Planned] = []
    for index, patient in enumerate([region.heavy, region.light, *others]):
        total = fixed.get(patient.id) or 1 + counts.get(index - 2, 0)
        opened = int(registered[patient.id].timestamp() * 1e6)
        staff = region.coordinators[patient.unit_id]
        usual = assigned.get(patient.id) or staff[0]
        plan.append((opened, patient.id, patient.unit_id, usual, opened_kind))
        later = rng.choices(kinds, kind_weights, k=total - 1)
        for kind in later:
            author = usual if rng.random() < 0.8 else rng.choice(staff)
            # Since registration, and not in the last hour (unless registered within it).
            at = rng.randint(opened + 1, max(opened + 1, now_us - 3_600_000_000))
            plan.append((at, patient.id, patient.unit_id, author, kind))
    plan.sort()
    return plan


def seal_entries(task: tuple[int, bool, list[Planned]]) -> list[tuple[Any, ...]]:
    """Per planned entry: the uid and time as the database stores them, the uid and time as
    the chain's canonical text, the sealed heading and body, the content digest (and its
    canonical hex) and a request id for its access-log entry."""
    seed, native, planned = task
    # Benchmark data only, never a secret: a seeded generator keeps runs comparable.
    rng = random.Random(seed)  # noqa: S311
    keyring = runtime.keys()
    version = keyring.current
    heading_field, body_field = CaseJournalEntry.heading, CaseJournalEntry.body
    rows = []
    for entry in planned:
        uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        at_us, _, _, _, kind = entry
        at = datetime.fromtimestamp(at_us / 1e6, UTC)
        at_text = at.strftime(AT_TEXT)
        heading, body = entry_text(EntryKind(kind), rng)
        digest = chain.content_digest(keyring, version, heading, body)
        row = uid.hex
        rows.append((
            uid if native else row, at if native else at_text, row, at_text,
            heading_field.encrypt(row, heading), body_field.encrypt(row, body),
            digest, digest.hex(), f"{rng.getrandbits(128):032x}",
        ))  # fmt: skip
    return rows


def sealed_chunks(
    plan: list[Planned], workers: int, native: bool, keyring_text: str, seed: int
) -> Iterator[tuple[int, list[Planned], list[tuple[Any, ...]]]]:
    """(first seq, planned, sealed columns) chunk by chunk, in order, made in the pool while
    the main process seals the chains and inserts. ``native``: the driver takes datetimes and
    UUIDs (PostgreSQL); else their stored text (SQLite)."""
    starts = range(0, len(plan), CHUNK)
    tasks = [(seed + start, native, plan[start : start + CHUNK]) for start in starts]
    sealed_rows = pooled(seal_entries, tasks, workers, keyring_text)
    for start, task, rows in zip(starts, tasks, sealed_rows, strict=True):
        yield start + 1, task[2], rows


CASE_COLUMNS = ("seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
                "heading", "body", "content_digest", "corrects_seq", "key_version", "prev_hash",
                "hash")  # fmt: skip
ACCESS_COLUMNS = ("seq", "at", "user_id", "unit_id", "role", "patient_id", "action",
                  "object_type", "object_id", "request_id", "key_version", "prev_hash",
                  "hash")  # fmt: skip


def insert_journal(
    region: Region, sizes: Sizes, workers: int, rng: random.Random
) -> dict[str, float]:
    """Both chains, entry by entry: the journal entry, then its ``CREATE journal_entry``
    access-log entry, each sealed with ``chain.seal`` on the previous entry's hash. The sealed
    values are given to ``chain.seal`` in their canonical text (the uid's hex, the time in
    ``TIMESTAMP_FORMAT``, enum values, the digest's hex), which ``chain.canonical`` turns into
    the same bytes as the typed values; ``verify-journal`` afterwards proves it."""
    started = time.perf_counter()
    plan = plan_journal(region, sizes, rng)
    progress(f"  planned {len(plan):,} entries in {time.perf_counter() - started:.1f} s")
    native = db.engine.dialect.name == "postgresql"
    keyring_text = str(current_app.config["ENCRYPTION_KEYS"])
    chunks = sealed_chunks(plan, workers, native, keyring_text, rng.randrange(2**32))
    db.session.remove()
    loaded = ("case_journal", "access_log")
    with (
        db.engine.connect() as connection,
        large_cache(connection),
        references_checked_afterwards(connection, loaded),
        indexes_built_afterwards(connection, loaded),
    ):
        seq, case_prev, access_prev, spent = _load_chains(connection, chunks, plan, started)
        indexed_at = time.perf_counter()
    spent["building their indexes"] = time.perf_counter() - indexed_at
    heads: Table = ChainHead.__table__  # type: ignore[assignment]
    for name, last in ((Chain.CASE, case_prev), (Chain.ACCESS, access_prev)):
        db.session.execute(update(heads).where(heads.c.chain == name).values(seq=seq, hash=last))
    db.session.commit()
    region.counts["journal entries"] = seq
    return spent


def _load_chains(connection: Any, chunks: Any, plan: list[Planned], started: float) -> Any:
    """Seal both chains chunk by chunk as the pool delivers the sealed values, and insert each
    chunk in its own transaction; returns the last seq, the two chains' last hashes and the
    seconds spent on each part (so that the generator's table shows where the time goes)."""
    keyring = runtime.keys()
    version = keyring.current
    keys = (keyring.seal_key(version, "case"), keyring.seal_key(version, "access"))
    prev = (chain.GENESIS, chain.GENESIS)
    seq = 0
    spent = dict.fromkeys(("waiting for the pool", "sealing the chains", "inserting case_journal",
                           "inserting access_log"), 0.0)  # fmt: skip
    clock_ = time.perf_counter
    chunks = iter(chunks)
    while True:
        begun = clock_()
        next_chunk = next(chunks, None)
        spent["waiting for the pool"] += clock_() - begun
        if next_chunk is None:
            break
        begun = clock_()
        seq, prev, case_rows, access_rows = _seal_chunk(*next_chunk, keys, version, prev)
        sealed_at = clock_()
        spent["sealing the chains"] += sealed_at - begun
        bulk_insert(connection, "case_journal", CASE_COLUMNS, case_rows)
        inserted_at = clock_()
        spent["inserting case_journal"] += inserted_at - sealed_at
        bulk_insert(connection, "access_log", ACCESS_COLUMNS, access_rows)
        connection.commit()
        spent["inserting access_log"] += clock_() - inserted_at
        if seq % 100_000 < CHUNK or seq == len(plan):
            rate = seq / (time.perf_counter() - started)
            progress(f"  journal and access log: {seq:,}/{len(plan):,} ({rate:,.0f} entries/s)")
    return seq, prev[0], prev[1], spent


def _seal_chunk(
    first: int,
    planned: list[Planned],
    rows: list[tuple[Any, ...]],
    keys: tuple[bytes, bytes],
    version: int,
    prev: tuple[bytes, bytes],
) -> tuple[int, tuple[bytes, bytes], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One chunk's journal entries, each followed by the ``CREATE journal_entry`` access-log
    entry its creation implies, sealed on the previous entries' hashes (``prev``: the case
    chain's and the access chain's); returns the last seq, the new last hashes and the rows."""
    case_key, access_key = keys
    case_prev, access_prev = prev
    role, create, kind_of = Role.COORDINATOR.value, AccessAction.CREATE.value, "journal_entry"
    seal = chain.seal
    seq = first - 1
    case_rows, access_rows = [], []
    for seq, entry, (uid, at, uid_hex, at_text, heading, body, digest, digest_hex,
                     request) in zip(range(first, first + len(planned)), planned, rows,
                                     strict=True):  # fmt: skip
        _, patient, unit, author, kind = entry
        case_hash = seal(case_key, (seq, uid_hex, at_text, author, unit, role, patient, kind,
                                    digest_hex, None, version), case_prev)  # fmt: skip
        case_rows.append((seq, uid, at, author, unit, role, patient, kind, heading, body,
                          digest, None, version, case_prev, case_hash))  # fmt: skip
        logged = str(seq)
        access_values = (seq, at_text, author, unit, role, patient, create, kind_of, logged,
                         request, version)  # fmt: skip
        access_hash = seal(access_key, access_values, access_prev)
        access_rows.append((seq, at, author, unit, role, patient, create, kind_of, logged,
                            request, version, access_prev, access_hash))  # fmt: skip
        case_prev, access_prev = case_hash, access_hash
    return seq, (case_prev, access_prev), case_rows, access_rows
