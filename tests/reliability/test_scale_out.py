"""Scale-out on one machine: two `vigil worker`s and two `vigil api`s (uvicorn on two ports) share
120 incidents; one worker is killed -9 mid-flight and not restarted: the other carries every
incident to the same end state, checked by the same checks as the one-worker scenarios."""

import asyncio
import random

import httpx
from temporalio.api.enums.v1 import EventType

from bench.workload import ApiDriver, kind_of
from tests.reliability.checks import assert_all_consistent, drive
from tests.reliability.conftest import System

INCIDENTS = 100


async def test_two_workers_two_apis_share_the_load_and_survive_losing_a_worker(system: System) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    second_worker = system.deployment.worker("worker-2")
    system.workers.append(second_worker)
    system.apis.append(system.deployment.api(name="api-2"))
    incidents = {f"scale-{seed}-{i}": kind_of(i) for i in range(INCIDENTS)}

    async def kill_one_worker() -> int:
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        victim = rng.choice(system.workers)
        pid = victim.pid
        victim.kill()
        return pid

    client = await system.deployment.client()
    async with httpx.AsyncClient(timeout=90) as http:
        driver = ApiDriver(http, system.urls, system.tokens, poll=0.2, patience=180)  # round-robin over both APIs
        killing = asyncio.create_task(kill_one_worker())
        ids = await drive(driver, incidents, concurrency=40, client=client)
        killed = await killing
    survivors = [w for w in system.workers if w.alive]
    assert len(survivors) == 1, "exactly one worker was killed"
    kinds = {ids[ref]: incidents[ref] for ref in incidents}
    await assert_all_consistent(client, system.deployment.engine(), kinds)
    assert not driver.server_errors, f"seed {seed}: the API answered 5xx other than 503: {driver.server_errors[:5]}"

    # Both workers did share the work: activities were run by each (identity "<worker pid>@host",
    # ":activities-<pid>" after it when its activity process ran them).
    workers_seen: set[int] = set()
    for incident_id in list(kinds)[:40]:
        history = await client.get_workflow_handle(incident_id).fetch_history()
        workers_seen |= {
            int(e.activity_task_started_event_attributes.identity.split("@")[0])
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        }
    assert {killed, survivors[0].pid} <= workers_seen, (killed, survivors[0].pid, workers_seen)
    for api in system.apis:  # and both APIs served actions
        metrics = httpx.get(f"{api.url}/metrics").text
        assert 'route="/api/incidents/{incident_id}/actions"' in metrics, api.name
