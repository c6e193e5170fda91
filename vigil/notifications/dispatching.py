"""Starting and waking the dispatcher (vigil/workflows/dispatcher.py), from a worker process.

`start_dispatcher` is idempotent: every worker calls it at start-up and whichever is first
starts the one dispatcher of its task queue. `DispatcherWaker.poke()` is what the projection
calls (from an activity thread) when it wrote notices: pokes that arrive while a wake-up signal
is on its way are folded into one more, so a burst of breaches costs the dispatcher a handful
of signals, not thousands.
"""

import asyncio
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from vigil.workflows.dispatcher import DispatcherWorkflow, dispatcher_id

log = logging.getLogger("vigil.dispatch")


async def start_dispatcher(client: Client, task_queue: str, wake: bool = False) -> None:
    """Start this task queue's dispatcher unless it runs; with `wake`, signal it (signal-with-start)."""
    await client.start_workflow(
        DispatcherWorkflow.run,
        id=dispatcher_id(task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="wake" if wake else None,
        static_summary="delivers notices from the outbox",
    )


class DispatcherWaker:
    def __init__(self, client: Client, task_queue: str):
        self._client, self._task_queue = client, task_queue
        self._loop = asyncio.get_running_loop()
        self._sending = False
        self._again = False

    def poke(self) -> None:
        """Thread-safe: ask for a wake-up signal soon."""
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._sending:
            self._again = True
            return
        self._sending = True
        self._loop.create_task(self._send())

    async def _send(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    await start_dispatcher(self._client, self._task_queue, wake=True)
                except Exception as error:  # the timer wakes it anyway; say why this did not
                    log.warning("could not wake the dispatcher: %s", error)
                if not self._again:
                    return
        finally:
            self._sending = False
