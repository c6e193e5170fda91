"""What the API returns, where it is not a model the workflows already define.

The full incident is `vigil.workflows.state.Incident` (what the workflow's query returns);
request bodies are `Intake` and the `HumanAction` union from the workflows, so the API can
never accept a shape the state machine does not know.
"""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vigil.domain import Category, Channel, Language, Region, Resolution, Role, Severity, Status


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time Vigil stores is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def web_url(value: str) -> bool:
    """A content link must be http(s) with a host: the console renders it as a link, and a
    `javascript:` or `data:` one would run in a reviewer's browser. The API refuses any other
    (422); the console shows one stored before as text, never as a link."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class IncidentSummary(_Out):
    """One row of a list: the projection's columns, no encrypted or bulky fields."""

    id: str = Field(examples=["INC-2026-000123"])
    title: str
    status: Status
    severity: Severity
    category: Category
    channel: Channel
    region: Region
    language: Language
    assignee: str | None
    external_ref: str | None
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    acknowledged_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    resolution: Resolution | None
    merged_into: str | None
    breaches: int = Field(description="SLA and regulatory clock breaches so far")
    next_deadline: UtcDatetime | None = Field(description="When the earliest running clock is due")


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class ApprovalItem(_Out):
    id: str = Field(description="The approval id to send with `approve` / `reject`")
    incident_id: str
    action: str
    rationale: str
    proposed_by: str
    requested_at: UtcDatetime
    severity: Severity
    region: Region
    quorum: int
    status: str
    approvers: list[str]
    decided_at: UtcDatetime | None
    decision_reason: str | None
    asked_tier: str | None


class ApprovalList(BaseModel):
    items: list[ApprovalItem]


class UserOut(_Out):
    name: str
    role: Role
    language: Language
    email: str | None = None
    created_at: UtcDatetime
    disabled_at: UtcDatetime | None


class UserList(BaseModel):
    items: list[UserOut]


class NewToken(BaseModel):
    user: str
    role: Role
    token: str = Field(description="Shown once: Vigil stores only its hash")


class Enrolment(BaseModel):
    """A secret for someone else: it acts on nothing; its person exchanges it for their token."""

    user: str
    role: Role
    secret: str = Field(description="Shown once; give it to the person. Exchanged once, before expires_at")
    expires_at: UtcDatetime
    exchange: str = Field("POST /api/tokens/exchange", description="Where the person exchanges it")


class Me(BaseModel):
    name: str
    role: Role
    language: str


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
    detail: str | None = Field(None, description="Ready, with what does not reach people (mail not configured)")
