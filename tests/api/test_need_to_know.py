"""Need-to-know for reporters (vigil.need_to_know), on SQLite and PostgreSQL: who reported an
incident, and how to reach them, reaches leads and auditors only, through every answer; the
projection keeps it encrypted; Vigil's files are its owner's only."""

import asyncio
import json
import stat
import uuid
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.conftest import Stack, intake_body
from tests.helpers import eventually
from vigil.api.routers.events import stream
from vigil.auth import Principal
from vigil.db.engine import alembic_config, make_engine, migrate
from vigil.db.tables import IncidentRow
from vigil.domain import Role
from vigil.need_to_know import open_reporter
from vigil.temporal.codec import load_or_create_keys

HIDDEN_FROM = ("ana", "adam")  # an analyst and an admin
SHOWN_TO = ("leo", "audrey")  # a lead and an auditor


def _reporter() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"name": f"Officer {tag}", "email": f"reporter-{tag}@policia.example"}


async def _open(stack: Stack, reporter: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await stack.post("/api/incidents", intake_body(reporter=reporter, **changes), "ana")
    assert response.status_code == 201, response.text
    return response.json()


async def _answers(stack: Stack, user: str, iid: str) -> dict[str, str]:
    """Every answer about the incident a reader gets, as text."""
    answers = {}
    for path in (
        f"/api/incidents/{iid}",
        f"/api/incidents/{iid}/timeline",
        f"/api/incidents/{iid}/state",
        f"/api/incidents/{iid}/notifications",
        f"/api/incidents?id={iid}",
        "/api/approvals",
    ):
        response = await stack.get(path, user)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.text
    return answers


async def test_analysts_and_admins_never_read_the_reporter(stack: Stack) -> None:
    reporter = _reporter()
    incident = await _open(stack, reporter, external_ref=f"ntk-{uuid.uuid4().hex[:8]}")
    iid = incident["id"]
    assert incident["intake"]["reporter"] is None  # the analyst's own intake answer
    acted = await stack.act(iid, {"type": "acknowledge"}, "ana")
    assert acted.status_code == 200 and acted.json()["intake"]["reporter"] is None
    again = await stack.post(
        "/api/incidents", intake_body(reporter=reporter, external_ref=incident["intake"]["external_ref"]), "bea"
    )
    assert again.status_code == 200 and again.json()["intake"]["reporter"] is None
    for user in HIDDEN_FROM:
        answers = await _answers(stack, user, iid)
        for path, answer in answers.items():
            assert reporter["email"] not in answer and reporter["name"] not in answer, (user, path)
        assert json.loads(answers[f"/api/incidents/{iid}"])["intake"]["reporter"] is None
        assert json.loads(answers[f"/api/incidents/{iid}/state"])["state"]["intake"]["reporter"] is None


async def test_leads_and_auditors_read_the_reporter(stack: Stack) -> None:
    reporter = _reporter()
    iid = (await _open(stack, reporter))["id"]
    for user in SHOWN_TO:
        one = (await stack.get(f"/api/incidents/{iid}", user)).json()
        assert one["intake"]["reporter"] == reporter, user
        after = (await stack.get(f"/api/incidents/{iid}/state", user)).json()
        assert after["state"]["intake"]["reporter"] == reporter, user
    acted = await stack.act(iid, {"type": "acknowledge"}, "leo")
    assert acted.json()["intake"]["reporter"] == reporter


async def test_the_event_stream_carries_no_reporter(stack: Stack) -> None:
    reporter = _reporter()
    iid = (await _open(stack, reporter))["id"]
    await stack.act(iid, {"type": "add_note", "text": "seen"}, "ana")
    events: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def gone() -> bool:
        return stop.is_set()

    async def collect() -> None:
        async for event in stream(stack.engine, Principal(name="ana", role=Role.ANALYST), 0, gone):
            events.append(event)
            if any(e["event"] == "change" and iid in e["data"] and "add_note" in e["data"] for e in events):
                stop.set()
                return

    await asyncio.wait_for(collect(), 30)
    assert any(iid in e["data"] for e in events)
    assert not [e for e in events if reporter["email"] in json.dumps(e) or reporter["name"] in json.dumps(e)]


def _row(stack: Stack, iid: str) -> IncidentRow | None:
    with Session(stack.engine) as session:
        return session.get(IncidentRow, iid)


async def test_the_projection_keeps_the_reporter_encrypted(stack: Stack) -> None:
    reporter = _reporter()
    iid = (await _open(stack, reporter))["id"]
    row = await eventually(lambda: _row(stack, iid))
    assert row.state["intake"]["reporter"] is None
    assert row.reporter_sealed and reporter["email"] not in row.reporter_sealed
    assert open_reporter(row.reporter_sealed).model_dump() == reporter  # type: ignore[union-attr]
    with stack.engine.connect() as conn:
        everything = " ".join(
            str(r) for r in conn.execute(text("SELECT * FROM incidents WHERE id = :id"), {"id": iid}).all()
        )
    assert reporter["email"] not in everything and reporter["name"] not in everything


async def test_the_sqlite_file_and_its_wal_hold_no_reporter_and_are_private(sqlite_stack: Stack) -> None:
    reporter = _reporter()
    iid = (await _open(sqlite_stack, reporter))["id"]
    await sqlite_stack.act(iid, {"type": "acknowledge"}, "ana")
    await eventually(lambda: _row(sqlite_stack, iid))
    database = Path(sqlite_stack.engine.url.database or "")
    files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    assert all(f.exists() for f in files), files
    for path in files:
        raw = path.read_bytes()
        assert reporter["email"].encode() not in raw and reporter["name"].encode() not in raw, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))


def test_a_new_sqlite_database_is_created_private(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'vigil.db'}")
    migrate(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        created = sorted(tmp_path.joinpath("home").iterdir())
        assert {p.name for p in created} >= {"vigil.db", "vigil.db-wal", "vigil.db-shm"}
        for path in created:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
    engine.dispose()


async def test_migration_0006_encrypts_the_reporters_already_stored(sqlite_stack: Stack, tmp_path: Path) -> None:
    reporter = _reporter()
    iid = (await _open(sqlite_stack, reporter))["id"]
    state = (await sqlite_stack.get(f"/api/incidents/{iid}", "leo")).json()  # as 0005 stored it
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_communications")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, title, channel, category, region, language, severity, status,"
                " opened_at, updated_at, breaches, seq, state) VALUES (:id, 't', 'web_form', 'spam', 'EU',"
                " 'en', 'SEV4', 'triage', '2026-01-01', '2026-01-01', 0, 1, :state)"
            ),
            {"id": iid, "state": json.dumps(state)},
        )
        conn.execute(
            text(
                "INSERT INTO incident_events (incident_id, entry_no, seq, type, actor, actor_role, at, refused,"
                " action) VALUES (:id, 1, 1, 'open', 'ana', 'analyst', '2026-01-01', 0, :action)"
            ),
            {"id": iid, "action": json.dumps({"type": "open", "intake": state["intake"]})},
        )
    migrate(engine)
    with Session(engine) as session:
        row = session.get(IncidentRow, iid)
        assert row is not None and row.state["intake"]["reporter"] is None
        assert open_reporter(row.reporter_sealed).model_dump() == reporter  # type: ignore[union-attr]
        opened = session.execute(text("SELECT action FROM incident_events WHERE incident_id = :id"), {"id": iid})
        assert json.loads(opened.scalar_one())["intake"]["reporter"] is None
    engine.dispose()
    for path in tmp_path.iterdir():
        assert reporter["email"].encode() not in path.read_bytes(), path


def test_the_key_file_is_private_and_an_old_readable_one_is_made_so(tmp_path: Path) -> None:
    keys = tmp_path / "home" / "encryption.keys"
    load_or_create_keys("", keys)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    keys.chmod(0o644)  # as written by hand, or by an older Vigil
    load_or_create_keys("", keys)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
