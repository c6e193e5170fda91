"""`vigil worker`'s activity processes, kept running: one that exits is started again, and stop
ends them all. Real processes (a stand-in command, not the worker, so no Temporal is needed)."""

import asyncio
import sys

from vigil.activity_processes import ActivityProcesses

EXITS_AT_ONCE = [sys.executable, "-c", "raise SystemExit(3)"]
WAITS = [sys.executable, "-c", "import time; time.sleep(120)"]


async def test_an_activity_process_that_exits_is_started_again() -> None:
    children = ActivityProcesses(1, EXITS_AT_ONCE)
    children.start()
    first = children.children[0]
    keeping = asyncio.create_task(children.keep_running())
    for _ in range(100):  # keep_running looks once a second
        if children.children[0] is not first:
            break
        await asyncio.sleep(0.1)
    await children.stop()
    keeping.cancel()
    assert first.returncode == 3 and children.children[0] is not first


async def test_stop_ends_every_activity_process() -> None:
    children = ActivityProcesses(2, WAITS)
    children.start()
    assert all(child.poll() is None for child in children.children)
    await children.stop(timeout=10)
    assert all(child.returncode is not None for child in children.children)
