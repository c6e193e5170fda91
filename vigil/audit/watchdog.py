"""The watchdog: does every open incident's history still replay against the running code?

An incident whose history no longer replays stalls at its next workflow task (the worker logs
TMPRL1100 and retries forever): its SLA and legal clocks stop. The watchdog finds one before a
person does, and says so once: docs/reliability.md tells why it can happen and how to repair.

Each round (WatchdogWorkflow, on a Temporal Schedule) checks, within a budget:
1. the incidents Temporal itself flags (the `TemporalReportedProblems` search attribute, set
   after repeated workflow-task failures where the server's dynamic config asks for it);
2. the open incidents whose projection moved since their last check, oldest check first.
Histories are replayed in a separate process, so a round never holds the worker's GIL while
its workflow tasks wait. Verdicts go to `replay_checks`; a history found diverged is alerted to
the head of incident management through the outbox, once per divergence.
"""

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.client import Client

from vigil.audit.history import HistoryNotFound, IncidentHistory, fetch
from vigil.db.tables import IncidentRow, OutboxRow, ReplayCheckRow
from vigil.db.upsert import insert_ignore
from vigil.domain import TERMINAL_STATUSES
from vigil.notifications.notices import for_divergence
from vigil.parent_death import die_with

# Temporal's own mark for a workflow whose tasks keep failing (server 1.30+, dynamic config
# system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute).
FLAGGED_BY_TEMPORAL = 'TemporalReportedProblems IS NOT NULL AND ExecutionStatus = "Running"'
_FETCH_CONCURRENCY = 8


@dataclass(frozen=True)
class Candidate:
    incident_id: str
    seq: int


@dataclass(frozen=True)
class Verdict:
    incident_id: str
    result: str  # ok | nondeterministic | failed
    events: int
    divergence_event: int | None = None
    detail: str | None = None


async def flagged_by_temporal(client: Client) -> list[str]:
    """Open incidents whose workflow tasks Temporal reports as failing again and again."""
    found: list[str] = []
    async for execution in client.list_workflows(f'WorkflowType = "IncidentWorkflow" AND {FLAGGED_BY_TEMPORAL}'):
        found.append(execution.id)
    return found


def _is_open() -> ColumnElement[bool]:
    return col(IncidentRow.status).not_in([s.value for s in TERMINAL_STATUSES])


def due_for_check(engine: Engine, flagged: Sequence[str], budget: int) -> list[Candidate]:
    """Flagged incidents first, then open ones never checked or changed since, oldest check first."""
    open_ = _is_open()
    changed = or_(
        col(ReplayCheckRow.incident_id).is_(None),
        col(ReplayCheckRow.checked_seq) < col(IncidentRow.seq),
        col(ReplayCheckRow.result) != "ok",
        col(IncidentRow.id).in_(list(flagged)),
    )
    statement = (
        select(col(IncidentRow.id), col(IncidentRow.seq))
        .outerjoin(ReplayCheckRow, col(ReplayCheckRow.incident_id) == col(IncidentRow.id))
        .where(open_, changed)
        .order_by(
            col(IncidentRow.id).in_(list(flagged)).desc(),  # flagged by Temporal first
            col(ReplayCheckRow.checked_at).is_not(None),  # then never checked
            col(ReplayCheckRow.checked_at),  # then the longest since its check
        )
        .limit(budget)
    )
    with Session(engine) as session:
        return [Candidate(incident_id, seq) for incident_id, seq in session.execute(statement)]


async def fetch_histories(client: Client, candidates: Sequence[Candidate]) -> list[IncidentHistory]:
    """The incidents' own runs (approval requests are not where a stall would be)."""
    gate = asyncio.Semaphore(_FETCH_CONCURRENCY)

    async def one(candidate: Candidate) -> IncidentHistory | None:
        async with gate:
            try:
                return await fetch(client, candidate.incident_id, approvals=False)
            except HistoryNotFound:  # retention removed it, or a test's namespace is gone
                return None

    fetched = await asyncio.gather(*(one(c) for c in candidates))
    return [history for history in fetched if history is not None]


def replay_in_this_process(histories: list[IncidentHistory]) -> list[Verdict]:
    """Replays histories with the worker's own workflows and converter (settings from the
    environment, as every Vigil process reads them). Runs in the watchdog's child process."""
    from vigil.audit.replay import replay
    from vigil.temporal import data_converter

    reports = asyncio.run(replay(histories, data_converter()))
    return [
        Verdict(
            incident_id=r.incident_id,
            result=r.result,
            events=r.events,
            divergence_event=r.divergence.event if r.divergence else None,
            detail=(r.divergence.message + (f" ({r.divergence.known_cause})" if r.divergence.known_cause else ""))
            if r.divergence
            else None,
        )
        for r in reports
    ]


def replay_pool() -> Executor:
    """One child process for replays, started fresh (spawn): it shares nothing with the worker."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_background_replayer,
        initargs=(os.getpid(),),
    )


# How much lower than the worker the watchdog's replays run. A burst of actions changes many
# histories, and each round replays up to its budget of them: on a busy machine that took a
# fifth of the worker's CPU from the workflow tasks and activities that serve people (bench/
# README.md, (a)). Niced, it takes what they leave.
_REPLAY_NICENESS = 10


def _background_replayer(parent: int) -> None:
    die_with(parent)  # a worker killed (or exiting without shutdown) takes its replayer along
    os.nice(_REPLAY_NICENESS)


def record(
    engine: Engine, candidates: Sequence[Candidate], verdicts: Sequence[Verdict], now: datetime, public_url: str
) -> tuple[list[str], list[str]]:
    """Store the verdicts; alert each new divergence once. Returns (diverged, newly alerted) ids."""
    seqs = {c.incident_id: c.seq for c in candidates}
    diverged: list[str] = []
    alerted: list[str] = []
    with Session(engine) as session, session.begin():
        rows = {
            r.incident_id: r
            for r in session.scalars(
                select(ReplayCheckRow).where(col(ReplayCheckRow.incident_id).in_([v.incident_id for v in verdicts]))
            )
        }
        incidents = {i.id: i for i in session.scalars(select(IncidentRow).where(col(IncidentRow.id).in_(list(seqs))))}
        for verdict in verdicts:
            row = rows.get(verdict.incident_id) or ReplayCheckRow(
                incident_id=verdict.incident_id, checked_seq=0, checked_events=0, checked_at=now, result="ok"
            )
            row.checked_seq, row.checked_events, row.checked_at = seqs[verdict.incident_id], verdict.events, now
            row.result, row.divergence_event, row.detail = verdict.result, verdict.divergence_event, verdict.detail
            if verdict.result == "ok":
                row.diverged_since = row.alerted_at = None
            else:
                diverged.append(verdict.incident_id)
                row.diverged_since = row.diverged_since or now
                incident = incidents.get(verdict.incident_id)
                if row.alerted_at is None and incident is not None:
                    _alert(session, incident, verdict, now, public_url)
                    row.alerted_at = now
                    alerted.append(verdict.incident_id)
            session.add(row)
    return diverged, alerted


def _alert(session: Session, incident: IncidentRow, verdict: Verdict, now: datetime, public_url: str) -> None:
    notice = for_divergence(incident.id, incident.severity, incident.region, verdict.divergence_event, public_url)
    row = {
        "key": notice.key,
        "incident_id": incident.id,
        "kind": notice.kind,
        "recipient": notice.recipient,
        "language": notice.language,
        "subject": notice.subject,
        "body": notice.body,
        "created_at": now,
    }
    insert_ignore(session, OutboxRow, [row])


def diverged_incidents(engine: Engine) -> list[ReplayCheckRow]:
    """Open incidents whose last check found a history that no longer replays."""
    with Session(engine) as session:
        statement = (
            select(ReplayCheckRow)
            .join(IncidentRow, col(IncidentRow.id) == col(ReplayCheckRow.incident_id))
            .where(
                col(ReplayCheckRow.result) != "ok", col(IncidentRow.status).not_in([s.value for s in TERMINAL_STATUSES])
            )
            .order_by(col(ReplayCheckRow.diverged_since))
        )
        return list(session.scalars(statement))


def replay_check(engine: Engine, incident_id: str) -> ReplayCheckRow | None:
    with Session(engine) as session:
        return session.get(ReplayCheckRow, incident_id)
