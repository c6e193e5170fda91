"""One count of runs and events in every audit report (vigil.audit.counts): the timeline, the
state after an event, the replay and the seal check say the same for one incident, in the API
and in `vigil audit`, for an incident that continued as new and asked for approvals. (Before,
the timeline said "134 events in 1 run(s)" where the replay said "2 runs, 151 events".)"""

import asyncio
import json
from datetime import UTC
from pathlib import Path
from typing import Any

from tests.audit.conftest import World
from tests.histories import HERE, converter
from vigil.audit.digest import chain, sealed_events
from vigil.audit.history import IncidentHistory, read_documents
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.replay import replay
from vigil.audit.timeline import build_timeline
from vigil.audit.verdict import StoredSeal, verification


def _counted_in_the_history(document: dict[str, Any]) -> dict[str, int]:
    """What an auditor counts by hand in an export: runs, their events, approval requests."""
    return {
        "runs": len(document["runs"]),
        "events": sum(len(run["history"]["events"]) for run in document["runs"]),
        "approval_requests": len(document["approvals"]),
    }


def _in_words(counts: dict[str, int]) -> str:
    runs, approvals = counts["runs"], counts["approval_requests"]
    return (
        f"{counts['events']} events in {runs} run{'' if runs == 1 else 's'}, "
        f"{approvals} approval request{'' if approvals == 1 else 's'}"
    )


async def _sealed_incident_that_continued_and_asked_for_approval(world: World) -> tuple[str, dict[str, Any]]:
    closed = (await world.get("/api/incidents?status=closed&limit=200", "audrey")).json()["items"]
    for incident_id in sorted(i["id"] for i in closed):
        document = (await world.get(f"/api/incidents/{incident_id}/history", "audrey")).json()
        if len(document["runs"]) >= 2 and document["approvals"]:
            return incident_id, document
    raise AssertionError("no closed scenario incident continued as new and started an approval request")


async def test_every_report_counts_the_same_runs_and_events(world: World, tmp_path: Path) -> None:
    incident_id, document = await _sealed_incident_that_continued_and_asked_for_approval(world)
    expected = _counted_in_the_history(document)
    assert expected["runs"] >= 2 and expected["approval_requests"] >= 1

    timeline = (await world.get(f"/api/incidents/{incident_id}/timeline", "audrey")).json()
    state = (await world.get(f"/api/incidents/{incident_id}/state", "audrey")).json()
    verdict = (await world.get(f"/api/incidents/{incident_id}/verify", "audrey")).json()
    replayed = (await world.post("/api/audit/replay", {"ids": [incident_id]}, "audrey")).json()["reports"][0]
    for answer in (timeline, state, verdict, replayed):
        assert answer["counts"] == expected, answer
    assert (timeline["runs"], timeline["events"]) == (expected["runs"], expected["events"])
    assert state["events"] == replayed["events"] == state["after_event"] == expected["events"]
    assert replayed["result"] == "ok" and replayed["workflows"] > expected["runs"]  # its approval requests too

    said = _in_words(expected)
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(document))
    for command in (
        ("timeline", incident_id),
        ("state", incident_id),
        ("replay", incident_id),
        ("verify", incident_id),
        ("verify", str(copy)),
    ):
        result = await asyncio.to_thread(world.audit_cli, *command)
        assert result.exit_code == 0, result.output
        assert said in result.output, (command, result.output)

    local = await asyncio.to_thread(world.audit_cli, "replay", "--file", str(copy), "--output-json")
    assert local.exit_code == 0, local.output
    assert json.loads(local.stdout)["reports"][0]["counts"] == expected


async def test_the_timeline_replay_and_verdict_count_a_recorded_history_alike() -> None:
    """Offline, on a recorded history that continued as new and asked two leads to approve."""
    path = HERE / "approved-by-two-leads.json"
    [history] = read_documents(path.read_text())
    expected = _counted_in_the_history(json.loads(path.read_text()))
    assert expected["runs"] >= 2 and expected["approval_requests"] >= 1

    timeline = build_timeline(Reconstruction(await read_journal(history, converter())), "en")
    [report] = await replay([history], converter())
    verdict = verification(history, _seal_of(history))
    assert verdict.intact
    assert timeline.counts.model_dump() == report.counts.model_dump() == verdict.counts.model_dump() == expected
    assert report.events == timeline.events == expected["events"]


def _seal_of(history: IncidentHistory) -> StoredSeal:
    """The seal as the incident's close would have stored it (the recorded files carry no database)."""
    links = chain(history.incident_id, sealed_events(history.runs))
    return StoredSeal(
        incident_id=history.incident_id,
        digest=links[-1],
        events=len(links),
        chain=links,
        run_ids=[run.run_id for run in history.runs],
        sealed_at=history.runs[-1].events[-1].event_time.ToDatetime(tzinfo=UTC),
        search_attribute=None,
    )
