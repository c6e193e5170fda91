"""DispatcherWorkflow: delivers the outbox. One per task queue, long-lived, started by every
worker at start-up (idempotently) and woken by a signal when the projection writes notices.

Each round asks the database what to do (`plan_deliveries`: resolve new notices through the
directory into deliveries, report overdue ones to the head of IM, pick the deliveries due), then
starts one `deliver` activity per delivery. Temporal retries a delivery with backoff until it is
sent; a permanent refusal (SMTP 5xx, a webhook's 4xx) is not retried: the activity records it
failed and alerts. A timer wakes the dispatcher even without a signal, so nothing waits on a
lost one.

The database, not this workflow, knows what was sent: the delivery activity claims its row
before sending and marks it after, so a run may continue as new while deliveries are in flight
(the next run finds them pending and starts them again; the claim stops a second send while the
first attempt is still out).
"""

import asyncio
import functools
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from vigil.activities.delivery import DELIVERY_LEASE, DeliveryActivities
    from vigil.workflows.messages import DeliveryPlan, PlanRequest

# The database may be down for a while: keep asking.
_PLAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_HISTORY_LIMIT = 5000  # events; then continue as new


def dispatcher_id(task_queue: str) -> str:
    return f"vigil-dispatcher-{task_queue}"


@workflow.defn
class DispatcherWorkflow:
    def __init__(self) -> None:
        self._woken = False
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._concurrency: int | None = None  # the policy's, learnt from the first plan

    @workflow.run
    async def run(self) -> None:
        while True:
            if self._history_is_long():  # deliveries in flight are pending in the database: the next run resumes them
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new()
            self._woken = False
            plan = await self._plan()
            for delivery_id in plan.deliveries:
                self._in_flight[delivery_id] = asyncio.create_task(self._deliver(delivery_id, plan))
            try:
                await workflow.wait_condition(
                    functools.partial(self._work_waits, plan),
                    timeout=timedelta(seconds=plan.check_again_seconds),
                    timeout_summary="look for notices",
                )
            except TimeoutError:
                pass

    def _work_waits(self, plan: DeliveryPlan) -> bool:
        """Woken, or the last plan left work behind and there is room for it now."""
        return self._woken or (plan.more and len(self._in_flight) <= plan.concurrency // 2)

    @workflow.signal
    def wake(self) -> None:
        """Notices were written: look for them now."""
        self._woken = True

    async def _plan(self) -> DeliveryPlan:
        capacity = 32 if self._concurrency is None else max(self._concurrency - len(self._in_flight), 0)
        plan = await workflow.execute_activity_method(
            DeliveryActivities.plan,
            PlanRequest(in_flight=sorted(self._in_flight), capacity=capacity),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_PLAN_RETRY,
            summary="plan deliveries",
        )
        self._concurrency = plan.concurrency
        return plan

    async def _deliver(self, delivery_id: int, plan: DeliveryPlan) -> None:
        try:
            await workflow.execute_activity_method(
                DeliveryActivities.deliver,
                delivery_id,
                start_to_close_timeout=DELIVERY_LEASE,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=2),
                    maximum_interval=timedelta(seconds=plan.retry_max_interval_seconds),
                    non_retryable_error_types=["DeliveryRefused"],
                ),
                summary=f"deliver {delivery_id}",
            )
        except ActivityError as error:  # refused for good: the activity recorded it and alerted
            workflow.logger.info("delivery %s refused: %s", delivery_id, error.cause or error)
        finally:
            del self._in_flight[delivery_id]

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.get_current_history_length() > _HISTORY_LIMIT or info.is_continue_as_new_suggested()
