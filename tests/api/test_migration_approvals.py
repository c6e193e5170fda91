"""Migration 0007_approvals on a database that already has people and tokens (SQLite)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from vigil import auth
from vigil.db.engine import alembic_config, make_engine


def _at_0005(tmp_path: Path, names: list[str]):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_communications")
        for name in names:
            connection.execute(
                text("INSERT INTO users (name, role, language, created_at) VALUES (:n, 'lead', 'en', :t)"),
                {"n": name, "t": datetime.now(UTC)},
            )
        connection.execute(
            text("INSERT INTO tokens (token_hash, user, created_at) VALUES (:h, :u, :t)"),
            {"h": auth.hash_token("vgl_old-token"), "u": names[0], "t": datetime.now(UTC)},
        )
    return engine, config


def test_tokens_issued_before_0007_keep_working_and_mixed_case_names_stay_one_person(tmp_path: Path) -> None:
    engine, config = _at_0005(tmp_path, ["Lee"])
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with Session(engine) as session:
        principal = auth.authenticate(session, "vgl_old-token")
        assert principal is not None and principal.name == "Lee"
        with pytest.raises(auth.UserError, match="already exists"):
            auth.add_user(session, "lee", "lead")


def test_0007_refuses_names_that_differ_only_in_case(tmp_path: Path) -> None:
    engine, config = _at_0005(tmp_path, ["lee", "LEE"])
    with engine.begin() as connection, pytest.raises(RuntimeError, match="differ only in case: lee"):
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
