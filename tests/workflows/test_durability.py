"""Workers die: an incident carries on where it was, nothing lost or done twice.

Runs on the dev server in real time: the time-skipping server will not move its clock while a
workflow has work no worker is there to take, which is exactly the situation tested here.
"""

import asyncio
from datetime import timedelta

from tests.helpers import ANA, LEA, LEO, eventually, open_new, query_state, rows, running_worker
from vigil.db.tables import EnforcementRow, IncidentEventRow, IncidentRow
from vigil.temporal.incident_client import act, send_action
from vigil.workflows.actions import Acknowledge, Approve, Escalate, ProposeAction, RecordTeamResponse


async def test_a_worker_stopped_and_restarted_mid_incident_loses_nothing(dev_client, task_queue, sqlite_engine, policy):
    client = dev_client
    # A removal order due in 2 seconds, so its clock runs out while no worker is there.
    quick = policy.model_copy(
        update={"regulatory": [r.model_copy(update={"due": timedelta(seconds=2)}) for r in policy.regulatory]}
    )
    async with running_worker(client, task_queue, sqlite_engine, quick):
        _, state = await open_new(client, task_queue)
        await act(client, state.id, Acknowledge(), ANA)
        await act(client, state.id, Escalate(team="legal", reason="order valid?"), ANA)
        state = await act(
            client,
            state.id,
            ProposeAction(
                action="remove_content", rationale="TCO order", statement_of_reasons="Terrorist content (TCO art. 3)"
            ),
            ANA,
        )
    approval = state.proposals[-1].id

    # No worker: people keep acting (signals are accepted by the server) and clocks keep running.
    await send_action(client, state.id, RecordTeamResponse(team="legal", text="order is valid"), ANA)
    await send_action(client, state.id, Approve(approval_id=approval), LEA)
    await send_action(client, state.id, Approve(approval_id=approval), LEO)
    await asyncio.sleep(3)  # the removal order runs out while nobody runs

    async with running_worker(client, task_queue, sqlite_engine, quick):

        async def enforced():
            current = await query_state(client, state.id)
            return current if current.proposals[-1].status == "done" else None

        after = await eventually(enforced)
        assert after.teams[0].responses[0].text == "order is valid"
        assert after.proposals[-1].approvers == ["lea", "leo"]
        order = after.clock("regulatory.eu_tco_removal_order")
        assert order.breaches, "the clock fired while the worker was away and was handled on return"

        def projected():
            row = rows(sqlite_engine, IncidentRow, id=state.id)
            return row and row[0].seq == after.seq and row[0]

        await eventually(projected)
    events = rows(sqlite_engine, IncidentEventRow, incident_id=state.id)
    assert sorted(e.entry_no for e in events) == list(range(1, len(events) + 1))
    assert len(rows(sqlite_engine, EnforcementRow, proposal_id=approval)) == 1
