"""Fixtures for the pure unit tests: the default policy, a fixed clock, actors, an opener, a story.

Everything here is session-scoped and immutable (policy models are frozen, `apply` never
mutates its input), so hypothesis tests may use these fixtures too.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from vigil.domain import Category, Channel, EnforcementAction, Region, Resolution, Role, Severity, Team
from vigil.policy import DEFAULT_POLICY_PATH, Policy, load_policy
from vigil.workflows.actions import (
    Acknowledge,
    AddNote,
    Approve,
    Assign,
    Escalate,
    HumanAction,
    MergeInto,
    Open,
    ProposeAction,
    RecordTeamResponse,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.lifecycle import apply
from vigil.workflows.state import SYSTEM, Actor, Incident, Intake

from .stories import Story, StoryFactory

INCIDENT_ID = "INC-2026-000001"
OTHER_INCIDENT = "INC-2026-000002"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Everyone the property tests draw actors from: two analysts, three leads (a two-lead quorum
# and a proposer), an auditor and an admin, who act on nothing.
PEOPLE = [
    Actor(user="ana", role=Role.ANALYST),
    Actor(user="bruno", role=Role.ANALYST),
    Actor(user="lena", role=Role.LEAD),
    Actor(user="liu", role=Role.LEAD),
    Actor(user="leo", role=Role.LEAD),
    Actor(user="audrey", role=Role.AUDITOR),
    Actor(user="adam", role=Role.ADMIN),
]

OpenIncident = Callable[..., Incident]


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default policy shipped in the repo (never the file VIGIL_POLICY names)."""
    return load_policy(DEFAULT_POLICY_PATH)


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def analyst() -> Actor:
    return Actor(user="ana", role=Role.ANALYST)


@pytest.fixture(scope="session")
def analyst2() -> Actor:
    return Actor(user="bruno", role=Role.ANALYST)


@pytest.fixture(scope="session")
def lead() -> Actor:
    return Actor(user="lena", role=Role.LEAD)


@pytest.fixture(scope="session")
def lead2() -> Actor:
    return Actor(user="liu", role=Role.LEAD)


@pytest.fixture(scope="session")
def lead3() -> Actor:
    return Actor(user="leo", role=Role.LEAD)


@pytest.fixture(scope="session")
def auditor() -> Actor:
    return Actor(user="audrey", role=Role.AUDITOR)


@pytest.fixture(scope="session")
def admin() -> Actor:
    return Actor(user="adam", role=Role.ADMIN)


@pytest.fixture(scope="session")
def system() -> Actor:
    return SYSTEM


def open_incident_with(
    policy: Policy,
    at: datetime = NOW,
    *,
    category: Category = Category.SPAM_SCAM,
    channel: Channel = Channel.USER_REPORT,
    region: Region = Region.NA,
    reach: int = 0,
    deadline: datetime | None = None,
    severity: Severity | None = None,
    incident_id: str = INCIDENT_ID,
    title: str = "Scam links in comments",
) -> Incident:
    """Open an incident through the Open action, triaged by `policy` unless `severity` is given."""
    triaged, reasons = policy.triage_severity(category, channel, region, reach)
    intake = Intake(title=title, channel=channel, category=category, region=region, reach=reach, deadline=deadline)
    action = Open(
        incident_id=incident_id,
        intake=intake,
        severity=severity or triaged,
        triage_reasons=reasons,
        policy_version=policy.version,
        four_eyes_by_highest=True,  # as every incident opened today (the workflow's patch)
    )
    return apply(None, action, SYSTEM, at, policy)


@pytest.fixture(scope="session")
def open_incident(policy: Policy) -> OpenIncident:
    """`open_incident(at=..., category=..., channel=..., region=..., reach=..., deadline=..., severity=...)`."""

    def _open(at: datetime = NOW, **intake: object) -> Incident:
        return open_incident_with(policy, at, **intake)  # type: ignore[arg-type]

    return _open


@pytest.fixture
def story(policy: Policy, open_incident: OpenIncident, analyst: Actor) -> StoryFactory:
    """`story(acknowledged=True, **intake)`: an incident opened at NOW, acknowledged by ana a minute later."""

    def _story(acknowledged: bool = True, **intake: object) -> Story:
        told = Story(policy, open_incident(NOW, **intake), NOW)
        if acknowledged:
            told.do(Acknowledge(), analyst)
        return told

    return _story


@pytest.fixture(scope="session")
def human_actions() -> dict[str, HumanAction]:
    """One well-formed example of every human action type, keyed by type."""
    examples: list[HumanAction] = [
        Acknowledge(),
        Assign(assignee="carla"),
        AddNote(text="checked the uploader's other posts"),
        SetSeverity(severity=Severity.SEV2, reason="spreading fast"),
        Escalate(team=Team.LEGAL, reason="possible removal order"),
        RecordTeamResponse(team=Team.LEGAL, text="take it down"),
        ProposeAction(action=EnforcementAction.REMOVE_CONTENT, rationale="violates policy", statement_of_reasons="x"),
        Approve(approval_id=f"{INCIDENT_ID}-A1", comment="ok"),
        Reject(approval_id=f"{INCIDENT_ID}-A1", reason="not enough evidence"),
        Resolve(resolution=Resolution.NO_VIOLATION, summary="satire"),
        Reopen(reason="new evidence"),
        MergeInto(incident_id=OTHER_INCIDENT),
    ]
    return {action.type: action for action in examples}
