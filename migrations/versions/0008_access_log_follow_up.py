"""Access-log follow-up: sample checks, chain verification runs and alarms, log purges.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

A signed sample check is final: triggers refuse changes to a signed check and its items,
except key rotation's re-encryption of the sealed comments, and refuse deleting any check.
Alarm acknowledgements and purge records are history like the journals. ``journal_heads``
learns where the kept part of each chain begins (``base_seq``, ``base_hash``) once older
access-log entries have been archived and purged; the base only moves forward. The access log
gets an index on (unit_id, seq) for the search of a unit's accesses.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ZERO_HASH = "00" * 32


def upgrade():
    op.create_table(
        "log_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.Date(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("boundary_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("archive_name", sa.String(length=255), nullable=False),
        sa.Column("archive_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_purges")),
    )
    op.create_table(
        "chain_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("access_verified", sa.BigInteger(), nullable=True),
        sa.Column("case_verified", sa.BigInteger(), nullable=True),
        sa.Column(
            "broken_chain",
            sa.Enum(
                "access", "case", name="chain", native_enum=False, create_constraint=True, length=32
            ),
            nullable=True,
        ),
        sa.Column("broken_seq", sa.BigInteger(), nullable=True),
        sa.Column("broken_reason", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["users.id"], name=op.f("fk_chain_verifications_started_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_verifications")),
    )
    op.create_index(
        op.f("ix_chain_verifications_started_at"), "chain_verifications", ["started_at"]
    )
    op.create_table(
        "log_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "coordinator",
                "manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seal", sa.LargeBinary(length=32), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=True),
        sa.Column("summary", sa.LargeBinary(), nullable=True),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_log_checks_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["care_units.id"], name=op.f("fk_log_checks_unit_id_care_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checks")),
        sa.UniqueConstraint("uid", name=op.f("uq_log_checks_uid")),
    )
    op.create_index(op.f("ix_log_checks_drawn_at"), "log_checks", ["drawn_at"])
    op.create_index(op.f("ix_log_checks_signed_at"), "log_checks", ["signed_at"])
    op.create_table(
        "chain_alarm_acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["care_units.id"],
            name=op.f("fk_chain_alarm_acknowledgements_unit_id_care_units"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chain_alarm_acknowledgements_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["verification_id"],
            ["chain_verifications.id"],
            name=op.f("fk_chain_alarm_acknowledgements_verification_id_chain_verifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_alarm_acknowledgements")),
        sa.UniqueConstraint(
            "verification_id", name=op.f("uq_chain_alarm_acknowledgements_verification_id")
        ),
    )
    op.create_table(
        "log_check_units",
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"], ["log_checks.id"], name=op.f("fk_log_check_units_check_id_log_checks")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["care_units.id"], name=op.f("fk_log_check_units_unit_id_care_units")
        ),
        sa.PrimaryKeyConstraint("check_id", "unit_id", name=op.f("pk_log_check_units")),
    )
    op.create_table(
        "log_check_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("access_seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("access_unit_id", sa.Integer(), nullable=True),
        sa.Column(
            "access_role",
            sa.Enum(
                "coordinator",
                "manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "read",
                "create",
                "change",
                "disclose",
                "print",
                "export",
                "search",
                "denied",
                name="accessaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column(
            "finding",
            sa.Enum(
                "justified",
                "follow_up",
                "unjustified",
                name="finding",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_unit_id"],
            ["care_units.id"],
            name=op.f("fk_log_check_items_access_unit_id_care_units"),
        ),
        sa.ForeignKeyConstraint(
            ["check_id"], ["log_checks.id"], name=op.f("fk_log_check_items_check_id_log_checks")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_log_check_items_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_log_check_items_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_check_items")),
        sa.UniqueConstraint("uid", name=op.f("uq_log_check_items_uid")),
    )
    op.create_index(
        "ix_log_check_items_check_id_position", "log_check_items", ["check_id", "position"]
    )
    # The follow-up's search of a unit's accesses (made there), newest first.
    op.create_index("ix_access_log_unit_id_seq", "access_log", ["unit_id", "seq"])
    _add_chain_base()
    _create_guards()


def _add_chain_base():
    postgres = op.get_bind().dialect.name == "postgresql"
    zero = f"'\\x{_ZERO_HASH}'::bytea" if postgres else f"X'{_ZERO_HASH}'"
    # Plain ADD COLUMN (not a batch copy): SQLite would drop journal_heads' triggers with it.
    op.add_column("journal_heads", sa.Column("base_seq", sa.BigInteger(), nullable=False,
                                             server_default=sa.text("0")))  # fmt: skip
    base_hash = sa.Column("base_hash", sa.LargeBinary(length=32), nullable=False,
                          server_default=sa.text(zero))  # fmt: skip
    op.add_column("journal_heads", base_hash)


#: Sealed columns key rotation may rewrite in a signed check.
_SEALED = {"log_checks": ("summary",), "log_check_items": ("comment",)}
#: When a row counts as signed, in the triggers.
_SIGNED = {
    "log_checks": "OLD.signed_at IS NOT NULL",
    "log_check_items": "(SELECT signed_at FROM log_checks WHERE id = OLD.check_id) IS NOT NULL",
}
_HISTORY = ("chain_alarm_acknowledgements", "log_purges")


def _create_guards():
    if op.get_bind().dialect.name == "postgresql":
        _create_postgres_guards()
    else:
        _create_sqlite_guards()


def _create_sqlite_guards():
    for table, sealed in _SEALED.items():
        columns = [row[1] for row in op.get_bind().exec_driver_sql(f"PRAGMA table_info({table})")]
        plain = ", ".join(column for column in columns if column not in sealed)
        op.execute(
            f"CREATE TRIGGER {table}_signed_final BEFORE UPDATE OF {plain} ON {table} "
            f"WHEN {_SIGNED[table]} "
            f"BEGIN SELECT RAISE(ABORT, '{table}: signed checks are final'); END"
        )
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} are never deleted'); END")  # fmt: skip
    for table in _HISTORY:
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")  # fmt: skip
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")  # fmt: skip
    op.execute("CREATE TRIGGER journal_heads_base_forward_only BEFORE UPDATE ON journal_heads "
               "WHEN NEW.base_seq < OLD.base_seq OR NEW.base_seq > NEW.seq "
               "BEGIN SELECT RAISE(ABORT, 'a chain base only moves forward'); END")  # fmt: skip


def _create_postgres_guards():
    for table, sealed in _SEALED.items():
        arguments = ", ".join(f"'{column}'" for column in sealed)
        op.execute(
            f"""CREATE FUNCTION {table}_signed_final() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {_SIGNED[table]}
                   AND (to_jsonb(NEW) - TG_ARGV) IS DISTINCT FROM (to_jsonb(OLD) - TG_ARGV) THEN
                    RAISE EXCEPTION '%: signed checks are final', TG_TABLE_NAME
                        USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN NEW;
            END $$"""
        )
        op.execute(f"CREATE TRIGGER {table}_signed_final BEFORE UPDATE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_signed_final({arguments})")  # fmt: skip
    for table in (*_SEALED, *_HISTORY):
        if table in _HISTORY:
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION journal_append_only()")  # fmt: skip
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION journal_append_only()")  # fmt: skip
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()")  # fmt: skip
    op.execute(
        """CREATE FUNCTION journal_heads_base_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.base_seq < OLD.base_seq OR NEW.base_seq > NEW.seq THEN
                RAISE EXCEPTION 'a chain base only moves forward'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END $$"""
    )
    op.execute("CREATE TRIGGER journal_heads_base_forward_only BEFORE UPDATE ON journal_heads "
               "FOR EACH ROW EXECUTE FUNCTION journal_heads_base_forward_only()")  # fmt: skip


def _drop_guards():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for name in ("log_checks_signed_final", "log_check_items_signed_final",
                     "journal_heads_base_forward_only"):  # fmt: skip
            op.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
    triggers = [("journal_heads", "journal_heads_base_forward_only")]
    for table in (*_SEALED, *_HISTORY):
        suffixes = ("signed_final", "no_update", "no_delete", "no_truncate")
        triggers += [(table, f"{table}_{suffix}") for suffix in suffixes]
    for table, name in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres
                   else f"DROP TRIGGER IF EXISTS {name}")  # fmt: skip


def downgrade():
    # Undoing this revision discards the signed checks: only sensible on a development database.
    _drop_guards()
    # Plain DROP COLUMN: a batch copy would drop journal_heads' own triggers on SQLite.
    op.drop_column("journal_heads", "base_hash")
    op.drop_column("journal_heads", "base_seq")
    op.drop_index("ix_access_log_unit_id_seq", table_name="access_log")
    op.drop_index("ix_log_check_items_check_id_position", table_name="log_check_items")
    op.drop_table("log_check_items")
    op.drop_table("log_check_units")
    op.drop_table("chain_alarm_acknowledgements")
    op.drop_index(op.f("ix_log_checks_signed_at"), table_name="log_checks")
    op.drop_index(op.f("ix_log_checks_drawn_at"), table_name="log_checks")
    op.drop_table("log_checks")
    op.drop_index(op.f("ix_chain_verifications_started_at"), table_name="chain_verifications")
    op.drop_table("chain_verifications")
    op.drop_table("log_purges")
