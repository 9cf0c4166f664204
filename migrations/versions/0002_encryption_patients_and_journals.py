"""Field-level encryption (canaries, row identities, TOTP secrets sealed), patients, and the
hash-chained case journal and access log with triggers that refuse UPDATE and DELETE.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Data: existing TOTP secrets are read, the columns become binary, and the secrets are written
back sealed with the instance's current key (the key ring comes from the running app, so
`coordinator init` needs the key file or COORDINATOR_ENCRYPTION_KEYS, as it always does).
"""

import uuid

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TOTP_COLUMNS = ("totp_secret", "totp_pending_secret")
_CASE_SEALED_FIELDS = ("seq", "uid", "at", "author_id", "unit_id", "role", "patient_id", "kind",
                       "content_digest", "corrects_seq", "key_version", "prev_hash", "hash")  # fmt: skip


#: Chain positions: BIGINT, but INTEGER on SQLite so that the key is the rowid.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


_ROLE = ("coordinator", "manager", "admin")
_ACTIONS = ("read", "create", "change", "disclose", "print", "export", "search")
_KINDS = ("note", "case_opened", "case_transferred", "case_closed", "consent_recorded",
          "consent_withdrawn", "plan_created", "plan_changed", "contact_logged", "correction")  # fmt: skip


def _keys():
    return current_app.extensions["coordinator.keys"]


def upgrade():
    op.create_table(
        "encryption_canaries",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_encryption_canaries")),
    )
    _seal_totp_secrets()
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("personnummer", sa.LargeBinary(), nullable=False),
        sa.Column("personnummer_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("first_name", sa.LargeBinary(), nullable=False),
        sa.Column("last_name", sa.LargeBinary(), nullable=False),
        sa.Column("last_name_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name=op.f("fk_patients_unit_id_care_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("uid", name=op.f("uq_patients_uid")),
    )
    op.create_index(op.f("ix_patients_unit_id"), "patients", ["unit_id"])
    op.create_index(op.f("ix_patients_personnummer_bidx"), "patients", ["personnummer_bidx"])
    op.create_index(op.f("ix_patients_last_name_bidx"), "patients", ["last_name_bidx"])
    _create_journals()
    _create_guards()


def _seal_totp_secrets():
    """Give users a row identity and move their TOTP secrets behind encryption."""
    from coordinator.crypto.envelope import seal

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("uid", sa.Uuid(), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("uid", sa.Uuid),
                     *(sa.column(name, sa.String) for name in _TOTP_COLUMNS))  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, *(users.c[n] for n in _TOTP_COLUMNS))).all()
    identities = {row.id: uuid.uuid4() for row in rows}
    for user_id, identity in identities.items():
        connection.execute(users.update().where(users.c.id == user_id).values(uid=identity))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("uid", existing_type=sa.Uuid(), nullable=False)
        batch.create_unique_constraint(op.f("uq_users_uid"), ["uid"])
        for name in _TOTP_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("users") as batch:
        for name in _TOTP_COLUMNS:
            batch.add_column(sa.Column(name, sa.LargeBinary(), nullable=True))
    sealed_users = sa.table("users", sa.column("id", sa.Integer),
                            *(sa.column(name, sa.LargeBinary) for name in _TOTP_COLUMNS))  # fmt: skip
    keys = _keys() if any(row[1] or row[2] for row in rows) else None
    for row in rows:
        values = {
            name: seal(keys, "users", name, identities[row.id].hex, secret.encode())
            for name, secret in zip(_TOTP_COLUMNS, row[1:], strict=True)
            if secret
        }
        if values:
            connection.execute(sealed_users.update().where(sealed_users.c.id == row.id).values(**values))


def _create_journals():
    heads = op.create_table(
        "journal_heads",
        sa.Column("chain", _enum("chain", "access", "case"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_journal_heads")),
    )
    op.bulk_insert(heads, [{"chain": "access", "seq": 0, "hash": bytes(32)},
                           {"chain": "case", "seq": 0, "hash": bytes(32)}])  # fmt: skip
    op.create_table(
        "access_log",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("role", _enum("role", *_ROLE), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("action", _enum("accessaction", *_ACTIONS), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_access_log_patient_id_patients")),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name=op.f("fk_access_log_unit_id_care_units")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_access_log_user_id_users")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_at"), "access_log", ["at"])
    op.create_index("ix_access_log_patient_id_at", "access_log", ["patient_id", "at"])
    op.create_index("ix_access_log_user_id_at", "access_log", ["user_id", "at"])
    op.create_table(
        "case_journal",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("role", _enum("role", *_ROLE), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("entrykind", *_KINDS), nullable=False),
        sa.Column("heading", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("corrects_seq", sa.BigInteger(), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_case_journal_author_id_users")),
        sa.ForeignKeyConstraint(["corrects_seq"], ["case_journal.seq"], name=op.f("fk_case_journal_corrects_seq_case_journal")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_case_journal_patient_id_patients")),
        sa.ForeignKeyConstraint(["unit_id"], ["care_units.id"], name=op.f("fk_case_journal_unit_id_care_units")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_case_journal")),
        sa.UniqueConstraint("uid", name=op.f("uq_case_journal_uid")),
    )
    op.create_index("ix_case_journal_patient_id_seq", "case_journal", ["patient_id", "seq"])


# -- guards: the database itself refuses to rewrite history --------------------------------

_SQLITE_GUARDS = (
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    # Only the sealed heading and body may be rewritten (re-encryption under a new key).
    f"CREATE TRIGGER case_journal_no_update BEFORE UPDATE OF {', '.join(_CASE_SEALED_FIELDS)} "
    "ON case_journal BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
    "CREATE TRIGGER case_journal_no_delete BEFORE DELETE ON case_journal "
    "BEGIN SELECT RAISE(ABORT, 'case_journal is append-only'); END",
    "CREATE TRIGGER journal_heads_no_delete BEFORE DELETE ON journal_heads "
    "BEGIN SELECT RAISE(ABORT, 'journal heads are permanent'); END",
    "CREATE TRIGGER journal_heads_forward_only BEFORE UPDATE ON journal_heads "
    "WHEN NEW.seq < OLD.seq OR NEW.chain IS NOT OLD.chain "
    "BEGIN SELECT RAISE(ABORT, 'journal heads only move forward'); END",
)

_POSTGRES_GUARDS = (
    """CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE FUNCTION case_journal_reencrypt_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (to_jsonb(NEW) - 'heading' - 'body') IS DISTINCT FROM
           (to_jsonb(OLD) - 'heading' - 'body') THEN
            RAISE EXCEPTION 'case_journal is append-only' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION journal_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.seq < OLD.seq OR NEW.chain IS DISTINCT FROM OLD.chain THEN
            RAISE EXCEPTION 'journal heads only move forward' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER case_journal_no_update BEFORE UPDATE ON case_journal "
    "FOR EACH ROW EXECUTE FUNCTION case_journal_reencrypt_only()",
    "CREATE TRIGGER case_journal_no_delete BEFORE DELETE ON case_journal "
    "FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER case_journal_no_truncate BEFORE TRUNCATE ON case_journal "
    "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER journal_heads_no_delete BEFORE DELETE ON journal_heads "
    "FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER journal_heads_no_truncate BEFORE TRUNCATE ON journal_heads "
    "FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()",
    "CREATE TRIGGER journal_heads_forward_only BEFORE UPDATE ON journal_heads "
    "FOR EACH ROW EXECUTE FUNCTION journal_heads_forward_only()",
)


def _create_guards():
    guards = _POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def _drop_guards():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("journal_append_only", "case_journal_reencrypt_only", "journal_heads_forward_only"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
        return
    for name in ("access_log_no_update", "access_log_no_delete", "case_journal_no_update",
                 "case_journal_no_delete", "journal_heads_no_delete", "journal_heads_forward_only"):  # fmt: skip
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def downgrade():
    # Undoing this revision discards the journals: only sensible on a development database.
    _drop_guards()
    op.drop_table("case_journal")
    op.drop_table("access_log")
    op.drop_table("journal_heads")
    op.drop_table("patients")
    _unseal_totp_secrets()
    op.drop_table("encryption_canaries")


def _unseal_totp_secrets():
    from coordinator.crypto.envelope import open_sealed

    users = sa.table("users", sa.column("id", sa.Integer), sa.column("uid", sa.Uuid),
                     *(sa.column(name, sa.LargeBinary) for name in _TOTP_COLUMNS))  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.uid, *(users.c[n] for n in _TOTP_COLUMNS))).all()
    keys = _keys() if any(row[2] or row[3] for row in rows) else None
    plain = {
        row.id: {
            name: open_sealed(keys, "users", name, row.uid.hex, sealed).decode()
            for name, sealed in zip(_TOTP_COLUMNS, row[2:], strict=True)
            if sealed
        }
        for row in rows
    }
    with op.batch_alter_table("users") as batch:
        for name in _TOTP_COLUMNS:
            batch.drop_column(name)
        batch.drop_constraint(op.f("uq_users_uid"), type_="unique")
        batch.drop_column("uid")
    with op.batch_alter_table("users") as batch:
        for name in _TOTP_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=64), nullable=True))
    plain_users = sa.table("users", sa.column("id", sa.Integer),
                           *(sa.column(name, sa.String) for name in _TOTP_COLUMNS))  # fmt: skip
    for user_id, values in plain.items():
        if values:
            connection.execute(plain_users.update().where(plain_users.c.id == user_id).values(**values))
