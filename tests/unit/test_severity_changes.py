"""Changing severity: the reason is noted, SLA clocks re-arm, pending approvals expire."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Severity, Status, Team
from vigil.workflows.actions import Approve, ClockFired, Escalate, RefusalCode, SetSeverity
from vigil.workflows.state import SYSTEM, Actor, ProposalStatus

from .conftest import NOW
from .stories import SEV1_CSAM, SEV2_SELF_HARM, SEV4_SPAM, StoryFactory


def test_set_severity_records_the_reason_as_a_note(story: StoryFactory, lead: Actor) -> None:
    state = story().do(SetSeverity(severity=Severity.SEV2, reason="spreading fast"), lead)
    assert state.severity == Severity.SEV2
    assert state.notes[-1].text == "severity SEV4 -> SEV2: spreading fast"
    assert state.notes[-1].by == "lena"


def test_set_severity_to_the_current_one_is_refused(story: StoryFactory, lead: Actor) -> None:
    told = story()
    assert "already SEV4" in told.refuse(SetSeverity(severity=Severity.SEV4, reason="x"), lead, RefusalCode.CONFLICT)


def test_severity_change_rearms_sla_clocks_and_expires_pending_approval(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="minor involved?"), analyst)
    escalated_at = told.at
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.state.status == Status.PENDING_APPROVAL

    state = told.do(SetSeverity(severity=Severity.SEV1, reason="live stream"), lead)

    assert state.clock("sla.resolve").due_at == state.clock("sla.resolve").next_fire_at == NOW + timedelta(hours=4)
    legal = state.clock(f"sla.first_response.{Team.LEGAL}")
    assert legal.due_at == legal.next_fire_at == escalated_at + timedelta(hours=1)
    proposal = state.proposal(proposal_id)
    assert proposal.status == ProposalStatus.EXPIRED
    assert proposal.decision_reason == "severity changed to SEV1"
    assert state.status == Status.ESCALATED  # legal still owes an answer


def test_severity_change_without_waiting_team_returns_pending_approval_to_investigating(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.do(SetSeverity(severity=Severity.SEV3, reason="old video"), lead).status == Status.INVESTIGATING


def test_severity_change_leaves_met_and_regulatory_clocks_alone(story: StoryFactory, lead: Actor) -> None:
    told = story(**SEV1_CSAM)
    before = {c.id: c for c in told.state.clocks}
    state = told.do(SetSeverity(severity=Severity.SEV3, reason="cartoon, not a real child"), lead)
    assert state.clock("sla.acknowledge") == before["sla.acknowledge"]
    assert state.clock("regulatory.ncmec_report") == before["regulatory.ncmec_report"]


def test_severity_change_keeps_breaches_already_recorded(story: StoryFactory, lead: Actor) -> None:
    told = story(acknowledged=False, **SEV2_SELF_HARM)
    told.fire("sla.acknowledge")
    state = told.do(SetSeverity(severity=Severity.SEV1, reason="worse than thought"), lead)
    clock = state.clock("sla.acknowledge")
    assert len(clock.breaches) == 1
    assert clock.due_at == NOW + timedelta(minutes=15)


def test_lowering_severity_after_a_breach_waits_for_the_new_due_time(story: StoryFactory, lead: Actor) -> None:
    told = story(acknowledged=False, **SEV2_SELF_HARM)
    told.fire("sla.acknowledge")  # SEV2: due after 1h; the next reminder would be at 2h
    told.do(SetSeverity(severity=Severity.SEV4, reason="a film scene"), lead, at=NOW + timedelta(minutes=70))
    clock = told.state.clock("sla.acknowledge")
    assert clock.due_at == clock.next_fire_at == NOW + timedelta(hours=24)
    told.refuse(ClockFired(clock_id="sla.acknowledge"), SYSTEM, RefusalCode.CONFLICT, at=NOW + timedelta(hours=2))
    breach = told.fire("sla.acknowledge").clock("sla.acknowledge").breaches[-1]
    assert breach.late_by_seconds == 0
    assert breach.tier == "head_of_incident_management"  # the second breach of this clock


def test_severity_change_while_actioning_keeps_the_approved_action(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story()
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(SetSeverity(severity=Severity.SEV2, reason="press picked it up"), lead)
    assert state.status == Status.ACTIONING
    assert state.proposal(proposal_id).status == ProposalStatus.APPROVED


def test_raising_severity_on_a_late_clock_brings_the_next_reminder_forward(story: StoryFactory, lead: Actor) -> None:
    told = story(acknowledged=False, **SEV4_SPAM)  # SEV4: acknowledge in 24h, remind every 24h
    told.fire("sla.acknowledge")
    assert told.state.clock("sla.acknowledge").next_fire_at == told.at + timedelta(hours=24)
    state = told.do(SetSeverity(severity=Severity.SEV1, reason="it is spreading"), lead)
    assert state.clock("sla.acknowledge").next_fire_at == told.at + timedelta(minutes=15)  # SEV1 pace


# Four-eyes by the most severe level held: lowering severity skips no approval (issue 9, item 2).


def test_lowering_sev1_to_sev4_still_needs_two_leads_to_approve_a_suspension(
    story: StoryFactory, lead: Actor, lead2: Actor, lead3: Actor
) -> None:
    told = story(**SEV1_CSAM)
    told.do(SetSeverity(severity=Severity.SEV4, reason="looks minor"), lead)
    proposal_id = told.propose(EnforcementAction.SUSPEND_ACCOUNT, lead)
    proposal = told.state.proposal(proposal_id)
    assert told.state.status == Status.PENDING_APPROVAL
    assert proposal.needs_approval and proposal.quorum == 2
    assert (proposal.severity, proposal.approval_severity) == (Severity.SEV4, Severity.SEV1)
    told.refuse(Approve(approval_id=proposal_id, comment="mine"), lead, RefusalCode.FORBIDDEN)
    assert told.do(Approve(approval_id=proposal_id, comment="ok"), lead2).status == Status.PENDING_APPROVAL
    assert told.do(Approve(approval_id=proposal_id, comment="ok"), lead3).status == Status.ACTIONING
    assert told.do(SetSeverity(severity=Severity.SEV1, reason="back"), lead).highest_severity == Severity.SEV1


def test_lowering_sev1_to_sev2_keeps_the_sev1_quorum(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_CSAM)
    told.do(SetSeverity(severity=Severity.SEV2, reason="contained"), lead)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.state.proposal(proposal_id).quorum == 2
    assert told.do(Approve(approval_id=proposal_id, comment="ok"), lead2).status == Status.PENDING_APPROVAL


def test_raising_severity_raises_the_level_approvals_are_decided_by(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV4_SPAM)
    told.do(SetSeverity(severity=Severity.SEV1, reason="coordinated campaign"), lead)
    told.do(SetSeverity(severity=Severity.SEV3, reason="smaller than thought"), lead)
    assert told.state.highest_severity == Severity.SEV1
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.state.proposal(proposal_id).quorum == 2
