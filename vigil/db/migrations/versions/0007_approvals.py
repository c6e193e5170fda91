"""approvals: tokens record who issued them, enrolment secrets, user names unique in any case

Revision ID: 0007_approvals
Revises: 0006_privacy
Create Date: 2026-12-02 17:10:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007_approvals'
down_revision = '0006_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), server_default='access', nullable=False))
        batch_op.add_column(sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('enrolled_from', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    clashes = op.get_bind().execute(
        sa.text('SELECT lower(name) FROM users GROUP BY lower(name) HAVING count(*) > 1')
    ).scalars().all()
    if clashes:
        raise RuntimeError(
            'user names must be unique whatever their case; these differ only in case: '
            + ', '.join(sorted(clashes)) + ' (disable and rename one of each before upgrading)'
        )
    op.create_index('ix_users_name_lower', 'users', [sa.text('lower(name)')], unique=True)


def downgrade() -> None:
    op.drop_index('ix_users_name_lower', table_name='users')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('enrolled_from')
        batch_op.drop_column('used_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('issued_by')
        batch_op.drop_column('kind')
