"""Escalating to a team and recording its answers: first-response clocks and the escalated status."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Region, Status, Team
from vigil.workflows.actions import Escalate, RecordTeamResponse, RefusalCode
from vigil.workflows.state import Actor

from .stories import SEV2_SELF_HARM, SEV3_HATE, StoryFactory


def test_escalate_engages_the_team_and_starts_its_first_response_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV3_HATE)
    state = told.do(Escalate(team=Team.PUBLIC_POLICY, reason="borderline political speech"), analyst)
    assert state.status == Status.ESCALATED
    assert state.waiting_teams == [Team.PUBLIC_POLICY]
    engagement = state.teams[-1]
    assert (engagement.escalated_by, engagement.escalated_at) == ("ana", told.at)
    clock = state.clock("sla.first_response.public_policy")
    assert clock.running and clock.due_at == told.at + timedelta(hours=24)


def test_escalate_to_own_region_team_is_invalid(story: StoryFactory, analyst: Actor) -> None:
    told = story(region=Region.LATAM)
    reason = told.refuse(Escalate(team=Team.INCIDENT_LATAM, reason="x"), analyst, RefusalCode.INVALID)
    assert "owns this incident" in reason


def test_escalate_to_another_region_team_is_allowed(story: StoryFactory, analyst: Actor) -> None:
    state = story(region=Region.LATAM).do(Escalate(team=Team.INCIDENT_EMEA, reason="uploader in Spain"), analyst)
    assert state.waiting_teams == [Team.INCIDENT_EMEA]


def test_escalate_to_a_team_already_waiting_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    assert "already waiting" in told.refuse(Escalate(team=Team.LEGAL, reason="y"), analyst, RefusalCode.CONFLICT)


def test_escalate_before_acknowledging_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story(acknowledged=False)
    told.refuse(Escalate(team=Team.LEGAL, reason="x"), analyst, RefusalCode.CONFLICT)


def test_asking_an_answered_team_again_restarts_its_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="first question"), analyst)
    told.do(RecordTeamResponse(team=Team.LEGAL, text="answer"), analyst)
    state = told.do(Escalate(team=Team.LEGAL, reason="follow-up"), analyst)
    clocks = [c for c in state.clocks if c.id == "sla.first_response.legal"]
    assert len(clocks) == 1 and clocks[0].running and clocks[0].started_at == told.at
    assert [e.waiting for e in state.teams] == [False, True]
    assert state.status == Status.ESCALATED


def test_escalate_while_pending_approval_keeps_the_status(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    assert state.status == Status.PENDING_APPROVAL and state.waiting_teams == [Team.LEGAL]


def test_team_response_from_team_not_asked_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    reason = told.refuse(RecordTeamResponse(team=Team.PRODUCT, text="hi"), analyst, RefusalCode.CONFLICT)
    assert reason == "product was not asked: escalate to it first"


def test_team_response_meets_that_teams_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    state = told.do(RecordTeamResponse(team=Team.LEGAL, text="lawful request"), analyst)
    assert state.clock("sla.first_response.legal").met_at == told.at
    assert state.teams[0].responses[0].recorded_by == "ana"


def test_status_stays_escalated_while_another_team_owes_an_answer(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    told.do(Escalate(team=Team.PRODUCT, reason="y"), analyst)
    state = told.do(RecordTeamResponse(team=Team.LEGAL, text="ok"), analyst)
    assert state.status == Status.ESCALATED and state.waiting_teams == [Team.PRODUCT]


def test_all_teams_answered_returns_to_investigating(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    told.do(Escalate(team=Team.PRODUCT, reason="y"), analyst)
    told.do(RecordTeamResponse(team=Team.LEGAL, text="ok"), analyst)
    state = told.do(RecordTeamResponse(team=Team.PRODUCT, text="bug filed"), lead)
    assert state.status == Status.INVESTIGATING and state.waiting_teams == []


def test_a_second_answer_from_an_answered_team_is_recorded(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    told.do(RecordTeamResponse(team=Team.LEGAL, text="first"), analyst)
    state = told.do(RecordTeamResponse(team=Team.LEGAL, text="correction"), analyst)
    assert [r.text for r in state.teams[0].responses] == ["first", "correction"]
    assert state.status == Status.INVESTIGATING


def test_team_response_while_pending_approval_keeps_the_status(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(RecordTeamResponse(team=Team.LEGAL, text="fine"), analyst)
    assert state.status == Status.PENDING_APPROVAL and state.waiting_teams == []
