"""EvidencePurgeWorkflow: one evidence item's durable purge timer (id evidence-purge-EV-...).

Started by the upload of an item that must be preserved (policy `preserve_evidence`). It waits
until the preservation ends, then purges the item and records it in the chain of custody. A legal
hold keeps it waiting: lifting one signals `reconsider`, and a held item is looked at again weekly
anyway. Why one workflow per item rather than a Schedule sweeping the table: the timer fires at the
item's own moment (a sweep fires up to its interval late), its history is that item's record of
being kept and let go, and items are few (files attached by people, not every incident).
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from vigil.activities.evidence import EvidenceActivities
    from vigil.evidence.messages import PurgeRequest

_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
_SHORTEST_WAIT = timedelta(seconds=1)


def purge_workflow_id(evidence_id: str) -> str:
    return f"evidence-purge-{evidence_id}"


@workflow.defn
class EvidencePurgeWorkflow:
    def __init__(self) -> None:
        self._reconsider = False

    @workflow.run
    async def run(self, evidence_id: str) -> str:
        while True:
            step = await workflow.execute_activity_method(
                EvidenceActivities.purge_evidence,
                PurgeRequest(evidence_id=evidence_id, now=workflow.now()),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_RETRY,
            )
            if step.done:
                return step.outcome
            assert step.wait_until is not None
            self._reconsider = False
            wait = max(step.wait_until - workflow.now(), _SHORTEST_WAIT)
            try:
                await workflow.wait_condition(lambda: self._reconsider, timeout=wait)
            except TimeoutError:
                pass

    @workflow.signal
    def reconsider(self) -> None:
        """A legal hold was lifted or the preservation changed: look again now."""
        self._reconsider = True
