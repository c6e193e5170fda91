"""GET /api/incidents/{id}/history and `vigil audit export` / `bulk-export`: the raw history,
every run, for auditors and admins only."""

import asyncio
import json

import pytest

from tests.audit.conftest import World
from vigil.audit.history import FORMAT, read_documents


async def test_history_has_every_run_of_a_continued_incident(world: World) -> None:
    incident_id = world.one("continued-as-new")
    response = await world.get(f"/api/incidents/{incident_id}/history", "audrey")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["format"] == FORMAT and document["incident_id"] == incident_id
    assert len(document["runs"]) >= 2
    history = read_documents(json.dumps(document))[0]
    for older, newer in zip(history.runs, history.runs[1:], strict=False):  # each run continues the one before
        started = newer.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id == older.run_id
    last = history.runs[-1].events[-1]
    assert last.HasField("workflow_execution_completed_event_attributes")


async def test_history_includes_the_approval_requests(world: World) -> None:
    incident_id = world.one("approval-asks-next-tier")
    document = (await world.get(f"/api/incidents/{incident_id}/history", "adam")).json()
    assert [a["workflow_id"] for a in document["approvals"]] == [f"{incident_id}-A1"]
    without = (await world.get(f"/api/incidents/{incident_id}/history?approvals=false", "adam")).json()
    assert without["approvals"] == [] and without["runs"] == document["runs"]


@pytest.mark.parametrize("user", ["ana", "leo"])
async def test_only_auditors_and_admins_read_raw_histories(world: World, user: str) -> None:
    response = await world.get(f"/api/incidents/{world.one('rejected')}/history", user)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("incident_id", ["INC-1999-999999", "not-an-incident", "INC-2026-000001-A1"])
async def test_unknown_incident_has_no_history(world: World, incident_id: str) -> None:
    response = await world.get(f"/api/incidents/{incident_id}/history", "audrey")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_history_needs_a_token(world: World) -> None:
    response = await world.http.get(f"/api/incidents/{world.one('rejected')}/history")
    assert response.status_code == 401


async def test_cli_exports_one_history_to_a_file(world: World, tmp_path) -> None:
    out = tmp_path / "one.json"
    result = await asyncio.to_thread(world.audit_cli, "export", world.one("reopened"), "--out", str(out))
    assert result.exit_code == 0, result.output
    [history] = read_documents(out.read_text())
    assert history.incident_id == world.one("reopened") and history.event_count > 20


async def test_cli_bulk_exports_the_closed_incidents_as_json_lines(world: World, tmp_path) -> None:
    out = tmp_path / "closed.jsonl"
    result = await asyncio.to_thread(world.audit_cli, "bulk-export", "--status", "closed", "--out", str(out))
    assert result.exit_code == 0, result.output
    exported = read_documents(out.read_text())
    listed = (await world.get("/api/incidents?status=closed&limit=200", "audrey")).json()["items"]
    assert sorted(h.incident_id for h in exported) == sorted(i["id"] for i in listed)
    assert len(exported) >= 10 and len(out.read_text().splitlines()) == len(exported)
    assert f"wrote {len(exported)} histories" in result.output


async def test_cli_export_as_an_analyst_is_refused(world: World) -> None:
    result = await asyncio.to_thread(world.audit_cli, "export", world.one("rejected"), user="ana")
    assert result.exit_code == 1 and "403 forbidden" in result.output
