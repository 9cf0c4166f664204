"""Import of sick-leave certificates from a CSV file, one certificate per line (docs/import.md).

Three steps, so that a dry run and a real run see exactly the same thing:

* :func:`~coordinator.patients.import_csv.parse` reads the file — encoding, delimiter,
  header — into :class:`ImportRow` values;
* :func:`plan` validates every row and works out what it would change: new patients, new
  certificates, certificates already registered (skipped, which makes re-running a file
  harmless), overlaps (accepted — the source system is authoritative — but reported);
* :func:`run` refuses the whole file if any line is wrong, and otherwise writes it through the
  same services a coordinator's forms use, in the caller's transaction: all of it or nothing.

Personnummer appear in the report shown to the coordinator who imports; the log gets counts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from coordinator.access import Actor
from coordinator.errors import InvalidField
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction
from coordinator.patients import certificates, service
from coordinator.patients.certificates import CertificateInput
from coordinator.patients.identity import format_personnummer
from coordinator.patients.import_csv import (
    COLUMN_NAMES,
    ImportRefused,
    ImportRow,
    RowError,
    RowNote,
    parse,
)
from coordinator.patients.models import Certificate, CertificateSource, Patient
from coordinator.patients.sickleave import DEGREES

log = logging.getLogger(__name__)

#: Values per ``IN`` list when looking rows up (well under every engine's parameter limit).
BATCH = 500
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# -- Validating and planning --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCertificate:
    """A certificate the import registers, and the patient it registers first, if any."""

    line: int
    #: The patient's personnummer, normalised (``YYYYMMDDNNNN``).
    number: str
    entry: CertificateInput
    #: Given and family name when this line registers the patient.
    new_patient: service.PatientDetails | None = None


@dataclass
class ImportPlan:
    """What an import would change; nothing of it is written yet."""

    rows: int
    certificates: list[PlannedCertificate] = field(default_factory=list)
    new_patients: int = 0
    #: Lines skipped: certificates already registered or repeated in the file.
    duplicates: int = 0
    warnings: list[RowNote] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: What each line does, in file order.
    steps: list[RowNote] = field(default_factory=list)
    #: Patients of the unit the file names, by normalised personnummer.
    matched: dict[str, Patient] = field(default_factory=dict)


@dataclass(frozen=True)
class _ValidRow:
    line: int
    number: str
    first_name: str
    last_name: str
    entry: CertificateInput

    @property
    def key(self) -> tuple[str, date, date, int, str]:
        entry = self.entry
        return (self.number, entry.start_on, entry.end_on, entry.degree, entry.diagnosis_code)

    @property
    def period(self) -> str:
        entry = self.entry
        return (
            f"{entry.start_on.isoformat()}–{entry.end_on.isoformat()} "
            f"{entry.degree} % {entry.diagnosis_code}"
        )


def plan(actor: Actor, rows: Sequence[ImportRow]) -> ImportPlan:
    """Validate ``rows`` and work out what importing them would change in the actor's unit.

    Reads only. The patients found are not logged here: :func:`run` logs them once it shows
    or uses the result.
    """
    service.require_coordinator(actor)
    result = ImportPlan(rows=len(rows))
    valid: list[_ValidRow] = []
    for row in rows:
        checked = _validate(row, result.errors)
        if checked is not None:
            valid.append(checked)
    result.matched = _registered(actor, {row.number for row in valid})
    registered = _certificates_of(list(result.matched.values()))
    _Planner(result, registered).add_all(valid)
    return result


def _validate(row: ImportRow, errors: list[RowError]) -> _ValidRow | None:
    """The row checked field by field (every problem of the line reported), or None."""
    found: list[str] = []
    number = _number(row.personnummer, found)
    start_on = _date(row.start_on, "start_on", found)
    end_on = _date(row.end_on, "end_on", found)
    degree = _degree(row.degree, found)
    if not row.diagnosis_code:
        found.append(_column_message("diagnosis_code", _("Write the ICD-10 code.")))
    if not found and number and start_on and end_on and degree:
        entry = CertificateInput(start_on, end_on, degree, row.diagnosis_code, row.doctor or None)
        try:
            diagnosis = certificates.check(entry)
        except InvalidField as error:
            found.append(_column_message(error.field, error.message))
        else:
            entry = replace(entry, diagnosis_code=diagnosis.code)
            return _ValidRow(row.line, number, row.first_name, row.last_name, entry)
    errors.extend(RowError(row.line, message) for message in found)
    return None


def _column_message(name: str, message: object) -> str:
    """A message prefixed with the column at fault (``certificates.check`` names its fields
    as this module does)."""
    return f"{COLUMN_NAMES.get(name, name)}: {message}"


def _number(value: str, found: list[str]) -> str | None:
    if not value:
        found.append(_column_message("personnummer", _("Write the personnummer.")))
        return None
    try:
        return service.parse_personnummer(value).normalised
    except service.InvalidPersonnummer as error:
        found.append(_column_message("personnummer", error.message))
        return None


def _date(value: str, name: str, found: list[str]) -> date | None:
    """An ISO date (``2026-10-01``); other spellings are refused, not guessed."""
    if _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            found.append(_column_message(name, _("There is no such date.")))
            return None
    found.append(_column_message(name, _("Write the date as YYYY-MM-DD, e.g. 2026-10-01.")))
    return None


def _degree(value: str, found: list[str]) -> int | None:
    """25, 50, 75 or 100, with or without a percent sign."""
    digits = value.removesuffix("%").strip()
    if digits.isascii() and digits.isdigit() and int(digits) in DEGREES:
        return int(digits)
    found.append(_column_message("degree", _("The degree must be 25, 50, 75 or 100 %.")))
    return None


def _registered(actor: Actor, numbers: Iterable[str]) -> dict[str, Patient]:
    """The unit's patients with these numbers, found through the blind index (never decrypted).

    The index of every number under every active key version goes into one ``IN`` query per
    batch (during a key rotation a row may still carry its old version's index); the index a
    patient carries says which number it matched.
    """
    by_index = Patient.personnummer.search_indexes(numbers)
    column = Patient.personnummer.index
    indexes = list(by_index)
    found: dict[str, Patient] = {}
    for start in range(0, len(indexes), BATCH):
        query = service.in_unit(actor).add_columns(column)
        query = query.where(column.in_(indexes[start : start + BATCH]))
        for patient, index in db.session.execute(query):
            found[by_index[bytes(index)]] = patient
    return found


def _certificates_of(patients: Sequence[Patient]) -> dict[int, list[Certificate]]:
    """The registered certificates of ``patients``, by patient id."""
    by_patient: dict[int, list[Certificate]] = {patient.id: [] for patient in patients}
    ids = list(by_patient)
    for start in range(0, len(ids), BATCH):
        query = select(Certificate).where(Certificate.patient_id.in_(ids[start : start + BATCH]))
        for certificate in db.session.scalars(query):
            by_patient[certificate.patient_id].append(certificate)
    return by_patient


class _Planner:
    """Walks the valid rows in file order, deciding what each one does."""

    def __init__(self, result: ImportPlan, registered: dict[int, list[Certificate]]) -> None:
        self.result = result
        self.registered = registered
        #: The line each certificate of the file was first seen on.
        self.seen: dict[tuple[str, date, date, int, str], int] = {}
        #: The line registering each new patient.
        self.new: dict[str, int] = {}
        #: Certificates planned so far, by patient number: for overlaps within the file.
        self.planned: dict[str, list[_ValidRow]] = {}

    def add_all(self, rows: Iterable[_ValidRow]) -> None:
        for row in rows:
            self.add(row)

    def add(self, row: _ValidRow) -> None:
        first = self.seen.setdefault(row.key, row.line)
        if first != row.line:
            message = _("The same certificate as on line %(line)d; skipped.", line=first)
            self._skip(row, message)
            self._warn(row, message)
            return
        patient = self.result.matched.get(row.number)
        if patient is not None and self._is_registered(patient, row):
            message = _(
                "%(number)s: certificate %(period)s is already registered; skipped.",
                number=format_personnummer(row.number),
                period=row.period,
            )
            self._skip(row, message)
            return
        details = None
        if patient is None and row.number not in self.new:
            details = self._new_patient(row)
            if details is None:
                return  # no names to register the patient with: an error was recorded
        self._overlaps(patient, row)
        self.planned.setdefault(row.number, []).append(row)
        self.result.certificates.append(
            PlannedCertificate(row.line, row.number, row.entry, details)
        )
        self.result.steps.append(RowNote(row.line, self._describe(row, patient, details)))

    def _is_registered(self, patient: Patient, row: _ValidRow) -> bool:
        code = row.entry.diagnosis_code
        return any(certificates.is_same(c, row.entry, code) for c in self.registered[patient.id])

    def _new_patient(self, row: _ValidRow) -> service.PatientDetails | None:
        """The details that register the patient on their first line in the file."""
        if not row.first_name or not row.last_name:
            message = _(
                "förnamn, efternamn: The patient is not registered in this unit; write the "
                "given and family name."
            )
            self.result.errors.append(RowError(row.line, message))
            return None
        self.new[row.number] = row.line
        self.result.new_patients += 1
        return service.PatientDetails(first_name=row.first_name, last_name=row.last_name)

    def _overlaps(self, patient: Patient | None, row: _ValidRow) -> None:
        """Warn of overlapping periods; both certificates are kept (replacements overlap)."""
        start, end = row.entry.start_on, row.entry.end_on
        for certificate in self.registered.get(patient.id, []) if patient is not None else []:
            if certificate.start_on <= end and start <= certificate.end_on:
                period = f"{certificate.start_on.isoformat()}–{certificate.end_on.isoformat()}"
                message = _(
                    "Overlaps the registered certificate %(period)s; imported anyway.",
                    period=period,
                )
                self._warn(row, message)
        for other in self.planned.get(row.number, []):
            if other.entry.start_on <= end and start <= other.entry.end_on:
                message = _(
                    "Overlaps the certificate on line %(line)d; imported anyway.", line=other.line
                )
                self._warn(row, message)

    def _describe(
        self, row: _ValidRow, patient: Patient | None, details: service.PatientDetails | None
    ) -> str:
        number, period = format_personnummer(row.number), row.period
        if details is not None:
            return _("new patient %(number)s, certificate %(period)s", number=number, period=period)
        if patient is not None:
            return _(
                "registered patient %(number)s, certificate %(period)s",
                number=number,
                period=period,
            )
        return _(
            "patient %(number)s from line %(line)d, certificate %(period)s",
            number=number,
            line=self.new[row.number],
            period=period,
        )

    def _skip(self, row: _ValidRow, message: str) -> None:
        self.result.duplicates += 1
        self.result.steps.append(RowNote(row.line, message))

    def _warn(self, row: _ValidRow, message: str) -> None:
        self.result.warnings.append(RowNote(row.line, message))


# -- Running it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    is_dry_run: bool
    #: Certificate lines in the file.
    rows: int
    new_patients: int
    new_certificates: int
    #: Lines skipped because the certificate is already registered or repeated in the file.
    duplicates: int
    warnings: list[RowNote]
    #: What each line does, in file order.
    steps: list[RowNote]


def run(actor: Actor, data: bytes, *, dry_run: bool) -> ImportReport:
    """Import the certificates in ``data`` into the actor's unit, or with ``dry_run`` only say
    what that would do.

    Any error on any line refuses the whole file (:class:`ImportRefused` listing them all) with
    nothing written. Otherwise the patients the file matched are logged as found by search —
    the report shows which numbers are registered — and, unless a dry run, new patients are
    registered (unassigned: someone takes them from the caseload) and the certificates added,
    all in the caller's transaction.
    """
    service.require_coordinator(actor)
    result = plan(actor, parse(data))
    if result.errors:
        raise ImportRefused(sorted(result.errors, key=lambda error: error.line))
    matched = sorted(result.matched.values(), key=lambda patient: patient.id)
    if matched:
        journal.record_accesses(actor, matched, AccessAction.SEARCH)
    if not dry_run:
        _write(actor, result)
    log.info(
        "certificate import user_id=%s unit_id=%s dry_run=%s rows=%d new_patients=%d "
        "new_certificates=%d duplicates=%d",
        actor.user.id,
        actor.unit.id if actor.unit else None,
        dry_run,
        result.rows,
        result.new_patients,
        len(result.certificates),
        result.duplicates,
    )
    return ImportReport(
        is_dry_run=dry_run,
        rows=result.rows,
        new_patients=result.new_patients,
        new_certificates=len(result.certificates),
        duplicates=result.duplicates,
        warnings=sorted(result.warnings, key=lambda note: note.line),
        steps=result.steps,
    )


def _write(actor: Actor, result: ImportPlan) -> None:
    """Register the planned patients and certificates, line by line, through the services."""
    patients = dict(result.matched)
    for item in result.certificates:
        if item.new_patient is not None:
            patients[item.number] = service.register_patient(
                actor, item.number, item.new_patient, assign_to_actor=False
            )
        certificates.add_certificate(
            actor,
            patients[item.number],
            item.entry,
            accept_overlap=True,
            source=CertificateSource.IMPORT,
        )
