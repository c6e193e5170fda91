"""Property test: four-eyes that no path can skip.

Random sequences of actions by random people (analysts, leads, an auditor and an admin): severity
raised and lowered, proposals made again and again, approvals and rejections, enforcement results,
resolutions and reopenings. The test keeps its own account of what happened, from the actions
the state machine accepted, never from the state's bookkeeping: the most severe level held so
far, and for every proposal whether any policy rule asked for approval (by the severity it was
proposed at or by any level held before) and which distinct leads other than its proposer
approved it. The property: no such proposal is ever approved (or enforced) short of the quorum of
the most severe level held.
"""

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vigil.domain import Category, Channel, EnforcementAction, Resolution, Role, Severity, Status
from vigil.policy import DEFAULT_POLICY_PATH, load_policy
from vigil.workflows.actions import (
    Acknowledge,
    Action,
    Approve,
    EnforcementCompleted,
    ProposeAction,
    Refusal,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.lifecycle import apply
from vigil.workflows.state import SYSTEM, Actor, ProposalStatus

from .conftest import NOW, PEOPLE, open_incident_with

POLICY = load_policy(DEFAULT_POLICY_PATH)
LEADS = {p.user for p in PEOPLE if p.role == Role.LEAD}
DECIDED = {ProposalStatus.APPROVED, ProposalStatus.DONE, ProposalStatus.FAILED}
# No statement of reasons is ever needed: the incidents are in NA.
ACTIONS = list(EnforcementAction)


class FourEyes(RuleBasedStateMachine):
    @initialize(
        severity=st.sampled_from(Severity),
        category=st.sampled_from([Category.CHILD_SAFETY, Category.SPAM_SCAM, Category.HATE_SPEECH]),
    )
    def open(self, severity: Severity, category: Category) -> None:
        self.state = open_incident_with(POLICY, NOW, category=category, channel=Channel.USER_REPORT, severity=severity)
        self.now = NOW
        self.held = severity  # SEV1 sorts first: the most severe held is the least
        self.levels = {severity}  # every level held so far
        self.required: dict[str, bool] = {}  # proposal id -> some rule asked for approval
        self.quorum: dict[str, int] = {}  # proposal id -> the quorum of the most severe level held
        self.approvers: dict[str, set[str]] = {}  # proposal id -> distinct leads, not the proposer
        self.proposer: dict[str, str] = {}
        self.do(Acknowledge(), PEOPLE[0])

    def do(self, action: Action, actor: Actor) -> bool:
        self.now += timedelta(minutes=1)
        try:
            self.state = apply(self.state, action, actor, self.now, POLICY)
        except Refusal:
            return False
        return True

    @rule(actor=st.sampled_from(PEOPLE), severity=st.sampled_from(Severity))
    def set_severity(self, actor: Actor, severity: Severity) -> None:
        if self.do(SetSeverity(severity=severity, reason="reassessed"), actor):
            self.held = min(self.held, severity)
            self.levels.add(severity)

    @rule(actor=st.sampled_from(PEOPLE), action=st.sampled_from(ACTIONS))
    def propose(self, actor: Actor, action: EnforcementAction) -> None:
        proposals = len(self.state.proposals)
        if self.do(ProposeAction(action=action, rationale="policy violation"), actor):
            proposal_id = self.state.proposals[proposals].id
            self.required[proposal_id] = any(POLICY.approval.needed(action, level) for level in self.levels)
            self.quorum[proposal_id] = POLICY.approval.quorum_for(self.held)
            self.approvers[proposal_id] = set()
            self.proposer[proposal_id] = actor.user

    @rule(actor=st.sampled_from(PEOPLE), pick=st.integers(0, 5))
    def approve(self, actor: Actor, pick: int) -> None:
        proposal_id = self._pick(pick)
        if proposal_id and self.do(Approve(approval_id=proposal_id, comment="ok"), actor):
            assert actor.user in LEADS and actor.user != self.proposer[proposal_id]
            self.approvers[proposal_id].add(actor.user)

    @rule(actor=st.sampled_from(PEOPLE), pick=st.integers(0, 5))
    def reject(self, actor: Actor, pick: int) -> None:
        proposal_id = self._pick(pick)
        if proposal_id:
            self.do(Reject(approval_id=proposal_id, reason="not enough evidence"), actor)

    @rule(pick=st.integers(0, 5), succeeded=st.booleans())
    def enforcement_reports(self, pick: int, succeeded: bool) -> None:
        proposal_id = self._pick(pick)
        if proposal_id:
            self.do(EnforcementCompleted(proposal_id=proposal_id, succeeded=succeeded, reference="ref"), SYSTEM)

    @rule(actor=st.sampled_from(PEOPLE), resolution=st.sampled_from(Resolution))
    def resolve(self, actor: Actor, resolution: Resolution) -> None:
        self.do(Resolve(resolution=resolution, summary="done"), actor)

    @rule(actor=st.sampled_from(PEOPLE))
    def reopen(self, actor: Actor) -> None:
        self.do(Reopen(reason="new evidence"), actor)

    def _pick(self, pick: int) -> str | None:
        proposals = self.state.proposals
        return proposals[pick % len(proposals)].id if proposals else None

    @invariant()
    def no_required_proposal_is_approved_short_of_the_highest_quorum(self) -> None:
        for proposal in self.state.proposals:
            if proposal.status in DECIDED and self.required[proposal.id]:
                approvers = self.approvers[proposal.id]
                assert self.proposer[proposal.id] not in approvers
                assert approvers <= LEADS
                assert len(approvers) >= self.quorum[proposal.id], (proposal.id, approvers, self.quorum)
                assert proposal.needs_approval

    @invariant()
    def the_state_knows_the_most_severe_level_held(self) -> None:
        assert self.state.highest_severity == self.held


TestFourEyes = FourEyes.TestCase


def test_the_machine_reaches_approvals_by_two_leads_after_a_downgrade() -> None:
    """A guard on the property test itself: the paths it is about are reachable by its rules."""
    machine = FourEyes()
    machine.open(severity=Severity.SEV1, category=Category.CHILD_SAFETY)
    machine.set_severity(PEOPLE[2], Severity.SEV4)
    machine.propose(PEOPLE[2], EnforcementAction.SUSPEND_ACCOUNT)
    assert machine.state.status == Status.PENDING_APPROVAL
    machine.approve(PEOPLE[3], 0)
    assert machine.state.status == Status.PENDING_APPROVAL  # SEV1's quorum: one lead is not enough
    machine.approve(PEOPLE[4], 0)
    assert machine.state.status == Status.ACTIONING
    machine.no_required_proposal_is_approved_short_of_the_highest_quorum()
