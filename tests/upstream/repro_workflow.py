"""The smallest workflow that shows the SDK issue: an activity, an update, a query. Not Vigil's."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def step() -> int:
    """Slow enough to be running while the server restarts: its completion lands as it comes back."""
    await asyncio.sleep(2.0)
    return 1


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.poked = 0

    @workflow.run
    async def run(self, rounds: int) -> int:
        for done in range(rounds):
            self.count += await workflow.execute_activity(step, start_to_close_timeout=timedelta(seconds=30))
            await workflow.wait_condition(lambda done=done: self.poked > done)
        return self.count

    @workflow.update
    def poke(self, count_seen: int) -> int:
        """The caller sends the count it read: what a person acting on what they saw does."""
        self.poked += 1
        return count_seen

    @workflow.query
    def current(self) -> int:
        return self.count
