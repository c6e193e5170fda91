"""What an incident is: the state the workflow keeps and its query returns.

Pydantic models only, no behaviour beyond lookups; `lifecycle.py` decides every change.
"""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from vigil.domain import (
    Category,
    Channel,
    EnforcementAction,
    Language,
    Region,
    Resolution,
    Role,
    Severity,
    Status,
    Team,
)


def no_control_characters(value: str) -> str:
    """Free text may hold newlines and tabs, never NUL or other control characters: PostgreSQL
    cannot store NUL, and a signal from another system must not stall the projection."""
    bad = next((c for c in value if (ord(c) < 32 and c not in "\n\r\t") or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"contains a control character (U+{ord(bad):04X})")
    return value


Printable = AfterValidator(no_control_characters)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), Printable]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), Printable]
Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
INCIDENT_ID_PATTERN = r"^INC-\d{4}-\d{6}$"
IncidentId = Annotated[str, StringConstraints(pattern=INCIDENT_ID_PATTERN)]
_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)


def is_incident_id(value: str) -> bool:
    """Whether `value` has the shape of an incident id (INC-2026-000123)."""
    return _INCIDENT_ID.match(value) is not None


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(Model):
    user: Username
    role: Role


SYSTEM = Actor(user="vigil", role=Role.SYSTEM)


class ActionSignature(Model):
    """Vigil's signature over an action (vigil/temporal/signing.py): who signed, when, and the MAC."""

    kid: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    issued_at: AwareDatetime
    nonce: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    internal: bool = False  # signed by Vigil's own worker (the only way to act as `system`)
    mac: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ContentRef(Model):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000), Printable]
    graphic: bool = False  # the console blurs it until a person chooses to look


class Reporter(Model):
    name: Annotated[str, StringConstraints(max_length=200), Printable] | None = None
    email: Annotated[str, StringConstraints(max_length=320), Printable] | None = None


class Intake(Model):
    """What arrives from a channel. Reporter and content are encrypted in Temporal payloads."""

    title: ShortText
    description: Annotated[str, StringConstraints(max_length=20_000), Printable] = ""
    channel: Channel
    category: Category
    region: Region
    language: Language = Language.EN
    content: list[ContentRef] = Field(default=[], max_length=50)
    reporter: Reporter | None = None
    reach: int = Field(0, ge=0, le=10_000_000_000)
    external_ref: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable] | None
    ) = None
    deadline: AwareDatetime | None = None


class ClockKind(StrEnum):
    SLA = "sla"
    REGULATORY = "regulatory"
    REOPEN = "reopen"
    UPDATE = "update"  # a status update is due (post_update); its "breaches" are reminders


UPDATE_CLOCK = "update.due"


class Breach(Model):
    at: datetime
    tier: str  # who was notified
    late_by_seconds: int


class Clock(Model):
    """A deadline the workflow keeps as a durable timer. Fires at `next_fire_at`."""

    id: str  # "sla.acknowledge", "sla.first_response.legal", "regulatory.ncmec_report", ...
    kind: ClockKind
    name: str
    started_at: datetime
    due_at: datetime
    next_fire_at: datetime | None
    met_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    breaches: list[Breach] = []
    met_by: list[EnforcementAction] = []  # regulatory clocks: what satisfies them

    @property
    def running(self) -> bool:
        return self.met_at is None and self.cancelled_at is None


# The summary of the durable timer the workflow sets for its earliest clocks ("clock
# sla.acknowledge, sla.resolve"): written by the workflow, read back by the audit, which learns
# from it which clocks a TimerFired event was for.
_TIMER_SUMMARY_PREFIX = "clock "


def timer_summary(clock_ids: list[str]) -> str:
    return _TIMER_SUMMARY_PREFIX + ", ".join(clock_ids)


def clocks_in_timer_summary(summary: object) -> list[str]:
    """The clock ids a timer summary names; [] for any other summary."""
    text = str(summary or "")
    if not text.startswith(_TIMER_SUMMARY_PREFIX):
        return []
    return [part.strip() for part in text.removeprefix(_TIMER_SUMMARY_PREFIX).split(",") if part.strip()]


class StatusUpdate(Model):
    """What a person told an audience (post_update): sent as written, with the incident's id,
    severity, category and status, never its title, content, links or reporter."""

    audience: Literal["leadership", "stakeholders"]
    text: str
    by: str
    at: datetime
    next_update_at: datetime | None = None


class Note(Model):
    text: str
    by: str
    at: datetime


class TeamResponse(Model):
    text: str
    recorded_by: str
    at: datetime


class Engagement(Model):
    team: Team
    reason: str
    escalated_by: str
    escalated_at: datetime
    responses: list[TeamResponse] = []
    closed_reason: str | None = None  # "resolved" closes engagements still waiting

    @property
    def waiting(self) -> bool:
        return not self.responses and self.closed_reason is None


class ProposalStatus(StrEnum):
    PENDING = "pending"  # waiting for approval
    APPROVED = "approved"  # enforcement may run (approved by quorum, or needed none)
    REJECTED = "rejected"
    EXPIRED = "expired"  # severity changed or incident resolved while waiting
    DONE = "done"  # enforcement succeeded
    FAILED = "failed"  # enforcement refused by the platform


class Vote(Model):
    by: str
    decision: Literal["approve", "reject"]
    comment: str
    at: datetime


class Proposal(Model):
    """A proposed enforcement action; its id is also its approval id."""

    id: str
    action: EnforcementAction
    rationale: str
    statement_of_reasons: str | None = None
    target: str | None = None
    proposed_by: str
    proposed_at: datetime
    severity: Severity  # at the time of proposal
    # The most severe level the incident had held by then, whose rules and quorum it must meet
    # (None: proposed under the old rule, by `severity`).
    approval_severity: Severity | None = None
    needs_approval: bool
    quorum: int
    status: ProposalStatus
    votes: list[Vote] = []
    decided_at: datetime | None = None
    decision_reason: str | None = None
    enforced_at: datetime | None = None
    enforcement_reference: str | None = None

    @property
    def approvers(self) -> list[str]:
        return [v.by for v in self.votes if v.decision == "approve"]


class Incident(Model):
    id: str
    intake: Intake
    policy_version: str
    severity: Severity
    # The most severe level held so far; approval and quorum are decided by it. None: opened
    # before that rule (Open.four_eyes_by_highest), approval by the severity at proposal.
    highest_severity: Severity | None = None
    triage_reasons: list[str]
    status: Status
    assignee: str | None = None
    opened_at: datetime
    opened_by: str | None = None  # who took the intake (None: another system, by signal or CLI)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    teams: list[Engagement] = []
    notes: list[Note] = []
    updates: list[StatusUpdate] = []
    proposals: list[Proposal] = []
    clocks: list[Clock] = []
    resolution: Resolution | None = None
    resolution_summary: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    reopen_until: datetime | None = None
    closed_at: datetime | None = None
    merged_into: str | None = None
    evidence_hold_until: datetime | None = None
    seq: int = 0  # number of actions applied; the projection's idempotency key
    updated_at: datetime

    @property
    def approval_severity(self) -> Severity:
        """The severity whose approval rules and quorum a proposal must meet."""
        return self.highest_severity or self.severity

    def clock(self, clock_id: str) -> Clock | None:
        return next((c for c in self.clocks if c.id == clock_id), None)

    def proposal(self, proposal_id: str) -> Proposal | None:
        return next((p for p in self.proposals if p.id == proposal_id), None)

    @property
    def waiting_teams(self) -> list[Team]:
        return [e.team for e in self.teams if e.waiting]
