"""Property tests: random action sequences, by random actors at ever later times, never reach
an inconsistent incident, and every refused action leaves the state exactly as it was.

The machine draws actions of every type with plausible fields (often legal, sometimes not),
fires clocks that are due and clocks that are not, and reports enforcement results. Runs are
derandomized and database-free, so CI sees the same examples every time.
"""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vigil.domain import (
    REGION_INCIDENT_TEAM,
    TERMINAL_STATUSES,
    Category,
    Channel,
    EnforcementAction,
    Region,
    Resolution,
    Severity,
    Status,
    Team,
)
from vigil.policy import DEFAULT_POLICY_PATH, load_policy
from vigil.workflows.actions import (
    Acknowledge,
    Action,
    AddNote,
    Approve,
    Assign,
    ClockFired,
    EnforcementCompleted,
    Escalate,
    MergeInto,
    Open,
    PostUpdate,
    ProposeAction,
    RecordTeamResponse,
    Refusal,
    RefusalCode,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.lifecycle import RULES, apply, due_clocks, next_wakeup, permitted
from vigil.workflows.state import SYSTEM, Actor, ClockKind, Incident, ProposalStatus

from .conftest import INCIDENT_ID, NOW, OTHER_INCIDENT, PEOPLE, open_incident_with

POLICY = load_policy(DEFAULT_POLICY_PATH)
ACTORS = [*PEOPLE, SYSTEM]
ACTION_TYPES = sorted(RULES)
ACTIVE = {Status.TRIAGE, Status.INVESTIGATING, Status.ESCALATED, Status.PENDING_APPROVAL, Status.ACTIONING}
WORK = {Status.INVESTIGATING, Status.ESCALATED}
LIVE = {ProposalStatus.PENDING, ProposalStatus.APPROVED}

# How often each action type is drawn, when legal: the ones that end or close an incident less.
WEIGHT = {t: 4 for t in RULES} | {"merge_into": 1, "resolve": 2, "reopen": 2, "clock_fired": 1, "add_note": 2}

intakes = st.fixed_dictionaries(
    {
        "category": st.sampled_from(Category),
        "channel": st.sampled_from(Channel),
        "region": st.sampled_from(Region),
        "reach": st.sampled_from([0, 5_000, 100_000, 2_000_000]),
        "deadline": st.one_of(st.none(), st.integers(-3_600, 3 * 86_400).map(lambda s: NOW + timedelta(seconds=s))),
        "severity": st.one_of(st.none(), st.sampled_from(Severity)),  # None: as the policy triages it
    }
)
text = st.sampled_from(["x", "  see the thread  ", "needs legal review", "ñandú ✓"])
delays = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 3_600).map(lambda s: timedelta(seconds=s)),
    st.integers(3_600, 10 * 86_400).map(lambda s: timedelta(seconds=s)),
)


class IncidentMachine(RuleBasedStateMachine):
    state: Incident
    now: datetime

    @initialize(intake=intakes)
    def open(self, intake: dict[str, object]) -> None:
        self.incidents = 0
        self._start(intake)

    def _start(self, intake: dict[str, object]) -> None:
        self.state = open_incident_with(POLICY, NOW, **intake)  # type: ignore[arg-type]
        self.opened = self.state
        self.now = NOW
        self.applied: list[tuple[Action, Actor, datetime]] = []
        self.hold = self.state.evidence_hold_until
        self.incidents += 1

    @precondition(lambda self: self.state.status in TERMINAL_STATUSES)
    @rule(intake=intakes)
    def next_incident(self, intake: dict[str, object]) -> None:
        """A closed or merged incident accepts nothing more: check its history, then open another."""
        self._check_fold()
        self._start(intake)

    # --- drawing one action

    def _draw_action(self, data: st.DataObject, kind: str) -> Action:
        s = self.state
        live = [p.id for p in s.proposals if p.status in LIVE]
        any_id = st.sampled_from([p.id for p in s.proposals] + [f"{INCIDENT_ID}-A99"])
        proposal_ids = st.sampled_from(live) if live and data.draw(st.integers(0, 4)) else any_id
        asked = [e.team for e in s.teams]
        makers = {
            "acknowledge": lambda: Acknowledge(),
            "assign": lambda: Assign(assignee=data.draw(st.sampled_from(["ana", "bruno", "carla", s.assignee or "x"]))),
            "add_note": lambda: AddNote(text=data.draw(text)),
            "set_severity": lambda: SetSeverity(severity=data.draw(st.sampled_from(Severity)), reason=data.draw(text)),
            "escalate": lambda: Escalate(team=data.draw(st.sampled_from(Team)), reason=data.draw(text)),
            "team_response": lambda: RecordTeamResponse(
                team=data.draw(st.sampled_from(asked) if asked and data.draw(st.booleans()) else st.sampled_from(Team)),
                text=data.draw(text),
            ),
            "propose_action": lambda: ProposeAction(
                action=data.draw(st.sampled_from(EnforcementAction)),
                rationale=data.draw(text),
                statement_of_reasons=data.draw(st.sampled_from([None, "you broke rule 4", "r4"])),  # 2 in 3 have one
                target=data.draw(st.one_of(st.none(), st.just("acct-7"))),
            ),
            "approve": lambda: Approve(approval_id=data.draw(proposal_ids), comment=data.draw(text)),
            "reject": lambda: Reject(approval_id=data.draw(proposal_ids), reason=data.draw(text)),
            "resolve": lambda: Resolve(resolution=data.draw(st.sampled_from(Resolution)), summary=data.draw(text)),
            "reopen": lambda: Reopen(reason=data.draw(text)),
            "merge_into": lambda: MergeInto(incident_id=data.draw(st.sampled_from([OTHER_INCIDENT, INCIDENT_ID]))),
            "post_update": lambda: PostUpdate(
                audience=data.draw(st.sampled_from(["leadership", "stakeholders"])), text=data.draw(text)
            ),
            "open": lambda: Open(
                incident_id=INCIDENT_ID,
                intake=s.intake,
                severity=s.severity,
                triage_reasons=[],
                policy_version=POLICY.version,
            ),
            "clock_fired": lambda: ClockFired(
                clock_id=data.draw(st.sampled_from([c.id for c in s.clocks] + ["sla.bogus"]))
            ),
            "enforcement_completed": lambda: EnforcementCompleted(
                proposal_id=data.draw(proposal_ids),
                succeeded=data.draw(st.booleans()),
                reference="ref",
                detail=data.draw(st.sampled_from(["", "platform said no"])),
            ),
        }
        return makers[kind]()

    def _draw_time(self, data: st.DataObject, action: Action) -> datetime:
        if isinstance(action, ClockFired) and data.draw(st.booleans()):
            clock = self.state.clock(action.clock_id)
            if clock and clock.next_fire_at:  # exactly when its timer goes off, or just before
                early = data.draw(st.sampled_from([timedelta(0), timedelta(0), timedelta(seconds=1)]))
                return max(self.now, clock.next_fire_at - early)
        wakeup = next_wakeup(self.state)
        if wakeup and wakeup > self.now and data.draw(st.integers(0, 4)) == 0:
            return wakeup
        return self.now + data.draw(delays)

    # --- the main rule: some actor takes some action at some later time, or the timers go off

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """Mostly an action legal in the current status (ending ones rarer), sometimes any action."""
        legal = [t for t, (_, statuses) in RULES.items() if self.state.status in statuses for _ in range(WEIGHT[t])]
        kind = data.draw(st.sampled_from(legal + ["wake"] if legal and data.draw(st.integers(0, 4)) else ACTION_TYPES))
        if kind == "wake":
            self._wake()
            return
        allowed = [a for a in ACTORS if permitted(a.role, kind)]
        actor = data.draw(st.sampled_from(allowed if allowed and data.draw(st.integers(0, 5)) else ACTORS))
        action = self._draw_action(data, kind)
        at = self._draw_time(data, action)

        before_dump = self.state.model_dump()
        before = self.state
        try:
            after = apply(before, action, actor, at, POLICY)
        except Refusal as refusal:
            # (a) a refusal leaves the input exactly as it was
            assert before.model_dump() == before_dump, f"{kind} refused but changed the state"
            assert refusal.code in set(RefusalCode) and refusal.reason
            if not permitted(actor.role, kind):
                assert refusal.code == RefusalCode.FORBIDDEN and actor.role in refusal.reason
            elif before.status not in RULES[kind][1]:
                assert refusal.code == RefusalCode.CONFLICT
            elif refusal.code == RefusalCode.FORBIDDEN:  # a permitted role is forbidden only by four-eyes
                assert kind in {"approve", "reject"} and "four-eyes" in refusal.reason
            return
        # (b) anything but Refusal propagates and fails the test
        assert before.model_dump() == before_dump, f"{kind} mutated its input"
        assert permitted(actor.role, kind), f"{actor.role} was allowed to {kind}"
        assert before.status in RULES[kind][1], f"{kind} applied in {before.status}"
        assert after.seq == before.seq + 1
        assert after.updated_at == at
        self.state, self.now = after, at
        self.applied.append((action, actor, at))

    def _wake(self) -> None:
        """What the workflow does when it wakes: fire every clock that is due, in order."""
        wakeup = next_wakeup(self.state)
        if wakeup is None:
            return
        self.now = max(self.now, wakeup)
        for clock_id in due_clocks(self.state, self.now):
            self.state = apply(self.state, ClockFired(clock_id=clock_id), SYSTEM, self.now, POLICY)
            self.applied.append((ClockFired(clock_id=clock_id), SYSTEM, self.now))

    # --- (c) invariants on every reached state

    @invariant()
    def seq_counts_applied_actions(self) -> None:
        assert self.state.seq == 1 + len(self.applied)
        assert self.state.updated_at == (self.applied[-1][2] if self.applied else NOW)

    @invariant()
    def escalated_iff_a_team_owes_an_answer(self) -> None:
        s = self.state
        if s.status in WORK:
            assert (s.status == Status.ESCALATED) == bool(s.waiting_teams)
        waiting = s.waiting_teams
        assert len(waiting) == len(set(waiting)), "a team waited on twice"
        assert REGION_INCIDENT_TEAM[s.intake.region] not in {e.team for e in s.teams}

    @invariant()
    def waiting_teams_match_running_first_response_clocks(self) -> None:
        s = self.state
        if s.status == Status.MERGED:
            return  # merging stops every clock (engagements are left as they were)
        running = {
            c.id.removeprefix("sla.first_response.")
            for c in s.clocks
            if c.running and c.id.startswith("sla.first_response.")
        }
        assert running == {str(t) for t in s.waiting_teams}

    @invariant()
    def proposals_agree_with_status(self) -> None:
        s = self.state
        pending = [p for p in s.proposals if p.status == ProposalStatus.PENDING]
        approved = [p for p in s.proposals if p.status == ProposalStatus.APPROVED]
        assert len(pending) + len(approved) <= 1
        assert (s.status == Status.PENDING_APPROVAL) == (len(pending) == 1)
        assert (s.status == Status.ACTIONING) == (len(approved) == 1)
        assert [p.id for p in s.proposals] == [f"{s.id}-A{n}" for n in range(1, len(s.proposals) + 1)]

    @invariant()
    def four_eyes_and_quorum_hold(self) -> None:
        for p in self.state.proposals:
            voters = [v.by for v in p.votes]
            assert p.proposed_by not in voters
            assert len(voters) == len(set(voters))
            assert all(v.decision == "approve" for v in p.votes[:-1])  # a rejection ends the vote
            basis = p.approval_severity or p.severity  # the most severe level held when proposed
            assert basis <= p.severity
            if p.needs_approval:
                assert p.quorum == POLICY.approval.quorum_for(basis) >= 1
                if p.status in {ProposalStatus.APPROVED, ProposalStatus.DONE, ProposalStatus.FAILED}:
                    assert len(p.approvers) >= p.quorum
                if p.status == ProposalStatus.PENDING:
                    assert len(p.approvers) < p.quorum
            else:
                assert p.quorum == 0 and not p.votes and p.status != ProposalStatus.PENDING
            assert p.needs_approval == POLICY.approval.needed(p.action, basis)
            assert (p.decided_at is None) == (p.status == ProposalStatus.PENDING)
            assert (p.enforced_at is not None) == (p.status in {ProposalStatus.DONE, ProposalStatus.FAILED})
            if POLICY.statement_of_reasons.required(self.state.intake.region, p.action):
                assert p.statement_of_reasons

    @invariant()
    def clocks_are_consistent(self) -> None:
        s = self.state
        ids = [c.id for c in s.clocks]
        assert len(ids) == len(set(ids)), f"duplicate clock ids {ids}"
        for c in s.clocks:
            assert not (c.met_at and c.cancelled_at)
            assert c.running == (c.next_fire_at is not None), c.id  # the default policy always reminds
            assert all(b.late_by_seconds >= 0 for b in c.breaches), f"{c.id} breached before it was due"
            assert [b.at for b in c.breaches] == sorted(b.at for b in c.breaches)
            if c.running and not c.breaches:
                assert c.next_fire_at == c.due_at
            if c.running and c.due_at > self.now:  # not late (any more): nothing fires before it is due
                assert c.next_fire_at == c.due_at, f"{c.id} would breach before it is due"
            if c.kind == ClockKind.REGULATORY and c.running:
                assert s.status in ACTIVE
        if s.acknowledged_at:
            assert not s.clock("sla.acknowledge").running
        assert s.clock("sla.resolve").running == (s.status in ACTIVE)
        assert all(c.started_at <= self.now for c in s.clocks)

    @invariant()
    def terminal_states_run_no_clocks(self) -> None:
        s = self.state
        if s.status in TERMINAL_STATUSES:
            assert not any(c.running for c in s.clocks)
            assert s.closed_at is not None and next_wakeup(s) is None
        else:
            assert s.closed_at is None
        assert (s.status == Status.MERGED) == (s.merged_into is not None)
        assert s.merged_into != s.id

    @invariant()
    def resolution_matches_status(self) -> None:
        s = self.state
        if s.status in {Status.RESOLVED, Status.CLOSED}:
            assert s.resolution and s.resolution_summary and s.resolved_at and s.resolved_by
            assert s.reopen_until == s.resolved_at + POLICY.reopen.window
            if s.resolution == Resolution.ACTIONED:
                assert any(p.status == ProposalStatus.DONE for p in s.proposals)
            assert not s.waiting_teams
            assert not any(p.status in LIVE for p in s.proposals)
        else:
            assert s.resolution is s.resolution_summary is s.resolved_at is s.reopen_until is None
        if s.status == Status.RESOLVED:
            window = s.clock("reopen_window")
            assert window and window.running and window.next_fire_at == s.reopen_until
            assert {c.id for c in s.clocks if c.running} == {"reopen_window"}

    @invariant()
    def triage_iff_not_acknowledged(self) -> None:
        s = self.state
        if s.status != Status.MERGED:
            assert (s.status == Status.TRIAGE) == (s.acknowledged_at is None)
        if s.status == Status.TRIAGE:
            assert not s.teams and not s.proposals
        assert (s.acknowledged_at is None) == (s.acknowledged_by is None)

    @invariant()
    def evidence_hold_is_never_shortened(self) -> None:
        assert self.state.evidence_hold_until == self.hold

    def teardown(self) -> None:
        if hasattr(self, "applied"):
            self._check_fold()

    def _check_fold(self) -> None:
        """The auditor's reconstruction: folding the applied actions again gives the same state."""
        folded = self.opened
        for action, actor, at in self.applied:
            folded = apply(folded, action, actor, at, POLICY)
        assert folded == self.state
        assert self.opened.seq == 1  # the fold never touched the state it started from


TestIncidentLifecycle = IncidentMachine.TestCase
# How many runs and steps comes from the Hypothesis profile (tests/conftest.py: 150 x 40 in CI);
# what makes the runs reproducible belongs to this test, whatever the profile.
TestIncidentLifecycle.settings = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
