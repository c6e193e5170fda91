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

    read = await stack.get(f"/api/incidents/{duplicate['id']}?min_seq={merged.json()['seq']}", "audrey")
    assert read.status_code == 200
    assert read.headers["X-Vigil-Source"] == "projection"
    assert read.json()["status"] == "merged" and read.json()["merged_into"] == target["id"]
    assert read.json()["seq"] == merged.json()["seq"]


async def test_a_read_after_an_action_sees_that_action(stack: Stack) -> None:
    """Reads come from the projection, which trails the workflow by one activity: a read that
    names the `seq` the action answered with waits until the projection has it."""
    incident = await stack.open(title="Read your own write")
    for step in range(5):
        acted = await stack.act(incident["id"], {"type": "add_note", "text": f"note {step}"}, "ana")
        assert acted.status_code == 200, acted.text
        seq = acted.json()["seq"]
        read = await stack.get(f"/api/incidents/{incident['id']}?min_seq={seq}", "ana")
        assert read.status_code == 200, read.text
        assert read.json()["seq"] == seq == int(read.headers["X-Vigil-Seq"])
        assert read.json()["notes"][-1]["text"] == f"note {step}"


@pytest.mark.parametrize("min_seq", ["-1", "x", "99999999999", "1.5"])
async def test_a_bad_min_seq_is_422(sqlite_stack: Stack, min_seq: str) -> None:
    incident = await sqlite_stack.open(title="Bad min_seq")
    response = await sqlite_stack.get(f"/api/incidents/{incident['id']}?min_seq={min_seq}", "ana")
    assert response.status_code == 422, response.text


async def test_a_read_ahead_of_the_projection_answers_what_it_holds(sqlite_stack: Stack) -> None:
    """A seq the incident never reaches: after the bounded wait, the last state, marked by its seq."""
    incident = await sqlite_stack.open(title="Not that far yet")
    read = await sqlite_stack.get(f"/api/incidents/{incident['id']}?min_seq=1000", "ana")
    assert read.status_code == 200
    assert int(read.headers["X-Vigil-Seq"]) == read.json()["seq"] < 1000


@pytest.mark.parametrize("end", ["terminate", "cancel"])
async def test_every_action_on_an_incident_whose_workflow_was_ended_in_temporal_is_409_saying_why(
    stack: Stack, end: str
) -> None:
    """An operator can end a workflow in Temporal behind Vigil's back: every action is then refused
    with the reason, nothing changes, and the incident stays readable."""
    incident = await stack.open(title=f"Ended by an operator: {end}")
    handle = stack.temporal.get_workflow_handle(incident["id"])
    if end == "terminate":
        await handle.terminate(reason="operator test")
    else:
        await handle.cancel()

    async def ended() -> bool:
        return (await handle.describe()).status.name in ("TERMINATED", "CANCELED")

    await eventually(ended)
    for body in ({"type": "acknowledge"}, {"type": "add_note", "text": "still there?"}):
        response = await stack.act(incident["id"], body, "ana")
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert f"{incident['id']} was " in response.json()["detail"] and "in Temporal" in response.json()["detail"]
    read = await stack.get(f"/api/incidents/{incident['id']}", "ana")
    assert read.status_code == 200 and read.json()["status"] == "triage"
