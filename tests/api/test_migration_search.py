"""Migration 0009_search on a database that already has incidents: their words are indexed from
the state the projection stored, on SQLite and PostgreSQL, and the search finds them."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tests.api.conftest import fresh_pg_database
from vigil.api.listing import IncidentQuery, list_incidents
from vigil.db.engine import alembic_config, make_engine
from vigil.db.tables import IncidentRow


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with fresh_pg_database("vigil_migration_search") as url:
            yield url


def _row(number: int, description: str, note: str) -> dict:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    state = {
        "intake": {"title": f"Old incident {number}", "description": description, "content": []},
        "notes": [{"text": note, "by": "ana", "at": now.isoformat()}],
        "proposals": [],
    }
    return {
        "id": f"INC-2026-{number:06d}",
        "title": f"Old incident {number}",
        "channel": "user_report",
        "category": "spam_scam",
        "region": "NA",
        "language": "en",
        "severity": "SEV4",
        "status": "investigating",
        "opened_at": now,
        "updated_at": now,
        "seq": 3,
        "state": state,
    }


def test_incidents_taken_in_before_0009_are_found_by_their_words(old_database_url: str) -> None:
    engine = make_engine(old_database_url)
    config = alembic_config(old_database_url)
    rows = [_row(n, f"Phishing kit number {n}", f"Takedown asked of hoster{n}") for n in range(1, 1202)]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008_evidence")
        connection.execute(insert(IncidentRow.__table__), rows)  # type: ignore[attr-defined]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")  # past one page of the backfill (1,000)
    with Session(engine) as session:
        found, _next = list_incidents(session, IncidentQuery(text="hoster1201 takedown"))
        assert [r.id for r in found] == ["INC-2026-001201"]
        found, _next = list_incidents(session, IncidentQuery(text="phishing", limit=200))
        assert len(found) == 200
        assert list_incidents(session, IncidentQuery(text="quokka"))[0] == []
    engine.dispose()
