"""The incident state machine, one behaviour per test.

Each test tells a short story through `apply`, the pure function the workflow, the update
validators and the auditor's reconstruction all share.
"""

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from vigil.domain import (
    Category,
    Channel,
    EnforcementAction,
    Region,
    Resolution,
    Role,
    Severity,
    Status,
    Team,
)
from vigil.policy import Policy
from vigil.workflows.actions import (
    ACTION_ADAPTER,
    Acknowledge,
    Action,
    AddNote,
    Approve,
    Assign,
    ClockFired,
    EnforcementCompleted,
    Escalate,
    HumanAction,
    MergeInto,
    Open,
    ProposeAction,
    RecordTeamResponse,
    Refusal,
    RefusalCode,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.lifecycle import apply, due_clocks, next_wakeup
from vigil.workflows.state import SYSTEM, Actor, ClockKind, Incident, Intake, ProposalStatus

from .conftest import INCIDENT_ID, NOW, OpenIncident

MINUTE = timedelta(minutes=1)
OTHER_INCIDENT = "INC-2026-000002"

# Intakes that the default policy triages to each severity.
SEV4_SPAM: dict[str, object] = {}  # spam_scam, user_report, NA
SEV3_HATE = {"category": Category.HATE_SPEECH}
SEV2_SELF_HARM = {"category": Category.SELF_HARM_SUICIDE}
SEV1_CSAM = {"category": Category.CHILD_SAFETY}  # NCMEC clock, evidence hold
SEV1_TCO = {"category": Category.VIOLENT_EXTREMISM, "channel": Channel.REGULATOR, "region": Region.EMEA}


class Story:
    """One incident's life. Each step happens `after` the previous one (a minute by default)."""

    def __init__(self, policy: Policy, state: Incident, at: datetime):
        self.policy, self.state, self.at = policy, state, at

    def do(self, action: Action, actor: Actor, after: timedelta = MINUTE, at: datetime | None = None) -> Incident:
        self.at = at or self.at + after
        self.state = apply(self.state, action, actor, self.at, self.policy)
        return self.state

    def refuse(
        self, action: Action, actor: Actor, code: RefusalCode, after: timedelta = MINUTE, at: datetime | None = None
    ) -> str:
        """Asserts the refusal and that the state is exactly as it was; returns the reason."""
        before = self.state.model_dump()
        with pytest.raises(Refusal) as caught:
            apply(self.state, action, actor, at or self.at + after, self.policy)
        assert caught.value.code == code, caught.value.reason
        assert self.state.model_dump() == before
        return caught.value.reason

    def fire(self, clock_id: str) -> Incident:
        """The clock's timer goes off exactly when it is due."""
        clock = self.state.clock(clock_id)
        assert clock is not None and clock.next_fire_at is not None, f"{clock_id} is not armed"
        return self.do(ClockFired(clock_id=clock_id), SYSTEM, at=max(self.at, clock.next_fire_at))

    def propose(self, action: EnforcementAction, actor: Actor, **fields: object) -> str:
        self.do(ProposeAction(action=action, rationale="clear violation", **fields), actor)
        return self.state.proposals[-1].id

    def enforce(self, proposal_id: str, succeeded: bool = True) -> Incident:
        return self.do(EnforcementCompleted(proposal_id=proposal_id, succeeded=succeeded, reference="ref-1"), SYSTEM)


StoryFactory = Callable[..., Story]


@pytest.fixture
def story(policy: Policy, open_incident: OpenIncident, analyst: Actor) -> StoryFactory:
    """`story(acknowledged=True, **intake)`: an incident opened at NOW, acknowledged by ana a minute later."""

    def _story(acknowledged: bool = True, **intake: object) -> Story:
        told = Story(policy, open_incident(NOW, **intake), NOW)
        if acknowledged:
            told.do(Acknowledge(), analyst)
        return told

    return _story


def running(state: Incident) -> set[str]:
    return {c.id for c in state.clocks if c.running}


# --- triage and open


def test_open_starts_in_triage_with_acknowledge_and_resolve_clocks_of_its_severity(
    open_incident: OpenIncident, policy: Policy
) -> None:
    state = open_incident(**SEV3_HATE)
    assert (state.status, state.severity, state.seq, state.updated_at) == (Status.TRIAGE, Severity.SEV3, 1, NOW)
    assert state.policy_version == policy.version
    assert running(state) == {"sla.acknowledge", "sla.resolve"}
    assert state.clock("sla.acknowledge").due_at == NOW + timedelta(hours=4)
    assert state.clock("sla.resolve").due_at == NOW + timedelta(days=3)
    assert state.evidence_hold_until is None


def test_open_twice_is_refused(open_incident: OpenIncident, policy: Policy) -> None:
    state = open_incident()
    again = Open(
        incident_id=INCIDENT_ID,
        intake=state.intake,
        severity=Severity.SEV4,
        triage_reasons=[],
        policy_version=policy.version,
    )
    with pytest.raises(Refusal) as caught:
        apply(state, again, SYSTEM, NOW, policy)
    assert caught.value.code == RefusalCode.CONFLICT


def test_action_before_open_is_refused(policy: Policy, analyst: Actor) -> None:
    with pytest.raises(Refusal, match="not been opened") as caught:
        apply(None, Acknowledge(), analyst, NOW, policy)
    assert caught.value.code == RefusalCode.CONFLICT


def test_only_vigil_opens_incidents(policy: Policy, lead: Actor) -> None:
    intake = Intake(title="t", channel=Channel.PRESS, category=Category.OTHER, region=Region.NA)
    action = Open(
        incident_id=INCIDENT_ID, intake=intake, severity=Severity.SEV2, triage_reasons=[], policy_version=policy.version
    )
    with pytest.raises(Refusal) as caught:
        apply(None, action, lead, NOW, policy)
    assert caught.value.code == RefusalCode.FORBIDDEN


def test_triage_most_severe_matching_rule_wins(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.VIOLENT_EXTREMISM, Channel.REGULATOR, Region.EMEA, 5_000_000)
    assert severity == Severity.SEV1
    assert reasons == ["violent extremism reported by an authority (possible removal order)"]


def test_triage_lists_every_rule_of_the_winning_severity(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.SELF_HARM_SUICIDE, Channel.PRESS, Region.NA, 2_000_000)
    assert severity == Severity.SEV2
    assert reasons == ["risk to life", "seen by over a million people", "external party is watching"]


def test_triage_falls_back_to_default_when_no_rule_matches(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.SPAM_SCAM, Channel.USER_REPORT, Region.NA, 10)
    assert severity == policy.triage.default == Severity.SEV4
    assert reasons == ["no triage rule matched: default severity"]


@pytest.mark.parametrize(
    ("reach", "severity"), [(99_999, Severity.SEV4), (100_000, Severity.SEV3), (1_000_000, Severity.SEV2)]
)
def test_triage_reach_thresholds(policy: Policy, reach: int, severity: Severity) -> None:
    assert policy.triage_severity(Category.SPAM_SCAM, Channel.USER_REPORT, Region.NA, reach)[0] == severity


def test_triage_rule_order_never_matters(policy: Policy) -> None:
    rules = list(policy.triage.rules)
    shuffled = []
    for seed in range(3):
        random.Random(seed).shuffle(rules)
        triage = policy.triage.model_copy(update={"rules": list(rules)})
        shuffled.append(policy.model_copy(update={"triage": triage}))
    shuffled.append(policy.model_copy(update={"triage": policy.triage.model_copy(update={"rules": rules[::-1]})}))
    for category in Category:
        for channel in Channel:
            for region in Region:
                for reach in (0, 100_000, 1_000_000):
                    severity, reasons = policy.triage_severity(category, channel, region, reach)
                    for other in shuffled:
                        again, again_reasons = other.triage_severity(category, channel, region, reach)
                        assert again == severity
                        assert sorted(again_reasons) == sorted(reasons)


def test_child_safety_is_sev1_through_any_channel(policy: Policy) -> None:
    for channel in Channel:
        assert policy.triage_severity(Category.CHILD_SAFETY, channel, Region.APAC, 0)[0] == Severity.SEV1


def test_eu_removal_order_starts_a_one_hour_regulatory_clock(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    clock = state.clock("regulatory.eu_tco_removal_order")
    assert clock is not None and clock.kind == ClockKind.REGULATORY
    assert clock.due_at == clock.next_fire_at == NOW + timedelta(hours=1)
    assert clock.met_by == [EnforcementAction.REMOVE_CONTENT, EnforcementAction.GEO_BLOCK]


def test_removal_order_clock_runs_only_in_the_eu(open_incident: OpenIncident) -> None:
    state = open_incident(**{**SEV1_TCO, "region": Region.NA})
    assert state.severity == Severity.SEV1
    assert state.clock("regulatory.eu_tco_removal_order") is None


def test_child_safety_starts_ncmec_clock_and_holds_evidence_for_a_year(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_CSAM)
    assert state.clock("regulatory.ncmec_report").due_at == NOW + timedelta(hours=24)
    assert state.evidence_hold_until == NOW + timedelta(days=365)


def test_intake_deadline_starts_a_clock_met_by_any_real_enforcement(open_incident: OpenIncident) -> None:
    deadline = NOW + timedelta(hours=6)
    state = open_incident(deadline=deadline)
    clock = state.clock("regulatory.deadline")
    assert clock is not None and clock.due_at == clock.next_fire_at == deadline
    assert EnforcementAction.NO_ACTION not in clock.met_by
    assert set(clock.met_by) == set(EnforcementAction) - {EnforcementAction.NO_ACTION}


def test_next_wakeup_is_the_earliest_running_clock(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    assert next_wakeup(state) == NOW + timedelta(minutes=15)  # SEV1 acknowledge


def test_due_clocks_lists_only_clocks_due_by_now(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    assert due_clocks(state, NOW + timedelta(minutes=14)) == []
    assert due_clocks(state, NOW + timedelta(minutes=15)) == ["sla.acknowledge"]
    assert set(due_clocks(state, NOW + timedelta(hours=1))) == {
        "sla.acknowledge",
        "regulatory.eu_tco_removal_order",
        "update.due",  # the default policy: a SEV1 with a legal clock running owes an update every 30 minutes
    }


# --- acknowledge, assign, notes


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


def test_blank_note_is_malformed() -> None:
    with pytest.raises(ValidationError):
        AddNote(text="   ")


def test_unknown_team_is_malformed() -> None:
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "escalate", "team": "marketing", "reason": "x"})


def test_unknown_action_type_is_malformed() -> None:
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "delete_incident"})


# --- severity


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


# --- escalation and team responses


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


# --- proposals and approvals


def test_low_severity_action_needs_no_approval_and_goes_to_actioning(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.state
    proposal = state.proposal(proposal_id)
    assert state.status == Status.ACTIONING
    assert proposal_id == f"{INCIDENT_ID}-A1"
    assert (proposal.status, proposal.needs_approval, proposal.quorum) == (ProposalStatus.APPROVED, False, 0)
    assert proposal.decision_reason == "no approval needed by policy"


def test_high_severity_action_goes_to_pending_approval(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    proposal = told.state.proposal(proposal_id)
    assert told.state.status == Status.PENDING_APPROVAL
    assert (proposal.status, proposal.needs_approval, proposal.quorum) == (ProposalStatus.PENDING, True, 1)
    assert (proposal.proposed_by, proposal.severity) == ("ana", Severity.SEV2)


def test_always_listed_action_needs_approval_at_any_severity(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.propose(EnforcementAction.TERMINATE_ACCOUNT, analyst, target="acct-1")
    assert told.state.status == Status.PENDING_APPROVAL
    assert told.state.proposals[-1].target == "acct-1"


def test_sev1_proposal_needs_a_quorum_of_two(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV1_CSAM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.state.proposal(proposal_id).quorum == 2


def test_dsa_statement_of_reasons_required_in_emea(story: StoryFactory, analyst: Actor) -> None:
    told = story(region=Region.EMEA)
    bare = ProposeAction(action=EnforcementAction.SUSPEND_ACCOUNT, rationale="repeat offender")
    assert "statement of reasons" in told.refuse(bare, analyst, RefusalCode.INVALID)
    with_reasons = bare.model_copy(update={"statement_of_reasons": "You posted scams three times."})
    state = told.do(with_reasons, analyst)
    assert state.proposals[-1].statement_of_reasons == "You posted scams three times."


def test_statement_of_reasons_not_required_outside_emea(story: StoryFactory, analyst: Actor) -> None:
    told = story(region=Region.APAC)
    told.propose(EnforcementAction.SUSPEND_ACCOUNT, analyst)
    assert told.state.status == Status.ACTIONING


def test_statement_of_reasons_not_required_for_no_action(story: StoryFactory, analyst: Actor) -> None:
    told = story(region=Region.EMEA)
    told.propose(EnforcementAction.NO_ACTION, analyst)
    assert told.state.status == Status.ACTIONING


def test_propose_while_another_proposal_is_pending_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    again = ProposeAction(action=EnforcementAction.GEO_BLOCK, rationale="x")
    told.refuse(again, analyst, RefusalCode.CONFLICT)


def test_proposer_cannot_approve_own_action(story: StoryFactory, lead: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, lead)
    reason = told.refuse(Approve(approval_id=proposal_id), lead, RefusalCode.FORBIDDEN)
    assert "four-eyes" in reason


def test_proposer_cannot_reject_own_action(story: StoryFactory, lead: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, lead)
    told.refuse(Reject(approval_id=proposal_id, reason="changed my mind"), lead, RefusalCode.FORBIDDEN)


def test_one_lead_approves_below_sev1(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(Approve(approval_id=proposal_id, comment="agreed"), lead)
    proposal = state.proposal(proposal_id)
    assert state.status == Status.ACTIONING
    assert (proposal.status, proposal.approvers, proposal.decided_at) == (ProposalStatus.APPROVED, ["lena"], told.at)
    assert proposal.decision_reason == "approved by lena"


def test_sev1_needs_two_distinct_leads(story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor) -> None:
    told = story(**SEV1_CSAM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(Approve(approval_id=proposal_id), lead)
    assert state.status == Status.PENDING_APPROVAL
    assert state.proposal(proposal_id).status == ProposalStatus.PENDING
    assert "already approved" in told.refuse(Approve(approval_id=proposal_id), lead, RefusalCode.CONFLICT)
    state = told.do(Approve(approval_id=proposal_id), lead2)
    assert state.status == Status.ACTIONING
    assert state.proposal(proposal_id).approvers == ["lena", "liu"]


def test_approving_an_unknown_approval_is_refused(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    reason = told.refuse(Approve(approval_id="INC-2026-999999-A1"), lead, RefusalCode.CONFLICT)
    assert "has no approval" in reason


def test_approving_a_decided_proposal_is_refused(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    first = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.do(Reject(approval_id=first, reason="not violating"), lead)
    told.propose(EnforcementAction.GEO_BLOCK, analyst)
    assert "already rejected" in told.refuse(Approve(approval_id=first), lead2, RefusalCode.CONFLICT)


def test_reject_sends_the_incident_back_to_investigating_with_the_reason(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(Reject(approval_id=proposal_id, reason="news value outweighs harm"), lead)
    proposal = state.proposal(proposal_id)
    assert state.status == Status.INVESTIGATING
    assert (proposal.status, proposal.decision_reason) == (ProposalStatus.REJECTED, "news value outweighs harm")
    assert proposal.votes[-1].decision == "reject"


def test_reject_returns_to_escalated_while_a_team_owes_an_answer(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.do(Reject(approval_id=proposal_id, reason="wait for legal"), lead).status == Status.ESCALATED


def test_one_rejection_ends_a_sev1_vote_with_one_approval(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_CSAM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.do(Approve(approval_id=proposal_id), lead)
    state = told.do(Reject(approval_id=proposal_id, reason="wrong content id"), lead2)
    assert state.proposal(proposal_id).status == ProposalStatus.REJECTED
    assert state.status == Status.INVESTIGATING


def test_a_lead_who_approved_cannot_then_reject(story: StoryFactory, analyst: Actor, lead: Actor) -> None:
    told = story(**SEV1_CSAM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.do(Approve(approval_id=proposal_id), lead)
    told.refuse(Reject(approval_id=proposal_id, reason="second thoughts"), lead, RefusalCode.CONFLICT)


# --- enforcement


def test_successful_enforcement_marks_the_action_done_and_returns_to_work(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.enforce(proposal_id)
    proposal = state.proposal(proposal_id)
    assert state.status == Status.INVESTIGATING
    assert (proposal.status, proposal.enforced_at, proposal.enforcement_reference) == (
        ProposalStatus.DONE,
        told.at,
        "ref-1",
    )


def test_enforcement_returns_to_escalated_while_a_team_owes_an_answer(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.ENGINEERING, reason="find all copies"), analyst)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    assert told.enforce(proposal_id).status == Status.ESCALATED


def test_failed_enforcement_marks_the_action_failed_and_notes_why(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    proposal_id = told.propose(EnforcementAction.SUSPEND_ACCOUNT, analyst)
    state = told.do(
        EnforcementCompleted(proposal_id=proposal_id, succeeded=False, reference="r", detail="account not found"),
        SYSTEM,
    )
    assert state.proposal(proposal_id).status == ProposalStatus.FAILED
    assert state.notes[-1].text == "suspend_account failed: account not found"
    assert state.status == Status.INVESTIGATING


def test_enforcement_reported_twice_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.enforce(proposal_id)
    again = EnforcementCompleted(proposal_id=proposal_id, succeeded=True, reference="ref-1")
    told.refuse(again, SYSTEM, RefusalCode.CONFLICT)


def test_enforcement_of_an_unknown_proposal_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    unknown = EnforcementCompleted(proposal_id=f"{INCIDENT_ID}-A9", succeeded=True, reference="r")
    assert "no approved action" in told.refuse(unknown, SYSTEM, RefusalCode.CONFLICT)


def test_regulatory_clock_met_only_by_matching_enforcement(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_TCO)
    report = told.propose(EnforcementAction.REGULATOR_REPORT, analyst)
    told.do(Approve(approval_id=report), lead)
    told.do(Approve(approval_id=report), lead2)
    state = told.enforce(report)
    assert state.clock("regulatory.eu_tco_removal_order").running

    removal = told.propose(EnforcementAction.REMOVE_CONTENT, analyst, statement_of_reasons="terrorist content")
    told.do(Approve(approval_id=removal), lead)
    told.do(Approve(approval_id=removal), lead2)
    state = told.enforce(removal)
    clock = state.clock("regulatory.eu_tco_removal_order")
    assert clock.met_at == told.at and not clock.running


def test_failed_enforcement_does_not_meet_a_regulatory_clock(story: StoryFactory, analyst: Actor) -> None:
    told = story(deadline=NOW + timedelta(hours=2))
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.enforce(proposal_id, succeeded=False)
    assert state.clock("regulatory.deadline").running


def test_intake_deadline_is_met_by_any_real_enforcement(story: StoryFactory, analyst: Actor) -> None:
    told = story(deadline=NOW + timedelta(hours=2))
    proposal_id = told.propose(EnforcementAction.SUSPEND_ACCOUNT, analyst)
    assert told.enforce(proposal_id).clock("regulatory.deadline").met_at == told.at


def test_intake_deadline_is_not_met_by_no_action(story: StoryFactory, analyst: Actor) -> None:
    told = story(deadline=NOW + timedelta(hours=2))
    proposal_id = told.propose(EnforcementAction.NO_ACTION, analyst)
    assert told.enforce(proposal_id).clock("regulatory.deadline").running


# --- clocks firing


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
    told.do(Approve(approval_id=removal), lead)
    told.do(Approve(approval_id=removal), lead2)
    clock = told.enforce(removal).clock("regulatory.eu_tco_removal_order")
    assert clock.met_at is not None and len(clock.breaches) == 1


# --- resolve


def test_resolve_meets_the_resolve_clock_cancels_the_rest_and_opens_the_reopen_window(
    story: StoryFactory, analyst: Actor, lead: Actor
) -> None:
    told = story(**SEV2_SELF_HARM)
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    state = told.do(Resolve(resolution=Resolution.NO_VIOLATION, summary="a film scene"), lead)
    assert state.status == Status.RESOLVED
    assert (state.resolution, state.resolution_summary, state.resolved_by) == (
        Resolution.NO_VIOLATION,
        "a film scene",
        "lena",
    )
    assert state.reopen_until == told.at + timedelta(days=7)
    assert state.clock("sla.resolve").met_at == told.at
    legal = state.clock("sla.first_response.legal")
    assert legal.cancelled_at == told.at and legal.cancel_reason == "incident resolved as no_violation"
    assert state.teams[0].closed_reason == "incident resolved as no_violation" and not state.teams[0].waiting
    assert running(state) == {"reopen_window"}
    assert state.clock("reopen_window").next_fire_at == state.reopen_until


def test_resolve_as_actioned_refused_without_completed_enforcement(story: StoryFactory, analyst: Actor) -> None:
    reason = story().refuse(Resolve(resolution=Resolution.ACTIONED, summary="done"), analyst, RefusalCode.CONFLICT)
    assert "no enforcement action has completed" in reason


def test_resolve_as_actioned_refused_after_failed_enforcement(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.enforce(told.propose(EnforcementAction.REMOVE_CONTENT, analyst), succeeded=False)
    told.refuse(Resolve(resolution=Resolution.ACTIONED, summary="done"), analyst, RefusalCode.CONFLICT)


def test_resolve_as_actioned_after_enforcement(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.enforce(told.propose(EnforcementAction.REMOVE_CONTENT, analyst))
    assert told.do(Resolve(resolution=Resolution.ACTIONED, summary="removed"), analyst).resolution == "actioned"


def test_resolve_as_actioned_refused_while_ncmec_report_due(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_CSAM)
    removal = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.do(Approve(approval_id=removal), lead)
    told.do(Approve(approval_id=removal), lead2)
    told.enforce(removal)
    resolve = Resolve(resolution=Resolution.ACTIONED, summary="removed")
    reason = told.refuse(resolve, analyst, RefusalCode.CONFLICT)
    assert reason.startswith("still due: US CSAM report to NCMEC")

    report = told.propose(EnforcementAction.REGULATOR_REPORT, analyst)
    told.do(Approve(approval_id=report), lead)
    told.do(Approve(approval_id=report), lead2)
    told.enforce(report)
    state = told.do(resolve, analyst)
    assert state.status == Status.RESOLVED
    assert state.evidence_hold_until == NOW + timedelta(days=365)  # resolving keeps the hold


def test_resolve_while_pending_approval_expires_the_proposal(story: StoryFactory, analyst: Actor) -> None:
    told = story(**SEV2_SELF_HARM)
    proposal_id = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    state = told.do(Resolve(resolution=Resolution.DUPLICATE, summary="see INC-2026-000002"), analyst)
    proposal = state.proposal(proposal_id)
    assert proposal.status == ProposalStatus.EXPIRED
    assert proposal.decision_reason == "incident resolved as duplicate"


def test_resolve_while_actioning_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.refuse(Resolve(resolution=Resolution.REFERRED, summary="x"), analyst, RefusalCode.CONFLICT)


def test_resolve_before_acknowledging_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = story(acknowledged=False)
    told.refuse(Resolve(resolution=Resolution.NO_VIOLATION, summary="x"), analyst, RefusalCode.CONFLICT)


# --- reopen and close


def _resolved(told: Story, actor: Actor) -> Story:
    told.do(Resolve(resolution=Resolution.INSUFFICIENT_INFORMATION, summary="link dead"), actor)
    return told


def test_reopen_inside_window_goes_back_to_investigating(story: StoryFactory, analyst: Actor) -> None:
    told = _resolved(story(**SEV3_HATE), analyst)
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
    told = _resolved(story(), analyst)
    late = told.at + timedelta(days=7, seconds=1)
    assert told.refuse(Reopen(reason="x"), analyst, RefusalCode.CONFLICT, at=late) == "the reopen window has passed"


def test_reopen_exactly_when_the_window_ends_is_refused(story: StoryFactory, analyst: Actor) -> None:
    told = _resolved(story(), analyst)
    told.refuse(Reopen(reason="x"), analyst, RefusalCode.CONFLICT, at=told.state.reopen_until)


def test_reopen_window_clock_closes_the_incident(story: StoryFactory, analyst: Actor) -> None:
    told = _resolved(story(), analyst)
    state = told.fire("reopen_window")
    assert state.status == Status.CLOSED
    assert state.closed_at == told.at == NOW + timedelta(minutes=2) + timedelta(days=7)
    assert running(state) == set()
    assert next_wakeup(state) is None


def test_resolving_again_after_reopen_restarts_the_reopen_window(story: StoryFactory, analyst: Actor) -> None:
    told = _resolved(story(), analyst)
    told.do(Reopen(reason="x"), analyst)
    state = _resolved(told, analyst).state
    windows = [c for c in state.clocks if c.id == "reopen_window"]
    assert len(windows) == 1 and windows[0].running and windows[0].started_at == told.at


def test_team_engagement_closed_by_resolution_is_not_answerable_after_reopen(
    story: StoryFactory, analyst: Actor
) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="x"), analyst)
    _resolved(told, analyst).do(Reopen(reason="y"), analyst)
    told.refuse(RecordTeamResponse(team=Team.LEGAL, text="late answer"), analyst, RefusalCode.CONFLICT)


def test_notes_may_be_added_to_a_resolved_incident(story: StoryFactory, analyst: Actor) -> None:
    told = _resolved(story(), analyst)
    assert told.do(AddNote(text="reporter thanked us"), SYSTEM).notes[-1].by == "vigil"


# --- merge


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


# --- terminal states and purity


def _closed(told: Story, actor: Actor) -> Story:
    _resolved(told, actor).fire("reopen_window")
    return told


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
    told = _closed(story(), analyst)
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
    told = _closed(story(), analyst)
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


def test_reopen_owes_again_the_legal_duties_the_resolution_set_aside(
    story: StoryFactory, analyst: Actor, lead: Actor, lead2: Actor
) -> None:
    told = story(**SEV1_CSAM)
    removal = told.propose(EnforcementAction.REMOVE_CONTENT, analyst)
    told.do(Approve(approval_id=removal), lead)
    told.do(Approve(approval_id=removal), lead2)
    told.enforce(removal)
    told.do(Resolve(resolution=Resolution.NO_VIOLATION, summary="adult content, not CSAM"), analyst)
    assert not told.state.clock("regulatory.ncmec_report").running
    state = told.do(Reopen(reason="second review: a minor is shown"), analyst)
    assert state.clock("regulatory.ncmec_report").running
    reason = told.refuse(Resolve(resolution=Resolution.ACTIONED, summary="removed"), analyst, RefusalCode.CONFLICT)
    assert "NCMEC" in reason


def test_raising_severity_on_a_late_clock_brings_the_next_reminder_forward(story: StoryFactory, lead: Actor) -> None:
    told = story(acknowledged=False, **SEV4_SPAM)  # SEV4: acknowledge in 24h, remind every 24h
    told.fire("sla.acknowledge")
    assert told.state.clock("sla.acknowledge").next_fire_at == told.at + timedelta(hours=24)
    state = told.do(SetSeverity(severity=Severity.SEV1, reason="it is spreading"), lead)
    assert state.clock("sla.acknowledge").next_fire_at == told.at + timedelta(minutes=15)  # SEV1 pace


def test_merge_closes_the_engagements_still_waiting(story: StoryFactory, analyst: Actor) -> None:
    told = story()
    told.do(Escalate(team=Team.LEGAL, reason="is this lawful?"), analyst)
    state = told.do(MergeInto(incident_id=OTHER_INCIDENT), analyst)
    assert state.waiting_teams == []
    assert state.teams[0].closed_reason == f"merged into {OTHER_INCIDENT}"


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "del\x7f"])
def test_free_text_with_control_characters_is_malformed(text: str) -> None:
    with pytest.raises(ValidationError, match="control character"):
        AddNote(text=text)


def test_free_text_keeps_newlines_and_tabs() -> None:
    assert AddNote(text="line one\n\tline two").text == "line one\n\tline two"


def test_open_records_who_took_the_intake(policy: Policy, analyst: Actor, now: datetime) -> None:
    opened = Open(
        incident_id=INCIDENT_ID,
        intake=Intake(title="t", channel="press", category="other", region="NA"),
        severity=Severity.SEV3,
        triage_reasons=[],
        policy_version=policy.version,
        opened_by=analyst,
    )
    assert apply(None, opened, SYSTEM, now, policy).opened_by == analyst.user
