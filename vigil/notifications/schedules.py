"""The digest's Temporal Schedule, kept as the policy says: created or updated by every worker at
start-up (idempotent), removed when the policy has no [digest]; and `vigil digest --now`."""

import logging
from datetime import UTC, datetime

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from vigil.policy import DigestSchedule
from vigil.workflows.digest import DigestWorkflow, digest_schedule_id

log = logging.getLogger("vigil.schedules")


def _schedule(digest: DigestSchedule, task_queue: str) -> Schedule:
    hour, minute = digest.at.split(":")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run, id=f"{digest_schedule_id(task_queue)}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(cron_expressions=[f"{int(minute)} {int(hour)} * * *"], time_zone_name=digest.zone),
    )


async def keep_digest_schedule(client: Client, task_queue: str, digest: DigestSchedule | None) -> None:
    schedule_id = digest_schedule_id(task_queue)
    handle = client.get_schedule_handle(schedule_id)
    if digest is None:
        try:
            await handle.delete()
            log.info("the policy has no [digest]: schedule %s removed", schedule_id)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = _schedule(digest, task_queue)
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info("leadership digest scheduled daily at %s %s", digest.at, digest.zone)
    except ScheduleAlreadyRunningError:

        async def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=wanted)

        await handle.update(update)


async def digest_now(client: Client, task_queue: str) -> str:
    """One digest at once: the schedule's own action if there is one, else the workflow directly.
    Returns the workflow id."""
    try:
        await client.get_schedule_handle(digest_schedule_id(task_queue)).trigger()
        return f"{digest_schedule_id(task_queue)}-run (triggered)"
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    workflow_id = f"{digest_schedule_id(task_queue)}-now-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    await client.start_workflow(DigestWorkflow.run, id=workflow_id, task_queue=task_queue)
    return workflow_id
