"""The contacts group of the coordinator's Today page: next steps agreed with external actors
that are due within a week or overdue.

A next step is settled by the next contact with the same organisation about the same patient
(whatever it was: the call back, the meeting held) — what the coordinator does anyway, so
nothing needs ticking off.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from coordinator.contacts.models import ContactEvent, Organisation
from coordinator.extensions import db
from coordinator.patients import today

#: How far ahead Today shows next steps.
NOTICE = timedelta(days=7)


def open_next_steps(
    unit_id: int, patient_ids: Iterable[int], until: date
) -> list[tuple[int, date, str]]:
    """(patient id, date, organisation name) of each unsettled next step due by ``until``,
    earliest first, for the given patients of the unit. One query."""
    later = aliased(ContactEvent)
    settled = exists().where(
        and_(
            later.patient_id == ContactEvent.patient_id,
            later.organisation_id == ContactEvent.organisation_id,
            later.occurred_at > ContactEvent.occurred_at,
        )
    )
    rows = db.session.execute(
        select(ContactEvent.patient_id, ContactEvent.next_step_on, Organisation.name)
        .join(Organisation, Organisation.id == ContactEvent.organisation_id)
        .where(
            ContactEvent.unit_id == unit_id,
            ContactEvent.patient_id.in_(list(patient_ids)),
            ContactEvent.next_step_on <= until,
            ~settled,
        )
        .order_by(ContactEvent.next_step_on, ContactEvent.id)
    )
    return [(patient_id, on, name) for patient_id, on, name in rows if on is not None]


@today.provider
def next_steps(context: today.Context) -> Iterable[today.Group]:
    unit = context.actor.unit
    if unit is None or not context.rows:
        return
    steps = open_next_steps(
        unit.id, [row.patient_id for row in context.rows], context.today + NOTICE
    )
    items = [
        (
            patient_id,
            str(_l("%(organisation)s, %(date)s", organisation=name, date=on.isoformat())),
        )
        for patient_id, on, name in steps
    ]
    yield today.Group("contact-next-steps", str(_l("Next steps with external actors")), items)
