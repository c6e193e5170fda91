"""The incident lifecycle that benchmarks and reliability tests drive through the HTTP API.

Two kinds of incident, in a realistic mix (`kind_of`: one SEV1 in four, the rest SEV3):

- `sev3`: hate speech reported by a user in NA. acknowledge, assign, escalate to legal, legal's
  answer, propose remove_content (SEV3 needs no approval: enforcement runs at once), resolve.
  6 actions.
- `sev1`: a livestreamed threat reported by police in LATAM. The same, but the proposal needs
  two leads (an ApprovalWorkflow child asks them): approve by leo, approve by lucia. 8 actions.

The driver is state-driven, as a careful client is: it reads the incident, takes the next step
the state calls for, and after any doubt (a 409, a 503, a dropped connection) reads the live
state again before acting. So a retried action is never applied twice, and kill -9 anywhere
leaves each incident exactly where the driver can carry it on from.
"""

import asyncio
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

PEOPLE = {"ana": "analyst", "bea": "analyst", "leo": "lead", "lucia": "lead", "audrey": "auditor", "adam": "admin"}
LEADS = ("leo", "lucia")

INTAKES: dict[str, dict[str, Any]] = {
    "sev3": {
        "title": "Coordinated slurs against a streamer after a match",
        "description": "Dozens of accounts repeat the same slur in the streamer's comments.",
        "channel": "user_report",
        "category": "hate_speech",
        "region": "NA",
        "language": "en",
        "content": [{"url": "https://video.example/c/5521", "graphic": False}],
        "reach": 12000,
    },
    "sev1": {
        "title": "Livestream announcing an attack on a school in Monterrey",
        "description": "Policía de Nuevo León reports a livestream naming a school and a date.",
        "channel": "law_enforcement",
        "category": "violent_extremism",
        "region": "LATAM",
        "language": "es",
        "content": [{"url": "https://video.example/live/8841", "graphic": False}],
        "reporter": {"name": "Unidad de Policía Cibernética", "email": "ciber@policia.example"},
        "reach": 48000,
    },
}
# What each kind looks like at its end (the reliability tests compare against this).
EXPECTED_SEVERITY = {"sev3": "SEV3", "sev1": "SEV1"}
ACTIONS_PER_KIND = {"sev3": 6, "sev1": 8}


def kind_of(index: int) -> str:
    """The mix: one SEV1 (two approvals) in four; the rest SEV3 (no approval needed)."""
    return "sev1" if index % 4 == 0 else "sev3"


def intake_body(kind: str, external_ref: str | None = None) -> dict[str, Any]:
    body = dict(INTAKES[kind])
    if external_ref:
        body["external_ref"] = external_ref
    return body


WAIT = "wait"  # enforcement is running: read again shortly


def next_step(state: dict[str, Any]) -> tuple[str, dict[str, Any]] | str | None:
    """(user, action body) the state calls for next; WAIT while enforcement runs; None when resolved."""
    status = state["status"]
    if status in ("resolved", "closed", "merged"):
        return None
    if status == "triage":
        return "ana", {"type": "acknowledge"}
    if status == "actioning":
        return WAIT
    if state.get("assignee") != "bea":
        return "ana", {"type": "assign", "assignee": "bea"}
    if not state["teams"]:
        return "bea", {"type": "escalate", "team": "legal", "reason": "the report names a crime: legal must assess"}
    waiting = [t["team"] for t in state["teams"] if not t["responses"] and t.get("closed_reason") is None]
    if waiting:
        return "bea", {"type": "team_response", "team": waiting[0], "text": "remove it and preserve the evidence"}
    if not state["proposals"]:
        return "bea", {
            "type": "propose_action",
            "action": "remove_content",
            "rationale": "violates the policy; legal agrees",
            "statement_of_reasons": "policy violation",
        }
    proposal = state["proposals"][-1]
    if proposal["status"] == "pending":
        voted = {v["by"] for v in proposal["votes"]}
        lead = next(name for name in LEADS if name not in voted)
        return lead, {"type": "approve", "approval_id": proposal["id"], "comment": "approved"}
    if proposal["status"] == "approved":
        return WAIT
    return "bea", {"type": "resolve", "resolution": "actioned", "summary": "content removed; evidence preserved"}


class Unsettled(Exception):
    """The incident could not be carried to its end within the driver's patience."""


@dataclass
class ApiDriver:
    """Drives incidents through one or more API replicas (round-robin), riding out outages."""

    http: httpx.AsyncClient
    urls: Sequence[str]
    tokens: dict[str, str]
    poll: float = 0.05  # between reads while enforcement runs
    patience: float = 300.0  # seconds an incident may take, outages included
    retries: int = 0  # requests that failed (503, connection) and were retried
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503: bugs, retried but kept
    latencies: list[float] = field(default_factory=list)  # seconds per accepted action
    _next_url: Any = None

    def __post_init__(self) -> None:
        self._next_url = itertools.cycle(self.urls)

    def _headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def _request(
        self, method: str, path: str, user: str, body: Any = None, idempotency_key: str | None = None
    ) -> httpx.Response | None:
        """One request to the next replica; None if it never reached an answer (refused, dropped), or
        if it failed with a server error other than 503 (recorded in `server_errors`: never expected)."""
        headers = self._headers(user)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await self.http.request(method, next(self._next_url) + path, json=body, headers=headers)
        except httpx.TransportError:
            return None
        if response.status_code >= 500 and response.status_code not in (502, 503, 504):
            self.server_errors.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
            return None
        return response

    async def intake(self, kind: str, external_ref: str) -> dict[str, Any]:
        """Intake, retried with the same external_ref until it answers (a retry returns the same incident)."""
        deadline = time.monotonic() + self.patience
        while True:
            response = await self._request("POST", "/api/incidents", "ana", intake_body(kind, external_ref))
            if response is not None and response.status_code in (200, 201):
                return response.json()
            if response is not None and response.status_code not in (502, 503, 504):
                raise Unsettled(f"intake {external_ref}: {response.status_code} {response.text}")
            self.retries += 1
            if time.monotonic() > deadline:
                raise Unsettled(f"intake {external_ref}: no answer within {self.patience}s")
            await asyncio.sleep(0.2 + random.random() * 0.3)

    async def read(self, incident_id: str, min_seq: int) -> dict[str, Any]:
        """The incident at `min_seq` or later, as the API reads it (the projection, every state of
        which a completed workflow task made), waiting out outages and the projection's lag."""
        deadline = time.monotonic() + self.patience
        while True:
            path = f"/api/incidents/{incident_id}?min_seq={min_seq}"
            response = await self._request("GET", path, "ana")
            if response is not None and response.status_code == 200:
                state: dict[str, Any] = response.json()
                if state["seq"] >= min_seq or state["status"] in ("closed", "merged"):
                    return state
            elif response is not None and response.status_code not in (404, 502, 503, 504):
                raise Unsettled(f"read {incident_id}: {response.status_code} {response.text}")
            self.retries += 1
            if time.monotonic() > deadline:
                raise Unsettled(f"read {incident_id}: not at seq {min_seq} within {self.patience}s")
            await asyncio.sleep(0.2 + random.random() * 0.3)

    async def carry(self, state: dict[str, Any]) -> dict[str, Any]:
        """Take the incident from `state` to resolved."""
        incident_id = state["id"]
        deadline = time.monotonic() + self.patience
        while (step := next_step(state)) is not None:
            if time.monotonic() > deadline:
                raise Unsettled(f"{incident_id} stuck at {state['status']} after {self.patience}s")
            if step == WAIT:  # for something to happen (enforcement to finish): a newer state
                await asyncio.sleep(self.poll)
                state = await self.read(incident_id, state["seq"] + 1)
                continue
            user, action = step
            # The same decision from the same state carries the same key: if a lost answer's action
            # was applied after all, sending it again returns that answer instead of acting twice.
            key = f"{incident_id}:{state['seq']}:{action['type']}"
            started = time.perf_counter()
            response = await self._request("POST", f"/api/incidents/{incident_id}/actions", user, action, key)
            if response is not None and response.status_code == 200:
                self.latencies.append(time.perf_counter() - started)
                state = response.json()
                continue
            if response is None or response.status_code in (502, 503, 504):
                self.retries += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)
            elif response.status_code != 409:  # 409: it was applied already, or the state moved on
                raise Unsettled(f"{incident_id} {action['type']}: {response.status_code} {response.text}")
            state = await self.read(incident_id, state["seq"])
        return state

    async def run(self, kind: str, external_ref: str) -> dict[str, Any]:
        return await self.carry(await self.intake(kind, external_ref))


async def bounded(concurrency: int, jobs: Sequence[Any]) -> list[Any]:
    """Run coroutines with at most `concurrency` at once; results in order, exceptions returned."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)


class SdkVigilDriver:
    """The same lifecycle through Vigil's own client (`vigil.temporal.incident_client`), without HTTP: for
    benchmarks that need many real incidents quickly (replay, memory, timers), not for measuring the API."""

    def __init__(self, client: Any, task_queue: str = "vigil", poll: float = 0.05):
        self.client, self.task_queue, self.poll = client, task_queue, poll

    async def open(self, kind: str, incident_id: str, **intake: Any) -> dict[str, Any]:
        from vigil.temporal.incident_client import open_incident
        from vigil.workflows.state import Intake

        body = {**intake_body(kind), **intake}
        state = await open_incident(self.client, incident_id, Intake.model_validate(body), task_queue=self.task_queue)
        return state.model_dump(mode="json")

    async def run(self, kind: str, incident_id: str) -> dict[str, Any]:
        from vigil.domain import Role
        from vigil.temporal.incident_client import act
        from vigil.workflows.actions import HUMAN_ACTION_ADAPTER
        from vigil.workflows.incident import IncidentWorkflow
        from vigil.workflows.state import Actor

        state = await self.open(kind, incident_id)
        while (step := next_step(state)) is not None:
            if step == WAIT:
                await asyncio.sleep(self.poll)
                # A harness on a server nobody restarts may query; Vigil itself reads the projection.
                handle = self.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
                state = (await handle.query(IncidentWorkflow.state)).model_dump(mode="json")
                continue
            user, body = step
            actor = Actor(user=user, role=Role(PEOPLE[user]))
            new = await act(self.client, incident_id, HUMAN_ACTION_ADAPTER.validate_python(body), actor)
            state = new.model_dump(mode="json")
        return state
