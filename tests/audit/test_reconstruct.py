"""GET /api/incidents/{id}/state?after_event=N: the state rebuilt by folding the recorded
actions through lifecycle.apply, checked against what the workflow itself reports."""

import asyncio

import pytest

from tests.audit.conftest import World
from tests.helpers import query_state


async def _state(world: World, incident_id: str, after_event: int | None = None, user: str = "audrey") -> dict:
    query = f"?after_event={after_event}" if after_event is not None else ""
    response = await world.get(f"/api/incidents/{incident_id}/state{query}", user)
    assert response.status_code == 200, response.text
    return response.json()


async def _rebuilt_equals_the_workflow(world: World, incident_id: str) -> tuple[bool, dict]:
    """Fold at the last event vs the workflow's `state` query, read around it so that a late
    projection batch (the journal reaches the history in batches) cannot race the comparison."""
    for _ in range(50):
        before = (await query_state(world.client, incident_id)).model_dump(mode="json")
        rebuilt = await _state(world, incident_id)
        after = (await query_state(world.client, incident_id)).model_dump(mode="json")
        if before == after and rebuilt["state"] is not None and rebuilt["state"]["seq"] == after["seq"]:
            return rebuilt["state"] == after, rebuilt
        await asyncio.sleep(0.2)
    raise AssertionError(f"{incident_id} never stood still long enough to compare")


async def test_every_scenario_incident_rebuilds_to_what_the_workflow_reports(world: World) -> None:
    assert len(world.all_ids) >= 20
    for scenario, ids in world.incidents.items():
        for incident_id in ids:
            same, rebuilt = await _rebuilt_equals_the_workflow(world, incident_id)
            assert same, (scenario, incident_id)
            assert rebuilt["verified"] and rebuilt["problems"] == [], (scenario, incident_id, rebuilt["problems"])
            assert rebuilt["checks"] and all(c["matches"] for c in rebuilt["checks"])


async def test_the_state_before_and_after_an_approval(world: World) -> None:
    incident_id = world.one("approved-by-two-leads")
    timeline = (await world.get(f"/api/incidents/{incident_id}/timeline", "audrey")).json()
    first_approval = next(e for e in timeline["entries"] if e["type"] == "approve")
    event = first_approval["event"]

    before = await _state(world, incident_id, event - 1)
    after = await _state(world, incident_id, event)
    assert before["state"]["proposals"][0]["votes"] == []
    assert [v["by"] for v in after["state"]["proposals"][0]["votes"]] == ["lea"]
    assert after["state"]["status"] == "pending_approval"
    assert after["event"]["type"] == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
    assert after["last_entry"]["type"] == "approve" and after["last_entry"]["via"] == "update"
    assert after["last_entry"]["caused_by_event"] == event and after["entries"] == before["entries"] + 1


async def test_nothing_exists_before_the_triage_and_the_triage_opens_it(world: World) -> None:
    incident_id = world.one("rejected")
    timeline = (await world.get(f"/api/incidents/{incident_id}/timeline", "audrey")).json()
    opened = timeline["entries"][0]
    assert opened["type"] == "open" and opened["via"] == "triage"
    assert (await _state(world, incident_id, 1))["state"] is None
    assert (await _state(world, incident_id, opened["event"] - 1))["state"] is None
    at_open = await _state(world, incident_id, opened["event"])
    assert at_open["event"]["type"] == "ACTIVITY_TASK_COMPLETED"
    assert (at_open["state"]["status"], at_open["state"]["severity"], at_open["entries"]) == ("triage", "SEV3", 1)


async def test_a_breach_counts_from_the_timer_that_fired(world: World) -> None:
    incident_id = world.one("sla-breached")
    timeline = (await world.get(f"/api/incidents/{incident_id}/timeline", "audrey")).json()
    breach = next(e for e in timeline["entries"] if e["type"] == "clock_fired")
    assert breach["via"] == "timer"
    before = await _state(world, incident_id, breach["event"] - 1)
    after = await _state(world, incident_id, breach["event"])
    assert after["event"]["type"] == "TIMER_FIRED"
    assert before["state"]["clocks"][0]["breaches"] == []
    assert len(after["state"]["clocks"][0]["breaches"]) == 1


async def test_a_continued_run_starts_from_the_state_it_carried(world: World) -> None:
    incident_id = world.one("continued-as-new")
    history = (await world.get(f"/api/incidents/{incident_id}/history?approvals=false", "audrey")).json()
    first_run_events = len(history["runs"][0]["history"]["events"])
    second_run_start = await _state(world, incident_id, first_run_events + 1)
    assert second_run_start["event"] == {
        **second_run_start["event"],
        "run": 2,
        "event_id": 1,
        "type": "WORKFLOW_EXECUTION_STARTED",
    }
    carried = [c for c in second_run_start["checks"] if c["source"] == "carried into a new run"]
    assert carried and carried[-1]["event"] == first_run_events + 1 and carried[-1]["matches"]
    end_of_first_run = await _state(world, incident_id, first_run_events)
    assert end_of_first_run["state"] == second_run_start["state"]


async def test_the_last_event_is_the_default(world: World) -> None:
    incident_id = world.one("reopened")
    latest = await _state(world, incident_id)
    assert latest["after_event"] == latest["events"]
    assert latest == await _state(world, incident_id, latest["events"])
    assert latest["state"]["status"] == "closed"


@pytest.mark.parametrize("after_event", ["0", "-3", "many", "999999"])
async def test_an_event_outside_the_history_is_422(world: World, after_event: str) -> None:
    response = await world.get(f"/api/incidents/{world.one('rejected')}/state?after_event={after_event}", "audrey")
    assert response.status_code == 422 and response.json()["error"] == "invalid"


async def test_unknown_incident_has_no_state(world: World) -> None:
    response = await world.get("/api/incidents/INC-1999-999999/state?after_event=3", "ana")
    assert response.status_code == 404
