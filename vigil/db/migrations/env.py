"""Alembic environment: runs on the connection `vigil.db.engine.migrate` hands it."""

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import vigil.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # `alembic` run by hand: connect from the URL
        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("no sqlalchemy.url to migrate (vigil.db.engine.alembic_config(url) sets one)")
        engine = create_engine(url)
        with engine.begin() as connection:
            _migrate(connection)
    else:
        _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
