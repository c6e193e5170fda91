"""Proposing an enforcement action and approving it: thresholds, quorum, four-eyes, rejection."""

from vigil.domain import EnforcementAction, Region, Severity, Status, Team
from vigil.workflows.actions import Approve, Escalate, ProposeAction, RefusalCode, Reject
from vigil.workflows.state import Actor, ProposalStatus

from .conftest import INCIDENT_ID
from .stories import SEV1_CSAM, SEV2_SELF_HARM, StoryFactory


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
