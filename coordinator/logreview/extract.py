"""The patient log extract (*loggutdrag*, HSLF-FS 2016:40 ch. 4 § 10; PDL 8 ch. 1 §).

A patient may ask which care units accessed their data and when. A manager finds the patient
by personnummer among the patients of their units and produces the extract: every access-log
entry of the patient, across all care units (the care provider's whole log), shown on screen
or printed as a PDF in Swedish. Showing it is logged as a read, printing it as a print.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from coordinator import clock, printing
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.auth.roles import Role
from coordinator.errors import NotFound
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import AccessAction, AccessLogEntry
from coordinator.patients.models import Patient
from coordinator.patients.service import find_in_units
from coordinator.reports.scope import require_manager

#: The access-log object type of the extract itself.
OBJECT_TYPE = "log_extract"

#: What an access-log entry's ``object_type`` means, for the patient reading the extract.
#: Every type the code writes has a label; an unknown one is shown as it is.
OBJECT_LABELS = {
    "patient": _l("Patient details"),
    "protected_identity": _l("Protected identity shown"),
    "certificates": _l("Sick-leave certificates"),
    "certificate": _l("Sick-leave certificate"),
    "case": _l("Coordination case"),
    "case_activation": _l("Start of coordination"),
    "case_journal": _l("Case journal"),
    "journal_entry": _l("Journal entry"),
    "consent": _l("Consent"),
    "consents": _l("Consents"),
    "consent_form": _l("Consent form"),
    "consent_summary": _l("Summary of consents"),
    "disclosure": _l("Disclosure of information"),
    "mapping": _l("Mapping"),
    "plan": _l("Rehabilitation plan"),
    "plan_follow_up": _l("Follow-up of the plan"),
    "plan_share": _l("Sharing of the plan"),
    "measure": _l("Measure in the plan"),
    "treatment": _l("Treatment"),
    "contact": _l("Contact"),
    "contacts": _l("Contacts"),
    "employer": _l("Employer"),
    "report": _l("Report"),
    "access_log": _l("Access log"),
    "log_check": _l("Sample check of the access log"),
    OBJECT_TYPE: _l("Log extract"),
}

#: How times are written in the extract (local time, Europe/Stockholm).
TIME_FORMAT = "%Y-%m-%d %H:%M"

_COMMAND_PREFIX = "command:"


@dataclass(frozen=True)
class ExtractRow:
    """One access. Labels are made when read, so the same row shows in the user's language on
    screen and in Swedish in the PDF."""

    seq: int
    at: datetime
    #: The care unit the user worked in; empty for system commands.
    unit_name: str
    #: The user's name and title; None for a system command.
    user_name: str | None
    user_title: str | None
    role: Role | None
    action: AccessAction
    object_type: str
    #: The request or command that made the access (``command:<name>`` for commands).
    request_id: str

    @property
    def when(self) -> str:
        return self.at.astimezone(clock.LOCAL_ZONE).strftime(TIME_FORMAT)

    @property
    def is_system(self) -> bool:
        return self.user_name is None

    @property
    def user(self) -> str:
        """Who: the user's name (and title), or the system command that ran."""
        if self.user_name is None:
            command = self.request_id.removeprefix(_COMMAND_PREFIX)
            return str(_l("System run (%(command)s)", command=command))
        return f"{self.user_name}, {self.user_title}" if self.user_title else self.user_name

    @property
    def role_label(self) -> str:
        return self.role.label if self.role else ""

    @property
    def action_label(self) -> str:
        return self.action.label

    @property
    def what(self) -> str:
        label = OBJECT_LABELS.get(self.object_type)
        return str(label) if label is not None else self.object_type


@dataclass(frozen=True)
class Extract:
    """A patient's log extract as produced at ``produced_at`` by ``produced_by`` (a unit)."""

    patient: Patient
    rows: list[ExtractRow]
    produced_at: datetime
    produced_by: str

    @property
    def produced_when(self) -> str:
        return self.produced_at.astimezone(clock.LOCAL_ZONE).strftime(TIME_FORMAT)


def _managed(actor: Actor) -> list[int]:
    """The units whose patients the manager may produce extracts for."""
    require_manager(actor)
    return [unit.id for unit in actor.user.active_units]


def find_patient(actor: Actor, personnummer: str) -> Patient:
    """The patient with ``personnummer`` registered at one of the manager's units.

    One indexed query on the blind index. A malformed number is refused on its field
    (:class:`~coordinator.patients.service.InvalidPersonnummer`); a patient of another unit is
    not found, exactly like a missing one. Logs nothing: the extract shown is the access.
    """
    patient = find_in_units(personnummer, _managed(actor))
    if patient is None:
        raise NotFound(_l("No patient with that personnummer is registered in your units."))
    return patient


def get_patient(actor: Actor, patient_uid: uuid.UUID) -> Patient:
    """A patient of one of the manager's units by id; another unit's is not found."""
    units = _managed(actor)
    patient = db.session.scalars(
        select(Patient).where(Patient.uid == patient_uid, Patient.unit_id.in_(units))
    ).first()
    if patient is None:
        raise NotFound()
    return patient


def _collect(actor: Actor, patient: Patient) -> Extract:
    """Every access-log entry of ``patient`` in chain order, whichever unit made it."""
    require_manager(actor)
    query = (
        select(
            AccessLogEntry.seq, AccessLogEntry.at, CareUnit.name, User.full_name, User.title,
            AccessLogEntry.role, AccessLogEntry.action, AccessLogEntry.object_type,
            AccessLogEntry.request_id,
        )
        .outerjoin(CareUnit, CareUnit.id == AccessLogEntry.unit_id)
        .outerjoin(User, User.id == AccessLogEntry.user_id)
        .where(AccessLogEntry.patient_id == patient.id)
        .order_by(AccessLogEntry.seq)
    )  # fmt: skip
    rows = [
        ExtractRow(seq, at, unit_name or "", user_name, title, role, action, object_type,
                   request_id)
        for seq, at, unit_name, user_name, title, role, action, object_type, request_id
        in db.session.execute(query)
    ]  # fmt: skip
    return Extract(patient, rows, clock.now(), actor.unit.name if actor.unit else "")


def patient_extract(actor: Actor, patient: Patient) -> Extract:
    """The extract to show on screen; showing it is logged as a read (after collecting, so
    the extract ends with the accesses before this one)."""
    extract = _collect(actor, patient)
    journal.record_access(actor, patient, AccessAction.READ, OBJECT_TYPE)
    return extract


def printed_extract(actor: Actor, patient: Patient) -> printing.Printed:
    """The extract as a PDF for the patient; printing it is logged."""
    extract = _collect(actor, patient)
    data = extract_pdf(extract)
    journal.record_access(actor, patient, AccessAction.PRINT, OBJECT_TYPE)
    stamp = extract.produced_at.astimezone(clock.LOCAL_ZONE).date().isoformat()
    return printing.Printed(data, f"loggutdrag-{stamp}.pdf")


def extract_pdf(extract: Extract) -> bytes:
    """The extract as a PDF, in Swedish whatever the user's language; the table of accesses
    runs over as many pages as it needs, its header repeated on each."""
    with printing.in_print_language():
        title = str(_l("Log extract"))
        story = [
            printing.text(extract.produced_by, printing.SMALL),
            printing.text(title, printing.TITLE),
            printing.facts([
                *printing.patient_facts(extract.patient),
                (_l("Produced"), extract.produced_when),
                (_l("Produced by"), extract.produced_by),
                (_l("Number of accesses"), str(len(extract.rows))),
            ]),
            printing.space(),
            printing.text(_l(
                "Every access to the patient's data recorded in the care provider's access "
                "log: when, at which care unit, by whom, and what was done. Times are Swedish "
                "local time."
            )),
            printing.space(),
        ]  # fmt: skip
        if extract.rows:
            story.append(
                printing.grid(
                    [_l("Date and time"), _l("Care unit"), _l("User"), _l("Action"), _l("What")],
                    [(row.when, row.unit_name, row.user, row.action_label, row.what)
                     for row in extract.rows],
                    widths_mm=(28, 36, 46, 22, 38),
                )
            )  # fmt: skip
        else:
            story.append(printing.text(_l("No access to the patient's data has been recorded.")))
        produced_at = extract.produced_at.astimezone(clock.LOCAL_ZONE)
        return printing.build(title, story, title, produced_at)
