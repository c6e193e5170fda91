"""WatchdogWorkflow: one round of the watchdog (vigil.audit.watchdog), started by a Temporal
Schedule every VIGIL_WATCHDOG_INTERVAL. A round that overlaps the next is skipped, not queued."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from vigil.activities.watchdog import WatchdogActivities
    from vigil.workflows.messages import WatchdogRound

SCHEDULE_ID = "vigil-watchdog"


@workflow.defn
class WatchdogWorkflow:
    @workflow.run
    async def run(self, budget: int) -> WatchdogRound:
        return await workflow.execute_activity_method(
            WatchdogActivities.watch,
            budget,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=5)),
            summary=f"replay up to {budget} open incidents",
        )
