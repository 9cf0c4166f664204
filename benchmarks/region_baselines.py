"""The baselines ``region.py`` measures the app against, in the same run and database: a bare
Flask app (no sign-in, journal or encryption) rendering the caseload table from plaintext
rows, and finding a personnummer by decrypting every patient's.
"""

from __future__ import annotations

from collections.abc import Sequence

# The sibling benchmarks' helpers: run as a script, this folder is on ``sys.path``.
from caseload import (
    Measured,
    StatementCounter,
    measure,
    rows_shown,
)
from flask import Flask, render_template_string, url_for
from region_bulk import Failed
from region_measure import page, timed_calls
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)

from coordinator.auth.models import User
from coordinator.crypto import runtime
from coordinator.extensions import db
from coordinator.patients.models import CoordinationCase, Patient

# -- baseline 1: the bare framework ---------------------------------------------------------

_PLAIN = MetaData()
PLAIN_CASELOAD = Table(
    "bench_plain_caseload",
    _PLAIN,
    Column("id", Integer, primary_key=True),
    Column("unit_id", Integer, index=True),
    Column("uid", String(36)),
    Column("last_name", String(100)),
    Column("first_name", String(100)),
    Column("personnummer", String(13)),
    Column("status", String(32)),
    Column("coordinator", String(200)),
    Column("sick_leave_days", SmallInteger),
    Column("sick_leave_degree", SmallInteger),
    Column("sick_leave_end", Date),
    Column("day_90_on", Date),
    Column("follow_up_on", Date),
)

BARE_TEMPLATE = """<!doctype html><title>Caseload</title>
<p id="caseload-count">{{ total }} patients</p>
<table class="list caseload"><thead><tr><th>Name</th><th>Personnummer</th><th>Status</th>
<th>Coordinator</th><th>Sick leave</th><th>Next milestone</th><th>Follow-up</th></tr></thead>
<tbody>
{% for row in rows %}
<tr>
<td><a href="{{ url_for('patient', uid=row.uid) }}">{{ row.last_name }}, {{ row.first_name }}</a></td>
<td>{{ row.personnummer[:8] }}-{{ row.personnummer[8:] }}</td><td>{{ row.status }}</td>
<td>{{ row.coordinator or "–" }}</td>
<td>{% if row.sick_leave_days %}Day {{ row.sick_leave_days }} · {{ row.sick_leave_degree }} %{% elif row.sick_leave_end %}Ended {{ row.sick_leave_end }}{% else %}–{% endif %}</td>
<td>{% if row.day_90_on %}Day 90: {{ row.day_90_on }}{% else %}–{% endif %}</td>
<td>{{ row.follow_up_on or "–" }}</td>
</tr>
{% endfor %}
</tbody></table>
"""  # noqa: E501


def fill_plain_caseload(unit_ids: Sequence[int]) -> int:
    """The measured units' patients as plaintext rows, what the caseload table shows."""
    _PLAIN.create_all(db.engine)
    rows = []
    query = (
        select(Patient, CoordinationCase)
        .join(CoordinationCase, CoordinationCase.patient_id == Patient.id)
        .where(Patient.unit_id.in_(unit_ids))
    )
    names = dict(db.session.execute(select(User.id, User.full_name)).all())
    for patient, case in db.session.execute(query):
        rows.append({
            "id": patient.id, "unit_id": patient.unit_id, "uid": str(patient.uid),
            "last_name": patient.last_name, "first_name": patient.first_name,
            "personnummer": patient.personnummer, "status": case.status.value,
            "coordinator": names.get(case.coordinator_id) if case.coordinator_id else None,
            "sick_leave_days": patient.sick_leave_days,
            "sick_leave_degree": patient.sick_leave_degree,
            "sick_leave_end": patient.sick_leave_end, "day_90_on": patient.day_90_on,
            "follow_up_on": case.follow_up_on,
        })  # fmt: skip
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(insert(PLAIN_CASELOAD), rows)
    return len(rows)


def bare_app(database_url: str, page_size: int) -> Flask:
    """The framework's ceiling: a route that counts and reads one page of the unit's plaintext
    rows, ordered by name, and renders them — no sign-in, journal or encryption."""
    app = Flask("bare")
    engine = create_engine(database_url)
    table = PLAIN_CASELOAD

    @app.get("/caseload/<int:unit_id>")
    def caseload(unit_id: int) -> str:
        with engine.connect() as connection:
            total = connection.scalar(
                select(func.count()).select_from(table).where(table.c.unit_id == unit_id)
            )
            rows = connection.execute(
                select(table)
                .where(table.c.unit_id == unit_id)
                .order_by(table.c.last_name, table.c.first_name, table.c.id)
                .limit(page_size)
            ).all()
        return render_template_string(BARE_TEMPLATE, rows=rows, total=total)

    @app.get("/patients/<uid>")
    def patient(uid: str) -> str:
        return uid

    app.extensions["bench.engine"] = engine
    with app.test_request_context():
        url_for("caseload", unit_id=1)
    return app


# -- baseline 2: decrypt-and-scan -----------------------------------------------------------


def decrypt_and_scan(number: str) -> int:
    """Find ``number`` without a blind index: open every patient's sealed personnummer and
    compare. Returns how many patients carry it."""
    keyring = runtime.keys()
    field_ = Patient.personnummer
    found = 0
    query = select(Patient.uid, Patient._personnummer_sealed)  # type: ignore[attr-defined]
    for uid, stored in db.session.execute(query.execution_options(yield_per=10_000)):
        if field_.decrypt(uid.hex, stored, keyring) == number:
            found += 1
    db.session.remove()
    return found


def measure_bare(app: Flask, unit_id: int, runs: int) -> Measured:
    client = app.test_client()
    counter = StatementCounter(app.extensions["bench.engine"])
    probe = page("bare caseload", f"/caseload/{unit_id}", lambda html: rows_shown(html) > 0)
    return measure(client, counter, probe, "bare", runs)


def measure_scan(number: str, runs: int) -> list[float]:
    def scan() -> int:
        found = decrypt_and_scan(number)
        if found != 1:
            raise Failed(f"decrypt-and-scan found {found} patients with the number, not 1")
        return found

    return timed_calls(runs, scan)[0]
