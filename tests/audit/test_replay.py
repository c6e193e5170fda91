"""Replay against today's code: POST /api/audit/replay, `vigil audit replay`, and a scratch
workflow with two commands swapped that the replay catches, naming the diverging event."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.audit.conftest import World
from tests.audit.scratch_workflow import SearchAttributesBeforeTriage
from vigil.audit.history import read_documents
from vigil.audit.replay import replay
from vigil.temporal import data_converter
from vigil.workflows.approval import ApprovalWorkflow


async def test_every_scenario_incident_replays_against_todays_code(world: World) -> None:
    response = await world.post("/api/audit/replay", {"ids": world.all_ids}, "audrey")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["replayed"], result["ok"], result["nondeterministic"], result["failed"]) == (
        len(world.all_ids),
        len(world.all_ids),
        0,
        0,
    )
    approvals = next(r for r in result["reports"] if r["incident_id"] == world.one("approved-by-two-leads"))
    assert approvals["workflows"] >= 2  # the incident's runs and its approval request


async def test_replay_by_filter_and_by_closing_time(world: World) -> None:
    closed = (await world.get("/api/incidents?status=closed&limit=200", "adam")).json()["items"]
    by_filter = (await world.post("/api/audit/replay", {"filter": {"status": ["closed"]}}, "adam")).json()
    assert sorted(r["incident_id"] for r in by_filter["reports"]) == sorted(i["id"] for i in closed)
    assert by_filter["ok"] == len(closed) >= 10

    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    by_time = (await world.post("/api/audit/replay", {"closed_from": hour_ago, "limit": 3}, "adam")).json()
    assert by_time["replayed"] == 3 and by_time["truncated"] and by_time["ok"] == 3


async def test_an_unknown_incident_is_reported_missing(world: World) -> None:
    result = (await world.post("/api/audit/replay", {"ids": ["INC-1999-999999"]}, "audrey")).json()
    assert result["reports"] == [
        {"incident_id": "INC-1999-999999", "result": "missing", "workflows": 0, "events": 0, "divergence": None}
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": ["INC-2026-000001"], "closed_from": "2026-01-01T00:00:00Z"},
        {"ids": ["nope"]},
        {"filter": {"status": ["lost"]}},
        {"ids": [], "limit": 0},
    ],
)
async def test_a_replay_request_must_choose_one_selection(world: World, body: dict) -> None:
    response = await world.post("/api/audit/replay", body, "audrey")
    assert response.status_code == 422 and response.json()["error"] == "invalid"


@pytest.mark.parametrize("user", ["ana", "leo"])
async def test_only_auditors_and_admins_replay(world: World, user: str) -> None:
    response = await world.post("/api/audit/replay", {"ids": [world.one("rejected")]}, user)
    assert response.status_code == 403


async def test_swapped_commands_fail_the_replay_at_the_first_diverging_event(world: World) -> None:
    ids = [world.one("rejected"), world.one("continued-as-new")]
    documents = [(await world.get(f"/api/incidents/{i}/history", "audrey")).text for i in ids]
    histories = [read_documents(d)[0] for d in documents]

    today = await replay(histories, data_converter())
    assert [r.result for r in today] == ["ok", "ok"]

    reports = await replay(histories, data_converter(), workflows=[SearchAttributesBeforeTriage, ApprovalWorkflow])
    for report, history in zip(reports, histories, strict=True):
        assert report.result == "nondeterministic"
        divergence = report.divergence
        # Where the triage was scheduled, the scratch code upserts search attributes instead.
        events = history.runs[0].events
        triage = next(e.event_id for e in events if e.HasField("activity_task_scheduled_event_attributes"))
        assert (divergence.workflow_id, divergence.event, divergence.event_type) == (
            report.incident_id,
            triage,
            "ACTIVITY_TASK_SCHEDULED",
        )
        assert "UpsertWorkflowSearchAttributes" in divergence.message and "ActivityTaskScheduled" in divergence.message
        assert divergence.known_cause is None  # a code change, not the known SDK issue


async def test_cli_replays_through_the_api_and_exits_zero_when_all_is_well(world: World) -> None:
    result = await asyncio.to_thread(world.audit_cli, "replay", world.one("reopened"), world.one("merged"))
    assert result.exit_code == 0, result.output
    assert "2 of 2 incidents replay cleanly against today's code" in result.output


async def test_cli_replays_exported_files_locally(world: World, tmp_path) -> None:
    path = tmp_path / "export.jsonl"
    lines = [json.dumps((await world.get(f"/api/incidents/{i}/history", "audrey")).json()) for i in world.all_ids[:4]]
    path.write_text("\n".join(lines) + "\n")
    result = await asyncio.to_thread(world.audit_cli, "replay", "--file", str(path), "--output-json")
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.stdout)["reports"]] == ["ok"] * 4


async def test_vigil_audit_repair_says_when_there_is_nothing_to_repair(world: World) -> None:
    """The plan is asked first (a dry run); an incident that replays has none, and nothing is reset."""
    result = await asyncio.to_thread(world.audit_cli, "repair", world.one("reopened"), "--reason", "check", user="adam")
    assert result.exit_code == 1
    assert "replays cleanly against today's code: nothing to repair" in " ".join(result.output.split())
    refused = await asyncio.to_thread(world.audit_cli, "repair", world.one("reopened"), "--reason", "x", "--yes")
    assert refused.exit_code == 1 and "may not repair incidents" in " ".join(refused.output.split())
