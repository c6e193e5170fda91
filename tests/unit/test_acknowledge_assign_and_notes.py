"""Acknowledging, assigning and noting: the first steps of work on an incident."""

from datetime import timedelta

from vigil.domain import Status
from vigil.workflows.actions import Acknowledge, AddNote, Assign, RefusalCode
from vigil.workflows.state import Actor

from .stories import StoryFactory


def test_acknowledge_moves_to_investigating_meets_the_clock_and_assigns_the_acknowledger(
    story: StoryFactory, analyst: Actor
) -> None:
    told = story(acknowledged=False)
    state = told.do(Acknowledge(), analyst, after=timedelta(minutes=5))
    assert state.status == Status.INVESTIGATING
    assert (state.acknowledged_by, state.acknowledged_at, state.assignee) == ("ana", told.at, "ana")
    clock = state.clock("sla.acknowledge")
    assert clock.met_at == told.at and not clock.running and clock.next_fire_at is None
    assert state.clock("sla.resolve").running


def test_acknowledge_keeps_an_existing_assignee(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(acknowledged=False)
    told.do(Assign(assignee="carla"), lead)
    assert told.do(Acknowledge(), analyst).assignee == "carla"


def test_acknowledge_twice_is_refused(story: StoryFactory, analyst2: Actor) -> None:
    reason = story().refuse(Acknowledge(), analyst2, RefusalCode.CONFLICT)
    assert reason == "cannot acknowledge an incident that is investigating"


def test_assign_changes_the_assignee(story: StoryFactory, analyst: Actor) -> None:
    assert story().do(Assign(assignee="bruno"), analyst).assignee == "bruno"


def test_assign_to_the_current_assignee_is_refused(story: StoryFactory, analyst: Actor) -> None:
    assert "already assigned" in story().refuse(Assign(assignee="ana"), analyst, RefusalCode.CONFLICT)


def test_add_note_records_author_and_time(story: StoryFactory, analyst2: Actor) -> None:
    told = story()
    note = told.do(AddNote(text="  same uploader as INC-2026-000002 "), analyst2).notes[-1]
    assert (note.text, note.by, note.at) == ("same uploader as INC-2026-000002", "bruno", told.at)
