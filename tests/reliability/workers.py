"""Child processes for the fault tests: write the way requests do, and say what was committed.

Run from the repository root; the app is built from the environment, as ``coordinator``
builds it (``COORDINATOR_INSTANCE``, ``DATABASE_URL``, ``COORDINATOR_SECRET_KEY``,
``COORDINATOR_ENCRYPTION_KEYS``)::

    python -m tests.reliability.workers plan|contact|journal --user ID --unit ID
        --patient UID [--organisation ID] [--start K] [--hold-at K [--hold-after SQL]]
    python -m tests.reliability.workers rotate --batch-size N --hold-after SQL --hold-count K

An operation worker runs operation ``start``, ``start + 1``, … one transaction each, as one
request would: the patient loaded through the unit-scoped service (logged as read), then the
change. Each operation logs under the request id ``worker:K``, so the parent can tell which
operations reached the database. The rotation worker runs :func:`rotation.rotate`.

What the worker prints (one line each, flushed at once):

* ``ready`` — the app is built;
* ``committed K TOKEN`` — operation K is committed; TOKEN names what it wrote;
* ``batch TABLE DONE/TOTAL`` — the rotation committed a batch;
* ``holding K after SQL`` / ``holding K before commit`` — with ``--hold-at K``: operation K
  has written up to the first statement starting with ``--hold-after`` (or all of it) and
  not committed; the worker waits there to be killed. The rotation worker (``holding
  rotation after SQL``) holds after the ``--hold-count``-th such statement.

The operations are plain functions, so the tests can also run them in their own process (the
writes after a restart) and compute what they must have left behind.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from coordinator import clock, create_app
from coordinator.access import Actor
from coordinator.auth.models import CareUnit, User
from coordinator.contacts import service as contacts
from coordinator.contacts.models import Channel, ContactKind, Initiator, Organisation
from coordinator.crypto import rotation
from coordinator.extensions import db
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.patients.models import Patient
from coordinator.plans import service as plans
from coordinator.plans.models import AgreementMethod, ResponsibleActor, ReturnGoal

#: How long a holding worker waits to be killed before it gives up (exit status 3).
HOLD_SECONDS = 60
#: Most operations one worker runs (a parent that never kills it still gets an end).
MAX_OPERATIONS = 2000


@dataclass(frozen=True)
class Target:
    """Who works on which patient (ids of rows the parent made)."""

    user_id: int
    unit_id: int
    patient_uid: uuid.UUID
    organisation_id: int | None = None

    def actor(self, request_id: str) -> Actor:
        user = db.session.get(User, self.user_id)
        assert user is not None
        return Actor(user=user, role=user.role, unit=db.session.get(CareUnit, self.unit_id),
                     request_id=request_id)  # fmt: skip


#: One operation: write operation ``k`` about the patient; returns what names the write.
Operation = Callable[[Actor, Patient, int, Target], str]


def plan_step(actor: Actor, patient: Patient, k: int, target: Target) -> str:
    """Operations 3n, 3n+1, 3n+2: start version n+1 (create the plan at 0), edit its draft,
    agree it. Every step carries the lock and version it was based on, as the forms do."""
    plan = plans.plan_of(cases.current_case(patient))
    today = clock.today()
    if k % 3 == 2:
        assert plan is not None
        version = plan.latest.number
        agreement = plans.Agreement(today, AgreementMethod.MEETING, today + timedelta(days=14))
        plans.agree(actor, patient, version, agreement, expected_lock=plan.lock)
        return f"agree:{version}"
    entry = plans.PlanInput(
        goal=ReturnGoal.OWN_JOB, goal_degree=50, starts_on=today,
        target_on=today + timedelta(days=90),
        measures=[plans.MeasureInput(f"Åtgärd {k}", ResponsibleActor.CARE_UNIT)],
    )  # fmt: skip
    based_on = plan.latest.number if plan else None
    saved = plans.save(actor, patient, entry, based_on=based_on,
                       expected_lock=plan.lock if plan else 0)  # fmt: skip
    return f"save:{saved.latest.number}"


def contact_step(actor: Actor, patient: Patient, k: int, target: Target) -> str:
    """A phone call with the target organisation, its notes naming the operation."""
    organisation = db.session.get(Organisation, target.organisation_id)
    entry = contacts.ContactInput(
        organisation=organisation, occurred_on=clock.today(), channel=Channel.PHONE,
        kind=ContactKind.INFORMATION, initiated_by=Initiator.CARE, notes=f"Samtal {k}",
    )  # fmt: skip
    return contacts.log_contact(actor, patient, entry).uid.hex


def journal_step(actor: Actor, patient: Patient, k: int, target: Target) -> str:
    """Even operations sign a note (case journal and access log), odd ones read the journal
    (access log only)."""
    if k % 2 == 0:
        entry = journal.add_entry(actor, patient, EntryKind.NOTE, f"Anteckning {k}", f"Text {k}.")
        return f"note:{entry.seq}"
    journal.timeline(actor, patient)
    return "read"


OPERATIONS: dict[str, Operation] = {
    "plan": plan_step,
    "contact": contact_step,
    "journal": journal_step,
}


def run_operation(name: str, target: Target, k: int) -> str:
    """Operation ``k`` as one request does it (not committed): load the patient, then write."""
    actor = target.actor(f"worker:{k}")
    patient = patients.get_patient(actor, target.patient_uid)
    return OPERATIONS[name](actor, patient, k, target)


# -- Holding inside a transaction ----------------------------------------------------------


class Hold:
    """Stops the worker, for good, right after a chosen SQL statement has run."""

    def __init__(self, label: str, prefix: str | None, count: int = 1) -> None:
        self.label = label
        self.prefix = prefix.upper() if prefix else None
        self.count = count
        self.seen = 0
        self.armed = False

    def after_statement(self, *args: Any) -> None:
        statement: str = args[2]
        if not self.armed or self.prefix is None:
            return
        if statement.lstrip().upper().startswith(self.prefix):
            self.seen += 1
            if self.seen == self.count:
                self.wait(f"after {self.prefix}")

    def wait(self, where: str) -> None:
        say(f"holding {self.label} {where}")
        time.sleep(HOLD_SECONDS)
        sys.exit(3)


def say(line: str) -> None:
    print(line, flush=True)


# -- Entry points ----------------------------------------------------------------------------


def _operations(arguments: argparse.Namespace) -> None:
    target = Target(arguments.user, arguments.unit, uuid.UUID(arguments.patient),
                    arguments.organisation)  # fmt: skip
    hold = Hold(str(arguments.hold_at), arguments.hold_after)
    event.listen(db.engine, "after_cursor_execute", hold.after_statement)
    say("ready")
    for k in range(arguments.start, arguments.start + MAX_OPERATIONS):
        hold.armed = k == arguments.hold_at
        token = run_operation(arguments.operation, target, k)
        if hold.armed:
            hold.wait("before commit")  # everything written, nothing committed
        db.session.commit()
        say(f"committed {k} {token}")


def _rotate(arguments: argparse.Namespace) -> None:
    hold = Hold("rotation", arguments.hold_after, arguments.hold_count)
    hold.armed = True
    event.listen(db.engine, "after_cursor_execute", hold.after_statement)
    say("ready")
    rotation.rotate(
        batch_size=arguments.batch_size,
        progress=lambda table, done, total: say(f"batch {table} {done}/{total}"),
    )
    say("done")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.workers")
    parser.add_argument("operation", choices=[*OPERATIONS, "rotate"])
    parser.add_argument("--user", type=int)
    parser.add_argument("--unit", type=int)
    parser.add_argument("--patient")
    parser.add_argument("--organisation", type=int)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--hold-at", type=int, default=-1)
    parser.add_argument("--hold-after")
    parser.add_argument("--hold-count", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    arguments = parser.parse_args(argv)
    app = create_app()
    with app.app_context():
        if arguments.operation == "rotate":
            _rotate(arguments)
        else:
            _operations(arguments)


if __name__ == "__main__":
    main()
