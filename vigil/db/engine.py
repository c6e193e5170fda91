"""Engine and sessions for SQLite (default) and PostgreSQL, and schema migration at start-up."""

import contextlib
import fcntl
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from vigil.config import settings
from vigil.files import private_file

_MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _private_database(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # WAL lets the API read while the worker writes; the worker and API are separate
            # processes, so writers wait on busy_timeout instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Freed pages are zeroed: an old row's text (a reporter before 0006_privacy) is not left in the file.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _private_database(path: Path) -> None:
    """The database file 0600 before SQLite opens it (SQLite gives its -wal and -shm the same mode)."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):  # left by an older Vigil, created 0644
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(0o600)


@cache
def engine() -> Engine:
    """The process's engine for DATABASE_URL."""
    return make_engine(settings().database_url)


@contextlib.contextmanager
def session(bind: Engine | None = None) -> Iterator[Session]:
    with Session(bind or engine(), expire_on_commit=False) as s:
        yield s


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


@contextlib.contextmanager
def _migration_lock(bind: Engine) -> Iterator[None]:
    """Worker and API may start together: only one of them migrates at a time."""
    if bind.dialect.name == "postgresql":
        with bind.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(74201)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(74201)"))
                conn.commit()
        return
    database = bind.url.database
    if not database or database == ":memory:":
        yield
        return
    private_file(Path(f"{database}.migrate-lock"))
    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(bind: Engine | None = None) -> None:
    """Bring the schema to the latest Alembic revision."""
    bind = bind or engine()
    config = alembic_config(bind.url.render_as_string(hide_password=False))
    with _migration_lock(bind), bind.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
