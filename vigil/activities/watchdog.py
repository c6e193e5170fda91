"""The watchdog's round: find open incidents whose history no longer replays (vigil.audit.watchdog)."""

import asyncio
from concurrent.futures import Executor
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from vigil.audit import watchdog
from vigil.audit.history import IncidentHistory
from vigil.workflows.messages import WatchdogRound


class WatchdogActivities:
    def __init__(self, client: Client, engine: Engine, public_url: str, pool: Executor | None = None):
        self._client = client
        self._engine = engine
        self._public_url = public_url
        self._pool = pool

    @activity.defn(name="watch_incidents")
    async def watch(self, budget: int) -> WatchdogRound:
        flagged = await watchdog.flagged_by_temporal(self._client)
        candidates = await asyncio.to_thread(watchdog.due_for_check, self._engine, flagged, budget)
        activity.heartbeat(f"{len(candidates)} to check")
        histories = await watchdog.fetch_histories(self._client, candidates)
        verdicts = await self._replay(histories) if histories else []
        activity.heartbeat(f"{len(verdicts)} replayed")
        diverged, alerted = await asyncio.to_thread(
            watchdog.record, self._engine, candidates, verdicts, datetime.now(UTC), self._public_url
        )
        if diverged:
            activity.logger.warning("histories that no longer replay: %s", ", ".join(diverged))
        return WatchdogRound(checked=len(verdicts), diverged=diverged, alerted=alerted, flagged_by_temporal=flagged)

    async def _replay(self, histories: list[IncidentHistory]) -> list[watchdog.Verdict]:
        """In the pool given, or in a process of this round's own, which ends with it: a replayer
        kept between rounds held some 150 MB of the worker's memory for a minute's idleness
        (bench (e)); starting one costs about a second of CPU a round."""
        loop = asyncio.get_running_loop()
        if self._pool is not None:
            return await loop.run_in_executor(self._pool, watchdog.replay_in_this_process, histories)
        pool = watchdog.replay_pool()
        try:
            return await loop.run_in_executor(pool, watchdog.replay_in_this_process, histories)
        finally:
            await asyncio.to_thread(pool.shutdown)  # the process exits: off the event loop
