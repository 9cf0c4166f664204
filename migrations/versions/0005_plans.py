"""Rehabilitation plans: mappings, plans with versions, measures and follow-ups, treatments
under the state agreements; users get a work phone (printed on the patient's plan).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

History guards: a signed mapping and an agreed plan version never change again, and
follow-ups are append-only — only their sealed (encrypted) columns may be rewritten, by key
rotation. Triggers refuse everything else, as for the consents (0004's sealed_columns_only()
on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Tables whose rows are fixed once ``condition`` holds (None: from the start), and their
#: sealed columns.
_GUARDED = {
    "mappings": ("signed_at IS NOT NULL", ("work_situation", "life_situation", "health",
                                          "obstacles", "resources", "own_goal", "return_belief",
                                          "risk_factors")),
    "plan_versions": ("agreed_on IS NOT NULL", ("goal_text", "intermediate_goals",
                                                "agreement_note")),
    "plan_follow_ups": (None, ("notes",)),
}


def upgrade():
    op.create_table('mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lock', sa.Integer(), nullable=False),
    sa.Column('work_situation', sa.LargeBinary(), nullable=True),
    sa.Column('life_situation', sa.LargeBinary(), nullable=True),
    sa.Column('health', sa.LargeBinary(), nullable=True),
    sa.Column('obstacles', sa.LargeBinary(), nullable=True),
    sa.Column('resources', sa.LargeBinary(), nullable=True),
    sa.Column('own_goal', sa.LargeBinary(), nullable=True),
    sa.Column('return_belief', sa.LargeBinary(), nullable=True),
    sa.Column('risk_factors', sa.LargeBinary(), nullable=True),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['coordination_cases.id'], name=op.f('fk_mappings_case_id_coordination_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_mappings_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_mappings_patient_id_patients')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_mappings_signed_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['care_units.id'], name=op.f('fk_mappings_unit_id_care_units')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_mappings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mappings')),
    sa.UniqueConstraint('case_id', 'number', name=op.f('uq_mappings_case_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_mappings_uid'))
    )
    with op.batch_alter_table('mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mappings_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mappings_unit_id'), ['unit_id'], unique=False)

    op.create_table('rehab_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('next_follow_up_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lock', sa.Integer(), nullable=False),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['coordination_cases.id'], name=op.f('fk_rehab_plans_case_id_coordination_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rehab_plans_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_rehab_plans_patient_id_patients')),
    sa.ForeignKeyConstraint(['unit_id'], ['care_units.id'], name=op.f('fk_rehab_plans_unit_id_care_units')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_rehab_plans_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rehab_plans')),
    sa.UniqueConstraint('case_id', name=op.f('uq_rehab_plans_case_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_rehab_plans_uid'))
    )
    with op.batch_alter_table('rehab_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rehab_plans_next_follow_up_on'), ['next_follow_up_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_rehab_plans_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rehab_plans_unit_id'), ['unit_id'], unique=False)

    op.create_table('treatments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.Enum('own_unit', 'other_unit', 'private_provider', name='treatmentprovider', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_type', sa.Enum('public', 'private', name='providertype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('sessions', sa.SmallInteger(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lock', sa.Integer(), nullable=False),
    sa.Column('kind', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['coordination_cases.id'], name=op.f('fk_treatments_case_id_coordination_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_treatments_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatments_patient_id_patients')),
    sa.ForeignKeyConstraint(['unit_id'], ['care_units.id'], name=op.f('fk_treatments_unit_id_care_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatments')),
    sa.UniqueConstraint('uid', name=op.f('uq_treatments_uid'))
    )
    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatments_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatments_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatments_unit_id'), ['unit_id'], unique=False)

    op.create_table('plan_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('goal', sa.Enum('own_job', 'other_job_at_employer', 'new_job', 'studies', name='returngoal', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('goal_degree', sa.SmallInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('target_on', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('agreed_on', sa.Date(), nullable=True),
    sa.Column('agreement_method', sa.Enum('meeting', 'phone', 'written', 'digital', name='agreementmethod', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('agreed_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('goal_text', sa.LargeBinary(), nullable=True),
    sa.Column('intermediate_goals', sa.LargeBinary(), nullable=True),
    sa.Column('agreement_note', sa.LargeBinary(), nullable=True),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agreed_recorded_by_id'], ['users.id'], name=op.f('fk_plan_versions_agreed_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_plan_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['rehab_plans.id'], name=op.f('fk_plan_versions_plan_id_rehab_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_plan_versions_plan_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_plan_versions_uid'))
    )
    op.create_table('measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('carried_from_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.Enum('care_unit', 'employer', 'social_insurance', 'employment_service', 'municipality', 'occupational_health', 'patient', name='responsibleactor', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('planned', 'ongoing', 'done', 'cancelled', name='measurestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('description', sa.LargeBinary(), nullable=False),
    sa.Column('actor_name', sa.LargeBinary(), nullable=True),
    sa.Column('outcome', sa.LargeBinary(), nullable=True),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['carried_from_id'], ['measures.id'], name=op.f('fk_measures_carried_from_id_measures')),
    sa.ForeignKeyConstraint(['version_id'], ['plan_versions.id'], name=op.f('fk_measures_version_id_plan_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measures')),
    sa.UniqueConstraint('uid', name=op.f('uq_measures_uid'))
    )
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measures_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_measures_version_id'), ['version_id'], unique=False)

    op.create_table('plan_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('next_on', sa.Date(), nullable=True),
    sa.Column('ended_plan', sa.Boolean(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notes', sa.LargeBinary(), nullable=False),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['rehab_plans.id'], name=op.f('fk_plan_follow_ups_plan_id_rehab_plans')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_plan_follow_ups_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['plan_versions.id'], name=op.f('fk_plan_follow_ups_version_id_plan_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_follow_ups')),
    sa.UniqueConstraint('uid', name=op.f('uq_plan_follow_ups_uid'))
    )
    with op.batch_alter_table('plan_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_follow_ups_plan_id'), ['plan_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
    _create_guards()


def downgrade():
    _drop_guards()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')

    with op.batch_alter_table('plan_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_follow_ups_plan_id'))

    op.drop_table('plan_follow_ups')
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measures_version_id'))
        batch_op.drop_index(batch_op.f('ix_measures_due_on'))

    op.drop_table('measures')
    op.drop_table('plan_versions')
    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatments_unit_id'))
        batch_op.drop_index(batch_op.f('ix_treatments_patient_id'))
        batch_op.drop_index(batch_op.f('ix_treatments_case_id'))

    op.drop_table('treatments')
    with op.batch_alter_table('rehab_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rehab_plans_unit_id'))
        batch_op.drop_index(batch_op.f('ix_rehab_plans_patient_id'))
        batch_op.drop_index(batch_op.f('ix_rehab_plans_next_follow_up_on'))

    op.drop_table('rehab_plans')
    with op.batch_alter_table('mappings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mappings_unit_id'))
        batch_op.drop_index(batch_op.f('ix_mappings_patient_id'))

    op.drop_table('mappings')


def _create_guards():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, (condition, sealed) in _GUARDED.items():
        when = f"WHEN (OLD.{condition}) " if condition else ""
        if postgres:
            arguments = ", ".join(f"'{column}'" for column in sealed)
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW "
                       f"{when}EXECUTE FUNCTION sealed_columns_only({arguments})")
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW "
                       f"{when}EXECUTE FUNCTION journal_append_only()")
            continue
        columns = [row[1] for row in op.get_bind().exec_driver_sql(f"PRAGMA table_info({table})")]
        plain = ", ".join(column for column in columns if column not in sealed)
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OF {plain} ON {table} "
                   f"{when}BEGIN SELECT RAISE(ABORT, '{table} is history'); END")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"{when}BEGIN SELECT RAISE(ABORT, '{table} is history'); END")


def _drop_guards():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _GUARDED:
        for suffix in ("no_update", "no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}" + (f" ON {table}" if postgres else ""))
