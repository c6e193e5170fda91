"""Merging into another incident: every clock stops, legal clocks and approvals block it."""

import pytest
from pydantic import ValidationError

from vigil.domain import EnforcementAction, Status, Team
from vigil.workflows.actions import Escalate, MergeInto, RefusalCode
from vigil.workflows.state import Actor

from .conftest import INCIDENT_ID, OTHER_INCIDENT
from .stories import SEV1_CSAM, SEV2_SELF_HARM, StoryFactory, running


def test_merge_into_marks_merged_and_cancels_every_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    state = told.do(MergeInto(incident_id=OTHER_INCIDENT), analyst)
    assert (state.status, state.merged_into, state.closed_at) == (Status.MERGED, OTHER_INCIDENT, told.at)
    assert running(state) == set()
    assert {c.cancel_reason for c in state.clocks if c.cancelled_at} == {f"merged into {OTHER_INCIDENT}"}


def test_merge_straight_from_triage(story: StoryFactory, analyst: Actor) -> None:
    assert story(acknowledged=False).do(MergeInto(incident_id=OTHER_INCIDENT), analyst).status == Status.MERGED


def test_merge_into_itself_is_invalid(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    assert "itself" in told.refuse(MergeInto(incident_id=INCIDENT_ID), analyst, RefusalCode.INVALID)


def test_merge_refused_while_legal_clock_runs(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV1_CSAM)
    reason = told.refuse(MergeInto(incident_id=OTHER_INCIDENT), analyst, RefusalCode.CONFLICT)
    assert "legal clock" in reason and "NCMEC" in reason


def test_merge_while_pending_approval_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.refuse(MergeInto(incident_id=OTHER_INCIDENT), analyst, RefusalCode.CONFLICT)


def test_merge_target_must_look_like_an_incident_id() -> None:
    with pytest.raises(ValidationError):
        MergeInto(incident_id="INC-42")


def test_merge_closes_the_engagements_still_waiting(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="is this lawful?"), analyst)
    state = told.do(MergeInto(incident_id=OTHER_INCIDENT), analyst)
    assert state.waiting_teams == []
    assert state.teams[0].closed_reason == f"merged into {OTHER_INCIDENT}"
