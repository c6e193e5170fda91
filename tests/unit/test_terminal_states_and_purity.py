"""Closed and merged incidents accept nothing more; `apply` never changes its input, counts each
step and round-trips through JSON."""

from datetime import timedelta

import pytest

from vigil.domain import EnforcementAction, Role, Severity, Team
from vigil.workflows.actions import (
    Acknowledge,
    AddNote,
    Approve,
    ClockFired,
    Escalate,
    HumanAction,
    MergeInto,
    Refusal,
    RefusalCode,
    Reject,
    SetSeverity,
)
from vigil.workflows.lifecycle import apply
from vigil.workflows.state import SYSTEM, Actor, Incident

from .conftest import NOW, OTHER_INCIDENT
from .stories import MINUTE, SEV2_SELF_HARM, StoryFactory, closed


@pytest.mark.parametrize(
    "action_type",
    [
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
    ],
)
def test_action_on_closed_incident_refused(
    story: StoryFactory, analyst: Actor, lead2: Actor, human_actions: dict[str, HumanAction], action_type: str
) -> None:
    told = closed(story(), analyst)
    reason = told.refuse(human_actions[action_type], lead2, RefusalCode.CONFLICT)
    assert reason.endswith("an incident that is closed")


@pytest.mark.parametrize("action_type", ["add_note", "reopen", "assign", "resolve"])
def test_action_on_merged_incident_refused(
    story: StoryFactory, analyst: Actor, lead2: Actor, human_actions: dict[str, HumanAction], action_type: str
) -> None:
    told = story()
    told.do(MergeInto(incident_id=OTHER_INCIDENT), analyst)
    assert told.refuse(human_actions[action_type], lead2, RefusalCode.CONFLICT).endswith("that is merged")


def test_clock_fired_on_closed_incident_refused(story: StoryFactory, analyst: Actor) -> None:
    told = closed(story(), analyst)
    told.refuse(ClockFired(clock_id="reopen_window"), SYSTEM, RefusalCode.CONFLICT, after=timedelta(days=30))


def test_refusal_leaves_input_state_unchanged(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    # Refused by role (before any copy) and by four-eyes (inside the handler, on the copy).
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    before = told.state.model_dump()
    snapshot = told.state.model_copy(deep=True)
    with pytest.raises(Refusal):
        apply(told.state, Approve(approval_id=proposal_id), analyst, told.at, told.policy)  # role
    with pytest.raises(Refusal):
        proposer_as_lead = Actor(user="ana", role=Role.LEAD)
        apply(told.state, Reject(approval_id=proposal_id, reason="x"), proposer_as_lead, told.at, told.policy)
    assert told.state.model_dump() == before
    assert told.state == snapshot


def test_apply_never_mutates_its_input_on_success(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    before, state = told.state.model_dump(), told.state
    after = apply(state, SetSeverity(severity=Severity.SEV1, reason="y"), lead, told.at + MINUTE, told.policy)
    assert state.model_dump() == before
    assert after.severity == Severity.SEV1 and state.severity == Severity.SEV2
    assert after.clocks[0] is not state.clocks[0]


def test_each_applied_action_advances_seq_and_updated_at(story: StoryFactory, analyst: Actor) -> None:
    told = story(acknowledged=False)
    assert told.state.seq == 1
    told.do(Acknowledge(), analyst, after=timedelta(minutes=3))
    told.do(AddNote(text="x"), analyst, after=timedelta(minutes=4))
    assert (told.state.seq, told.state.updated_at) == (3, NOW + timedelta(minutes=7))


def test_state_round_trips_through_json(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(deadline=NOW + timedelta(hours=1), **SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.fire("sla.first_response.legal")
    assert Incident.model_validate_json(told.state.model_dump_json()) == told.state
