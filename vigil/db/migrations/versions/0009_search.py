"""search: each incident's searchable words, full-text indexed; saved queue views per person

PostgreSQL indexes the words in a generated tsvector column (GIN, 'simple' configuration);
SQLite in an external-content FTS5 table kept in step by triggers. Existing incidents get
their words from the state the projection stored (vigil.db.search.document).

Revision ID: 0009_search
Revises: 0008_evidence
Create Date: 2026-12-03 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from vigil.db.search import document


revision = '0009_search'
down_revision = '0008_evidence'
branch_labels = None
depends_on = None

_SQLITE_INDEX = [
    "CREATE VIRTUAL TABLE incident_search_fts USING fts5(document, content='incident_search', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER incident_search_added AFTER INSERT ON incident_search BEGIN "
    "INSERT INTO incident_search_fts(rowid, document) VALUES (new.id, new.document); END",
    "CREATE TRIGGER incident_search_removed AFTER DELETE ON incident_search BEGIN "
    "INSERT INTO incident_search_fts(incident_search_fts, rowid, document) VALUES ('delete', old.id, old.document); END",
    "CREATE TRIGGER incident_search_changed AFTER UPDATE ON incident_search BEGIN "
    "INSERT INTO incident_search_fts(incident_search_fts, rowid, document) VALUES ('delete', old.id, old.document); "
    "INSERT INTO incident_search_fts(rowid, document) VALUES (new.id, new.document); END",
]
_POSTGRESQL_INDEX = [
    "ALTER TABLE incident_search ADD COLUMN terms tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', document)) STORED",
    "CREATE INDEX ix_incident_search_terms ON incident_search USING gin (terms)",
]


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('incident_search',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', _s(32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('incident_id'),
    )
    bind = op.get_bind()
    for statement in _POSTGRESQL_INDEX if bind.dialect.name == 'postgresql' else _SQLITE_INDEX:
        op.execute(statement)
    _backfill(bind)

    op.create_table('saved_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner', _s(64), nullable=False),
    sa.Column('name', _s(80), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_saved_views_owner_name', 'saved_views', ['owner', sa.text('lower(name)')], unique=True)


def _backfill(bind: sa.Connection) -> None:
    incidents = sa.table('incidents', sa.column('id'), sa.column('seq'), sa.column('state', sa.JSON()))
    search = sa.table('incident_search', sa.column('incident_id'), sa.column('seq'), sa.column('document'))
    last = ''
    while True:  # in pages by id: a year of incidents' states need not fit in memory
        page = bind.execute(
            sa.select(incidents.c.id, incidents.c.seq, incidents.c.state)
            .where(incidents.c.id > last).order_by(incidents.c.id).limit(1000)
        ).all()
        if not page:
            return
        values = [{'incident_id': i, 'seq': seq, 'document': document(state or {})} for i, seq, state in page]
        bind.execute(sa.insert(search), values)
        last = page[-1][0]


def downgrade() -> None:
    op.drop_index('ix_saved_views_owner_name', table_name='saved_views')
    op.drop_table('saved_views')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TABLE incident_search_fts')  # its triggers go with incident_search
    op.drop_table('incident_search')
