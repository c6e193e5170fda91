"""The incident state machine: `apply(state, action, actor, now, policy) -> new state`.

Pure: no I/O, no clock of its own, no Temporal import. The workflow calls it for every change,
the update validator calls it to refuse before anything enters history, and the auditor's
reconstruction folds it over the actions recorded in a history. One rule, three users.

`apply` never mutates its input: it returns a new state or raises `Refusal`, which says why
(role not allowed, illegal in this status, four-eyes, ...).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from vigil import roles
from vigil.domain import REGION_INCIDENT_TEAM, EnforcementAction, Resolution, Role, Severity, Status
from vigil.policy import Policy
from vigil.workflows.actions import (
    Acknowledge,
    Action,
    AddNote,
    Approve,
    Assign,
    ClockFired,
    EnforcementCompleted,
    Escalate,
    MergeInto,
    Open,
    PostUpdate,
    ProposeAction,
    RecordTeamResponse,
    Refusal,
    RefusalCode,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.state import (
    UPDATE_CLOCK,
    Actor,
    Breach,
    Clock,
    ClockKind,
    Engagement,
    Incident,
    Note,
    Proposal,
    ProposalStatus,
    StatusUpdate,
    TeamResponse,
    Vote,
)

# Who may do what, and in which status.

_HUMANS = roles.RESPONDERS
_LEADS = roles.LEADS
_VIGIL = roles.SYSTEM

_ACTIVE = frozenset({Status.TRIAGE, Status.INVESTIGATING, Status.ESCALATED, Status.PENDING_APPROVAL, Status.ACTIONING})
_WORKING = frozenset({Status.INVESTIGATING, Status.ESCALATED})
_ENGAGED = _WORKING | {Status.PENDING_APPROVAL, Status.ACTIONING}

# action type -> (roles that may take it, statuses it is legal in)
RULES: dict[str, tuple[frozenset[Role], frozenset[Status]]] = {
    "acknowledge": (_HUMANS, frozenset({Status.TRIAGE})),
    "assign": (_HUMANS, _ACTIVE),
    "add_note": (_HUMANS | _VIGIL, _ACTIVE | {Status.RESOLVED}),
    "set_severity": (_LEADS, _ACTIVE),
    "escalate": (_HUMANS, _ENGAGED),
    "team_response": (_HUMANS, _ENGAGED),
    "propose_action": (_HUMANS, _WORKING),
    "approve": (_LEADS, frozenset({Status.PENDING_APPROVAL})),
    "reject": (_LEADS, frozenset({Status.PENDING_APPROVAL})),
    "resolve": (_HUMANS, _WORKING | {Status.PENDING_APPROVAL}),
    "reopen": (_HUMANS, frozenset({Status.RESOLVED})),
    "merge_into": (_HUMANS, frozenset({Status.TRIAGE}) | _WORKING),
    "post_update": (_HUMANS, _ACTIVE | {Status.RESOLVED}),
    "open": (_VIGIL, frozenset()),
    "clock_fired": (_VIGIL, _ACTIVE | {Status.RESOLVED}),
    "enforcement_completed": (_VIGIL, frozenset({Status.ACTIONING})),
}


def permitted(role: Role, action_type: str) -> bool:
    """Whether a role may ever take this action (the API's 403 check, before any state)."""
    allowed, _ = RULES[action_type]
    return role in allowed


def next_wakeup(state: Incident) -> datetime | None:
    """When the workflow must wake for a clock, or None when no clock is running."""
    times = [c.next_fire_at for c in state.clocks if c.running and c.next_fire_at]
    return min(times, default=None)


def due_clocks(state: Incident, now: datetime) -> list[str]:
    return [c.id for c in state.clocks if c.running and c.next_fire_at and c.next_fire_at <= now]


def apply(state: Incident | None, action: Action, actor: Actor, now: datetime, policy: Policy) -> Incident:
    """The state after `action`, or `Refusal` with the reason. Never mutates `state`."""
    allowed, statuses = RULES[action.type]
    if actor.role not in allowed:
        raise Refusal(RefusalCode.FORBIDDEN, roles.may_not(actor.role, _verb(action.type)))
    if isinstance(action, Open):
        if state is not None:
            raise Refusal(RefusalCode.CONFLICT, "the incident is already open")
        return _open(action, now, policy)
    if state is None:
        raise Refusal(RefusalCode.CONFLICT, "the incident has not been opened")
    if state.status not in statuses:
        raise Refusal(RefusalCode.CONFLICT, f"cannot {_verb(action.type)} an incident that is {state.status}")
    new = state.model_copy(deep=True)
    _HANDLERS[action.type](new, action, actor, now, policy)
    new.seq += 1
    new.updated_at = now
    return new


def _verb(action_type: str) -> str:
    return action_type.replace("_", " ")


def _work_status(state: Incident) -> Status:
    """Back to work: escalated while a team still owes an answer, else investigating."""
    return Status.ESCALATED if state.waiting_teams else Status.INVESTIGATING


def _sla_clock(clock_id: str, name: str, start: datetime, duration: timedelta) -> Clock:
    due = start + duration
    return Clock(id=clock_id, kind=ClockKind.SLA, name=name, started_at=start, due_at=due, next_fire_at=due)


def _sla_duration(clock: Clock, severity: Severity, policy: Policy) -> timedelta:
    slas = policy.sla[severity]
    return {"acknowledge": slas.acknowledge, "first_response": slas.first_response, "resolve": slas.resolve}[clock.name]


def _meet(clock: Clock | None, now: datetime) -> None:
    if clock and clock.running:
        clock.met_at = now
        clock.next_fire_at = None


def _cancel(clock: Clock, now: datetime, reason: str) -> None:
    if clock.running:
        clock.cancelled_at = now
        clock.cancel_reason = reason
        clock.next_fire_at = None


def _expire_pending(state: Incident, now: datetime, reason: str) -> None:
    for proposal in state.proposals:
        if proposal.status == ProposalStatus.PENDING:
            proposal.status = ProposalStatus.EXPIRED
            proposal.decided_at = now
            proposal.decision_reason = reason


def _open(action: Open, now: datetime, policy: Policy) -> Incident:
    intake = action.intake
    sla = policy.sla[action.severity]
    clocks = [
        _sla_clock("sla.acknowledge", "acknowledge", now, sla.acknowledge),
        _sla_clock("sla.resolve", "resolve", now, sla.resolve),
    ]
    hold = None
    for rule in policy.regulatory:
        if rule.applies(intake.category, intake.channel, intake.region):
            due = now + rule.due
            clocks.append(
                Clock(
                    id=f"regulatory.{rule.id}",
                    kind=ClockKind.REGULATORY,
                    name=rule.name,
                    started_at=now,
                    due_at=due,
                    next_fire_at=due,
                    met_by=rule.met_by,
                )
            )
            if rule.preserve_evidence:
                hold = max(hold or now, now + rule.preserve_evidence)
    if intake.deadline:
        clocks.append(
            Clock(
                id="regulatory.deadline",
                kind=ClockKind.REGULATORY,
                name="deadline set by the reporter",
                started_at=now,
                due_at=intake.deadline,
                next_fire_at=intake.deadline,
                met_by=[a for a in EnforcementAction if a != EnforcementAction.NO_ACTION],
            )
        )
    interval = policy.updates.interval(action.severity, any(c.kind == ClockKind.REGULATORY for c in clocks))
    if interval is not None:
        clocks.append(_update_clock(now, now + interval))
    return Incident(
        id=action.incident_id,
        intake=intake,
        policy_version=action.policy_version,
        severity=action.severity,
        highest_severity=action.severity if action.four_eyes_by_highest else None,
        triage_reasons=action.triage_reasons,
        status=Status.TRIAGE,
        opened_at=now,
        opened_by=action.opened_by.user if action.opened_by else None,
        clocks=clocks,
        evidence_hold_until=hold,
        seq=1,
        updated_at=now,
    )


def _acknowledge(state: Incident, action: Acknowledge, actor: Actor, now: datetime, policy: Policy) -> None:
    state.status = Status.INVESTIGATING
    state.acknowledged_at, state.acknowledged_by = now, actor.user
    state.assignee = state.assignee or actor.user
    _meet(state.clock("sla.acknowledge"), now)


def _assign(state: Incident, action: Assign, actor: Actor, now: datetime, policy: Policy) -> None:
    if action.assignee == state.assignee:
        raise Refusal(RefusalCode.CONFLICT, f"already assigned to {action.assignee}")
    state.assignee = action.assignee


def _add_note(state: Incident, action: AddNote, actor: Actor, now: datetime, policy: Policy) -> None:
    state.notes.append(Note(text=action.text, by=actor.user, at=now))


def _set_severity(state: Incident, action: SetSeverity, actor: Actor, now: datetime, policy: Policy) -> None:
    if action.severity == state.severity:
        raise Refusal(RefusalCode.CONFLICT, f"severity is already {action.severity}")
    previous, state.severity = state.severity, action.severity
    if state.highest_severity is not None:  # SEV1 sorts first: the most severe is the least
        state.highest_severity = min(state.highest_severity, action.severity)
    state.notes.append(Note(text=f"severity {previous} -> {action.severity}: {action.reason}", by=actor.user, at=now))
    for clock in state.clocks:  # re-arm the running SLA clocks; breaches already recorded stay
        if clock.kind == ClockKind.SLA and clock.running:
            clock.due_at = clock.started_at + _sla_duration(clock, action.severity, policy)
            if not clock.breaches or clock.due_at > now:  # no longer late: the next breach is at the new due time
                clock.next_fire_at = clock.due_at
            else:  # still late: remind at the new severity's pace if that is sooner
                sooner = now + policy.sla[action.severity].reminder
                clock.next_fire_at = min(clock.next_fire_at, sooner) if clock.next_fire_at else sooner
    _rearm_update_clock(state, now, policy)
    _expire_pending(state, now, f"severity changed to {action.severity}")
    if state.status == Status.PENDING_APPROVAL:
        state.status = _work_status(state)


def _escalate(state: Incident, action: Escalate, actor: Actor, now: datetime, policy: Policy) -> None:
    if action.team == REGION_INCIDENT_TEAM[state.intake.region]:
        raise Refusal(RefusalCode.INVALID, f"{action.team} owns this incident: escalate to another region's team")
    if action.team in state.waiting_teams:
        raise Refusal(RefusalCode.CONFLICT, f"already waiting for {action.team} to answer")
    state.teams.append(Engagement(team=action.team, reason=action.reason, escalated_by=actor.user, escalated_at=now))
    duration = policy.sla[state.severity].first_response
    clock_id = f"sla.first_response.{action.team}"
    existing = state.clock(clock_id)
    if existing:  # a team asked again: its clock restarts
        state.clocks.remove(existing)
    state.clocks.append(_sla_clock(clock_id, "first_response", now, duration))
    if state.status in _WORKING:
        state.status = Status.ESCALATED


def _team_response(state: Incident, action: RecordTeamResponse, actor: Actor, now: datetime, policy: Policy) -> None:
    engagement = next((e for e in reversed(state.teams) if e.team == action.team and e.closed_reason is None), None)
    if engagement is None:
        raise Refusal(RefusalCode.CONFLICT, f"{action.team} was not asked: escalate to it first")
    engagement.responses.append(TeamResponse(text=action.text, recorded_by=actor.user, at=now))
    _meet(state.clock(f"sla.first_response.{action.team}"), now)
    if state.status in _WORKING:
        state.status = _work_status(state)


def _propose(state: Incident, action: ProposeAction, actor: Actor, now: datetime, policy: Policy) -> None:
    region = state.intake.region
    if policy.statement_of_reasons.required(region, action.action) and not action.statement_of_reasons:
        raise Refusal(
            RefusalCode.INVALID,
            f"{action.action} in {region} needs a statement of reasons for the user (EU DSA art. 17)",
        )
    # By the most severe level held, not the current one: lowering severity skips no approval.
    severity = state.approval_severity
    needs_approval = policy.approval.needed(action.action, severity)
    state.proposals.append(
        Proposal(
            id=f"{state.id}-A{len(state.proposals) + 1}",
            action=action.action,
            rationale=action.rationale,
            statement_of_reasons=action.statement_of_reasons,
            target=action.target,
            proposed_by=actor.user,
            proposed_at=now,
            severity=state.severity,
            approval_severity=state.highest_severity,
            needs_approval=needs_approval,
            quorum=policy.approval.quorum_for(severity) if needs_approval else 0,
            status=ProposalStatus.PENDING if needs_approval else ProposalStatus.APPROVED,
            decided_at=None if needs_approval else now,
            decision_reason=None if needs_approval else "no approval needed by policy",
        )
    )
    state.status = Status.PENDING_APPROVAL if needs_approval else Status.ACTIONING


def _pending_proposal(state: Incident, approval_id: str, actor: Actor) -> Proposal:
    proposal = state.proposal(approval_id)
    if proposal is None:
        raise Refusal(RefusalCode.CONFLICT, f"{state.id} has no approval {approval_id}")
    if proposal.status != ProposalStatus.PENDING:
        raise Refusal(RefusalCode.CONFLICT, f"approval {approval_id} is already {proposal.status}")
    if proposal.proposed_by == actor.user:
        raise Refusal(RefusalCode.FORBIDDEN, "four-eyes: you proposed this action, another lead must decide")
    if any(v.by == actor.user for v in proposal.votes):
        raise Refusal(RefusalCode.CONFLICT, f"you have already approved {approval_id}")
    return proposal


def _approve(state: Incident, action: Approve, actor: Actor, now: datetime, policy: Policy) -> None:
    proposal = _pending_proposal(state, action.approval_id, actor)
    proposal.votes.append(Vote(by=actor.user, decision="approve", comment=action.comment, at=now))
    if len(proposal.approvers) >= proposal.quorum:
        proposal.status = ProposalStatus.APPROVED
        proposal.decided_at = now
        proposal.decision_reason = f"approved by {', '.join(proposal.approvers)}"
        state.status = Status.ACTIONING


def _reject(state: Incident, action: Reject, actor: Actor, now: datetime, policy: Policy) -> None:
    proposal = _pending_proposal(state, action.approval_id, actor)
    proposal.votes.append(Vote(by=actor.user, decision="reject", comment=action.reason, at=now))
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_at = now
    proposal.decision_reason = action.reason
    state.status = _work_status(state)


def _resolve(state: Incident, action: Resolve, actor: Actor, now: datetime, policy: Policy) -> None:
    legal = [c for c in state.clocks if c.kind == ClockKind.REGULATORY and c.running]
    if action.resolution == Resolution.ACTIONED:
        if not any(p.status == ProposalStatus.DONE for p in state.proposals):
            raise Refusal(RefusalCode.CONFLICT, "resolved as actioned, but no enforcement action has completed")
        if legal:
            raise Refusal(RefusalCode.CONFLICT, f"still due: {legal[0].name}")
    reason = _resolved_reason(action.resolution)
    for clock in state.clocks:
        if clock.id == "sla.resolve":
            _meet(clock, now)
        else:
            _cancel(clock, now, reason)
    for engagement in state.teams:
        if engagement.waiting:
            engagement.closed_reason = reason
    _expire_pending(state, now, reason)
    state.status = Status.RESOLVED
    state.resolution, state.resolution_summary = action.resolution, action.summary
    state.resolved_at, state.resolved_by = now, actor.user
    state.reopen_until = now + policy.reopen.window
    state.clocks = [c for c in state.clocks if c.id != "reopen_window"]  # from an earlier round
    state.clocks.append(
        Clock(
            id="reopen_window",
            kind=ClockKind.REOPEN,
            name="reopen window",
            started_at=now,
            due_at=state.reopen_until,
            next_fire_at=state.reopen_until,
        )
    )


def _resolved_reason(resolution: Resolution | None) -> str:
    return f"incident resolved as {resolution}"


def _reopen(state: Incident, action: Reopen, actor: Actor, now: datetime, policy: Policy) -> None:
    assert state.reopen_until is not None
    if now >= state.reopen_until:
        raise Refusal(RefusalCode.CONFLICT, "the reopen window has passed")
    for index, clock in enumerate(state.clocks):
        if clock.id == "reopen_window":
            _cancel(clock, now, "reopened")
        elif clock.id == "sla.resolve":  # a new round; the old round's breaches are in the history
            state.clocks[index] = _sla_clock(clock.id, clock.name, now, policy.sla[state.severity].resolve)
        elif clock.kind == ClockKind.REGULATORY and clock.cancel_reason == _resolved_reason(state.resolution):
            # A legal duty set aside by the resolution is owed again: reopening cannot dodge it.
            clock.cancelled_at = clock.cancel_reason = None
            reminder = _reminder(clock, state.severity, policy)
            clock.next_fire_at = now + (reminder or timedelta(0)) if clock.breaches else clock.due_at
    state.notes.append(Note(text=f"reopened: {action.reason}", by=actor.user, at=now))
    _start_update_clock(state, now, policy)
    state.status = Status.INVESTIGATING
    state.resolution = state.resolution_summary = state.resolved_at = state.resolved_by = None
    state.reopen_until = None


def _merge_into(state: Incident, action: MergeInto, actor: Actor, now: datetime, policy: Policy) -> None:
    if action.incident_id == state.id:
        raise Refusal(RefusalCode.INVALID, "an incident cannot be merged into itself")
    legal = [c for c in state.clocks if c.kind == ClockKind.REGULATORY and c.running]
    if legal:
        raise Refusal(RefusalCode.CONFLICT, f"a legal clock is running here ({legal[0].name}): resolve it first")
    for clock in state.clocks:
        _cancel(clock, now, f"merged into {action.incident_id}")
    for engagement in state.teams:
        if engagement.waiting:
            engagement.closed_reason = f"merged into {action.incident_id}"
    state.status = Status.MERGED
    state.merged_into = action.incident_id
    state.closed_at = now


def _clock_fired(state: Incident, action: ClockFired, actor: Actor, now: datetime, policy: Policy) -> None:
    clock = state.clock(action.clock_id)
    if clock is None or not clock.running or clock.next_fire_at is None:
        raise Refusal(RefusalCode.CONFLICT, f"clock {action.clock_id} is not running")
    if now < clock.next_fire_at:
        raise Refusal(RefusalCode.CONFLICT, f"clock {action.clock_id} is not due until {clock.next_fire_at}")
    if clock.kind == ClockKind.REOPEN:
        _meet(clock, now)
        state.status = Status.CLOSED
        state.closed_at = now
        return
    tiers = policy.escalation.tiers
    if clock.kind == ClockKind.UPDATE and state.assignee:  # a status update is late: its author first
        tiers = ["assignee", *tiers]
    tier = tiers[min(len(clock.breaches), len(tiers) - 1)]
    clock.breaches.append(Breach(at=now, tier=tier, late_by_seconds=int((now - clock.due_at).total_seconds())))
    reminder = _reminder(clock, state.severity, policy)
    clock.next_fire_at = now + reminder if reminder else None


def _reminder(clock: Clock, severity: Severity, policy: Policy) -> timedelta | None:
    if clock.kind == ClockKind.SLA:
        return policy.sla[severity].reminder
    rule = next((r for r in policy.regulatory if f"regulatory.{r.id}" == clock.id), None)
    return rule.reminder if rule else policy.sla[severity].reminder


def _enforcement_completed(
    state: Incident, action: EnforcementCompleted, actor: Actor, now: datetime, policy: Policy
) -> None:
    proposal = state.proposal(action.proposal_id)
    if proposal is None or proposal.status != ProposalStatus.APPROVED:
        raise Refusal(RefusalCode.CONFLICT, f"no approved action {action.proposal_id} is waiting for enforcement")
    proposal.status = ProposalStatus.DONE if action.succeeded else ProposalStatus.FAILED
    proposal.enforced_at = now
    proposal.enforcement_reference = action.reference
    if not action.succeeded:
        state.notes.append(Note(text=f"{proposal.action} failed: {action.detail}", by=actor.user, at=now))
    else:
        for clock in state.clocks:
            if clock.kind == ClockKind.REGULATORY and proposal.action in clock.met_by:
                _meet(clock, now)
    state.status = _work_status(state)


# ---------------------------------------------------------------- status updates


# The furthest ahead a person may promise the next update.
_LONGEST_PROMISE = timedelta(days=30)


def _post_update(state: Incident, action: PostUpdate, actor: Actor, now: datetime, policy: Policy) -> None:
    promised = action.next_update_at
    if promised is not None and not now < promised <= now + _LONGEST_PROMISE:
        raise Refusal(RefusalCode.INVALID, "next_update_at: must be in the future, and within 30 days")
    state.updates.append(
        StatusUpdate(audience=action.audience, text=action.text, by=actor.user, at=now, next_update_at=promised)
    )
    if state.status != Status.RESOLVED:
        _start_update_clock(state, now, policy, promised)


def _update_clock(now: datetime, due: datetime) -> Clock:
    return Clock(
        id=UPDATE_CLOCK, kind=ClockKind.UPDATE, name="status update", started_at=now, due_at=due, next_fire_at=due
    )


def _update_interval(state: Incident, policy: Policy) -> timedelta | None:
    legal = any(c.kind == ClockKind.REGULATORY and c.running for c in state.clocks)
    return policy.updates.interval(state.severity, legal)


def _start_update_clock(state: Incident, now: datetime, policy: Policy, promised: datetime | None = None) -> None:
    """The next update is due after the cadence, or when promised if that is sooner. The clock of
    the last round is met (or replaced); with no cadence and no promise there is none."""
    interval = _update_interval(state, policy)
    dues = [d for d in (now + interval if interval else None, promised) if d is not None]
    existing = state.clock(UPDATE_CLOCK)
    if existing is None and not dues:
        return
    if existing is not None:
        state.clocks.remove(existing)
    if dues:
        state.clocks.append(_update_clock(now, min(dues)))


def _rearm_update_clock(state: Incident, now: datetime, policy: Policy) -> None:
    """A severity change moves the next update to the new severity's cadence (or stops it)."""
    clock = state.clock(UPDATE_CLOCK)
    interval = _update_interval(state, policy)
    if clock is None or not clock.running:
        if interval is not None and clock is None:
            state.clocks.append(_update_clock(now, now + interval))
        return
    if interval is None:
        _cancel(clock, now, f"no status updates are due at {state.severity}")
    elif not clock.breaches:
        clock.due_at = min(clock.due_at, clock.started_at + interval)
        clock.next_fire_at = clock.due_at


_HANDLERS: dict[str, Callable[..., None]] = {
    "acknowledge": _acknowledge,
    "assign": _assign,
    "add_note": _add_note,
    "set_severity": _set_severity,
    "escalate": _escalate,
    "team_response": _team_response,
    "propose_action": _propose,
    "approve": _approve,
    "reject": _reject,
    "resolve": _resolve,
    "reopen": _reopen,
    "merge_into": _merge_into,
    "clock_fired": _clock_fired,
    "enforcement_completed": _enforcement_completed,
    "post_update": _post_update,
}
