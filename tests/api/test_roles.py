"""The role matrix: every role against every endpoint and every action.

Actions are tried on a merged incident, where the state machine refuses everything: so a role
that may take an action gets 409 (the state forbids it), one that may not gets 403 (the role's
refusal comes first), and nothing changes either way. On a running incident the state machine
itself refuses the role, so the attempt is journaled.
"""

import pytest
import pytest_asyncio

from tests.api.conftest import PEOPLE, Stack, intake_body
from tests.helpers import eventually
from vigil.domain import Role
from vigil.workflows import lifecycle

ROLE_USER = {"analyst": "ana", "lead": "leo", "auditor": "audrey", "admin": "adam"}

# endpoint -> the roles allowed (everyone else: 403)
READ_ALL = set(ROLE_USER)
ENDPOINTS = [
    ("GET", "/api/incidents", READ_ALL),
    ("GET", "/api/incidents/{iid}", READ_ALL),
    ("GET", "/api/incidents/{iid}/timeline", READ_ALL),
    ("GET", "/api/incidents/{iid}/notifications", READ_ALL),
    ("GET", "/api/approvals", READ_ALL),
    ("GET", "/api/trends", READ_ALL),
    ("GET", "/api/users", READ_ALL),
    ("GET", "/api/me", READ_ALL),
    ("GET", "/api/views", READ_ALL),
    ("POST", "/api/views", READ_ALL),  # each person their own (tests/api/test_views.py)
    ("POST", "/api/incidents", {"analyst", "lead"}),
    ("POST", "/api/users", {"admin"}),
    ("POST", "/api/users/bea/tokens", {"admin"}),
    ("DELETE", "/api/users/{victim}", {"admin"}),
    ("PATCH", "/api/users/bea", {"admin"}),
]

# One well-formed body per action type.
ACTIONS = {
    "acknowledge": {},
    "assign": {"assignee": "bea"},
    "add_note": {"text": "A note."},
    "set_severity": {"severity": "SEV2", "reason": "Less reach than reported."},
    "escalate": {"team": "legal", "reason": "Needs legal."},
    "team_response": {"team": "legal", "text": "Answer."},
    "propose_action": {"action": "remove_content", "rationale": "Violates policy."},
    "approve": {"approval_id": "INC-2026-000001-A1", "comment": "ok"},
    "reject": {"approval_id": "INC-2026-000001-A1", "reason": "no"},
    "resolve": {"resolution": "no_violation", "summary": "Nothing found."},
    "reopen": {"reason": "New evidence."},
    "merge_into": {"incident_id": "{target}"},
    "post_update": {"audience": "leadership", "text": "Contained."},
}


@pytest_asyncio.fixture(scope="module")
async def merged(sqlite_stack: Stack) -> dict[str, str]:
    """A merged incident (refuses every action) and the open incident it was merged into."""
    target = await sqlite_stack.open(title="Main report")
    source = await sqlite_stack.open(title="Duplicate report")
    response = await sqlite_stack.act(source["id"], {"type": "merge_into", "incident_id": target["id"]}, "ana")
    assert response.status_code == 200, response.text

    async def projected() -> bool:  # the refusals below name how it ended, from the projection
        page = (await sqlite_stack.get("/api/incidents?status=merged&limit=200", "ana")).json()
        return source["id"] in {i["id"] for i in page["items"]}

    await eventually(projected)
    return {"iid": source["id"], "target": target["id"]}


def _body(path: str, method: str) -> dict | None:
    if method == "GET":
        return None
    if path == "/api/incidents":
        return intake_body(title="Role matrix intake")
    if method == "PATCH":
        return {"email": "bea@example.org"}
    return None


@pytest.mark.parametrize("role", list(ROLE_USER))
@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
async def test_endpoint_role_matrix(
    sqlite_stack: Stack, merged: dict[str, str], role: str, method: str, path: str, allowed: set[str]
) -> None:
    victim = f"victim-of-{role}"
    if "{victim}" in path:  # someone to disable, made for this case alone
        made = await sqlite_stack.post("/api/users", {"name": victim, "role": "analyst"}, "adam")
        assert made.status_code == 201, made.text
    url = path.format(iid=merged["iid"], victim=victim)
    body = _body(path, method)
    if path == "/api/users":
        body = {"name": f"made-by-{role}", "role": "analyst"}
    if path == "/api/views":
        body = None if method == "GET" else {"name": f"Role matrix view of {role}"}
    response = await sqlite_stack.http.request(method, url, json=body, headers=sqlite_stack.auth(ROLE_USER[role]))
    if role in allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
        assert role in response.json()["detail"]


@pytest.mark.parametrize("role", list(ROLE_USER))
@pytest.mark.parametrize("action_type", list(ACTIONS))
async def test_action_role_matrix(sqlite_stack: Stack, merged: dict[str, str], role: str, action_type: str) -> None:
    body = {
        "type": action_type,
        **{k: v.format(**merged) if isinstance(v, str) else v for k, v in ACTIONS[action_type].items()},
    }
    before = (await sqlite_stack.get(f"/api/incidents/{merged['iid']}", "audrey")).json()
    response = await sqlite_stack.act(merged["iid"], body, ROLE_USER[role])
    if lifecycle.permitted(Role(role), action_type):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert "merged" in response.json()["detail"]
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
    after = (await sqlite_stack.get(f"/api/incidents/{merged['iid']}", "audrey")).json()
    assert after == before


def test_only_analysts_and_leads_act_and_only_leads_decide() -> None:
    # The matrix above leans on lifecycle.permitted; pin down what it must say.
    for action_type in ACTIONS:
        assert not lifecycle.permitted(Role.AUDITOR, action_type)
        assert not lifecycle.permitted(Role.ADMIN, action_type)
        assert lifecycle.permitted(Role.LEAD, action_type)
        assert lifecycle.permitted(Role.ANALYST, action_type) == (
            action_type not in ("set_severity", "approve", "reject")
        )
    assert set(PEOPLE.values()) == set(ROLE_USER)


async def test_auditor_cannot_act_and_nothing_changes(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Auditor tries to acknowledge")
    response = await sqlite_stack.act(incident["id"], {"type": "acknowledge"}, "audrey")
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "detail": "an auditor may not act on incidents"}
    state = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")).json()
    assert (state["status"], state["seq"]) == ("triage", incident["seq"])


async def test_actor_comes_from_the_token_never_the_body(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Who acknowledged?")
    spoofed = await sqlite_stack.act(
        incident["id"], {"type": "acknowledge", "actor": {"user": "leo", "role": "lead"}}, "bea"
    )
    assert spoofed.status_code == 422
    assert "actor" in spoofed.json()["detail"]
    state = (await sqlite_stack.act(incident["id"], {"type": "acknowledge"}, "bea")).json()
    assert (state["acknowledged_by"], state["assignee"]) == ("bea", "bea")


async def test_proposer_cannot_approve_own_action(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Lead proposes, then tries to approve")
    iid = incident["id"]
    await sqlite_stack.act(iid, {"type": "acknowledge"}, "lena")
    state = (
        await sqlite_stack.act(
            iid, {"type": "propose_action", "action": "terminate_account", "rationale": "Threats."}, "lena"
        )
    ).json()
    approval_id = state["proposals"][0]["id"]
    response = await sqlite_stack.act(iid, {"type": "approve", "approval_id": approval_id}, "lena")
    assert response.status_code == 403
    assert "four-eyes" in response.json()["detail"]
    inbox = (await sqlite_stack.get("/api/approvals", "lena")).json()["items"]
    assert approval_id not in {i["id"] for i in inbox}


async def test_analyst_cannot_change_severity(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Analyst tries to downgrade")
    response = await sqlite_stack.act(
        incident["id"], {"type": "set_severity", "severity": "SEV4", "reason": "Seems minor"}, "ana"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "an analyst may not set severity"
    state = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")).json()
    assert state["severity"] == "SEV1"

    # The attempt is in the journal, so the auditor's timeline says who tried what and why not.
    async def refused_entries() -> list[dict[str, object]]:
        timeline = (await sqlite_stack.get(f"/api/incidents/{incident['id']}/timeline", "audrey")).json()
        return [e for e in timeline["entries"] if e.get("refused")]

    refused = await eventually(refused_entries)
    assert refused[-1]["actor"] == "ana" and refused[-1]["reason"] == "an analyst may not set severity"
