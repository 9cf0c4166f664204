"""Consents, their withdrawals and the disclosures they allow (append-only, guarded by
triggers); the access log learns the action "denied" and the case journal the kind
"disclosure".

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Data: none moves. Widening a CHECK on SQLite rebuilds the table; rows are copied as they are
(the chains do not notice) and the append-only triggers, dropped with the old table, are
created again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ROLE = ("coordinator", "manager", "admin")
_KINDS = ("coordination", "employer", "social_insurance", "employment_service", "municipality",
          "occupational_health", "care_provider")  # fmt: skip
_OLD_ACTIONS = ("read", "create", "change", "disclose", "print", "export", "search")
_NEW_ACTIONS = _OLD_ACTIONS + ("denied",)
_OLD_ENTRY_KINDS = ("note", "case_opened", "case_transferred", "case_closed", "case_updated",
                    "screening_decided", "certificate_added", "patient_updated", "consent_recorded",
                    "consent_withdrawn", "plan_created", "plan_changed", "contact_logged",
                    "correction")  # fmt: skip
_NEW_ENTRY_KINDS = _OLD_ENTRY_KINDS[:10] + ("disclosure",) + _OLD_ENTRY_KINDS[10:]

#: The new tables and their sealed (encrypted) columns: key rotation may rewrite those, and
#: nothing else may change.
_HISTORY = {
    "consents": ("recipient_name", "purpose", "form_reference", "note"),
    "consent_withdrawals": ("note",),
    "disclosures": ("recipient_name", "summary"),
}


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _fk(table, column, target):
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade():
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("consentkind", *_KINDS), nullable=False),
        sa.Column("answer", _enum("consentanswer", "given", "refused"), nullable=False),
        sa.Column("recipient_name", sa.LargeBinary(), nullable=True),
        sa.Column("purpose", sa.LargeBinary(), nullable=False),
        sa.Column("method", _enum("consentmethod", "oral", "written", "digital"), nullable=False),
        sa.Column("form_reference", sa.LargeBinary(), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("consents", "patient_id", "patients.id"),
        _fk("consents", "recorded_by_id", "users.id"),
        _fk("consents", "unit_id", "care_units.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("uid", name=op.f("uq_consents_uid")),
    )
    op.create_index("ix_consents_patient_id_kind", "consents", ["patient_id", "kind"])
    op.create_index(op.f("ix_consents_unit_id"), "consents", ["unit_id"])
    op.create_index(op.f("ix_consents_valid_until"), "consents", ["valid_until"])
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("consent_withdrawals", "consent_id", "consents.id"),
        _fk("consent_withdrawals", "recorded_by_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
        sa.UniqueConstraint("consent_id", name=op.f("uq_consent_withdrawals_consent_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_consent_withdrawals_uid")),
    )
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("recipient", _enum("consentkind", *_KINDS), nullable=False),
        sa.Column("recipient_name", sa.LargeBinary(), nullable=True),
        sa.Column("disclosed_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("disclosures", "consent_id", "consents.id"),
        _fk("disclosures", "patient_id", "patients.id"),
        _fk("disclosures", "recorded_by_id", "users.id"),
        _fk("disclosures", "unit_id", "care_units.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
        sa.UniqueConstraint("uid", name=op.f("uq_disclosures_uid")),
    )
    op.create_index(op.f("ix_disclosures_consent_id"), "disclosures", ["consent_id"])
    op.create_index("ix_disclosures_patient_id_disclosed_on", "disclosures", ["patient_id", "disclosed_on"])
    op.create_index(op.f("ix_disclosures_unit_id"), "disclosures", ["unit_id"])
    _create_history_guards()
    _set_choices(_NEW_ACTIONS, _NEW_ENTRY_KINDS)


def downgrade():
    # Refused (CHECK violation) while denied attempts or disclosures are logged: history.
    _set_choices(_OLD_ACTIONS, _OLD_ENTRY_KINDS)
    _drop_history_guards()
    op.drop_table("disclosures")
    op.drop_table("consent_withdrawals")
    op.drop_table("consents")


# -- guards: consents are history too ----------------------------------------------------------


def _create_history_guards():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            """CREATE FUNCTION sealed_columns_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (to_jsonb(NEW) - TG_ARGV) IS DISTINCT FROM (to_jsonb(OLD) - TG_ARGV) THEN
                    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                        USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN NEW;
            END $$"""
        )
    for table, sealed in _HISTORY.items():
        if postgres:
            arguments = ", ".join(f"'{column}'" for column in sealed)
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION sealed_columns_only({arguments})")  # fmt: skip
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION journal_append_only()")  # fmt: skip
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()")  # fmt: skip
            continue
        columns = [row[1] for row in op.get_bind().exec_driver_sql(f"PRAGMA table_info({table})")]
        plain = ", ".join(column for column in columns if column not in sealed)
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OF {plain} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")  # fmt: skip
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")  # fmt: skip


def _drop_history_guards():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS sealed_columns_only() CASCADE")
    for table in _HISTORY:
        for suffix in ("no_update", "no_delete", "no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}"
                       if op.get_bind().dialect.name == "postgresql"
                       else f"DROP TRIGGER IF EXISTS {table}_{suffix}")  # fmt: skip


# -- widening the journals' CHECK constraints ------------------------------------------------

_CASE_SEALED_FIELDS = ("seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
                       "content_digest", "corrects_seq", "key_version", "prev_hash", "hash")  # fmt: skip
_SQLITE_JOURNAL_GUARDS = (
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    f"CREATE TRIGGER case_journal_no_update BEFORE UPDATE OF {', '.join(_CASE_SEALED_FIELDS)} "
    "ON case_journal BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
    "CREATE TRIGGER case_journal_no_delete BEFORE DELETE ON case_journal "
    "BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
)


def _access_log(actions):
    """access_log as 0002 created it, with ``actions`` allowed."""
    return sa.Table(
        "access_log",
        sa.MetaData(),
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("role", _enum("role", *_ROLE), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("action", _enum("accessaction", *actions), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_access_log_patient_id_patients"),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name="fk_access_log_unit_id_care_units"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_access_log_user_id_users"),
        sa.PrimaryKeyConstraint("seq", name="pk_access_log"),
        sa.Index("ix_access_log_at", "at"),
        sa.Index("ix_access_log_patient_id_at", "patient_id", "at"),
        sa.Index("ix_access_log_user_id_at", "user_id", "at"),
    )


def _case_journal(kinds):
    """case_journal as 0002 created it, with ``kinds`` allowed."""
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


def _set_choices(actions, entry_kinds):
    """Set the values allowed in access_log.action and case_journal.kind; no row changes.

    PostgreSQL swaps the constraints. SQLite cannot alter a CHECK, so both tables are rebuilt
    and their append-only triggers created again.
    """
    if op.get_bind().dialect.name == "postgresql":
        for table, column, name, values in (
            ("access_log", "action", "ck_access_log_accessaction", actions),
            ("case_journal", "kind", "ck_case_journal_entrykind", entry_kinds),
        ):
            op.drop_constraint(op.f(name), table, type_="check")
            quoted = ", ".join(f"'{value}'" for value in values)
            op.create_check_constraint(op.f(name), table, f"{column} IN ({quoted})")
        return
    for table in (_access_log(actions), _case_journal(entry_kinds)):
        with op.batch_alter_table(table.name, copy_from=table, recreate="always"):
            pass
    for statement in _SQLITE_JOURNAL_GUARDS:
        op.execute(statement)
