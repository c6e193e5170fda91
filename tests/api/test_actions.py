"""Actions retried by a client under pressure: the same Idempotency-Key applies an action once."""

import pytest

from tests.api.conftest import Stack
from tests.helpers import eventually


async def test_retried_action_with_the_same_idempotency_key_is_applied_once(stack: Stack) -> None:
    incident = await stack.open(title="Retried note")
    note = {"type": "add_note", "text": "Called the reporter back."}
    headers = {**stack.auth("ana"), "Idempotency-Key": "note-7f3a"}
    first = await stack.http.post(f"/api/incidents/{incident['id']}/actions", json=note, headers=headers)
    again = await stack.http.post(f"/api/incidents/{incident['id']}/actions", json=note, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["seq"] == first.json()["seq"]
    assert len(again.json()["notes"]) == 1
    other = await stack.http.post(
        f"/api/incidents/{incident['id']}/actions",
        json=note,
        headers={**stack.auth("ana"), "Idempotency-Key": "note-8b1c"},
    )
    assert len(other.json()["notes"]) == 2


async def test_the_same_key_from_two_people_is_two_actions(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Two people, one key")
    note = {"type": "add_note", "text": "Seen."}
    for user in ("ana", "bea"):
        response = await sqlite_stack.http.post(
            f"/api/incidents/{incident['id']}/actions",
            json=note,
            headers={**sqlite_stack.auth(user), "Idempotency-Key": "same"},
        )
        assert response.status_code == 200, response.text
    assert [n["by"] for n in response.json()["notes"]] == ["ana", "bea"]


@pytest.mark.parametrize("key", ["has space", "x" * 201, "ñandú".encode()])
async def test_malformed_idempotency_key_is_422(sqlite_stack: Stack, key: str | bytes) -> None:
    incident = await sqlite_stack.open(title="Bad key")
    response = await sqlite_stack.http.post(
        f"/api/incidents/{incident['id']}/actions",
        json={"type": "acknowledge"},
        headers={**sqlite_stack.auth("ana"), "Idempotency-Key": key},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    state = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")).json()
    assert state["status"] == "triage"


async def test_an_ended_incident_is_read_from_the_projection(stack: Stack) -> None:
    """An ended workflow may be deleted by Temporal's retention: ended incidents are read from
    the projection, never from the workflow, and read the same as the workflow last said."""
    target = await stack.open(title="The first report")
    duplicate = await stack.open(title="The same, reported again")
    merged = await stack.act(duplicate["id"], {"type": "merge_into", "incident_id": target["id"]}, "ana")
    assert merged.status_code == 200 and merged.json()["status"] == "merged", merged.text

    async def from_projection():
        response = await stack.get(f"/api/incidents/{duplicate['id']}", "audrey")
        return response if response.headers.get("X-Vigil-Source") == "projection" else None

    read = await eventually(from_projection)
    assert read.status_code == 200
    assert read.json()["status"] == "merged" and read.json()["merged_into"] == target["id"]
    assert read.json()["seq"] == merged.json()["seq"]
    live = await stack.get(f"/api/incidents/{target['id']}", "audrey")
    assert live.headers["X-Vigil-Source"] == "workflow"
