"""INSERT ... ON CONFLICT for SQLite and PostgreSQL: how every projection write stays idempotent."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult
from sqlalchemy import update as update_statement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from vigil.db.tables import table_of


def _insert(session: Session, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    table = table_of(model)
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_ignore(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows; rows whose key already exists are left as they are. Returns rows inserted,
    counted from RETURNING: psycopg 3 reports a rowcount of -1 for these inserts, which read as
    "inserted" and let a concurrent writer's row go un-updated (see `upsert`)."""
    if not rows:
        return 0
    keys = table_of(model).primary_key.columns
    # The rows as parameters, not in the statement: one statement per table, compiled once and
    # cached (with the rows in VALUES every batch's shape compiled afresh: 0.33 ms a call against
    # 0.21); SQLAlchemy still sends them as one multi-row INSERT ("insertmanyvalues").
    statement = _insert(session, model).on_conflict_do_nothing().returning(*keys)
    return len(session.execute(statement, list(rows)).all())


def upsert(
    session: Session,
    model: type[SQLModel],
    row: dict[str, Any],
    keys: Sequence[str],
    update: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> None:
    """Insert the row, or update `update` columns of the existing one (only `where` it holds).

    A plain UPDATE first, then an INSERT ... ON CONFLICT DO NOTHING if no row was there:
    SQLAlchemy caches the compiled UPDATE, while it compiles every ON CONFLICT statement afresh
    (its dialect inserts opt out of the cache), and the projection upserts on every batch. If
    another writer inserted the row between the two, the UPDATE runs once more.
    """
    table = table_of(model)
    matches = [table.c[key] == row[key] for key in keys]
    if where is not None:
        matches.append(where)
    changes = update_statement(table).where(*matches).values({column: row[column] for column in update})
    # An UPDATE's result is a CursorResult; Session.execute is typed as the general Result.
    updated = cast(CursorResult[Any], session.execute(changes)).rowcount
    if updated or insert_ignore(session, model, [row]):
        return
    session.execute(changes)
