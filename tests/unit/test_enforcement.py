"""Enforcement results: done or failed, and which clocks a completed action meets."""

from datetime import timedelta

from vigil.domain import EnforcementAction, Status, Team
from vigil.workflows.actions import EnforcementCompleted, Escalate, RefusalCode
from vigil.workflows.state import SYSTEM, Actor, ProposalStatus

from .conftest import INCIDENT_ID, NOW
from .stories import SEV1_TCO, StoryFactory


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
    told.approve(report, lead, lead2)
    state = told.enforce(report)
    assert state.clock("regulatory.eu_tco_removal_order").running

    removal = told.propose(EnforcementAction.REMOVE_CONTENT, analyst, statement_of_reasons="terrorist content")
    told.approve(removal, lead, lead2)
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
