"""SLA and regulatory clocks are durable timers: breaches are recorded, notified, escalated."""

from datetime import timedelta

from tests.helpers import ANA, LEA, LEO, eventually, open_new, query_state, rows
from vigil.db.tables import IncidentEventRow, OutboxRow, SlaBreachRow
from vigil.temporal.incident_client import act
from vigil.workflows.actions import (
    Acknowledge,
    Approve,
    EnforcementCompleted,
    Escalate,
    ProposeAction,
    RecordTeamResponse,
    SetSeverity,
)


async def test_sev1_unacknowledged_past_ack_sla_is_breached_and_escalated_tier_by_tier(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    handle, state = await open_new(ts_client, task_queue)
    assert state.severity == "SEV1"

    await ts_env.sleep(timedelta(minutes=16))  # ack SLA for SEV1 is 15 minutes
    ack = (await query_state(ts_client, state.id)).clock("sla.acknowledge")
    assert [b.tier for b in ack.breaches] == ["regional_on_call_lead"]
    assert ack.breaches[0].late_by_seconds < 60

    await ts_env.sleep(timedelta(minutes=31))  # reminders every 15 minutes, to the next tier
    ack = (await query_state(ts_client, state.id)).clock("sla.acknowledge")
    assert [b.tier for b in ack.breaches] == [
        "regional_on_call_lead",
        "head_of_incident_management",
        "head_of_incident_management",
    ]

    await act(ts_client, state.id, Acknowledge(), ANA)
    await ts_env.sleep(timedelta(minutes=45))
    ack = (await query_state(ts_client, state.id)).clock("sla.acknowledge")
    assert ack.met_at is not None and len(ack.breaches) == 3, "reminders stop once acknowledged"

    def ack_breach_rows():
        found = rows(sqlite_engine, SlaBreachRow, incident_id=state.id, clock_id="sla.acknowledge")
        return found if len(found) == 3 else None

    breaches = await eventually(ack_breach_rows)
    assert [b.tier for b in sorted(breaches, key=lambda b: b.entry_no)] == [b.tier for b in ack.breaches]
    notified = {o.recipient for o in rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="breach")}
    assert notified == {"tier:regional_on_call_lead:EMEA", "tier:head_of_incident_management", "user:ana"}


async def test_eu_removal_order_unactioned_at_one_hour_is_a_regulatory_breach(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    _, state = await open_new(ts_client, task_queue)
    await act(ts_client, state.id, Acknowledge(), ANA)

    await ts_env.sleep(timedelta(minutes=61))
    order = (await query_state(ts_client, state.id)).clock("regulatory.eu_tco_removal_order")
    assert order.met_at is None and len(order.breaches) == 1

    rows_ = await eventually(
        lambda: rows(sqlite_engine, SlaBreachRow, incident_id=state.id, clock_id="regulatory.eu_tco_removal_order")
    )
    assert rows_[0].clock_kind == "regulatory"
    assert rows_[0].late_by_seconds >= 0


async def test_removal_within_the_hour_meets_the_removal_order(ts_env, ts_client, task_queue, worker):
    _, state = await open_new(ts_client, task_queue)
    await act(ts_client, state.id, Acknowledge(), ANA)
    state = await act(
        ts_client,
        state.id,
        ProposeAction(
            action="remove_content", rationale="valid TCO order", statement_of_reasons="Terrorist content (TCO art. 3)"
        ),
        ANA,
    )
    approval_id = state.proposals[-1].id
    await act(ts_client, state.id, Approve(approval_id=approval_id), LEA)
    await act(ts_client, state.id, Approve(approval_id=approval_id), LEO)

    done = await eventually(lambda: _status_is(ts_client, state.id, "investigating"))
    assert done.proposals[-1].status == "done"
    assert done.clock("regulatory.eu_tco_removal_order").met_at is not None

    await ts_env.sleep(timedelta(hours=2))
    order = (await query_state(ts_client, state.id)).clock("regulatory.eu_tco_removal_order")
    assert order.breaches == []


async def test_escalated_team_silent_past_first_response_sla_is_breached(ts_env, ts_client, task_queue, worker):
    _, state = await open_new(ts_client, task_queue)
    await act(ts_client, state.id, Acknowledge(), ANA)
    await act(ts_client, state.id, Escalate(team="legal", reason="is the order valid?"), ANA)
    await act(ts_client, state.id, Escalate(team="public_policy", reason="press interest"), ANA)
    await act(ts_client, state.id, RecordTeamResponse(team="public_policy", text="holding line ready"), ANA)

    await ts_env.sleep(timedelta(minutes=61))  # SEV1 first response: 1 hour
    state = await query_state(ts_client, state.id)
    assert len(state.clock("sla.first_response.legal").breaches) == 1
    assert state.clock("sla.first_response.public_policy").breaches == []
    assert state.status == "escalated"


async def test_severity_change_rearms_the_clocks(ts_env, ts_client, task_queue, worker):
    _, state = await open_new(ts_client, task_queue, channel="user_report", category="hate_speech", reach=10)
    assert state.severity == "SEV3"  # ack within 4 hours
    await ts_env.sleep(timedelta(minutes=5))
    await act(ts_client, state.id, SetSeverity(severity="SEV1", reason="coordinated campaign"), LEA)

    await ts_env.sleep(timedelta(minutes=11))  # 16 minutes after intake: past SEV1's 15 minutes
    ack = (await query_state(ts_client, state.id)).clock("sla.acknowledge")
    assert ack.due_at == state.opened_at + timedelta(minutes=15)
    assert len(ack.breaches) == 1


async def test_enforcement_result_is_recorded_by_vigil_not_by_people(ts_client, task_queue, worker, sqlite_engine):
    """EnforcementCompleted is Vigil's own action: a person cannot send it."""
    _, state = await open_new(ts_client, task_queue)
    handle = ts_client.get_workflow_handle(state.id)
    fake = {
        "action": EnforcementCompleted(proposal_id="x", succeeded=True, reference="r").model_dump(mode="json"),
        "actor": ANA.model_dump(mode="json"),
    }
    from vigil.workflows.incident import IncidentWorkflow

    await handle.signal(IncidentWorkflow.act_signal, fake)
    refused = await eventually(
        lambda: [e for e in rows(sqlite_engine, IncidentEventRow, incident_id=state.id) if e.refused]
    )
    # Not a person's action at all: refused as malformed, naming the type it does not know.
    assert [e.type for e in refused] == ["malformed"] and "enforcement_completed" in refused[0].reason
    after = await query_state(ts_client, state.id)
    assert after.seq == state.seq and not after.proposals


async def _status_is(client, incident_id, status):
    state = await query_state(client, incident_id)
    return state if state.status == status else None
