"""What trend figures look like in the API's answers (JSON; CSV flattens them)."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Group = Literal["severity", "category", "region", "channel", "team", "triage_rule", "all"]
GROUPS: tuple[str, ...] = ("severity", "category", "region", "channel", "team", "triage_rule", "all")


class TrendRow(BaseModel):
    day: date
    group: str
    opened: int
    resolved: int
    breached: int


class TrendGroup(BaseModel):
    group: str
    opened: int
    resolved: int
    breached: int
    breach_rate: float = Field(description="Share of incidents opened that breached any clock")
    median_seconds_to_acknowledge: float | None
    median_seconds_to_resolve: float | None


class Spread(BaseModel):
    """How long something took, in seconds: how many, and the 50th, 90th and 99th percentiles."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class TrendCell(BaseModel):
    """What happened in one period (or the whole range: period null) for one group ("all": every group)."""

    period: date | None = Field(description="The day, or the Monday of the ISO week; null: the whole range")
    group: str
    opened: int = 0
    resolved: int = Field(0, description="Resolutions in the period (an incident resolved twice counts twice)")
    reopened: int = 0
    merged: int = 0
    raised: int = Field(0, description="Severity raised by a lead")
    lowered: int = Field(0, description="Severity lowered by a lead")
    acknowledge: Spread = Field(default_factory=Spread, description="From intake to acknowledgement")
    first_response: Spread = Field(default_factory=Spread, description="From an escalation to the team's answer")
    resolve: Spread = Field(default_factory=Spread, description="From intake to resolution")


class ClockCell(BaseModel):
    """Rounds of one clock that fell due in the period: met in time, met late, missed (ended unmet
    after a breach), still running late, or cancelled before they were due."""

    period: date | None
    group: str
    clock: str = Field(examples=["sla.acknowledge", "sla.first_response", "regulatory.ncmec_report"])
    kind: str = Field(description="sla or regulatory")
    met: int = 0
    met_late: int = 0
    missed: int = 0
    running_late: int = 0
    cancelled: int = 0
    breach_rate: float = Field(0.0, description="(met_late + missed + running_late) / every round that was owed")
    incidents: list[str] = Field(default_factory=list, description="Incidents whose clock was late (at most 50)")


class TeamCell(BaseModel):
    """A team's first-response clock: how fast it answered, how often it was late."""

    team: str
    asked: int = Field(0, description="First-response rounds owed (met, late, missed, running late)")
    met: int = 0
    met_late: int = 0
    missed: int = 0
    running_late: int = 0
    miss_rate: float = Field(0.0, description="(met_late + missed + running_late) / asked")
    response: Spread = Field(default_factory=Spread, description="From the escalation to the team's first answer")


class ApprovalCell(BaseModel):
    """Approval requests made in the range, by group."""

    group: str
    requested: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    pending: int = 0
    rejection_rate: float = Field(0.0, description="rejected / decided (approved, rejected, expired)")
    expiry_rate: float = Field(0.0, description="expired / decided")
    latency: Spread = Field(default_factory=Spread, description="From the request to its decision")
    tiers: dict[str, int] = Field(
        default_factory=dict,
        description="Requests asked in 1, 2, 3... rounds (one per timeout; round n asks tier n, the last repeats)",
    )


class SeverityChangeCell(BaseModel):
    """Incidents triaged under one rule in the range, and how leads changed their severity."""

    triage_rule: str
    triaged_severity: str = Field(description="The severity the rule gave (the most common one)")
    incidents: int = 0
    raised: int = Field(0, description="Incidents a lead raised")
    lowered: int = Field(0, description="Incidents a lead lowered")
    lowered_share: float = 0.0
    raised_share: float = 0.0
    lowered_to: dict[str, int] = Field(default_factory=dict, description="Where lowered incidents ended, by severity")


class EnforcementCell(BaseModel):
    group: str
    action: str
    done: int = 0
    failed: int = 0


class Trends(BaseModel):
    """GET /api/trends. `rows`, `groups` and `overall` count incidents by the day they were opened
    (a cohort: `resolved` and `breached` say how many of them are resolved, or breached a clock, so
    far); the other lists count each event in the period it happened (see docs/learning.md)."""

    start: date
    end: date
    by: str
    rows: list[TrendRow] = Field(description="Per day and group; days and groups with nothing are left out")
    groups: list[TrendGroup]
    overall: TrendGroup
    every: str = Field("day", description="The period of `series` and of the clocks' periods: day or week")
    series: list[TrendCell] = Field(default_factory=list, description="Per period and group, and per period for all")
    totals: list[TrendCell] = Field(default_factory=list, description="Per group over the range, and for all")
    clocks: list[ClockCell] = Field(default_factory=list)
    teams: list[TeamCell] = Field(default_factory=list)
    approvals: list[ApprovalCell] = Field(default_factory=list)
    severity_changes: list[SeverityChangeCell] = Field(default_factory=list)
    enforcement: list[EnforcementCell] = Field(default_factory=list)
