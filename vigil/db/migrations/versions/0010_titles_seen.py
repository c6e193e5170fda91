"""titles seen: which sensitive incidents each person has opened, so lists show them the title

Revision ID: 0010_titles_seen
Revises: 0009_search
Create Date: 2026-12-03 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_titles_seen'
down_revision = '0009_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('titles_seen',
    sa.Column('person', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('incident_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('person', 'incident_id')
    )


def downgrade() -> None:
    op.drop_table('titles_seen')
