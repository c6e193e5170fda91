"""Every role x every action: allowed (it applies from a state where it is legal) or refused
as forbidden with a reason naming the role; `permitted()` says the same."""

import typing
from datetime import datetime, timedelta

import pytest

from vigil.domain import Category, EnforcementAction, Resolution, Role, Severity, Status, Team
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
from vigil.workflows.lifecycle import RULES, apply, permitted
from vigil.workflows.state import SYSTEM, Actor, Incident

from .conftest import INCIDENT_ID, NOW, open_incident_with

HUMAN_ACTIONS = {
    "acknowledge",
    "assign",
    "add_note",
    "set_severity",
    "escalate",
    "team_response",
    "propose_action",
    "approve",
    "reject",
    "resolve",
    "reopen",
    "merge_into",
    "post_update",
}
ALLOWED: dict[Role, set[str]] = {
    Role.ANALYST: HUMAN_ACTIONS - {"set_severity", "approve", "reject"},
    Role.LEAD: HUMAN_ACTIONS,
    Role.AUDITOR: set(),
    Role.ADMIN: set(),
    Role.SYSTEM: {"open", "clock_fired", "enforcement_completed", "add_note"},
}


def _action_types() -> list[str]:
    """The `type` tag of every class in the Action union (human and system)."""
    groups = typing.get_args(typing.get_args(Action)[0])  # Annotated[HumanAction], Annotated[SystemAction]
    classes = [cls for group in groups for cls in typing.get_args(typing.get_args(group)[0])]
    return sorted(cls.model_fields["type"].default for cls in classes)


ACTION_TYPES = _action_types()

PROPOSER = Actor(user="proposer", role=Role.ANALYST)
ANALYST = Actor(user="ana", role=Role.ANALYST)


def _step(state: Incident, action: Action, actor: Actor, minutes: int, policy: Policy) -> Incident:
    return apply(state, action, actor, NOW + timedelta(minutes=minutes), policy)


def legal_setup(action_type: str, policy: Policy) -> tuple[Incident | None, Action, datetime]:
    """A state in which `action_type` is legal for whoever may take it, the action, and when."""
    at = NOW + timedelta(minutes=10)
    opened = open_incident_with(policy, category=Category.SELF_HARM_SUICIDE)  # SEV2: approvals needed
    if action_type == "open":
        return (
            None,
            Open(
                incident_id=INCIDENT_ID,
                intake=opened.intake,
                severity=Severity.SEV2,
                triage_reasons=[],
                policy_version=policy.version,
            ),
            NOW,
        )
    if action_type == "acknowledge":
        return opened, Acknowledge(), at
    if action_type == "clock_fired":  # SEV2 acknowledge is due after an hour
        return opened, ClockFired(clock_id="sla.acknowledge"), NOW + timedelta(hours=1)
    working = _step(opened, Acknowledge(), ANALYST, 1, policy)
    simple: dict[str, Action] = {
        "assign": Assign(assignee="carla"),
        "add_note": AddNote(text="note"),
        "set_severity": SetSeverity(severity=Severity.SEV1, reason="worse"),
        "escalate": Escalate(team=Team.LEGAL, reason="question"),
        "propose_action": ProposeAction(action=EnforcementAction.REMOVE_CONTENT, rationale="violates"),
        "resolve": Resolve(resolution=Resolution.NO_VIOLATION, summary="fine"),
        "merge_into": MergeInto(incident_id="INC-2026-000002"),
        "post_update": PostUpdate(audience="leadership", text="contained; next update at noon"),
    }
    if action_type in simple:
        return working, simple[action_type], at
    if action_type == "team_response":
        return (
            _step(working, Escalate(team=Team.LEGAL, reason="q"), ANALYST, 2, policy),
            RecordTeamResponse(team=Team.LEGAL, text="answer"),
            at,
        )
    if action_type == "reopen":
        resolved = _step(working, Resolve(resolution=Resolution.REFERRED, summary="police"), ANALYST, 2, policy)
        return resolved, Reopen(reason="new facts"), at
    pending = _step(working, ProposeAction(action=EnforcementAction.REMOVE_CONTENT, rationale="r"), PROPOSER, 2, policy)
    approval_id = pending.proposals[-1].id
    if action_type == "approve":
        return pending, Approve(approval_id=approval_id), at
    if action_type == "reject":
        return pending, Reject(approval_id=approval_id, reason="no"), at
    if action_type == "enforcement_completed":
        approved = _step(pending, Approve(approval_id=approval_id), Actor(user="lee", role=Role.LEAD), 3, policy)
        assert approved.status == Status.ACTIONING
        return approved, EnforcementCompleted(proposal_id=approval_id, succeeded=True, reference="r"), at
    raise AssertionError(f"no setup for {action_type}")


def test_rules_cover_every_action_type() -> None:
    assert set(RULES) == set(ACTION_TYPES)
    assert HUMAN_ACTIONS | {"open", "clock_fired", "enforcement_completed"} == set(ACTION_TYPES)


@pytest.mark.parametrize("action_type", ACTION_TYPES)
@pytest.mark.parametrize("role", list(Role))
def test_role_may_or_may_not_take_action(policy: Policy, role: Role, action_type: str) -> None:
    state, action, at = legal_setup(action_type, policy)
    actor = SYSTEM if role == Role.SYSTEM else Actor(user=f"someone-{role}", role=role)
    allowed = action_type in ALLOWED[role]
    assert permitted(role, action_type) is allowed
    if allowed:
        after = apply(state, action, actor, at, policy)
        assert after.seq == (state.seq + 1 if state else 1)
        return
    before = state.model_dump() if state else None
    with pytest.raises(Refusal) as caught:
        apply(state, action, actor, at, policy)
    assert caught.value.code == RefusalCode.FORBIDDEN
    assert role.value in caught.value.reason
    assert action_type.replace("_", " ") in caught.value.reason
    assert (state.model_dump() if state else None) == before


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_readers_are_forbidden_even_where_the_action_would_also_conflict(policy: Policy, role: Role) -> None:
    state, _, at = legal_setup("reopen", policy)  # resolved: acknowledging would conflict too
    with pytest.raises(Refusal) as caught:
        apply(state, Acknowledge(), Actor(user="reader", role=role), at, policy)
    assert caught.value.code == RefusalCode.FORBIDDEN
    assert caught.value.reason == f"an {role} may not acknowledge"


def test_forbidden_reason_reads_naturally(policy: Policy) -> None:
    state, action, at = legal_setup("set_severity", policy)
    with pytest.raises(Refusal, match="^an analyst may not set severity$"):
        apply(state, action, ANALYST, at, policy)
    with pytest.raises(Refusal, match="^a system may not set severity$"):
        apply(state, action, SYSTEM, at, policy)
