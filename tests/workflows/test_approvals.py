"""Approvals: four-eyes, quorum, the asking tier by tier, rejection, expiry, enforcement."""

from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus

from tests.helpers import ANA, BEA, LEA, LEO, eventually, open_new, query_state, refusal, rows, running_worker
from vigil.activities.enforcement import EnforcementRefused, RecordingAdapter
from vigil.db.tables import ApprovalRow, EnforcementRow, IncidentEventRow, OutboxRow
from vigil.temporal.incident_client import act, send_action
from vigil.workflows.actions import Acknowledge, Approve, ProposeAction, Reject, Resolve, SetSeverity
from vigil.workflows.approval import ApprovalWorkflow

SEV3 = {"channel": "user_report", "category": "hate_speech", "reach": 10, "region": "NA"}
TERMINATE = ProposeAction(
    action="terminate_account",
    rationale="repeat offender, third strike",
    target="acct:991",
    statement_of_reasons="Account terminated for repeated terrorist content (DSA art. 17)",
)


async def _proposed(client, task_queue, proposer=ANA, **intake):
    _, state = await open_new(client, task_queue, **intake)
    await act(client, state.id, Acknowledge(), BEA)
    state = await act(client, state.id, TERMINATE, proposer)
    assert state.status == "pending_approval"
    return state, state.proposals[-1].id


async def _status(client, incident_id, wanted):
    state = await query_state(client, incident_id)
    return state if state.status == wanted else None


async def _request_closed_as(client, approval_id):
    handle = client.get_workflow_handle_for(ApprovalWorkflow.run, approval_id)
    if (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
        return None
    return (await handle.result()).status


async def test_sev1_action_needs_two_distinct_leads(ts_client, task_queue, worker, sqlite_engine):
    state, approval = await _proposed(ts_client, task_queue)  # EMEA violent extremism: SEV1
    assert state.proposals[-1].quorum == 2

    state = await act(ts_client, state.id, Approve(approval_id=approval, comment="clear"), LEA)
    assert state.status == "pending_approval" and state.proposals[-1].approvers == ["lea"]
    again = await refusal(act(ts_client, state.id, Approve(approval_id=approval), LEA))
    assert again.code == "conflict" and "already approved" in again.reason

    state = await act(ts_client, state.id, Approve(approval_id=approval), LEO)
    assert state.status == "actioning"
    done = await eventually(lambda: _status(ts_client, state.id, "investigating"))
    assert done.proposals[-1].status == "done"
    assert await eventually(lambda: _request_closed_as(ts_client, approval)) == "approved"
    enforced = rows(sqlite_engine, EnforcementRow, proposal_id=approval)
    assert len(enforced) == 1 and enforced[0].action == "terminate_account" and enforced[0].target == "acct:991"


async def test_proposer_cannot_approve_own_action_by_update(ts_client, task_queue, worker):
    state, approval = await _proposed(ts_client, task_queue, proposer=LEA)
    refused = await refusal(act(ts_client, state.id, Approve(approval_id=approval), LEA))
    assert refused.code == "forbidden" and "four-eyes" in refused.reason
    assert (await query_state(ts_client, state.id)).proposals[-1].votes == []


async def test_proposer_cannot_approve_own_action_by_signal(ts_client, task_queue, worker, sqlite_engine):
    state, approval = await _proposed(ts_client, task_queue, proposer=LEA)
    await send_action(ts_client, state.id, Approve(approval_id=approval), LEA)

    def refused_rows():
        return [e for e in rows(sqlite_engine, IncidentEventRow, incident_id=state.id) if e.refused]

    refused = await eventually(refused_rows)
    assert refused[0].type == "approve" and "four-eyes" in refused[0].reason
    after = await query_state(ts_client, state.id)
    assert after.status == "pending_approval" and after.proposals[-1].votes == []


async def test_unanswered_approval_asks_the_next_tier_after_each_timeout(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    state, approval = await _proposed(ts_client, task_queue)

    def asked_round(n):
        return lambda: (found := rows(sqlite_engine, ApprovalRow, id=approval)) and found[0].asked_round == n and found

    assert (await eventually(asked_round(1)))[0].asked_tier == "leads"
    await ts_env.sleep(timedelta(minutes=31))  # approval timeout: 30 minutes
    assert (await eventually(asked_round(2)))[0].asked_tier == "regional_on_call_lead"
    await ts_env.sleep(timedelta(minutes=30))
    assert (await eventually(asked_round(3)))[0].asked_tier == "head_of_incident_management"
    await ts_env.sleep(timedelta(minutes=30))
    assert (await eventually(asked_round(4)))[0].asked_tier == "head_of_incident_management"  # the last repeats

    asks = rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="approval_requested")
    assert sorted(a.recipient for a in asks) == sorted(
        [
            "tier:leads:EMEA",
            "tier:regional_on_call_lead:EMEA",
            "tier:head_of_incident_management",
            "tier:head_of_incident_management",
        ]
    )
    assert all(a.language == "en" for a in asks)


async def test_rejection_sends_the_incident_back_to_investigating(ts_client, task_queue, worker):
    state, approval = await _proposed(ts_client, task_queue)
    state = await act(ts_client, state.id, Reject(approval_id=approval, reason="first strike only: warn"), LEA)
    assert state.status == "investigating"
    assert state.proposals[-1].status == "rejected"
    assert state.proposals[-1].decision_reason == "first strike only: warn"
    assert await eventually(lambda: _request_closed_as(ts_client, approval)) == "rejected"


async def test_severity_change_expires_the_pending_approval(ts_client, task_queue, worker):
    state, approval = await _proposed(ts_client, task_queue)
    state = await act(ts_client, state.id, SetSeverity(severity="SEV2", reason="no removal order after all"), LEO)
    assert state.proposals[-1].status == "expired" and state.status == "investigating"
    assert await eventually(lambda: _request_closed_as(ts_client, approval)) == "expired"
    late = await refusal(act(ts_client, state.id, Approve(approval_id=approval), LEA))
    assert late.code == "conflict"


async def test_resolving_expires_the_pending_approval_and_closes_its_request(ts_client, task_queue, worker):
    state, approval = await _proposed(ts_client, task_queue)
    state = await act(ts_client, state.id, Resolve(resolution="duplicate", summary="same as INC-1"), ANA)
    assert state.status == "resolved" and state.proposals[-1].status == "expired"
    assert await eventually(lambda: _request_closed_as(ts_client, approval)) == "expired"
    late = await refusal(act(ts_client, state.id, Approve(approval_id=approval), LEA))
    assert late.code == "conflict"


async def test_action_needing_no_approval_is_enforced_at_once(ts_client, task_queue, worker, sqlite_engine):
    _, state = await open_new(ts_client, task_queue, **SEV3)
    await act(ts_client, state.id, Acknowledge(), ANA)
    state = await act(ts_client, state.id, ProposeAction(action="remove_content", rationale="slur"), ANA)
    assert state.status == "actioning" and not state.proposals[-1].needs_approval
    done = await eventually(lambda: _status(ts_client, state.id, "investigating"))
    assert done.proposals[-1].enforcement_reference == f"ENF-{done.proposals[-1].id}"
    assert len(rows(sqlite_engine, EnforcementRow, incident_id=state.id)) == 1


class _AccountGone:
    name = "refusing"

    def execute(self, request):
        raise EnforcementRefused(f"{request.proposal.target} no longer exists")


async def test_enforcement_the_platform_refuses_is_recorded_and_not_retried(
    ts_client, ts_worker_client, task_queue, sqlite_engine, policy
):
    async with running_worker(ts_worker_client, task_queue, sqlite_engine, policy, adapter=_AccountGone()):
        _, state = await open_new(ts_client, task_queue, **SEV3)
        await act(ts_client, state.id, Acknowledge(), ANA)
        await act(ts_client, state.id, ProposeAction(action="suspend_account", rationale="spam", target="acct:7"), ANA)
        back = await eventually(lambda: _status(ts_client, state.id, "investigating"))
    assert back.proposals[-1].status == "failed"
    assert "acct:7 no longer exists" in back.notes[-1].text


class _CrashAfterActing:
    """The platform acts, then the worker dies before the activity reports back: the first
    attempt's action has happened, its completion is lost, and Temporal retries."""

    name = "crash-after-acting"

    def __init__(self, engine):
        self._recording = RecordingAdapter(engine)
        self.calls = 0

    def execute(self, request):
        self.calls += 1
        result = self._recording.execute(request)
        if self.calls == 1:
            raise RuntimeError("worker lost before reporting the enforcement")
        return result


async def test_enforcement_retried_after_acting_happens_once(
    ts_client, ts_worker_client, task_queue, sqlite_engine, policy
):
    adapter = _CrashAfterActing(sqlite_engine)
    async with running_worker(ts_worker_client, task_queue, sqlite_engine, policy, adapter=adapter):
        _, state = await open_new(ts_client, task_queue, **SEV3)
        await act(ts_client, state.id, Acknowledge(), ANA)
        await act(ts_client, state.id, ProposeAction(action="suspend_account", rationale="spam", target="acct:8"), ANA)
        back = await eventually(lambda: _status(ts_client, state.id, "investigating"), timeout=30)
    assert adapter.calls == 2
    assert back.proposals[-1].status == "done"
    enforced = rows(sqlite_engine, EnforcementRow, incident_id=state.id)
    assert len(enforced) == 1 and enforced[0].attempts == 2
    assert back.proposals[-1].enforcement_reference == enforced[0].reference
