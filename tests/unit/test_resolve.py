"""Resolving: what a resolution requires, which clocks it meets or cancels, the reopen window."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Resolution, Status, Team
from vigil.workflows.actions import Escalate, RefusalCode, Resolve
from vigil.workflows.state import Actor, ProposalStatus

from .conftest import NOW
from .stories import SEV1_CSAM, SEV2_SELF_HARM, StoryFactory, running


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
    told.approve(removal, lead, lead2)
    told.enforce(removal)
    resolve = Resolve(resolution=Resolution.ACTIONED, summary="removed")
    reason = told.refuse(resolve, analyst, RefusalCode.CONFLICT)
    assert reason.startswith("still due: US CSAM report to NCMEC")

    report = told.propose(EnforcementAction.REGULATOR_REPORT, analyst)
    told.approve(report, lead, lead2)
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
