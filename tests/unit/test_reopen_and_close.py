"""Reopening inside the window, and closing when it ends."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Resolution, Status, Team
from vigil.workflows.actions import AddNote, Escalate, RecordTeamResponse, RefusalCode, Reopen, Resolve
from vigil.workflows.lifecycle import next_wakeup
from vigil.workflows.state import SYSTEM, Actor

from .conftest import NOW
from .stories import SEV1_CSAM, SEV3_HATE, StoryFactory, resolved, running


def test_reopen_inside_window_goes_back_to_investigating(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(**SEV3_HATE), analyst)
    resolved_at = told.at
    state = told.do(Reopen(reason="reporter sent a mirror"), analyst, at=resolved_at + timedelta(days=6))
    assert state.status == Status.INVESTIGATING
    assert (state.resolution, state.resolution_summary, state.resolved_at, state.resolved_by, state.reopen_until) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert state.clock("reopen_window").cancel_reason == "reopened"
    resolve_clock = state.clock("sla.resolve")
    assert resolve_clock.running and resolve_clock.started_at == told.at
    assert resolve_clock.due_at == told.at + timedelta(days=3)
    assert state.notes[-1].text == "reopened: reporter sent a mirror"
    assert running(state) == {"sla.resolve"}


def test_reopen_after_window_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(), analyst)
    late = told.at + timedelta(days=7, seconds=1)
    assert told.refuse(Reopen(reason="x"), analyst, RefusalCode.CONFLICT, at=late) == "the reopen window has passed"


def test_reopen_exactly_when_the_window_ends_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(), analyst)
    told.refuse(Reopen(reason="x"), analyst, RefusalCode.CONFLICT, at=told.state.reopen_until)


def test_reopen_window_clock_closes_the_incident(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(), analyst)
    state = told.fire("reopen_window")
    assert state.status == Status.CLOSED
    assert state.closed_at == told.at == NOW + timedelta(minutes=2) + timedelta(days=7)
    assert running(state) == set()
    assert next_wakeup(state) is None


def test_resolving_again_after_reopen_restarts_the_reopen_window(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(), analyst)
    told.do(Reopen(reason="x"), analyst)
    state = resolved(told, analyst).state
    windows = [c for c in state.clocks if c.id == "reopen_window"]
    assert len(windows) == 1 and windows[0].running and windows[0].started_at == told.at


def test_team_engagement_closed_by_resolution_is_not_answerable_after_reopen(
    story: StoryFactory, analyst: Actor
) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    resolved(told, analyst).do(Reopen(reason="y"), analyst)
    told.refuse(RecordTeamResponse(team=Team.LEGAL, text="late answer"), analyst, RefusalCode.CONFLICT)


def test_notes_may_be_added_to_a_resolved_incident(story: StoryFactory, analyst: Actor) -> None:
    told = resolved(story(), analyst)
    assert told.do(AddNote(text="reporter thanked us"), SYSTEM).notes[-1].by == "vigil"


def test_reopen_owes_again_the_legal_duties_the_resolution_set_aside(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_CSAM)
    removal = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.approve(removal, lead, lead2)
    told.enforce(removal)
    told.do(Resolve(resolution=Resolution.NO_VIOLATION, summary="adult content, not CSAM"), analyst)
    assert not told.state.clock("regulatory.ncmec_report").running
    state = told.do(Reopen(reason="second review: a minor is shown"), analyst)
    assert state.clock("regulatory.ncmec_report").running
    reason = told.refuse(Resolve(resolution=Resolution.ACTIONED, summary="removed"), analyst, RefusalCode.CONFLICT)
    assert "NCMEC" in reason
