"""The weekly report's Temporal Schedule: created when a worker starts, updated when the
policy's `[weekly_report]` day, time or zone changed. Temporal keeps the schedule (one per
namespace, however many workers run) and starts WeeklyReportWorkflow on time, also after an
outage (the missed run starts when the server is back, within a day)."""

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from vigil.policy import Policy
from vigil.workflows.weekly_report import WeeklyReportWorkflow

SCHEDULE_ID = "vigil-weekly-report"
_WEEKDAY = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}


def weekly_schedule(policy: Policy, task_queue: str) -> Schedule:
    settings = policy.weekly_report
    hour, minute = (int(part) for part in settings.time.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(WeeklyReportWorkflow.run, id=f"{SCHEDULE_ID}-run", task_queue=task_queue),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_week=[ScheduleRange(_WEEKDAY[settings.weekday])],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                )
            ],
            time_zone_name=settings.time_zone,
        ),
        policy=SchedulePolicy(catchup_window=timedelta(days=1)),
    )


async def ensure_weekly_schedule(client: Client, policy: Policy, task_queue: str) -> None:
    """Create the schedule, or bring an existing one to the policy's day, time and zone."""
    schedule = weekly_schedule(policy, task_queue)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        async def to_policy(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(to_policy)
