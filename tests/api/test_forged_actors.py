"""Through the API's eyes: a vote forged with the `temporal` CLI is not a vote, and the auditor's
timeline (GET /api/incidents/{id}/timeline) says who it claimed to be and why it was refused."""

from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import Stack
from tests.forgery import Attacker
from tests.helpers import eventually


async def _half_approved(stack: Stack) -> tuple[str, str]:
    iid = (await stack.open(title="Threat against a school"))["id"]
    assert (await stack.act(iid, {"type": "acknowledge"}, "ana")).status_code == 200
    proposal = {"type": "propose_action", "action": "terminate_account", "rationale": "Credible threat."}
    state = (await stack.act(iid, proposal, "ana")).json()
    approval = state["proposals"][0]["id"]
    assert state["proposals"][0]["quorum"] == 2
    response = await stack.act(iid, {"type": "approve", "approval_id": approval}, "leo")
    assert response.status_code == 200, response.text
    return iid, approval


async def test_a_forged_second_vote_is_refused_and_on_the_auditor_s_timeline(
    sqlite_stack: Stack, dev_env: WorkflowEnvironment
) -> None:
    iid, approval = await _half_approved(sqlite_stack)
    attacker = Attacker(dev_env, sqlite_stack.temporal, iid)
    as_lucia = {"action": {"type": "approve", "approval_id": approval}, "actor": {"user": "lucia", "role": "lead"}}
    await attacker.plaintext("signal", as_lucia)
    await attacker.encrypted("signal", as_lucia)
    assert (await attacker.encrypted("update", as_lucia))[0] != 0

    async def refusals() -> list[dict]:
        response = await sqlite_stack.get(f"/api/incidents/{iid}/timeline", "audrey")
        assert response.status_code == 200, response.text
        found = [e for e in response.json()["entries"] if e["refused"]]
        return found if len(found) == attacker.attempts else []

    refused = await eventually(refusals, timeout=30)
    assert [(e["actor"], e["type"]) for e in refused] == [("lucia", "approve")] * 3
    assert [e["text"].split(": ", 2)[-1] for e in refused] == [
        "unencrypted payload (not sent through Vigil).",
        "unsigned action.",
        "unsigned action.",
    ]
    state = (await sqlite_stack.get(f"/api/incidents/{iid}", "leo")).json()
    assert state["status"] == "pending_approval" and [v["by"] for v in state["proposals"][0]["votes"]] == ["leo"]

    # The real lucia, through the API, is the second vote.
    response = await sqlite_stack.act(iid, {"type": "approve", "approval_id": approval}, "lucia")
    assert response.status_code == 200 and response.json()["proposals"][0]["status"] in ("approved", "done")


async def test_a_refused_vote_through_the_api_is_409_and_on_the_timeline(sqlite_stack: Stack) -> None:
    iid, approval = await _half_approved(sqlite_stack)
    again = await sqlite_stack.act(iid, {"type": "approve", "approval_id": approval}, "leo")
    assert again.status_code == 409, again.text

    async def journaled() -> list[tuple]:
        # The refusal's journal entry reaches the history with the next projection batch.
        timeline = (await sqlite_stack.get(f"/api/incidents/{iid}/timeline", "audrey")).json()
        entries = [e for e in timeline["entries"] if e["refused"]]
        return [(e["actor"], e["type"], e["via"], e["reason"]) for e in entries if e["entry_no"] is not None]

    assert await eventually(journaled) == [("leo", "approve", "update", again.json()["detail"])]
