"""Writes an incident's journal to the SQL projection: events, the incident row, approvals,
escalations, SLA breaches, the notification outbox and the change feed, in one transaction.

Idempotent: every row is keyed by (incident, entry number) or an equivalent, and the incident
row only moves forward in `seq`, so a retried or reordered batch changes nothing twice. When it
wrote notices it calls `on_notices` (the worker wakes the dispatcher, which delivers them).
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity

from vigil import need_to_know
from vigil.db.search import search_row
from vigil.db.tables import (
    ApprovalRow,
    ChangeRow,
    ClockOutcomeRow,
    EnforcementOutcomeRow,
    EscalationRow,
    IncidentEventRow,
    IncidentRow,
    IncidentSearchRow,
    MilestoneRow,
    OutboxRow,
    SeverityChangeRow,
    SlaBreachRow,
    UserRow,
)
from vigil.db.upsert import insert_ignore, upsert
from vigil.domain import Severity
from vigil.notifications.notices import for_entry
from vigil.trends import facts
from vigil.workflows.messages import JournalEntry, ProjectionBatch
from vigil.workflows.state import ClockKind, Incident, ProposalStatus

# Held to the end of a projection's transaction on PostgreSQL, so change-feed ids commit in the
# order they are handed out and a reader following `id > last` never skips one committed late.
_CHANGE_FEED_LOCK = 74202


class ProjectionActivities:
    def __init__(self, engine: Engine, public_url: str, on_notices: Callable[[], None] | None = None):
        self._engine = engine
        self._public_url = public_url
        self._on_notices = on_notices

    @activity.defn(name="project")
    def project(self, batch: ProjectionBatch) -> None:
        with Session(self._engine) as session, session.begin():
            write_projection(session, batch)
            notices = self._write_outbox(session, batch.state, [e for e in batch.entries if not e.refused])
            _write_changes(session, batch.state, batch.entries)  # last: it holds the feed's lock to the commit
        if notices and self._on_notices is not None:
            self._on_notices()

    def _write_outbox(self, session: Session, state: Incident, entries: list[JournalEntry]) -> int:
        users = {e.action.assignee for e in entries if e.action and e.action.type == "assign"}
        users |= {p.proposed_by for p in state.proposals} | {state.assignee or ""}
        known = select(col(UserRow.name), col(UserRow.language)).where(col(UserRow.name).in_(users))
        languages = dict(session.execute(known).tuples().all())
        now = activity.info().current_attempt_scheduled_time
        rows = [n.row(now) for entry in entries for n in for_entry(entry, state, self._public_url, languages)]
        return insert_ignore(session, OutboxRow, rows)


def _write_changes(session: Session, state: Incident, entries: list[JournalEntry]) -> None:
    """The change feed (GET /api/events): one row per entry, status and severity as of this batch."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_FEED_LOCK})
    rows = [
        {
            "incident_id": state.id,
            "entry_no": e.entry_no,
            "seq": e.seq,
            "kind": e.action.type if e.action else "malformed",
            "refused": e.refused,
            "status": state.status.value,
            "severity": state.severity.value,
            "assignee": state.assignee,
            "actor": e.actor.user if e.actor else "unknown",
            "at": e.at,
        }
        for e in entries
    ]
    insert_ignore(session, ChangeRow, rows)


def write_projection(session: Session, batch: ProjectionBatch) -> None:
    """Everything but the notices: events, escalations, breaches, trend facts, approvals, the
    incident and its searchable words."""
    insert_ignore(session, IncidentEventRow, [_event_row(batch.incident_id, e) for e in batch.entries])
    applied = [e for e in batch.entries if not e.refused]
    insert_ignore(session, EscalationRow, _escalation_rows(batch.incident_id, applied))
    insert_ignore(session, SlaBreachRow, _breach_rows(batch.state, applied))
    _write_trend_facts(session, batch.state, applied)
    for proposal_row in approval_rows(batch.state):
        upsert(
            session,
            ApprovalRow,
            proposal_row,
            keys=["id"],
            update=["status", "approvers", "votes", "decided_at", "decision_reason", "seq"],
            where=col(ApprovalRow.seq) <= proposal_row["seq"],
        )
    row = incident_row(batch.state)
    upsert(
        session,
        IncidentRow,
        row,
        keys=["id"],
        update=[k for k in row if k not in ("id", "history_digest")],
        where=col(IncidentRow.seq) < row["seq"],
    )
    words = search_row(row["id"], row["seq"], row["state"])
    upsert(
        session,
        IncidentSearchRow,
        words,
        keys=["incident_id"],
        update=["seq", "document"],
        where=col(IncidentSearchRow.seq) < words["seq"],
    )


def _write_trend_facts(session: Session, state: Incident, entries: list[JournalEntry]) -> None:
    """The facts trends count (vigil.trends.facts), keyed by entry or clock round: idempotent."""
    insert_ignore(session, MilestoneRow, facts.milestone_rows(state, entries))
    insert_ignore(session, EnforcementOutcomeRow, facts.enforcement_outcome_rows(state, entries))
    if any(e.action is not None and e.action.type == "set_severity" for e in entries):
        opened = next((e.action for e in entries if e.action is not None and e.action.type == "open"), None)
        triaged = Severity(opened.severity) if opened is not None else _triaged_severity(session, state)
        insert_ignore(
            session,
            SeverityChangeRow,
            facts.severity_change_rows(
                state, entries, triaged, lambda entry_no: _severity_before(session, state, entry_no, triaged)
            ),
        )
    for row in facts.clock_outcome_rows(state, entries):
        upsert(
            session,
            ClockOutcomeRow,
            row,
            keys=["incident_id", "clock_id", "started_at"],
            update=[k for k in row if k not in ("incident_id", "clock_id", "started_at")],
            where=col(ClockOutcomeRow.entry_no) < row["entry_no"],
        )


def _triaged_severity(session: Session, state: Incident) -> Severity | None:
    opened = session.scalar(
        select(col(MilestoneRow.severity)).where(
            col(MilestoneRow.incident_id) == state.id, col(MilestoneRow.kind) == "opened"
        )
    )
    return Severity(opened) if opened else None


def _severity_before(session: Session, state: Incident, entry_no: int, triaged: Severity | None) -> Severity:
    """The severity before entry `entry_no`, from the changes projected before it (or triage)."""
    last = session.scalar(
        select(col(SeverityChangeRow.to_severity))
        .where(col(SeverityChangeRow.incident_id) == state.id, col(SeverityChangeRow.entry_no) < entry_no)
        .order_by(col(SeverityChangeRow.entry_no).desc())
        .limit(1)
    )
    return Severity(last) if last else (triaged or state.severity)


def _event_row(incident_id: str, entry: JournalEntry) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "entry_no": entry.entry_no,
        "seq": entry.seq,
        "type": entry.action.type if entry.action else "malformed",
        "actor": entry.actor.user if entry.actor else "unknown",
        "actor_role": entry.actor.role.value if entry.actor else "unknown",
        "at": entry.at,
        "refused": entry.refused,
        "reason": entry.reason,
        # The opening action holds the intake: its reporter is kept in the incident's row, encrypted.
        "action": need_to_know.without_reporter(
            entry.action.model_dump(mode="json") if entry.action else (entry.raw or {})
        ),
    }


def _escalation_rows(incident_id: str, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    return [
        {
            "incident_id": incident_id,
            "entry_no": e.entry_no,
            "team": e.action.team.value,
            "reason": e.action.reason,
            "escalated_by": e.actor.user,
            "escalated_at": e.at,
        }
        for e in entries
        if e.action and e.actor and e.action.type == "escalate"
    ]


def _breach_rows(state: Incident, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        if e.action is None or e.action.type != "clock_fired":
            continue
        clock = next((c for c in e.clocks if c.id == e.action.clock_id), None)
        if clock is None or clock.kind in _NOT_DEADLINES or not clock.breaches:
            continue
        breach = clock.breaches[-1]
        rows.append(
            {
                "incident_id": state.id,
                "entry_no": e.entry_no,
                "clock_id": clock.id,
                "clock_kind": clock.kind.value,
                "clock_name": clock.name,
                "severity": state.severity.value,
                "due_at": clock.due_at,
                "breached_at": breach.at,
                "late_by_seconds": breach.late_by_seconds,
                "tier": breach.tier,
            }
        )
    return rows


# An approval is decided once; what enforcement did afterwards is in enforcement_actions.
_APPROVAL_STATUS = {ProposalStatus.DONE: "approved", ProposalStatus.FAILED: "approved"}


def approval_rows(state: Incident) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "incident_id": state.id,
            "action": p.action.value,
            "rationale": p.rationale,
            "proposed_by": p.proposed_by,
            "requested_at": p.proposed_at,
            "severity": p.severity.value,
            "region": state.intake.region.value,
            "quorum": p.quorum,
            "status": _APPROVAL_STATUS.get(p.status, p.status),
            "approvers": p.approvers,
            "votes": [v.model_dump(mode="json") for v in p.votes],
            "decided_at": p.decided_at,
            "decision_reason": p.decision_reason,
            "seq": state.seq,
        }
        for p in state.proposals
        if p.needs_approval
    ]


# Clocks that are not SLA or legal deadlines: the reopen window, and status updates (their
# reminders are not breaches: trends, the queue's deadline and breach counts leave them out).
_NOT_DEADLINES = frozenset({ClockKind.REOPEN, ClockKind.UPDATE})


def incident_row(state: Incident) -> dict[str, Any]:
    document, reporter_sealed = need_to_know.stored_state(state)  # the reporter only encrypted
    running_dues = [c.due_at for c in state.clocks if c.running and c.kind not in _NOT_DEADLINES]
    return {
        "id": state.id,
        "title": state.intake.title,
        "channel": state.intake.channel.value,
        "category": state.intake.category.value,
        "region": state.intake.region.value,
        "language": state.intake.language.value,
        "severity": state.severity.value,
        "status": state.status.value,
        "assignee": state.assignee,
        "external_ref": state.intake.external_ref,
        "opened_at": state.opened_at,
        "updated_at": state.updated_at,
        "acknowledged_at": state.acknowledged_at,
        "resolved_at": state.resolved_at,
        "closed_at": state.closed_at,
        "resolution": state.resolution.value if state.resolution else None,
        "merged_into": state.merged_into,
        "breaches": sum(len(c.breaches) for c in state.clocks if c.kind != ClockKind.UPDATE),
        "next_deadline": min(running_dues, default=None),
        "seq": state.seq,
        "state": document,
        "reporter_sealed": reporter_sealed,
    }
