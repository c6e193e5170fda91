"""WeeklyReportWorkflow: what the weekly report's Temporal Schedule starts (vigil.reports.schedule).

One activity: make the report for the last whole week and tell its audience. The schedule's
own time is the workflow's start time, so a run that was late (the worker was down) still
reports on the week it was meant for."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from vigil.activities.reports import ReportActivities


@workflow.defn
class WeeklyReportWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity_method(
            ReportActivities.send_weekly_report,
            workflow.info().start_time,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)),
            summary="weekly report",
        )
