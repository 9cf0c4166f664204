"""Managers' reports: indicator targets, the population of a unit's area, and when a case's
coordination began.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Targets and populations are history (the latest row is in force). ``activated_at`` lets the
indicators count the cases active at a past date. Cases activated before this revision get
the best date known: the screening decision's time for a case that was offered coordination
and is active or was closed with another outcome than "declined" (activation follows the
offer, usually within days); other cases were never active and keep it empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "indicator_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "indicator",
            sa.Enum(
                "plan_coverage",
                "coordination_decided",
                "days_to_first_contact",
                "plan_followed_up",
                name="indicator",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_indicator_targets_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["care_units.id"], name=op.f("fk_indicator_targets_unit_id_care_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_targets")),
    )
    op.create_index(
        "ix_indicator_targets_unit_id_indicator", "indicator_targets", ["unit_id", "indicator"]
    )
    op.create_table(
        "unit_populations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_unit_populations_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["care_units.id"], name=op.f("fk_unit_populations_unit_id_care_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_populations")),
    )
    op.create_index(op.f("ix_unit_populations_unit_id"), "unit_populations", ["unit_id"])
    with op.batch_alter_table("coordination_cases") as batch_op:
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE coordination_cases SET activated_at = screened_at "
        "WHERE screening_decision = 'offer' AND (status = 'active' "
        "OR (status = 'closed' AND outcome <> 'declined'))"
    )


def downgrade():
    with op.batch_alter_table("coordination_cases") as batch_op:
        batch_op.drop_column("activated_at")
    op.drop_index(op.f("ix_unit_populations_unit_id"), table_name="unit_populations")
    op.drop_table("unit_populations")
    op.drop_index("ix_indicator_targets_unit_id_indicator", table_name="indicator_targets")
    op.drop_table("indicator_targets")
