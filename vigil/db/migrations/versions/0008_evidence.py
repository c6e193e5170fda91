"""evidence: the vault's items, their chain of custody, exposures and viewing preferences

Revision ID: 0008_evidence
Revises: 0007_approvals
Create Date: 2026-12-02 17:10:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008_evidence'
down_revision = '0007_approvals'
branch_labels = None
depends_on = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('evidence',
    sa.Column('id', _s(40), nullable=False),
    sa.Column('incident_id', _s(32), nullable=False),
    sa.Column('category', _s(32), nullable=False),
    sa.Column('sha256', _s(64), nullable=False),
    sa.Column('perceptual_hash', _s(80), nullable=True),
    sa.Column('media_type', _s(100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('graphic', sa.Boolean(), nullable=False),
    sa.Column('uploaded_by', _s(64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('preserved_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('legal_hold_by', _s(64), nullable=True),
    sa.Column('legal_hold_reason', sa.Text(), nullable=True),
    sa.Column('blob_key', _s(200), nullable=False),
    sa.Column('thumbnail_key', _s(200), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', _s(64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_incident_uploaded', ['incident_id', 'uploaded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_sha256'), ['sha256'], unique=False)

    op.create_table('evidence_custody',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', _s(40), nullable=False),
    sa.Column('incident_id', _s(32), nullable=False),
    sa.Column('event', _s(24), nullable=False),
    sa.Column('actor', _s(64), nullable=False),
    sa.Column('actor_role', _s(16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_custody', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_custody_evidence_id'), ['evidence_id'], unique=False)

    op.create_table('exposures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person', _s(64), nullable=False),
    sa.Column('incident_id', _s(32), nullable=False),
    sa.Column('evidence_id', _s(40), nullable=True),
    sa.Column('content_index', sa.Integer(), nullable=True),
    sa.Column('category', _s(32), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('kind', _s(16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.create_index('ix_exposures_person_at', ['person', 'at'], unique=False)

    op.create_table('viewing_preferences',
    sa.Column('person', _s(64), nullable=False),
    sa.Column('blur', sa.Integer(), nullable=False),
    sa.Column('greyscale', sa.Boolean(), nullable=False),
    sa.Column('autoplay', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', _s(64), nullable=False),
    sa.PrimaryKeyConstraint('person')
    )


def downgrade() -> None:
    op.drop_table('viewing_preferences')
    with op.batch_alter_table('exposures', schema=None) as batch_op:
        batch_op.drop_index('ix_exposures_person_at')
    op.drop_table('exposures')
    with op.batch_alter_table('evidence_custody', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_custody_evidence_id'))
    op.drop_table('evidence_custody')
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_sha256'))
        batch_op.drop_index('ix_evidence_incident_uploaded')
    op.drop_table('evidence')
