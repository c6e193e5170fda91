"""Repairing an incident whose history no longer replays (the watchdog finds them; see
docs/reliability.md): reset its workflow to the workflow task where the history diverges.

Temporal's reset starts a new run from a copy of the history up to that task, fails the task
there (recording the reason) and runs it again with today's code; the signals and updates
received after it are applied again, in the replay's order. What a person was told succeeded
may then come out otherwise (an update refused on the state it now meets), so a repair checks
each action answered before against the repaired run and reports every difference, hiding none.

Steps, each safe to run again:
1. plan: replay the history, find the first diverging event and the workflow task it belongs
   to, and the journal entries that task and those after it produced (they will be produced
   again);
2. rewind the projection to the entries before that task: the rows of the entries after it
   go, the incident and approval rows return to the state then (undelivered notices of those
   entries go too; delivered ones stay, they were sent);
3. reset, reapplying signals and updates;
4. once the new run has caught up, compare its journal with the old one, store the report in
   `repairs`, and mark the watchdog's check repaired.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.converter import DataConverter

from vigil.activities.projection import approval_rows, incident_row
from vigil.audit.history import IncidentHistory, fetch
from vigil.audit.journal import Journal, Recorded, read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.replay import replay
from vigil.db.search import search_row
from vigil.db.tables import (
    ApprovalRow,
    ClockOutcomeRow,
    EnforcementOutcomeRow,
    EscalationRow,
    IncidentEventRow,
    IncidentRow,
    IncidentSearchRow,
    MilestoneRow,
    OutboxRow,
    RepairRow,
    ReplayCheckRow,
    SeverityChangeRow,
    SlaBreachRow,
)

E = EventType
# The projection's rows written from one journal entry (keyed or stamped by its number).
_BY_ENTRY: tuple[
    type[
        IncidentEventRow
        | EscalationRow
        | SlaBreachRow
        | MilestoneRow
        | ClockOutcomeRow
        | SeverityChangeRow
        | EnforcementOutcomeRow
    ],
    ...,
] = (
    IncidentEventRow,
    EscalationRow,
    SlaBreachRow,
    MilestoneRow,
    ClockOutcomeRow,
    SeverityChangeRow,
    EnforcementOutcomeRow,
)
# How long a repair waits for the new run to apply what was reapplied to it.
CATCH_UP_SECONDS = 60.0


class NothingToRepair(Exception):
    """The history replays against today's code: there is nothing to reset."""


class CannotRepair(Exception):
    """The history diverges, but not where a reset can mend it; the message says why."""


@dataclass(frozen=True)
class Plan:
    incident_id: str
    run_id: str  # the run that diverges (the running one)
    diverging_event: int  # across runs
    diverging_event_id: int  # within the run
    reset_event_id: int  # the WorkflowTaskCompleted of the task that issued the diverging commands
    reset_event: int  # the same, across runs
    kept_entries: int  # journal entries made before that task: these stay
    redone: list[Recorded]  # entries that task and later ones made: made again by the new run
    message: str  # the replay's words at the divergence


@dataclass(frozen=True)
class Outcome:
    """One action a person was answered for before the repair, and what it is after."""

    entry_no: int
    type: str
    actor: str
    via: str
    before: str  # applied | refused
    after: str  # applied | refused | missing
    reason: str | None = None

    @property
    def same(self) -> bool:
        return self.before == self.after


@dataclass
class Report:
    incident_id: str
    plan: Plan
    new_run_id: str | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    replays_now: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.same]


async def plan(client: Client, converter: DataConverter, incident_id: str) -> Plan:
    history = await fetch(client, incident_id, approvals=False)
    [verdict] = await replay([history], converter)
    if verdict.ok:
        raise NothingToRepair(f"{incident_id} replays cleanly against today's code: nothing to repair")
    divergence = verdict.divergence
    current = history.runs[-1]
    if divergence is None or divergence.event_id is None or divergence.event is None:
        raise CannotRepair(f"{incident_id}: the replay failed without naming an event ({verdict.result})")
    if divergence.run_id != current.run_id:
        raise CannotRepair(
            f"{incident_id} diverges in an earlier run ({divergence.run_id}), which has ended; "
            "the running one starts from the state it carried"
        )
    completed = [
        e.event_id
        for e in current.events
        if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < divergence.event_id
    ]
    if not completed:
        raise CannotRepair(f"{incident_id}: no workflow task completed before event {divergence.event}")
    reset_event_id = completed[-1]
    task_started = _started_at(history, reset_event_id)
    journal = await read_journal(history, converter)
    redone = [r for r in journal.entries if r.run == len(history.runs) - 1 and r.entry.at >= task_started]
    kept = len(journal.entries) - len(redone)
    offset = divergence.event - divergence.event_id
    return Plan(
        incident_id=incident_id,
        run_id=current.run_id,
        diverging_event=divergence.event,
        diverging_event_id=divergence.event_id,
        reset_event_id=reset_event_id,
        reset_event=offset + reset_event_id,
        kept_entries=kept,
        redone=redone,
        message=divergence.message,
    )


def _started_at(history: IncidentHistory, completed_event_id: int) -> datetime:
    """When the workflow task that completed at this event started: its entries' `at`."""
    events = {e.event_id: e for e in history.runs[-1].events}
    started_id = events[completed_event_id].workflow_task_completed_event_attributes.started_event_id
    return events[started_id].event_time.ToDatetime(tzinfo=UTC)


def rewind_projection(engine: Engine, journal: Journal, plan: Plan) -> None:
    """The projection as it was after the kept entries, so the new run's writes land again."""
    kept = Reconstruction(journal).after_entry(plan.kept_entries) if plan.kept_entries else None
    incident = plan.incident_id
    with Session(engine) as session, session.begin():
        for table in _BY_ENTRY:
            session.execute(
                delete(table).where(col(table.incident_id) == incident, col(table.entry_no) > plan.kept_entries)
            )
        redone_keys = [f"{incident}:{r.entry.entry_no}:%" for r in plan.redone]
        for pattern in redone_keys:
            session.execute(
                delete(OutboxRow).where(
                    col(OutboxRow.incident_id) == incident,
                    col(OutboxRow.key).like(pattern),
                    col(OutboxRow.delivered_at).is_(None),
                )
            )
        if kept is None:
            session.execute(delete(IncidentRow).where(col(IncidentRow.id) == incident))
            session.execute(delete(ApprovalRow).where(col(ApprovalRow.incident_id) == incident))
            session.execute(delete(IncidentSearchRow).where(col(IncidentSearchRow.incident_id) == incident))
            return
        row = incident_row(kept)
        session.execute(update(IncidentRow).where(col(IncidentRow.id) == incident).values(**row))
        words = search_row(incident, row["seq"], row["state"])  # the redone entries write theirs again
        session.execute(update(IncidentSearchRow).where(col(IncidentSearchRow.incident_id) == incident).values(**words))
        proposals = {p["id"]: p for p in approval_rows(kept)}
        existing = session.scalars(select(ApprovalRow).where(col(ApprovalRow.incident_id) == incident))
        for approval in existing:
            if approval.id in proposals:
                values = {k: v for k, v in proposals[approval.id].items() if k != "id"}
                session.execute(update(ApprovalRow).where(col(ApprovalRow.id) == approval.id).values(**values))
            else:  # proposed after the kept entries: proposed again, if at all, by the new run
                session.delete(approval)


async def reset(client: Client, plan: Plan, reason: str) -> str:
    """Reset to the diverging task, reapplying signals and updates; the new run's id."""
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=plan.incident_id, run_id=plan.run_id),
            reason=reason,
            workflow_task_finish_event_id=plan.reset_event_id,
            request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-repair/{plan.run_id}/{plan.reset_event_id}")),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE,
        )
    )
    return str(response.run_id)


async def compare(
    client: Client, converter: DataConverter, plan: Plan, report: Report, timeout: float = CATCH_UP_SECONDS
) -> None:
    """Each action answered before the reset point's task, as the repaired run has it."""
    answered = [r for r in plan.redone if r.via in ("update", "signal") and r.entry.actor is not None]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        history = await fetch(client, plan.incident_id, approvals=False)
        journal = await read_journal(history, converter)
        redone = [r for r in journal.entries if r.entry.entry_no > plan.kept_entries]
        report.outcomes = [_outcome(before, redone) for before in answered]
        settled = all(o.after != "missing" for o in report.outcomes)
        if settled or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    [verdict] = await replay([history], converter)
    report.replays_now = verdict.ok
    if not verdict.ok:
        report.notes.append(f"the repaired history does not replay either: {verdict.divergence}")


def _outcome(before: Recorded, redone: list[Recorded]) -> Outcome:
    entry = before.entry
    assert entry.action is not None and entry.actor is not None
    wanted = (entry.action.model_dump(mode="json"), entry.actor.model_dump(mode="json"))
    again = next(
        (
            r.entry
            for r in redone
            if r.entry.action is not None
            and r.entry.actor is not None
            and (r.entry.action.model_dump(mode="json"), r.entry.actor.model_dump(mode="json")) == wanted
        ),
        None,
    )
    after = "missing" if again is None else ("refused" if again.refused else "applied")
    return Outcome(
        entry_no=entry.entry_no,
        type=entry.action.type,
        actor=entry.actor.user,
        via=before.via,
        before="refused" if entry.refused else "applied",
        after=after,
        reason=again.reason if again is not None else None,
    )


def record(engine: Engine, report: Report, repaired_by: str, reason: str) -> None:
    now = datetime.now(UTC)
    document = report_record(report, repaired_by, reason)
    with Session(engine) as session, session.begin():
        session.add(
            RepairRow(
                incident_id=report.incident_id,
                repaired_at=now,
                repaired_by=repaired_by,
                reason=reason,
                old_run_id=report.plan.run_id,
                new_run_id=report.new_run_id or "",
                reset_event=report.plan.reset_event,
                diverging_event=report.plan.diverging_event,
                report=document.model_dump(mode="json"),
            )
        )
        session.execute(
            update(ReplayCheckRow)
            .where(col(ReplayCheckRow.incident_id) == report.incident_id)
            .values(repaired_at=now, checked_seq=-1)  # the watchdog checks the new run next round
        )


class ActionAfterRepair(BaseModel):
    entry_no: int
    type: str
    actor: str
    via: str = Field(description="update (the person was answered) or signal")
    before: str = Field(description="applied or refused, before the repair")
    after: str = Field(description="applied, refused or missing in the repaired run ('not yet run': a dry run)")
    reason: str | None = Field(None, description="why it is refused now")


class RepairRecord(BaseModel):
    """What a repair did: kept in `repairs`, answered by the API, printed by `vigil audit repair`."""

    incident_id: str
    repaired_by: str
    reason: str
    old_run_id: str
    new_run_id: str | None
    diverging_event: int = Field(description="The first event today's code no longer matches, across runs")
    divergence: str
    reset_to_event: int = Field(description="The workflow task completed here was run again")
    entries_kept: int
    entries_redone: int
    replays_now: bool | None
    actions: list[ActionAfterRepair] = Field(description="Each action a person sent that the repair ran again")
    differences: int = Field(description="Actions whose outcome is not what the person was told")
    notes: list[str] = []


def report_record(report: Report, repaired_by: str, reason: str) -> RepairRecord:
    plan = report.plan
    return RepairRecord(
        incident_id=report.incident_id,
        repaired_by=repaired_by,
        reason=reason,
        old_run_id=plan.run_id,
        new_run_id=report.new_run_id,
        diverging_event=plan.diverging_event,
        divergence=plan.message,
        reset_to_event=plan.reset_event,
        entries_kept=plan.kept_entries,
        entries_redone=len(plan.redone),
        replays_now=report.replays_now,
        actions=[ActionAfterRepair(**o.__dict__) for o in report.outcomes],
        differences=len(report.differences),
        notes=report.notes,
    )


async def dry_run(client: Client, converter: DataConverter, incident_id: str, by: str, reason: str) -> RepairRecord:
    """What a repair would do, changing nothing: where it resets, and which actions it runs again."""
    found = await plan(client, converter, incident_id)
    report = Report(incident_id=incident_id, plan=found, notes=["dry run: nothing was reset"])
    report.outcomes = [
        Outcome(
            r.entry.entry_no,
            r.entry.action.type,
            r.entry.actor.user,
            r.via,
            "refused" if r.entry.refused else "applied",
            "not yet run",
        )
        for r in found.redone
        if r.via in ("update", "signal") and r.entry.action is not None and r.entry.actor is not None
    ]
    return report_record(report, by, reason)


async def repair(
    client: Client, converter: DataConverter, engine: Engine, incident_id: str, repaired_by: str, reason: str
) -> RepairRecord:
    """Plan, rewind, reset, compare, record. Raises NothingToRepair / CannotRepair."""
    found = await plan(client, converter, incident_id)
    journal = await read_journal(await fetch(client, incident_id, approvals=False), converter)
    report = Report(incident_id=incident_id, plan=found)
    await asyncio.to_thread(rewind_projection, engine, journal, found)
    words = f"vigil repair by {repaired_by}: {reason}"
    report.new_run_id = await reset(client, found, words)
    await compare(client, converter, found, report)
    await asyncio.to_thread(record, engine, report, repaired_by, reason)
    return report_record(report, repaired_by, reason)


def repairs_of(engine: Engine, incident_id: str) -> list[RepairRecord]:
    with Session(engine) as session:
        rows = session.scalars(
            select(RepairRow).where(col(RepairRow.incident_id) == incident_id).order_by(col(RepairRow.id))
        )
        return [RepairRecord.model_validate(row.report) for row in rows]
