"""A synthetic past for demos and tests: weeks of incidents that were never run.

`vigil demo --weeks N` and the trend tests need incidents spread over past weeks, with real
handling times, breaches, downgrades and reopens. The demo's live incidents run in real time,
so they cannot be in last month. This module makes that past honestly:

- every incident is triaged by the policy and every step goes through the real state machine
  (`lifecycle.apply`), at simulated times, with the SLA and legal clocks firing when they fall
  due, as the workflow fires them; the journal entries are built as the workflow builds them;
- they are written through the projection's own code (`write_projection`), so every table
  and trend fact is what a real incident would have left; no notices are written;
- they are labelled: `external_ref` is `synthetic:<seed>:<n>` and the description says so.
  No workflow ran them, so they have no Temporal history: their timeline and audit answer
  404, and they take no actions.

The randomness is seeded: the same seed, weeks and end make the same history.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.activities.projection import write_projection
from vigil.db.intake import reserve_incident
from vigil.db.tables import ApprovalRow
from vigil.domain import REGION_INCIDENT_TEAM, EnforcementAction, Region, Resolution, Role, Severity, Status, Team
from vigil.policy import Policy
from vigil.workflows import lifecycle
from vigil.workflows.actions import (
    Acknowledge,
    Action,
    Approve,
    ClockFired,
    EnforcementCompleted,
    Escalate,
    MergeInto,
    Open,
    ProposeAction,
    RecordTeamResponse,
    Refusal,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.messages import JournalEntry, ProjectionBatch
from vigil.workflows.state import SYSTEM, Actor, Incident, Intake, ProposalStatus

# (category, channel) pairs a team sees, and how often.
SCENARIOS = [
    ("child_safety", "automated_detection", 4),
    ("child_safety", "trusted_flagger", 2),
    ("violent_extremism", "regulator", 2),
    ("violent_extremism", "law_enforcement", 2),
    ("self_harm_suicide", "user_report", 5),
    ("hate_speech", "trusted_flagger", 6),
    ("hate_speech", "press", 3),
    ("bullying_harassment", "user_report", 8),
    ("sexual_violence", "user_report", 3),
    ("graphic_violence", "automated_detection", 4),
    ("dangerous_challenges", "press", 3),
    ("misinformation", "press", 4),
    ("privacy", "user_report", 4),
    ("spam_scam", "automated_detection", 10),
    ("other", "internal", 3),
]
ANALYSTS = ["demo-ana", "demo-bruno", "demo-chen"]
LEADS = ["demo-lena", "demo-leo", "demo-lucia"]
# How fast each team answers, as a share of its first-response clock (median); Legal is slow.
TEAM_PACE = {"legal": 1.1, "public_policy": 0.6, "product": 0.5, "engineering": 0.3, "incident_emea": 0.4}
# How often leads lower an incident triaged under a rule: "an external party is watching"
# (press, regulators) over-triages, as the example has it.
LOWERED_BY_RULE = {"external party is watching": 0.45, "seen by over 100,000 people": 0.2}
REOPENED_BY_CATEGORY = {"hate_speech": 0.3, "bullying_harassment": 0.12}
DESCRIPTION = (
    "Synthetic incident from `vigil demo --weeks`: made by the state machine at simulated times; no workflow ran it."
)


@dataclass
class Story:
    """One incident's journal, built the way IncidentWorkflow builds it, at simulated times."""

    policy: Policy
    entries: list[JournalEntry] = field(default_factory=list)
    state: Incident | None = None
    asked_rounds: dict[str, int] = field(default_factory=dict)  # approval id -> tiers asked

    def open(self, incident_id: str, intake: Intake, at: datetime) -> None:
        severity, reasons = self.policy.triage_severity(intake.category, intake.channel, intake.region, intake.reach)
        self._apply(
            Open(
                incident_id=incident_id,
                intake=intake,
                severity=severity,
                triage_reasons=reasons,
                policy_version=self.policy.version,
                four_eyes_by_highest=True,
            ),
            SYSTEM,
            at,
        )

    @property
    def now(self) -> Incident:
        assert self.state is not None
        return self.state

    def act(self, action: Action, actor: Actor, at: datetime) -> bool:
        """Apply at `at`, after every clock due before then has fired; False if refused."""
        self.run_clocks_until(at)
        if self.now.status in (Status.CLOSED, Status.MERGED):
            return False
        try:
            self._apply(action, actor, at)
        except Refusal:
            return False
        return True

    def run_clocks_until(self, moment: datetime) -> None:
        while self.now.status not in (Status.CLOSED, Status.MERGED):
            wake = lifecycle.next_wakeup(self.now)
            if wake is None or wake > moment:
                return
            for clock_id in lifecycle.due_clocks(self.now, wake):
                self._apply(ClockFired(clock_id=clock_id), SYSTEM, wake)

    def _apply(self, action: Action, actor: Actor, at: datetime) -> None:
        before = self.state
        after = lifecycle.apply(before, action, actor, at, self.policy)
        old_clocks = {c.id: c for c in before.clocks} if before else {}
        old_proposals = {p.id: p for p in before.proposals} if before else {}
        self.entries.append(
            JournalEntry(
                entry_no=len(self.entries) + 1,
                action=action,
                actor=actor,
                at=at,
                seq=after.seq,
                severity=after.severity,
                clocks=[c for c in after.clocks if old_clocks.get(c.id) != c],
                proposals=[p for p in after.proposals if old_proposals.get(p.id) != p],
            )
        )
        self.state = after


class _Plot:
    """What happens to one incident: the decisions a team makes, drawn from `rng`."""

    def __init__(self, story: Story, rng: random.Random, end: datetime, earlier: list[str]):
        self.story, self.rng, self.end, self.earlier = story, rng, end, earlier
        self.policy = story.policy
        self.at = story.now.opened_at

    def later(self, duration: timedelta, factor: float, spread: float = 0.6) -> datetime:
        """A moment `duration * factor` on (log-normally spread), never past the end."""
        self.at += duration * self.rng.lognormvariate(0, spread) * factor + timedelta(seconds=self.rng.randint(5, 90))
        return self.at

    def person(self, people: list[str], role: Role, avoid: str | None = None) -> Actor:
        return Actor(user=self.rng.choice([p for p in people if p != avoid]), role=role)

    def do(self, action: Action, actor: Actor) -> bool:
        return self.at <= self.end and self.story.act(action, actor, self.at)

    def run(self) -> None:
        state, sla = self.story.now, self.policy.sla[self.story.now.severity]
        analyst = self.person(ANALYSTS, Role.ANALYST)
        if self.earlier and self.rng.random() < 0.04 and not _legal_clock(state):
            self.later(sla.acknowledge, 0.2)
            if self.do(MergeInto(incident_id=self.rng.choice(self.earlier[-20:])), analyst):
                return
        self.later(sla.acknowledge, 0.45, spread=0.9)
        if not self.do(Acknowledge(), analyst):
            return
        self._lead_changes_severity(state.triage_reasons[0] if state.triage_reasons else "")
        if self.rng.random() < 0.55:
            self._escalate(analyst)
        actioned = self.rng.random() < 0.6 or _legal_clock(self.story.now)
        if actioned:
            actioned = self._enforce(analyst)
        self._resolve(analyst, actioned)

    def _lead_changes_severity(self, rule: str) -> None:
        severity = self.story.now.severity
        lead = self.person(LEADS, Role.LEAD)
        self.later(timedelta(minutes=20), 1)
        if severity < Severity.SEV4 and self.rng.random() < LOWERED_BY_RULE.get(rule, 0.05):
            lower = Severity(f"SEV{int(severity.value[-1]) + 1}")
            self.do(SetSeverity(severity=lower, reason="Less reach and risk than the report said."), lead)
        elif severity > Severity.SEV1 and self.rng.random() < 0.05:
            higher = Severity(f"SEV{int(severity.value[-1]) - 1}")
            self.do(SetSeverity(severity=higher, reason="Spreading faster than expected."), lead)

    def _escalate(self, analyst: Actor) -> None:
        own = REGION_INCIDENT_TEAM[self.story.now.intake.region].value
        team = Team(self.rng.choice([t for t in TEAM_PACE if t != own]))
        self.later(timedelta(minutes=15), 1)
        if not self.do(Escalate(team=team, reason="Needs their view before we act."), analyst):
            return
        if self.rng.random() < 0.06:
            return  # never answers: the clock is cancelled at resolution, or missed
        first_response = self.policy.sla[self.story.now.severity].first_response
        self.later(first_response, TEAM_PACE[team.value], spread=0.7)
        self.do(RecordTeamResponse(team=team, text="Reviewed: no objection."), analyst)

    def _enforce(self, analyst: Actor) -> bool:
        intake = self.story.now.intake
        action = (
            EnforcementAction.REGULATOR_REPORT
            if intake.category == "child_safety"
            else EnforcementAction.REMOVE_CONTENT
        )
        reasons = "Removed under our policy on this harm (EU DSA art. 17)." if intake.region == Region.EMEA else None
        self.later(timedelta(minutes=30), 1)
        if not self.do(
            ProposeAction(action=action, rationale="Clear violation.", statement_of_reasons=reasons), analyst
        ):
            return False
        proposal = self.story.now.proposals[-1]
        if proposal.status == ProposalStatus.PENDING and not self._decide(proposal.id, proposal.quorum, analyst):
            return False
        self.later(timedelta(minutes=2), 1)
        succeeded = self.rng.random() < 0.95
        outcome = EnforcementCompleted(proposal_id=proposal.id, succeeded=succeeded, reference=f"ENF-{proposal.id}")
        return self.do(outcome, SYSTEM) and succeeded

    def _decide(self, approval_id: str, quorum: int, proposer: Actor) -> bool:
        timeout = self.policy.approval.timeout
        waited_from = self.at
        self.later(timeout, 0.5, spread=0.8)
        self.story.asked_rounds[approval_id] = 1 + int((self.at - waited_from) / timeout)
        if self.rng.random() < 0.1:
            lead = self.person(LEADS, Role.LEAD)
            self.do(Reject(approval_id=approval_id, reason="Not enough evidence yet."), lead)
            return False
        voted: list[str] = []
        for _ in range(quorum):
            lead = Actor(user=self.rng.choice([p for p in LEADS if p not in voted]), role=Role.LEAD)
            voted.append(lead.user)
            if not self.do(Approve(approval_id=approval_id, comment="Agreed."), lead):
                return False
        return True

    def _resolve(self, analyst: Actor, actioned: bool) -> None:
        resolve = self.policy.sla[self.story.now.severity].resolve
        opened = self.story.now.opened_at
        target = opened + resolve * self.rng.lognormvariate(0, 0.7) * 0.5
        self.at = max(self.at + timedelta(minutes=5), target)
        resolution = (
            Resolution.ACTIONED if actioned else self.rng.choice([Resolution.NO_VIOLATION, Resolution.REFERRED])
        )
        if not self.do(Resolve(resolution=resolution, summary="Handled; notes in the case file."), analyst):
            return
        category = self.story.now.intake.category.value
        if self.rng.random() < REOPENED_BY_CATEGORY.get(category, 0.04):
            self.later(timedelta(days=1), 1, spread=0.8)
            if self.do(Reopen(reason="The content came back under another account."), analyst):
                self.later(timedelta(hours=6), 1)
                self.do(Resolve(resolution=Resolution.REFERRED, summary="Referred after the repeat."), analyst)


def _legal_clock(state: Incident) -> bool:
    return any(c.kind == "regulatory" and c.running for c in state.clocks)


@dataclass(frozen=True)
class Made:
    incident_id: str
    story: Story


def make_history(policy: Policy, end: datetime, weeks: int, per_week: int, seed: int, number: Any = None) -> list[Made]:
    """`per_week` incidents a week, opened over the `weeks` before `end`, played up to `end`.
    `number(n)` gives the n-th incident its id (default: INC-<year of end>-9<n:05d>)."""
    rng = random.Random(seed)
    weights = [w for _, _, w in SCENARIOS]
    made: list[Made] = []
    count = weeks * per_week
    opened = sorted(end - timedelta(seconds=rng.uniform(3600, weeks * 7 * 86400)) for _ in range(count))
    for n, at in enumerate(opened, start=1):
        category, channel, _ = rng.choices(SCENARIOS, weights=weights)[0]
        region = rng.choice(list(Region))
        intake = Intake.model_validate(
            {
                "title": f"Synthetic incident {n} ({category})",
                "description": DESCRIPTION,
                "channel": channel,
                "category": category,
                "region": region.value,
                "language": "es" if region == Region.LATAM else "en",
                "reach": rng.choice([50, 800, 12_000, 150_000, 2_500_000]),
                "external_ref": f"synthetic:{seed}:{n}",
            }
        )
        incident_id = number(n) if number else f"INC-{end.year}-9{n:05d}"
        story = Story(policy)
        story.open(incident_id, intake, at)
        _Plot(story, rng, end, [m.incident_id for m in made]).run()
        story.run_clocks_until(end)
        made.append(Made(incident_id, story))
    return made


def write_history(engine: Engine, made: list[Made]) -> None:
    """Through the projection's own writer, one batch per incident (idempotent, like any batch)."""
    with Session(engine) as session, session.begin():
        for one in made:
            story = one.story
            write_projection(
                session, ProjectionBatch(incident_id=one.incident_id, entries=story.entries, state=story.now)
            )
            for approval_id, rounds in story.asked_rounds.items():
                tiers = story.policy.approval.tiers
                session.execute(
                    update(ApprovalRow)
                    .where(col(ApprovalRow.id) == approval_id)
                    .values(asked_round=rounds, asked_tier=tiers[min(rounds, len(tiers)) - 1])
                )


def generate(engine: Engine, policy: Policy, end: datetime, weeks: int, per_week: int, seed: int) -> list[Made]:
    """Make and write a synthetic history, with ids from the database's own counter."""

    def number(n: int) -> str:
        return reserve_incident(engine, f"synthetic:{seed}:{n}", now=end).incident_id

    made = make_history(policy, end, weeks, per_week, seed, number)
    write_history(engine, made)
    return made
