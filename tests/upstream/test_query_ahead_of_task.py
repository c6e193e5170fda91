"""A minimal reproduction of a Temporal SDK issue, kept to report upstream in one message.

Not part of `make test` (marker `upstream`): `make upstream` runs it. It asserts what should
hold, so it FAILS when it catches the issue. Status (2026-12-02): this recipe has not yet caught
it on this machine (7 runs of 30 workflows, all replayed); the history that showed it in Vigil is
kept in tests/reliability/evidence/ and dissected by tests/reliability/test_known_sdk_issue.py.
The recipe follows the trace of that history (temporalio 1.35, CLI 1.9.1 / server 1.32, a
file-backed dev server):

1. workflows wait for an activity's result; the dev server is restarted while the activities
   complete, so the workflow tasks that would process the completions are not yet dispatched;
2. a query sent then is dispatched straight to the worker (no workflow task is pending in
   matching); the poll brings the full current history, and Core applies the completion to the
   cached run ahead of its workflow task, holding the commands it caused, and answers from it;
3. an update sent on the answered state is then completed in the next task after those held
   commands; a replay delivers the update and the completion in one activation, update first, and
   fails: TMPRL1100 "Update machine does not handle this event".
With `max_cached_workflows=0`, or without the query, every history replays.
"""

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from bench.processes import TemporalDevServer
from tests.upstream.repro_workflow import Counter, step

pytestmark = pytest.mark.upstream
WORKFLOWS = 30
ROUNDS = 6


async def _connect(server: TemporalDevServer) -> Client:
    for _ in range(100):
        try:
            return await Client.connect(server.address)
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise AssertionError("the dev server did not come back")


async def _follow(client: Client, workflow_id: str, rounds: int, patience: float = 60) -> None:
    """Poll the count with a query; each time it grows, poke with the count seen: a client acting
    on what it read, as Vigil's console and API did."""
    handle = client.get_workflow_handle(workflow_id)
    acted_on = 0
    deadline = asyncio.get_running_loop().time() + patience
    while acted_on < rounds and asyncio.get_running_loop().time() < deadline:
        try:
            seen = await handle.query(Counter.current)
            if seen > acted_on:
                await handle.execute_update(Counter.poke, seen)
                acted_on = seen
        except Exception:  # the server is restarting: ask again
            pass
        await asyncio.sleep(0.05)


async def test_histories_replay_after_a_server_restart_with_queries(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path).start()
    try:
        client = await _connect(server)
        task_queue = f"repro-{uuid.uuid4().hex[:6]}"
        ids = [f"counter-{i}" for i in range(WORKFLOWS)]
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[Counter],
            activities=[step],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=1000,
        ):
            for workflow_id in ids:
                await client.start_workflow(Counter.run, ROUNDS, id=workflow_id, task_queue=task_queue)
            following = asyncio.gather(*(_follow(client, i, ROUNDS) for i in ids))
            await asyncio.sleep(3.0)  # the second round's activities are running
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            await following
        histories = [await client.get_workflow_handle(i).fetch_history() for i in ids]
        replayer = Replayer(workflows=[Counter], workflow_runner=UnsandboxedWorkflowRunner())
        failures = []
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                failures.append(f"{history.workflow_id}: {str(result.replay_failure).splitlines()[0][:300]}")
        print(f"{len(failures)} of {len(histories)} histories no longer replay", *failures, sep="\n")
        assert not failures, f"{len(failures)} of {len(histories)} histories no longer replay:\n" + "\n".join(failures)
    finally:
        server.stop()
