"""The walk of docs/walkthrough.md (one SEV1 incident), step by step through the API, on each database."""

from tests.api.conftest import Stack, intake_body
from tests.helpers import eventually


async def test_the_walkthrough_sev1_incident_from_intake_to_resolution(stack: Stack) -> None:
    # Intake: police report a livestream threatening a school. Policy triages it SEV1.
    response = await stack.post("/api/incidents", intake_body(external_ref=f"CIBER-{stack.backend}-0042"), "ana")
    assert response.status_code == 201, response.text
    incident = response.json()
    iid = incident["id"]
    assert iid.startswith("INC-") and len(iid) == len("INC-2026-000123")
    assert response.headers["location"] == f"/api/incidents/{iid}"
    assert (incident["status"], incident["severity"]) == ("triage", "SEV1")
    assert {c["id"] for c in incident["clocks"]} >= {"sla.acknowledge", "sla.resolve"}

    # The analyst acknowledges: the acknowledge clock is met and she is the assignee.
    state = (await stack.act(iid, {"type": "acknowledge"}, "ana")).json()
    assert (state["status"], state["assignee"], state["acknowledged_by"]) == ("investigating", "ana", "ana")

    # Escalate to Legal, then record Legal's answer.
    state = (
        await stack.act(iid, {"type": "escalate", "team": "legal", "reason": "Police ask for account data"}, "ana")
    ).json()
    assert state["status"] == "escalated"
    state = (
        await stack.act(
            iid,
            {
                "type": "team_response",
                "team": "legal",
                "text": "Disclose under the emergency exception; terminate the account.",
            },
            "ana",
        )
    ).json()
    assert state["status"] == "investigating"

    # Propose terminating the account: SEV1 needs two leads' approval.
    response = await stack.act(
        iid,
        {
            "type": "propose_action",
            "action": "terminate_account",
            "rationale": "Credible threat of violence against a school.",
        },
        "ana",
    )
    assert response.status_code == 200, response.text
    state = response.json()
    proposal = state["proposals"][0]
    assert (state["status"], proposal["status"], proposal["quorum"]) == ("pending_approval", "pending", 2)
    approval_id = proposal["id"]

    # Both leads see it in their inbox; the analyst sees it among her own proposals.
    async def in_inbox(user: str) -> bool:
        items = (await stack.get("/api/approvals?status=pending", user)).json()["items"]
        return any(i["id"] == approval_id for i in items)

    assert await eventually(lambda: in_inbox("leo"))
    assert await in_inbox("lucia") and await in_inbox("ana")
    assert not await in_inbox("bea")  # another analyst's proposals are not in her inbox

    # First lead approves: still pending (quorum 2), and it leaves his inbox but not hers.
    state = (await stack.act(iid, {"type": "approve", "approval_id": approval_id, "comment": "Agreed."}, "leo")).json()
    assert (state["status"], state["proposals"][0]["status"]) == ("pending_approval", "pending")
    await eventually(lambda: _not(in_inbox("leo")))
    assert await in_inbox("lucia")

    # Second lead approves: quorum met, enforcement runs, the incident comes back to work.
    response = await stack.act(iid, {"type": "approve", "approval_id": approval_id, "comment": "Approved."}, "lucia")
    assert response.status_code == 200, response.text
    assert response.json()["proposals"][0]["status"] in ("approved", "done")

    async def enforced() -> dict | None:
        state = (await stack.get(f"/api/incidents/{iid}", "ana")).json()
        return state if state["proposals"][0]["status"] == "done" else None

    state = await eventually(enforced)
    assert state["status"] == "investigating"
    assert state["proposals"][0]["enforcement_reference"]

    # Resolve as actioned.
    response = await stack.act(
        iid,
        {"type": "resolve", "resolution": "actioned", "summary": "Account terminated; data disclosed to police."},
        "ana",
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["resolution"]) == ("resolved", "actioned")

    # The list, the timeline and the inbox all agree.
    async def listed_resolved() -> dict | None:
        page = (await stack.get(f"/api/incidents?text=CIBER-{stack.backend}-0042", "audrey")).json()
        return page["items"][0] if page["items"] and page["items"][0]["status"] == "resolved" else None

    row = await eventually(listed_resolved)
    assert (row["id"], row["severity"], row["resolution"]) == (iid, "SEV1", "actioned")
    timeline = await stack.get(f"/api/incidents/{iid}/timeline", "audrey")
    assert timeline.status_code == 200, timeline.text
    texts = "\n".join(e["text"] for e in timeline.json()["entries"]).lower()
    for who_did_what in ("sev1", "ana", "legal", "leo", "lucia", approval_id.lower(), "actioned"):
        assert who_did_what in texts, texts
    assert not await in_inbox("lucia")


async def _not(check) -> bool:
    return not await check
