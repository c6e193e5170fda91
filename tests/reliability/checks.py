"""What "nothing lost, nothing done twice" means, checked after every reliability scenario.

Each incident of the workload (bench.workload) ends closed (resolved as actioned, then the
3-second reopen window passed), and then:
- the workflow completed, and its own answer (the `state` query) is what the projection holds;
- the projection's journal has every entry once, numbered 1..n without gaps;
- exactly one enforcement action was recorded, for its one proposal;
- exactly the notifications its lifecycle calls for are in the outbox, each once;
- one escalation row, one history seal; a SEV1's approval has two votes, and its approvers were
  asked at most once (not at all when both leads decided before the request went out).
"""

import asyncio
import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus

from bench.workload import EXPECTED_SEVERITY, ApiDriver
from vigil.db.tables import (
    ApprovalRow,
    EnforcementRow,
    EscalationRow,
    HistorySealRow,
    IncidentEventRow,
    IncidentRow,
    OutboxRow,
)
from vigil.incident_client import live_state
from vigil.workflows.state import Incident

# The notifications each kind of incident gets, by template: who is told what, once.
EXPECTED_NOTICES = {
    "sev3": Counter({"assigned": 1, "escalation": 1, "enforcement": 1}),
    "sev1": Counter({"opened": 1, "assigned": 1, "escalation": 1, "approval_decided": 1, "enforcement": 1}),
}
# Asking the approvers races the approvals themselves: once, or never if both leads were quicker.
ASKED = {"sev3": (0,), "sev1": (0, 1)}


async def drive(driver: ApiDriver, incidents: dict[str, str], concurrency: int) -> dict[str, str]:
    """Carry every incident (external_ref -> kind) to resolved; returns external_ref -> incident id."""
    gate = asyncio.Semaphore(concurrency)

    async def one(ref: str, kind: str) -> str:
        async with gate:
            return (await driver.run(kind, ref))["id"]

    ids = await asyncio.gather(*(one(ref, kind) for ref, kind in incidents.items()))
    return dict(zip(incidents, ids, strict=True))


def wait_closed(engine: Engine, ids: list[str], timeout: float = 180) -> None:
    """Until the projection shows every incident closed and sealed (its workflow has finished)."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            done = session.scalar(select(func.count()).select_from(IncidentRow).where(
                IncidentRow.id.in_(ids), IncidentRow.status == "closed", IncidentRow.history_digest.is_not(None)))
        if done == len(ids):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"only {done} of {len(ids)} incidents closed and sealed within {timeout}s")
        time.sleep(0.5)


async def assert_all_consistent(client: Client, engine: Engine, kinds: dict[str, str]) -> None:
    """`kinds`: incident id -> workload kind. Every check in the module docstring, for each."""
    ids = list(kinds)
    wait_closed(engine, ids)
    states = await asyncio.gather(*(live_state(client, i) for i in ids))
    descriptions = await asyncio.gather(*(client.get_workflow_handle(i).describe() for i in ids))
    with Session(engine) as session:
        rows = {r.id: r for r in session.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids)))}
        events = _group(session.execute(select(IncidentEventRow.incident_id, IncidentEventRow.entry_no,
                                               IncidentEventRow.refused).where(IncidentEventRow.incident_id.in_(ids))))
        enforcement = _group(session.execute(select(EnforcementRow.incident_id, EnforcementRow.proposal_id)
                                             .where(EnforcementRow.incident_id.in_(ids))))
        notices = _group(session.execute(select(OutboxRow.incident_id, OutboxRow.kind, OutboxRow.key)
                                         .where(OutboxRow.incident_id.in_(ids))))
        escalations = Counter(session.scalars(select(EscalationRow.incident_id)
                                              .where(EscalationRow.incident_id.in_(ids))))
        seals = Counter(session.scalars(select(HistorySealRow.incident_id).where(HistorySealRow.incident_id.in_(ids))))
        approvals = _group(session.execute(select(ApprovalRow.incident_id, ApprovalRow.id, ApprovalRow.votes,
                                                  ApprovalRow.asked_round).where(ApprovalRow.incident_id.in_(ids))))
    problems: list[str] = []
    for incident_id, state, description in zip(ids, states, descriptions, strict=True):
        kind = kinds[incident_id]
        problems += _check_one(incident_id, kind, state, description.status, rows.get(incident_id),
                               events.get(incident_id, []), enforcement.get(incident_id, []),
                               notices.get(incident_id, []), escalations[incident_id], seals[incident_id],
                               approvals.get(incident_id, []))
    assert not problems, f"{len(problems)} problems, first 20:\n" + "\n".join(problems[:20])


def _check_one(incident_id: str, kind: str, state: Incident, status: Any, row: IncidentRow | None,
               events: list, enforcement: list, notices: list, escalations: int, seals: int,
               approvals: list) -> list[str]:
    found = []

    def expect(condition: bool, what: str) -> None:
        if not condition:
            found.append(f"{incident_id} ({kind}): {what}")

    expect(status == WorkflowExecutionStatus.COMPLETED, f"workflow is {status}, not completed")
    expect((state.status, state.resolution, state.severity) == ("closed", "actioned", EXPECTED_SEVERITY[kind]),
           f"ended {state.status}/{state.resolution}/{state.severity}")
    expect([p.status for p in state.proposals] == ["done"], f"proposals {[p.status for p in state.proposals]}")
    if row is None:
        return [*found, f"{incident_id}: no projection row"]
    expect(Incident.model_validate(row.state) == state, "projection state differs from the workflow's")
    expect((row.status, row.seq) == (state.status, state.seq), f"row says {row.status}/{row.seq}, "
           f"workflow {state.status}/{state.seq}")
    numbers = sorted(e.entry_no for e in events)
    expect(numbers == list(range(1, len(numbers) + 1)), f"journal entries not 1..n: {numbers}")
    expect(sum(not e.refused for e in events) == state.seq, f"{len(events)} journal entries for seq {state.seq}")
    expect([e.proposal_id for e in enforcement] == [f"{incident_id}-A1"], f"enforcement rows {enforcement}")
    keys = [n.key for n in notices]
    expect(len(keys) == len(set(keys)), f"outbox keys repeated: {keys}")
    got = Counter(n.kind for n in notices)
    asked = got.pop("approval_requested", 0)
    expect(got == EXPECTED_NOTICES[kind], f"notifications {dict(got)}, expected {dict(EXPECTED_NOTICES[kind])}")
    expect(asked in ASKED[kind], f"approvers asked {asked} times")
    expect(escalations == 1, f"{escalations} escalation rows")
    expect(seals == 1, f"{seals} history seals")
    if kind == "sev1":
        expect(len(approvals) == 1 and len(approvals[0].votes) == 2 and approvals[0].asked_round == asked,
               f"approval rows {approvals}, asked {asked} times")
    else:
        expect(not approvals, f"approval rows {approvals} for an action that needed none")
    return found


def _group(rows: Any) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


async def assert_projected(engine: Engine, state: Incident, timeout: float = 15) -> None:
    """The projection catches up with this state of the workflow, and then holds exactly it."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            row = session.get(IncidentRow, state.id)
        if row is not None and row.seq >= state.seq:
            break
        assert time.monotonic() < deadline, f"{state.id}: projection at seq {row.seq if row else None}, not {state.seq}"
        await asyncio.sleep(0.2)
    assert (row.status, row.seq) == (state.status, state.seq), (state.id, row.status, row.seq)
    assert Incident.model_validate(row.state) == state, f"{state.id}: projected state differs from the workflow's"
