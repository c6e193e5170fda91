"""post_update and the status-update cadence, in the pure state machine.

The default policy sets SEV1 hourly, SEV2 every 4 hours, at most 30 minutes while a legal clock
runs; a policy without `[updates]` (every incident triaged before it existed) has no cadence.
"""

from datetime import timedelta

import pytest

from tests.unit.stories import MINUTE, SEV1_TCO, Story, StoryFactory
from vigil.domain import Category, Channel, Region, Resolution, Severity
from vigil.policy import Policy
from vigil.workflows.actions import Acknowledge, Assign, PostUpdate, RefusalCode, Reopen, Resolve, SetSeverity
from vigil.workflows.state import UPDATE_CLOCK, Actor, ClockKind

from .conftest import NOW, open_incident_with

SEV1_CHILD = {"category": Category.CHILD_SAFETY, "channel": Channel.USER_REPORT, "region": Region.NA}
SEV2_SELF_HARM = {"category": Category.SELF_HARM_SUICIDE, "channel": Channel.USER_REPORT, "region": Region.LATAM}


UPDATE = PostUpdate(audience="leadership", text="Contained: the stream is down, the account suspended.")


def test_a_sev1_owes_leadership_an_update_every_hour(story: StoryFactory) -> None:
    told = story(acknowledged=False, category=Category.SPAM_SCAM, severity=Severity.SEV1)
    clock = told.state.clock(UPDATE_CLOCK)
    assert clock is not None and clock.kind == ClockKind.UPDATE
    assert clock.due_at == NOW + timedelta(hours=1)


def test_a_legal_clock_tightens_the_cadence(story: StoryFactory) -> None:
    told = story(acknowledged=False, **SEV1_TCO)
    assert told.state.clock(UPDATE_CLOCK).due_at == NOW + timedelta(minutes=30)


def test_no_cadence_for_sev3_and_none_under_a_policy_without_updates(story: StoryFactory, policy: Policy) -> None:
    assert story(category=Category.HATE_SPEECH).state.clock(UPDATE_CLOCK) is None
    old = policy.model_copy(update={"updates": type(policy.updates)()})  # as every snapshot recorded before it
    state = open_incident_with(old, category=Category.CHILD_SAFETY)
    assert state.severity == Severity.SEV1 and state.clock(UPDATE_CLOCK) is None
    assert [c.id for c in state.clocks] == ["sla.acknowledge", "sla.resolve", "regulatory.ncmec_report"]


def test_posting_an_update_records_it_and_restarts_the_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV1_CHILD)
    state = told.do(UPDATE, analyst, after=timedelta(minutes=20))
    posted = state.updates[-1]
    assert (posted.audience, posted.by, posted.at) == ("leadership", "ana", told.at)
    clock = state.clock(UPDATE_CLOCK)
    assert clock.started_at == told.at and clock.running
    assert clock.due_at == told.at + timedelta(minutes=30)  # NCMEC's legal clock is running
    assert [c.id for c in state.clocks].count(UPDATE_CLOCK) == 1


def test_a_promised_time_sooner_than_the_cadence_sets_the_next_reminder(story: StoryFactory, analyst: Actor) -> None:
    told = story(category=Category.SPAM_SCAM, severity=Severity.SEV2)
    promised = told.at + timedelta(minutes=45)
    state = told.do(UPDATE.model_copy(update={"next_update_at": promised}), analyst, after=timedelta(seconds=1))
    assert state.clock(UPDATE_CLOCK).due_at == promised
    later = told.at + timedelta(hours=9)
    state = told.do(UPDATE.model_copy(update={"next_update_at": later}), analyst)
    assert state.clock(UPDATE_CLOCK).due_at == told.at + timedelta(hours=4)  # the cadence is the most it waits


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-5), timedelta(days=31)])
def test_a_promise_in_the_past_or_too_far_ahead_is_refused(
    story: StoryFactory, analyst: Actor, offset: timedelta
) -> None:
    told = story(**SEV1_CHILD)
    promise = UPDATE.model_copy(update={"next_update_at": told.at + MINUTE + offset})
    assert "next_update_at" in told.refuse(promise, analyst, RefusalCode.INVALID)


def test_a_late_update_reminds_the_assignee_then_the_on_call_lead_then_the_head(story: StoryFactory) -> None:
    told = story(category=Category.SPAM_SCAM, severity=Severity.SEV1)
    tiers = [told.fire(UPDATE_CLOCK).clock(UPDATE_CLOCK).breaches[-1].tier for _ in range(3)]
    assert tiers == ["assignee", "regional_on_call_lead", "head_of_incident_management"]
    clock = told.state.clock(UPDATE_CLOCK)
    assert clock.running and clock.next_fire_at == clock.breaches[-1].at + timedelta(minutes=15)  # SEV1 reminder


def test_unassigned_the_first_reminder_goes_to_the_on_call_lead(story: StoryFactory) -> None:
    told = story(acknowledged=False, category=Category.SPAM_SCAM, severity=Severity.SEV1)
    assert told.fire(UPDATE_CLOCK).clock(UPDATE_CLOCK).breaches[-1].tier == "regional_on_call_lead"


def test_auditors_and_admins_may_not_post_updates(story: StoryFactory, auditor: Actor, admin: Actor) -> None:
    told = story(**SEV1_CHILD)
    for actor in (auditor, admin):
        assert "may not post update" in told.refuse(UPDATE, actor, RefusalCode.FORBIDDEN)


def test_resolving_stops_the_cadence_and_reopening_starts_it_again(story: StoryFactory, analyst: Actor) -> None:
    told = story(category=Category.SPAM_SCAM, severity=Severity.SEV1)
    state = told.do(Resolve(resolution=Resolution.NO_VIOLATION, summary="satire"), analyst)
    assert not state.clock(UPDATE_CLOCK).running
    state = told.do(UPDATE.model_copy(update={"text": "Closed: no violation."}), analyst)  # a last word, no clock
    assert len(state.updates) == 1 and not state.clock(UPDATE_CLOCK).running
    state = told.do(Reopen(reason="a second upload"), analyst)
    assert state.clock(UPDATE_CLOCK).running and state.clock(UPDATE_CLOCK).due_at == told.at + timedelta(hours=1)


def test_raising_the_severity_starts_the_cadence_and_lowering_it_stops_it(
    story: StoryFactory, lead: Actor, analyst: Actor
) -> None:
    told: Story = story(category=Category.HATE_SPEECH)
    state = told.do(SetSeverity(severity=Severity.SEV1, reason="a threat named a date"), lead)
    assert state.clock(UPDATE_CLOCK).due_at == told.at + timedelta(hours=1)
    told.do(Assign(assignee="bruno"), analyst)
    state = told.do(SetSeverity(severity=Severity.SEV3, reason="the date has passed"), lead)
    assert not state.clock(UPDATE_CLOCK).running
    assert state.clock(UPDATE_CLOCK).cancel_reason == "no status updates are due at SEV3"


def test_acknowledging_does_not_touch_the_update_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story(acknowledged=False, category=Category.SPAM_SCAM, severity=Severity.SEV1)
    before = told.state.clock(UPDATE_CLOCK)
    assert told.do(Acknowledge(), analyst).clock(UPDATE_CLOCK) == before
