"""What the mapping, plan and treatment services share: the case they work in, text and date
checks, and the stale-edit rule."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from coordinator import clock
from coordinator.access import Actor
from coordinator.errors import DomainError, NotFound
from coordinator.extensions import db
from coordinator.patients import cases
from coordinator.patients.models import CaseStatus, CoordinationCase
from coordinator.patients.permissions import require_coordinator

if TYPE_CHECKING:
    from coordinator.patients.models import Patient

#: How far ahead a date may be set.
HORIZON = timedelta(days=730)


class NotUnderWay(DomainError):
    """Planning is coordination: it needs an active case (and so the patient's consent)."""

    status_code = 409
    default_message = _l(
        "Coordination is not under way for this patient. Start coordination (with the "
        "patient's consent) before mapping or planning."
    )


class StaleEdit(cases.StaleEdit):
    """Someone else saved first. The view starts the request over and shows what they saved
    beside the refused form (nothing of the refused change is written)."""

    default_message = _l(
        "Someone else saved this a moment ago. What they saved is shown below and your changes "
        "are still in the form: check them against it and save again."
    )


def case_for_planning(actor: Actor, patient: Patient) -> CoordinationCase:
    """The patient's case, if coordination is under way (Lag 2019:1297 § 2: coordination
    interventions — mapping and planning among them — only with the patient's consent, which
    activating the case required)."""
    require_coordinator(actor)
    case = cases.current_case(patient)
    if case is None or case.status is not CaseStatus.ACTIVE:
        raise NotUnderWay()
    return case


def case_for_reading(patient: Patient) -> CoordinationCase:
    """The patient's current case (open or closed): what its plan pages show."""
    case = cases.current_case(patient)
    if case is None:
        raise NotFound()
    return case


def case_for_recording(actor: Actor, patient: Patient) -> CoordinationCase:
    """The patient's open case, whatever its status (treatments are recorded as they happen)."""
    require_coordinator(actor)
    case = cases.current_case(patient)
    if case is None or not case.status.is_open:
        raise cases.CaseClosed()
    return case


def check_lock(record: Any, expected: int | None) -> None:
    """Refuse a change made on an older state of ``record`` than the one stored.

    ``expected`` 0 means the user saw no record yet (a form to create it): if one exists now,
    someone else created it meanwhile. None: the caller does not check (services called
    directly, e.g. the demo data).
    """
    if expected is not None and record.lock != expected:
        raise StaleEdit()


def touch(record: Any, actor: Actor) -> None:
    """Mark ``record`` changed by ``actor``: its lock moves on even when nothing else in the
    row changed (a draft's measures, or a save in the same instant as the last one)."""
    record.updated_by_id = actor.user.id
    record.updated_at = clock.now()
    flag_modified(record, "updated_at")


def write(add: Any = None) -> None:
    """Write the change (adding ``add`` first) in a savepoint. A concurrent commit since the
    data was read (the lock moved on), or the same new row written by someone else meanwhile
    (a unique plan, version or mapping number), is a :class:`StaleEdit`."""
    try:
        with db.session.begin_nested():
            if add is not None:
                db.session.add(add)
            db.session.flush()
    except (StaleDataError, IntegrityError) as error:
        raise StaleEdit() from error
