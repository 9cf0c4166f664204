"""Patient details and sick-leave summary, sick-leave certificates, coordination cases, new
case journal entry kinds, and the Today page's last visit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Data: every existing patient gets a coordination case (status new, no coordinator, opened when
the patient was registered), so that "the patient's current case" always exists.
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ROLE = ("coordinator", "manager", "admin")
_OLD_KINDS = ("note", "case_opened", "case_transferred", "case_closed", "consent_recorded",
              "consent_withdrawn", "plan_created", "plan_changed", "contact_logged", "correction")  # fmt: skip
_NEW_KINDS = _OLD_KINDS[:4] + ("case_updated", "screening_decided", "certificate_added",
                               "patient_updated") + _OLD_KINDS[4:]  # fmt: skip
_CASE_SEALED_FIELDS = ("seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
                       "content_digest", "corrects_seq", "key_version", "prev_hash", "hash")  # fmt: skip
_SQLITE_CASE_GUARDS = (
    f"CREATE TRIGGER case_journal_no_update BEFORE UPDATE OF {', '.join(_CASE_SEALED_FIELDS)} "
    "ON case_journal BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
    "CREATE TRIGGER case_journal_no_delete BEFORE DELETE ON case_journal "
    "BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
)


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _sealed(name):
    return sa.Column(name, sa.LargeBinary(), nullable=True)


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("today_seen_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("patients") as batch:
        for name in ("stated_gender", "phone", "email", "address"):
            batch.add_column(_sealed(name))
        batch.add_column(sa.Column(
            "employment",
            _enum("employment", "employed", "unemployed", "self_employed", "student", "other"),
            nullable=False, server_default="employed",
        ))  # fmt: skip
        batch.add_column(_sealed("occupation"))
        batch.add_column(_sealed("employer_name"))
        batch.add_column(sa.Column("is_protected", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))  # fmt: skip
        batch.add_column(sa.Column("sick_leave_start", sa.Date(), nullable=True))
        batch.add_column(sa.Column("sick_leave_end", sa.Date(), nullable=True))
        batch.add_column(sa.Column("sick_leave_days", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("sick_leave_degree", sa.SmallInteger(), nullable=True))
        for name in ("day_90_on", "day_180_on", "day_365_on", "previous_sick_leave_end"):
            batch.add_column(sa.Column(name, sa.Date(), nullable=True))
        batch.add_column(_sealed("diagnosis"))
        batch.add_column(
            sa.Column("certificate_added_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_patients_certificate_added_at", ["certificate_added_at"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("degree", sa.SmallInteger(), nullable=False),
        sa.Column("diagnosis_code", sa.LargeBinary(), nullable=False),
        sa.Column("doctor", sa.LargeBinary(), nullable=True),
        sa.Column("source", _enum("certificatesource", "manual", "import"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_certificates_created_by_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_certificates_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("uid", name=op.f("uq_certificates_uid")),
    )
    op.create_index("ix_certificates_patient_id_start_on", "certificates", ["patient_id", "start_on"])
    cases = op.create_table(
        "coordination_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", _enum("casestatus", "new", "offered", "active", "closed"), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("screening_decision", _enum("screeningdecision", "offer", "not_needed", "declined"), nullable=True),
        sa.Column("screening_reason", sa.LargeBinary(), nullable=True),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("outcome", _enum("caseoutcome", "returned_full_time", "returned_part_time",
                                   "other_occupation", "studies", "handed_over", "declined",
                                   "moved", "deceased"), nullable=True),  # fmt: skip
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["coordinator_id"], ["users.id"], name=op.f("fk_coordination_cases_coordinator_id_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_coordination_cases_patient_id_patients")),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name=op.f("fk_coordination_cases_unit_id_care_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_cases")),
        sa.UniqueConstraint("uid", name=op.f("uq_coordination_cases_uid")),
    )
    op.create_index("ix_coordination_cases_patient_id_id", "coordination_cases", ["patient_id", "id"])
    op.create_index(op.f("ix_coordination_cases_unit_id"), "coordination_cases", ["unit_id"])
    op.create_index(op.f("ix_coordination_cases_coordinator_id"), "coordination_cases", ["coordinator_id"])
    _open_cases_for_existing_patients(cases)
    _set_entry_kinds(_NEW_KINDS)


def _open_cases_for_existing_patients(cases):
    connection = op.get_bind()
    # Typed: SQLite returns the stored text of a timestamp to an untyped query, and the
    # DateTime column below refuses text (this failed on SQLite whenever patients existed).
    query = sa.text("SELECT id, unit_id, created_at FROM patients").columns(
        created_at=sa.DateTime(timezone=True)
    )
    patients = connection.execute(query).all()
    if patients:
        op.bulk_insert(cases, [
            {"uid": uuid.uuid4(), "patient_id": row.id, "unit_id": row.unit_id,
             "coordinator_id": None, "assigned_at": None, "status": "new",
             "opened_at": row.created_at, "version": 1}
            for row in patients
        ])  # fmt: skip


def _case_journal(kinds):
    """case_journal as 0002 created it, with ``kinds`` allowed (SQLite rebuilds the table)."""
    return sa.Table(
        "case_journal",
        sa.MetaData(),
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("role", _enum("role", *_ROLE), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("entrykind", *kinds), nullable=False),
        sa.Column("heading", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("corrects_seq", sa.BigInteger(), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_case_journal_author_id_users"),
        sa.ForeignKeyConstraint(["corrects_seq"], ["case_journal.seq"], name="fk_case_journal_corrects_seq_case_journal"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_case_journal_patient_id_patients"),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name="fk_case_journal_unit_id_care_units"),
        sa.PrimaryKeyConstraint("seq", name="pk_case_journal"),
        sa.UniqueConstraint("uid", name="uq_case_journal_uid"),
        sa.Index("ix_case_journal_patient_id_seq", "patient_id", "seq"),
    )


def _set_entry_kinds(kinds):
    """Widen (or narrow) the CHECK on case_journal.kind; no entry is changed.

    PostgreSQL swaps the constraint. SQLite cannot alter a CHECK, so the table is rebuilt:
    rows are copied as they are (the chain does not notice), and the append-only triggers,
    dropped with the old table, are created again.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_case_journal_entrykind"), "case_journal", type_="check")
        quoted = ", ".join(f"'{kind}'" for kind in kinds)
        op.create_check_constraint(op.f("ck_case_journal_entrykind"), "case_journal", f"kind IN ({quoted})")
        return
    with op.batch_alter_table(
        "case_journal", copy_from=_case_journal(kinds), recreate="always"
    ):
        pass
    for statement in _SQLITE_CASE_GUARDS:
        op.execute(statement)


def downgrade():
    # Refused (CHECK violation) while entries of the new kinds exist: they are history.
    _set_entry_kinds(_OLD_KINDS)
    op.drop_table("coordination_cases")
    op.drop_table("certificates")
    with op.batch_alter_table("patients") as batch:
        batch.drop_index("ix_patients_certificate_added_at")
        batch.drop_constraint(op.f("ck_patients_employment"), type_="check")
        for name in ("certificate_added_at", "diagnosis", "previous_sick_leave_end", "day_365_on",
                     "day_180_on", "day_90_on", "sick_leave_degree", "sick_leave_days",
                     "sick_leave_end", "sick_leave_start", "is_protected", "employer_name",
                     "occupation", "employment", "address", "email", "phone", "stated_gender"):  # fmt: skip
            batch.drop_column(name)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("today_seen_at")
