"""`Story`: one incident's life told through `apply`, the pure function the workflow, the update
validators and the auditor's reconstruction all share; the state machine's tests are such stories,
one behaviour per test (the `story` fixture in conftest.py starts one)."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from vigil.domain import Category, Channel, EnforcementAction, Region, Resolution
from vigil.policy import Policy
from vigil.workflows.actions import (
    Action,
    Approve,
    ClockFired,
    EnforcementCompleted,
    ProposeAction,
    Refusal,
    RefusalCode,
    Resolve,
)
from vigil.workflows.lifecycle import apply
from vigil.workflows.state import SYSTEM, Actor, Incident

MINUTE = timedelta(minutes=1)

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

    def approve(self, proposal_id: str, *leads: Actor) -> Incident:
        """Each lead approves in turn (a SEV1's two-lead quorum: two of them)."""
        for lead in leads:
            self.do(Approve(approval_id=proposal_id), lead)
        return self.state

    def enforce(self, proposal_id: str, succeeded: bool = True) -> Incident:
        return self.do(EnforcementCompleted(proposal_id=proposal_id, succeeded=succeeded, reference="ref-1"), SYSTEM)


StoryFactory = Callable[..., Story]


def running(state: Incident) -> set[str]:
    return {c.id for c in state.clocks if c.running}


def resolved(told: Story, actor: Actor) -> Story:
    told.do(Resolve(resolution=Resolution.INSUFFICIENT_INFORMATION, summary="link dead"), actor)
    return told


def closed(told: Story, actor: Actor) -> Story:
    resolved(told, actor).fire("reopen_window")
    return told
