"""DigestWorkflow: one leadership digest, as of the moment it runs. Started daily by a Temporal
Schedule (time and zone: the policy's [digest]) and at once by `vigil digest --now`."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from vigil.activities.digest import DigestActivities


def digest_schedule_id(task_queue: str) -> str:
    return f"vigil-digest-{task_queue}"


@workflow.defn
class DigestWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity_method(
            DigestActivities.write,
            workflow.now(),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
            summary="write the leadership digest",
        )
