"""ApprovalWorkflow: asks approvers for one proposed action, tier by tier, until the incident
closes the request.

The decision itself (votes, four-eyes, quorum) is made in the incident's state by the state
machine, so there is one record of it. This child does the asking: it notifies the first tier
of approvers, and each time the approval timeout passes without a decision it asks the next
tier (the last tier repeats). The incident signals `close` once the proposal is approved,
rejected or expired.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vigil.activities.approvals import ApprovalActivities
    from vigil.workflows.messages import ApprovalAsk, ApprovalOutcome, ApprovalRequest


@workflow.defn
class ApprovalWorkflow:
    def __init__(self) -> None:
        self._closed_as: str | None = None
        self._round = 0
        self._tier: str | None = None

    @workflow.run
    async def run(self, request: ApprovalRequest) -> ApprovalOutcome:
        timeout = timedelta(seconds=request.timeout_seconds)
        while self._closed_as is None:
            self._round += 1
            self._tier = request.tiers[min(self._round - 1, len(request.tiers) - 1)]
            await workflow.execute_activity_method(
                ApprovalActivities.ask,
                ApprovalAsk(request=request, round=self._round, tier=self._tier, at=workflow.now()),
                start_to_close_timeout=timedelta(seconds=30),
                summary=f"ask {self._tier}",
            )
            try:
                await workflow.wait_condition(
                    lambda: self._closed_as is not None,
                    timeout=timeout,
                    timeout_summary=f"approval timeout, round {self._round}",
                )
            except TimeoutError:
                continue  # nobody decided in time: ask the next tier
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ApprovalOutcome(approval_id=request.proposal.id, status=self._closed_as, rounds=self._round)

    @workflow.signal
    def close(self, status: str) -> None:
        """From the incident: the proposal was decided (approved, rejected) or expired."""
        self._closed_as = status

    @workflow.query
    def asked(self) -> dict[str, object]:
        return {"round": self._round, "tier": self._tier, "closed_as": self._closed_as}
