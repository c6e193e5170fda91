"""Races, through the real API: two leads approving the same approval at once, an action racing the
timer that would breach it, a reopen racing the close, duplicate intake posts. Each ends one way,
exactly once, and the projection agrees with the workflow."""

import asyncio
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from bench.workload import WAIT, ApiDriver, intake_body, next_step
from tests.helpers import query_state
from tests.reliability.checks import assert_projected, wait_closed
from tests.reliability.conftest import REOPEN_WINDOW, System
from vigil.db.tables import EnforcementRow, IntakeKeyRow, OutboxRow, SlaBreachRow
from vigil.workflows.state import Incident

SELF_HARM = {
    "title": "Livestream of a teenager announcing suicide",
    "channel": "user_report",
    "category": "self_harm_suicide",
    "region": "NA",
    "language": "en",
}  # SEV2: one lead approves
SPAM = {
    "title": "Crypto giveaway scam reposted by bots",
    "channel": "user_report",
    "category": "spam_scam",
    "region": "APAC",
    "language": "en",
}  # SEV4: the 4-second acknowledge SLA of the test policy


def headers(system: System, user: str, key: str | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {system.tokens[user]}"}
    if key:
        sent["Idempotency-Key"] = key
    return sent


async def open_incident(http: httpx.AsyncClient, system: System, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{system.urls[0]}/api/incidents", json=body, headers=headers(system, "ana"))
    assert response.status_code == 201, response.text
    return response.json()


async def advance_to(driver: ApiDriver, state: dict[str, Any], status: str) -> dict[str, Any]:
    """Take the workload's steps until the incident is in `status`."""
    while state["status"] != status:
        step = next_step(state)
        assert step not in (None, WAIT), f"{state['id']} cannot reach {status} from {state['status']}"
        user, action = step
        response = await driver.http.post(
            f"{driver.urls[0]}/api/incidents/{state['id']}/actions",
            json=action,
            headers={"Authorization": f"Bearer {driver.tokens[user]}"},
        )
        assert response.status_code == 200, response.text
        state = response.json()
    return state


def engine_rows(system: System, model: Any, incident_id: str) -> list[Any]:
    engine = system.deployment.engine()
    with Session(engine) as session:
        found = list(session.scalars(select(model).where(model.incident_id == incident_id)))
    engine.dispose()
    return found


async def test_two_leads_approving_at_once_decide_once(system: System) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        driver = ApiDriver(http, system.urls, system.tokens)
        outcomes = []
        for body, quorum in ((SELF_HARM, 1), (intake_body("sev1"), 2)):
            for same_lead in (False, True):
                state = await advance_to(driver, await open_incident(http, system, body), "pending_approval")
                approval = state["proposals"][0]["id"]
                leads = ("leo", "leo") if same_lead else ("leo", "lucia")
                responses = await asyncio.gather(
                    *(
                        http.post(
                            f"{system.urls[0]}/api/incidents/{state['id']}/actions",
                            json={"type": "approve", "approval_id": approval, "comment": "ok"},
                            headers=headers(system, lead, key=uuid.uuid4().hex),
                        )
                        for lead in leads
                    )
                )
                codes = sorted(r.status_code for r in responses)
                outcomes.append((state["id"], quorum, same_lead, codes))
        # Quorum 1: whoever is second finds it decided. Quorum 2: two leads make it; one lead twice does not.
        assert [o[3] for o in outcomes] == [[200, 409], [200, 409], [200, 200], [200, 409]], outcomes
        client = await system.deployment.client()
        engine = system.deployment.engine()
        for incident_id, quorum, same_lead, _ in outcomes:
            state = await settled(client, incident_id)
            await assert_projected(engine, state)
            proposal = state.proposals[0]
            expected_votes = 1 if quorum == 1 or same_lead else 2
            assert len(proposal.votes) == expected_votes, (incident_id, proposal.votes)
            enforced = engine_rows(system, EnforcementRow, incident_id)
            if quorum == 2 and same_lead:  # still waiting for a second lead: nothing done
                assert proposal.status == "pending" and not enforced
            else:
                assert proposal.status == "done" and [e.proposal_id for e in enforced] == [proposal.id]


async def settled(client: Client, incident_id: str, timeout: float = 30) -> Incident:
    """The live state once no enforcement is running."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (state := await query_state(client, incident_id)).status == "actioning":
        assert asyncio.get_running_loop().time() < deadline, f"{incident_id} still actioning"
        await asyncio.sleep(0.2)
    return state


async def test_acknowledge_racing_its_sla_timer_has_one_outcome(system: System) -> None:
    rng = random.Random()
    async with httpx.AsyncClient(timeout=60) as http:
        opened = [await open_incident(http, system, SPAM) for _ in range(8)]
        assert {o["severity"] for o in opened} == {"SEV4"}

        async def acknowledge_near_due(incident: dict[str, Any], offset: float) -> int:
            due = datetime.fromisoformat(next(c["due_at"] for c in incident["clocks"] if c["id"] == "sla.acknowledge"))
            await asyncio.sleep(max((due - datetime.now(due.tzinfo)).total_seconds() + offset, 0))
            response = await http.post(
                f"{system.urls[0]}/api/incidents/{incident['id']}/actions",
                json={"type": "acknowledge"},
                headers=headers(system, "ana"),
            )
            return response.status_code

        offsets = [rng.uniform(-0.4, 0.4) for _ in opened]
        codes = await asyncio.gather(*(acknowledge_near_due(i, o) for i, o in zip(opened, offsets, strict=True)))
    assert codes == [200] * len(opened), codes  # acknowledging is legal before and after a breach
    client = await system.deployment.client()
    engine = system.deployment.engine()
    for incident in opened:
        state = await query_state(client, incident["id"])
        await assert_projected(engine, state)
        clock = state.clock("sla.acknowledge")
        assert clock is not None and clock.met_at is not None
        # Either met in time (no breach) or breached once and met after; never breached after being met.
        assert len(clock.breaches) <= 1, clock
        assert all(b.at <= clock.met_at and b.at >= clock.due_at for b in clock.breaches), clock
        assert (clock.met_at < clock.due_at + timedelta(seconds=1)) or clock.breaches, clock
        breach_rows = engine_rows(system, SlaBreachRow, incident["id"])
        assert len(breach_rows) == len(clock.breaches), (incident["id"], breach_rows, clock.breaches)
        notices = [o for o in engine_rows(system, OutboxRow, incident["id"]) if o.kind == "breach"]
        assert len(notices) == len(clock.breaches), (incident["id"], notices)
    engine.dispose()


async def test_reopen_racing_the_close_has_one_outcome(system: System) -> None:
    rng = random.Random()
    async with httpx.AsyncClient(timeout=60) as http:
        driver = ApiDriver(http, system.urls, system.tokens)
        resolved = [await driver.run("sev3", f"reopen-race-{uuid.uuid4().hex[:8]}") for _ in range(6)]

        async def reopen_near_close(incident: dict[str, Any], offset: float) -> int:
            until = datetime.fromisoformat(incident["reopen_until"])
            await asyncio.sleep(max((until - datetime.now(until.tzinfo)).total_seconds() + offset, 0))
            response = await http.post(
                f"{system.urls[0]}/api/incidents/{incident['id']}/actions",
                json={"type": "reopen", "reason": "new evidence"},
                headers=headers(system, "bea"),
            )
            return response.status_code

        codes = await asyncio.gather(*(reopen_near_close(i, rng.uniform(-0.4, 0.4)) for i in resolved))
    assert set(codes) <= {200, 409}, codes
    client = await system.deployment.client()
    closed = [i["id"] for i, code in zip(resolved, codes, strict=True) if code == 409]
    assert not wait_closed(system.deployment.engine(), closed), "incidents refused a reopen did not close"
    await asyncio.sleep(REOPEN_WINDOW + 1)  # a reopened one must not close now: its window was cancelled
    engine = system.deployment.engine()
    for incident, code in zip(resolved, codes, strict=True):
        state = await query_state(client, incident["id"])
        assert state.status == ("investigating" if code == 200 else "closed"), (incident["id"], code, state.status)
        await assert_projected(engine, state)
    engine.dispose()


async def test_duplicate_intake_posts_open_one_incident(system: System) -> None:
    body = intake_body("sev1", external_ref=f"DUP-{uuid.uuid4().hex[:10]}")
    async with httpx.AsyncClient(timeout=60) as http:
        responses = await asyncio.gather(
            *(
                http.post(f"{system.urls[0]}/api/incidents", json=body, headers=headers(system, "ana"))
                for _ in range(10)
            )
        )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1, ids
    incident_id = ids.pop()
    client = await system.deployment.client()
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{incident_id}'")]
    assert len(runs) == 1, runs
    engine = system.deployment.engine()
    with Session(engine) as session:
        keys = list(session.scalars(select(IntakeKeyRow).where(IntakeKeyRow.external_ref == body["external_ref"])))
    engine.dispose()
    assert [k.incident_id for k in keys] == [incident_id]
