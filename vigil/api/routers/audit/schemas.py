"""What the audit endpoints take and return, where vigil.audit does not define it already
(the timeline is vigil.audit.timeline's, the seal and the verdict vigil.audit.verdict's, an
event's reference vigil.audit.history's: the CLI builds those too)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.audit.counts import HistoryCounts
from vigil.audit.history import EventRef
from vigil.audit.replay import ReplayReport
from vigil.domain import Category, Channel, Region, Severity, Status
from vigil.workflows.state import Incident

MAX_REPLAY = 1000

# ---------------------------------------------------------------------------- the state after an event


class EntryRef(BaseModel):
    entry_no: int
    type: str
    actor: str
    role: str
    at: datetime
    refused: bool
    via: str = Field(description="How it arrived: update, signal, triage, timer, time, enforcement")
    caused_by_event: int


class StateCheck(BaseModel):
    event: int = Field(description="The event where the workflow recorded this state")
    after_entry: int
    source: str = Field(description="update result, projection batch, carried into a new run, workflow result")
    matches: bool = Field(description="Whether the fold rebuilt exactly this state")


class StateAfterEvent(BaseModel):
    incident_id: str
    after_event: int
    events: int = Field(description="Events in the history, across runs")
    counts: HistoryCounts = Field(description="The history read, as every audit report counts it")
    event: EventRef
    entries: int = Field(description="Journal entries folded to get this state")
    last_entry: EntryRef | None
    state: Incident | None = Field(description="null before the triage opened the incident")
    verified: bool = Field(description="Every state the workflow recorded up to this event matches the fold")
    checks: list[StateCheck]
    problems: list[str] = Field(description="Anything the reconstruction could not tie up, for the whole history")


# ---------------------------------------------------------------------------- replay


class ReplayFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[Status] = []
    severity: list[Severity] = []
    category: list[Category] = []
    channel: list[Channel] = []
    region: list[Region] = []
    opened_from: datetime | None = None
    opened_to: datetime | None = None


class ReplayRequest(BaseModel):
    """Which incidents to replay: `ids`, or a `filter`, or those closed in a time range."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[str, Field(pattern=r"^INC-\d{4}-\d{6}$")]], Field(max_length=MAX_REPLAY)] = []
    filter: ReplayFilter | None = None
    closed_from: datetime | None = Field(None, description="Incidents closed (or merged) at or after this time")
    closed_to: datetime | None = Field(None, description="... and before this time")
    limit: Annotated[int, Field(ge=1, le=MAX_REPLAY)] = 200

    @model_validator(mode="after")
    def _one_selection(self) -> "ReplayRequest":
        chosen = [bool(self.ids), self.filter is not None, bool(self.closed_from or self.closed_to)]
        if sum(chosen) != 1:
            raise ValueError("send exactly one of: ids, filter, closed_from/closed_to")
        return self


class DivergenceOut(BaseModel):
    workflow_id: str
    run_id: str
    event_id: int | None = Field(description="Within that run")
    event: int | None = Field(description="For the incident's own runs: the number across runs")
    event_type: str | None
    message: str
    known_cause: str | None = Field(None, description="A cause outside Vigil's code that the history shows, if any")


class ReplayReportOut(BaseModel):
    incident_id: str
    result: str = Field(description="ok, nondeterministic, failed, or missing (Temporal has no history)")
    workflows: int = Field(description="Runs replayed: the incident's and its approval requests'")
    events: int = Field(description="Events in the incident's own runs: `counts.events`")
    divergence: DivergenceOut | None = Field(description="The first event today's code no longer produces")
    counts: HistoryCounts | None = Field(
        None, description="The history replayed, as every audit report counts it; absent when Temporal has none"
    )

    @classmethod
    def of(cls, report: ReplayReport) -> "ReplayReportOut":
        """The report as the API and `vigil audit replay --file` give it."""
        divergence = report.divergence
        return cls(
            incident_id=report.incident_id,
            result=report.result,
            workflows=report.workflows,
            events=report.events,
            counts=report.counts,
            divergence=None
            if divergence is None
            else DivergenceOut(
                workflow_id=divergence.workflow_id,
                run_id=divergence.run_id,
                event_id=divergence.event_id,
                event=divergence.event,
                event_type=divergence.event_type,
                message=divergence.message,
                known_cause=divergence.known_cause,
            ),
        )

    @classmethod
    def missing(cls, incident_id: str) -> "ReplayReportOut":
        """An incident Temporal has no history of: nothing replayed, nothing to count (`counts`
        stays unset, so the answer leaves it out: see the replay route)."""
        return cls(incident_id=incident_id, result="missing", workflows=0, events=0, divergence=None)


class ReplayResult(BaseModel):
    replayed: int
    ok: int
    nondeterministic: int
    failed: int
    missing: int
    truncated: bool = Field(description="More incidents matched than `limit`")
    reports: list[ReplayReportOut]
