"""Four-eyes that no path can skip (issue 9, items 2 and 3), through the API on the real stack:
lowering severity keeps the approval of the most severe level held, an admin cannot act as the
people they mint tokens for, one person with two tokens is one approver, and names are one
person whatever their case, with the system's own reserved."""

from typing import Any

from tests.api.conftest import Stack


async def _proposal(stack: Stack, severity: str, action: str) -> tuple[str, dict[str, Any]]:
    """A SEV1 incident (the walkthrough's), lowered to `severity` by lead leo, who proposes `action`."""
    incident = await stack.open(title=f"SEV1 lowered to {severity}")
    iid = incident["id"]
    assert incident["severity"] == "SEV1"
    for body in (
        {"type": "acknowledge"},
        {"type": "set_severity", "severity": severity, "reason": "it looked smaller"},
        {"type": "propose_action", "action": action, "rationale": "policy violation", "target": "acct-1"},
    ):
        response = await stack.act(iid, body, "leo")
        assert response.status_code == 200, response.text
    return iid, response.json()  # the state the update answered with


async def _approve(stack: Stack, iid: str, approval_id: str, user: str) -> Any:
    return await stack.act(iid, {"type": "approve", "approval_id": approval_id, "comment": "ok"}, user)


async def test_lowering_sev1_to_sev4_still_needs_two_leads_to_approve(sqlite_stack: Stack) -> None:
    iid, state = await _proposal(sqlite_stack, "SEV4", "suspend_account")
    proposal = state["proposals"][-1]
    approval_id = proposal["id"]
    assert (state["severity"], state["status"]) == ("SEV4", "pending_approval")
    assert (proposal["status"], proposal["needs_approval"], proposal["quorum"]) == ("pending", True, 2)
    assert (await _approve(sqlite_stack, iid, approval_id, "leo")).status_code == 403  # their own proposal
    first = await _approve(sqlite_stack, iid, approval_id, "lucia")
    assert (first.json()["status"], first.json()["proposals"][-1]["status"]) == ("pending_approval", "pending")
    second = await _approve(sqlite_stack, iid, approval_id, "lena")
    assert second.json()["proposals"][-1]["status"] in ("approved", "done")


async def test_lowering_sev1_to_sev2_keeps_the_sev1_quorum(sqlite_stack: Stack) -> None:
    iid, state = await _proposal(sqlite_stack, "SEV2", "remove_content")
    approval_id = state["proposals"][-1]["id"]
    first = await _approve(sqlite_stack, iid, approval_id, "lucia")
    assert first.status_code == 200, first.text
    proposal = first.json()["proposals"][-1]
    assert (proposal["quorum"], proposal["status"], first.json()["status"]) == (2, "pending", "pending_approval")


async def _mint(stack: Stack, name: str) -> str:
    """Whatever an admin gets when they issue a token for someone else (today: an enrolment secret)."""
    response = await stack.post(f"/api/users/{name}/tokens", None, "adam")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"] == name
    return str(body.get("secret") or body["token"])


async def _own_token(stack: Stack, name: str) -> str:
    """A token of `name`'s own: the admin's secret, exchanged by its person."""
    exchanged = await stack.http.post("/api/tokens/exchange", json={"secret": await _mint(stack, name)})
    assert exchanged.status_code == 201, exchanged.text
    return str(exchanged.json()["token"])


async def test_tokens_an_admin_mints_for_two_leads_cannot_approve(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="A law-enforcement disclosure an admin wants through")
    iid = incident["id"]
    await sqlite_stack.act(iid, {"type": "acknowledge"}, "ana")
    proposed = await sqlite_stack.act(
        iid, {"type": "propose_action", "action": "law_enforcement_disclosure", "rationale": "police asked"}, "ana"
    )
    approval_id = proposed.json()["proposals"][-1]["id"]
    for lead in ("leo", "lucia"):
        secret = await _mint(sqlite_stack, lead)
        response = await sqlite_stack.http.post(
            f"/api/incidents/{iid}/actions",
            json={"type": "approve", "approval_id": approval_id, "comment": "as the admin"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 401, response.text
        assert "enrolment secret" in response.json()["detail"]
        me = await sqlite_stack.http.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 401  # it reads nothing either
    note = await sqlite_stack.act(iid, {"type": "add_note", "text": "still waiting"}, "ana")
    state = note.json()  # the workflow's own state, after the refused attempts
    assert state["proposals"][-1]["votes"] == [] and state["status"] == "pending_approval"


async def test_an_enrolment_secret_is_exchanged_once_for_a_token_of_its_person(sqlite_stack: Stack) -> None:
    minted = await sqlite_stack.post("/api/users/lena/tokens", None, "adam")
    assert minted.json()["expires_at"] and "token" not in minted.json()
    secret = minted.json()["secret"]
    exchanged = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": secret})
    assert exchanged.status_code == 201, exchanged.text
    assert (exchanged.json()["user"], exchanged.json()["role"]) == ("lena", "lead")
    token = exchanged.json()["token"]
    me = await sqlite_stack.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "lena"
    again = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": secret})
    assert again.status_code == 409 and "already exchanged" in again.json()["detail"]
    unknown = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": "vge_" + "x" * 43})
    assert unknown.status_code == 401
    access = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": token})
    assert access.status_code == 401  # a token is not a secret to exchange


async def test_an_admin_cannot_mint_an_enrolment_secret_for_themself(sqlite_stack: Stack) -> None:
    response = await sqlite_stack.post("/api/users/adam/tokens", None, "adam")
    assert response.status_code == 409


async def test_one_person_with_two_tokens_cannot_meet_a_two_lead_quorum(sqlite_stack: Stack) -> None:
    tokens = [await _own_token(sqlite_stack, "lucia") for _ in range(2)]
    assert tokens[0] != tokens[1]
    incident = await sqlite_stack.open(title="One lead, two tokens")
    iid = incident["id"]
    await sqlite_stack.act(iid, {"type": "acknowledge"}, "ana")
    proposed = await sqlite_stack.act(
        iid, {"type": "propose_action", "action": "remove_content", "rationale": "policy violation"}, "ana"
    )
    approval_id = proposed.json()["proposals"][-1]["id"]
    answers = [
        await sqlite_stack.http.post(
            f"/api/incidents/{iid}/actions",
            json={"type": "approve", "approval_id": approval_id, "comment": "ok"},
            headers={"Authorization": f"Bearer {token}"},
        )
        for token in tokens
    ]
    assert [a.status_code for a in answers] == [200, 409], answers[1].text
    after = await sqlite_stack.act(iid, {"type": "add_note", "text": "one lead so far"}, "ana")
    proposal = after.json()["proposals"][-1]
    assert (proposal["status"], [v["by"] for v in proposal["votes"]]) == ("pending", ["lucia"])


async def test_a_name_differing_only_in_case_is_the_same_person(sqlite_stack: Stack) -> None:
    taken = await sqlite_stack.post("/api/users", {"name": "LEO", "role": "lead"}, "adam")
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    made = await sqlite_stack.post("/api/users", {"name": "Lee-Mixed", "role": "lead"}, "adam")
    assert made.status_code == 201 and made.json()["user"] == "lee-mixed"
    again = await sqlite_stack.post("/api/users", {"name": "lee-MIXED", "role": "analyst"}, "adam")
    assert again.status_code == 409


async def test_system_names_are_reserved(sqlite_stack: Stack) -> None:
    for name in ("vigil", "VIGIL", "system", "root", "temporal"):
        response = await sqlite_stack.post("/api/users", {"name": name, "role": "lead"}, "adam")
        assert response.status_code == 422, (name, response.text)
        assert "reserved" in response.json()["detail"]
