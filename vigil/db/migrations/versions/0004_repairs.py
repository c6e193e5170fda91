"""repairs: resets of incidents whose history no longer replayed, with their reports

Revision ID: 0004_repairs
Revises: 0003_learning
Create Date: 2026-12-02 16:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_repairs"
down_revision = "0003_learning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repaired_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("old_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("new_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reset_event", sa.Integer(), nullable=False),
        sa.Column("diverging_event", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("repairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repairs_incident_id"), ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repairs_incident_id"))
    op.drop_table("repairs")
