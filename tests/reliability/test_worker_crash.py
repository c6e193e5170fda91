"""kill -9 the worker at random moments while 120 incidents are in flight through the API, and
start it again: every incident still reaches its end, and nothing is lost or done twice."""

import asyncio
import random
import time

import httpx

from bench.workload import ApiDriver, kind_of
from tests.reliability.checks import assert_all_consistent, drive
from tests.reliability.conftest import System

INCIDENTS = 120
KILLS = 3


async def kill_worker_at_random_moments(system: System, rng: random.Random, done: asyncio.Event) -> list[float]:
    """kill -9, a moment's pause, a fresh `vigil worker`; KILLS times, while the load runs."""
    moments = []
    started = time.monotonic()
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        if done.is_set():
            break
        worker = system.workers[0]
        worker.kill()
        moments.append(round(time.monotonic() - started, 1))
        await asyncio.sleep(rng.uniform(0.0, 1.5))
        await asyncio.to_thread(system.deployment.restart, worker)
    return moments


async def test_incidents_survive_worker_kill_9_at_random_points(system: System) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    run = f"crash-{seed}"
    incidents = {f"{run}-{i}": kind_of(i) for i in range(INCIDENTS)}
    client = await system.deployment.client()
    async with httpx.AsyncClient(timeout=90) as http:
        driver = ApiDriver(http, system.urls, system.tokens, poll=0.2, patience=180)
        done = asyncio.Event()
        chaos = asyncio.create_task(kill_worker_at_random_moments(system, rng, done))
        try:
            ids = await drive(driver, incidents, concurrency=40, client=client)
        finally:
            done.set()
            kills = await chaos
    assert kills, f"seed {seed}: the load finished before the first kill"
    await assert_all_consistent(client, system.deployment.engine(), {ids[ref]: incidents[ref] for ref in incidents})
    assert not driver.server_errors, f"the API answered 5xx other than 503: {driver.server_errors[:5]}"
    print(f"seed {seed}: killed the worker at {kills}s; {driver.retries} requests retried")
