"""privacy: the projection keeps reporters encrypted (incidents.reporter_sealed), nowhere in plaintext;
console sessions signed out (revoked_sessions)

Revision ID: 0006_privacy
Revises: 0005_communications
Create Date: 2026-12-02 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_privacy'
down_revision = '0005_communications'
branch_labels = None
depends_on = None

_events = sa.table(
    'incident_events',
    sa.column('incident_id', sa.String()),
    sa.column('entry_no', sa.Integer()),
    sa.column('type', sa.String()),
    sa.column('action', sa.JSON()),
)
_incidents = sa.table(
    'incidents',
    sa.column('id', sa.String()),
    sa.column('state', sa.JSON()),
    sa.column('reporter_sealed', sa.Text()),
)


def upgrade() -> None:
    from vigil.need_to_know import seal_reporter, without_reporter  # the key ring the projection uses

    op.create_table('revoked_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('revoked_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_revoked_sessions_expires_at', ['expires_at'], unique=False)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_sealed', sa.Text(), nullable=True))
    bind = op.get_bind()
    # Rows written before: move each plaintext reporter into the encrypted column.
    for incident_id, state in bind.execute(sa.select(_incidents.c.id, _incidents.c.state)).all():
        reporter = (state or {}).get('intake', {}).get('reporter')
        if reporter is None:
            continue
        state['intake']['reporter'] = None
        bind.execute(
            _incidents.update()
            .where(_incidents.c.id == incident_id)
            .values(state=state, reporter_sealed=seal_reporter(reporter))
        )
    # The journal's opening actions carried the intake, reporter included: it is kept once, above.
    opening = sa.select(_events.c.incident_id, _events.c.entry_no, _events.c.action).where(_events.c.type == 'open')
    for incident_id, entry_no, action in bind.execute(opening).all():
        cleaned = without_reporter(action)
        if cleaned != action:
            bind.execute(
                _events.update()
                .where(_events.c.incident_id == incident_id, _events.c.entry_no == entry_no)
                .values(action=cleaned)
            )


def downgrade() -> None:
    from vigil.need_to_know import open_reporter

    bind = op.get_bind()
    for incident_id, state, sealed in bind.execute(
        sa.select(_incidents.c.id, _incidents.c.state, _incidents.c.reporter_sealed)
    ).all():
        if sealed:
            reporter = open_reporter(sealed)
            state['intake']['reporter'] = reporter.model_dump(mode='json') if reporter else None
            bind.execute(_incidents.update().where(_incidents.c.id == incident_id).values(state=state))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('reporter_sealed')
    with op.batch_alter_table('revoked_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_revoked_sessions_expires_at')
    op.drop_table('revoked_sessions')
