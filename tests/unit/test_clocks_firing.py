"""Clocks firing: breaches, escalation tiers, reminder cadence, timers early or late."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Status
from vigil.workflows.actions import ClockFired, RefusalCode
from vigil.workflows.state import SYSTEM, Actor

from .conftest import NOW
from .stories import SEV1_CSAM, SEV1_TCO, SEV2_SELF_HARM, StoryFactory


def test_clock_fired_records_breach_and_escalates_to_next_tier_then_repeats_last(story: StoryFactory) -> None:
    told = story(acknowledged=False, **SEV1_CSAM)  # SEV1: acknowledge in 15m, remind every 15m
    first = told.fire("sla.acknowledge").clock("sla.acknowledge")
    assert first.breaches[-1].tier == "regional_on_call_lead"
    assert first.breaches[-1].at == NOW + timedelta(minutes=15)
    assert first.breaches[-1].late_by_seconds == 0
    assert first.next_fire_at == NOW + timedelta(minutes=30) and first.running

    second = told.fire("sla.acknowledge").clock("sla.acknowledge")
    assert second.breaches[-1].tier == "head_of_incident_management"
    assert second.breaches[-1].late_by_seconds == 15 * 60

    third = told.fire("sla.acknowledge").clock("sla.acknowledge")
    assert [b.tier for b in third.breaches] == [
        "regional_on_call_lead",
        "head_of_incident_management",
        "head_of_incident_management",
    ]
    assert told.state.status == Status.TRIAGE  # a breach notifies; it changes nothing else


def test_late_timer_records_how_late_the_clock_is(story: StoryFactory) -> None:
    told = story(acknowledged=False)
    state = told.do(ClockFired(clock_id="sla.acknowledge"), SYSTEM, at=NOW + timedelta(hours=24, minutes=7))
    breach = state.clock("sla.acknowledge").breaches[-1]
    assert breach.late_by_seconds == 7 * 60
    assert state.clock("sla.acknowledge").next_fire_at == told.at + timedelta(hours=24)  # SEV4 reminder


def test_clock_fired_before_it_is_due_is_refused(story: StoryFactory) -> None:
    told = story(acknowledged=False, **SEV1_CSAM)
    early = ClockFired(clock_id="sla.acknowledge")
    reason = told.refuse(early, SYSTEM, RefusalCode.CONFLICT, at=NOW + timedelta(minutes=14, seconds=59))
    assert "not due" in reason


def test_clock_fired_for_a_met_clock_is_refused(story: StoryFactory) -> None:
    told = story()
    reason = told.refuse(ClockFired(clock_id="sla.acknowledge"), SYSTEM, RefusalCode.CONFLICT, after=timedelta(days=2))
    assert reason == "clock sla.acknowledge is not running"


def test_clock_fired_for_an_unknown_clock_is_refused(story: StoryFactory) -> None:
    story().refuse(ClockFired(clock_id="sla.nonsense"), SYSTEM, RefusalCode.CONFLICT, after=timedelta(days=30))


def test_regulatory_clock_reminds_at_its_own_cadence(story: StoryFactory) -> None:
    told = story(**SEV1_CSAM)  # NCMEC: due in 24h, reminder 1h (SEV1 SLA reminders are 15m)
    clock = told.fire("regulatory.ncmec_report").clock("regulatory.ncmec_report")
    assert clock.breaches[-1].tier == "regional_on_call_lead"
    assert clock.next_fire_at == NOW + timedelta(hours=25)


def test_deadline_clock_reminds_at_the_severity_cadence(story: StoryFactory) -> None:
    told = story(deadline=NOW + timedelta(hours=2), **SEV2_SELF_HARM)
    clock = told.fire("regulatory.deadline").clock("regulatory.deadline")
    assert clock.next_fire_at == NOW + timedelta(hours=3)  # SEV2 reminder: 1h


def test_breach_of_the_removal_order_does_not_block_acting_on_it(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_TCO)
    told.fire("regulatory.eu_tco_removal_order")
    removal = told.propose(EnforcementAction.GEO_BLOCK, analyst, statement_of_reasons="removal order TCO-1")
    told.approve(removal, lead, lead2)
    clock = told.enforce(removal).clock("regulatory.eu_tco_removal_order")
    assert clock.met_at is not None and len(clock.breaches) == 1
