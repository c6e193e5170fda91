"""The facts trends are counted from, derived from an incident's journal entries.

The projection writes them in the same transaction as the entries (vigil.activities.projection),
one row per milestone, clock outcome, severity change and enforcement outcome, each keyed by
the incident and the entry (or the clock round), so a retried batch writes nothing twice. Each
row carries the incident's dimensions as they were at that entry, so every trend is one
aggregate over one narrow, indexed table.

Pure: no I/O. `previous_severity` is the one thing a batch may not know by itself (the severity
before a change whose preceding entry was projected in an earlier batch): the caller looks it up.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from vigil.domain import REGION_INCIDENT_TEAM, Severity
from vigil.workflows.messages import JournalEntry
from vigil.workflows.state import Clock, ClockKind, Incident

# action type -> the milestone it marks
MILESTONES = {
    "open": "opened",
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "reopen": "reopened",
    "merge_into": "merged",
}
FIRST_RESPONSE = "sla.first_response"
NO_RULE = "no triage rule matched: default severity"


def triage_rule(state: Incident) -> str:
    """The rule an incident was triaged under: the first reason triage gave (the rule's `why`)."""
    return (state.triage_reasons[0] if state.triage_reasons else NO_RULE)[:300]


def _dimensions(state: Incident, severity: Severity, team: str | None = None) -> dict[str, Any]:
    intake = state.intake
    return {
        "severity": severity.value,
        "category": intake.category.value,
        "channel": intake.channel.value,
        "region": intake.region.value,
        "team": team or REGION_INCIDENT_TEAM[intake.region].value,
        "triage_rule": triage_rule(state),
    }


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _severity(entry: JournalEntry, state: Incident) -> Severity:
    return entry.severity or state.severity  # entries journaled before severity was kept: the latest


def milestone_rows(state: Incident, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        if e.action is None or e.refused or e.action.type not in MILESTONES:
            continue
        kind = MILESTONES[e.action.type]
        rows.append(
            {
                "incident_id": state.id,
                "entry_no": e.entry_no,
                "kind": kind,
                "at": e.at,
                "seconds": _seconds(e.at, state.opened_at) if kind in ("acknowledged", "resolved") else None,
                **_dimensions(state, _severity(e, state)),
            }
        )
    return rows


def clock_outcome(clock: Clock) -> str | None:
    """How a clock's round stands, or None while it is simply running on time."""
    if clock.met_at is not None:
        return "met" if clock.met_at <= clock.due_at else "met_late"
    if clock.cancelled_at is not None:
        return "missed" if clock.breaches else "cancelled"
    return "running_late" if clock.breaches else None


def clock_outcome_rows(state: Incident, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    """The latest word on each clock round the entries touched (a later entry overrides an earlier)."""
    latest: dict[tuple[str, datetime], dict[str, Any]] = {}
    for e in entries:
        if e.action is None or e.refused:
            continue
        for clock in e.clocks:
            outcome = clock_outcome(clock)
            if clock.kind in (ClockKind.REOPEN, ClockKind.UPDATE) or outcome is None:  # not deadlines
                continue
            first_response = clock.id.startswith(FIRST_RESPONSE + ".")
            ended = clock.met_at or clock.cancelled_at
            late = (clock.met_at or e.at) - clock.due_at
            latest[(clock.id, clock.started_at)] = {
                "incident_id": state.id,
                "clock_id": clock.id,
                "started_at": clock.started_at,
                "entry_no": e.entry_no,
                "clock": FIRST_RESPONSE if first_response else clock.id,
                "kind": clock.kind.value,
                "due_at": clock.due_at,
                "ended_at": ended,
                "outcome": outcome,
                "seconds": _seconds(clock.met_at, clock.started_at) if clock.met_at else None,
                "late_by_seconds": max(0.0, late.total_seconds()) if outcome != "met" else 0.0,
                **_dimensions(
                    state, _severity(e, state), clock.id.removeprefix(FIRST_RESPONSE + ".") if first_response else None
                ),
            }
    return list(latest.values())


def severity_change_rows(
    state: Incident,
    entries: list[JournalEntry],
    triaged: Severity | None,
    previous_severity: Callable[[int], Severity],
) -> list[dict[str, Any]]:
    """`triaged`: the severity triage set; `previous_severity(entry_no)`: the severity before that
    entry, for a change whose predecessor is not in this batch."""
    after = {e.entry_no: _severity(e, state) for e in entries}
    rows = []
    for e in entries:
        if e.action is None or e.refused or e.action.type != "set_severity" or e.actor is None:
            continue
        before = after.get(e.entry_no - 1) or previous_severity(e.entry_no)
        to = Severity(e.action.severity)
        rows.append(
            {
                "incident_id": state.id,
                "entry_no": e.entry_no,
                "at": e.at,
                "from_severity": before.value,
                "to_severity": to.value,
                "direction": "raised" if to < before else "lowered",  # "SEV1" < "SEV2": raised
                "changed_by": e.actor.user,
                "triaged_severity": (triaged or before).value,
                **{k: v for k, v in _dimensions(state, before).items() if k != "severity"},
            }
        )
    return rows


def enforcement_outcome_rows(state: Incident, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        if e.action is None or e.refused or e.action.type != "enforcement_completed":
            continue
        proposal = next((p for p in e.proposals if p.id == e.action.proposal_id), None)
        if proposal is None:
            continue
        rows.append(
            {
                "incident_id": state.id,
                "entry_no": e.entry_no,
                "proposal_id": proposal.id,
                "action": proposal.action.value,
                "outcome": "done" if e.action.succeeded else "failed",
                "at": e.at,
                **_dimensions(state, _severity(e, state)),
            }
        )
    return rows
