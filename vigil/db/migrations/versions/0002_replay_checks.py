"""replay checks: the watchdog's verdict on each open incident's history

Revision ID: 0002_replay_checks
Revises: 0001
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002_replay_checks"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replay_checks",
        sa.Column("incident_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("checked_seq", sa.Integer(), nullable=False),
        sa.Column("checked_events", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("divergence_event", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("diverged_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    with op.batch_alter_table("replay_checks", schema=None) as batch_op:
        batch_op.create_index("ix_replay_checks_result", ["result"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replay_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_replay_checks_result")
    op.drop_table("replay_checks")
