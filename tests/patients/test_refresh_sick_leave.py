"""`coordinator refresh-sick-leave`: the stored summaries follow a changed gap rule."""

from __future__ import annotations

from datetime import date

import time_machine
from flask import Flask

from coordinator.extensions import db
from coordinator.patients import certificates
from coordinator.patients.certificates import CertificateInput
from coordinator.patients.models import Patient
from tests.conftest import World
from tests.crypto.support import actor_for


def test_a_wider_gap_rule_joins_two_cases_into_one_after_the_refresh(
    app: Flask, world: World
) -> None:
    with time_machine.travel("2026-06-15 12:00:00+00:00", tick=False), app.app_context():
        actor = actor_for(world.coordinator_a, world.unit_a)
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        for start, end in (
            (date(2026, 4, 1), date(2026, 4, 30)),
            (date(2026, 5, 8), date(2026, 6, 30)),
        ):
            certificates.add_certificate(actor, patient, CertificateInput(start, end, 100, "M54.5"))
        db.session.commit()
        # Seven days without a certificate: two cases under the default rule of five.
        assert (patient.sick_leave_start, patient.sick_leave_days) == (date(2026, 5, 8), 54)
        assert patient.previous_sick_leave_end == date(2026, 4, 30)

        app.config["SICK_LEAVE_GAP_DAYS"] = 10
        result = app.test_cli_runner().invoke(args=["refresh-sick-leave", "--batch-size", "1"])

        assert result.exit_code == 0, result.output
        assert "Recomputed the sick leave of 2 patients (gap rule: 10 days)." in result.output
        db.session.expire_all()
        patient = db.session.get(Patient, world.patient_a.id)
        assert patient is not None
        assert (patient.sick_leave_start, patient.sick_leave_end) == (
            date(2026, 4, 1),
            date(2026, 6, 30),
        )
        assert (patient.sick_leave_days, patient.previous_sick_leave_end) == (84, None)
        assert patient.day_90_on == date(2026, 7, 6)
