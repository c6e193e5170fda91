"""An incident's history as Temporal keeps it: every run of its workflow, oldest first, and
the approval requests (ApprovalWorkflow children) it started.

Events are numbered across runs: event 1 is the first event of the first run, and a
continued run's events follow on from the previous run's last. That global number is what
the timeline, `state?after_event=N`, `verify` and the replay report all call "event N".

The export document keeps each run exactly as Temporal's own JSON (`{"events": [...]}`,
payloads still encrypted), so a copy can be checked against the seal, replayed, or opened
with any Temporal tool:

    {"format": "vigil-history-v1", "incident_id": "INC-2026-000001",
     "runs": [{"run_id": "...", "history": {"events": [...]}}, ...],
     "approvals": [{"workflow_id": "INC-2026-000001-A1", "runs": [...]}, ...]}
"""

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from vigil.audit.digest import fetch_runs

FORMAT = "vigil-history-v1"


class HistoryNotFound(Exception):
    """Temporal has no workflow by that id (never started, or deleted after retention)."""


class BadDocument(ValueError):
    """An export file that is not a Vigil history document."""


def event_type_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


@dataclass(frozen=True)
class NumberedEvent:
    number: int  # 1-based, across runs
    run: int  # 0-based index of the run
    event: HistoryEvent


# Where an event sits in an incident's history, and what it is: how every report names one.
class EventRef(BaseModel):
    number: int = Field(description="Across runs: 1 is the first event of the first run")
    run: int = Field(description="1 for the first run of the workflow")
    run_id: str
    event_id: int = Field(description="The event's id within its run, as Temporal shows it")
    type: str
    at: datetime


@dataclass
class WorkflowRuns:
    workflow_id: str
    runs: list[WorkflowHistory]

    def to_document(self) -> list[dict[str, Any]]:
        return [{"run_id": run.run_id, "history": run.to_json_dict()} for run in self.runs]


def _packed(runs: list[WorkflowHistory]) -> list[tuple[str, bytes]]:
    return [(run.workflow_id, History(events=run.events).SerializeToString()) for run in runs]


def _unpacked(runs: list[tuple[str, bytes]]) -> list[WorkflowHistory]:
    return [WorkflowHistory(workflow_id, History.FromString(data).events) for workflow_id, data in runs]


def _unpickle(
    incident_id: str, runs: list[tuple[str, bytes]], approvals: list[tuple[str, list[tuple[str, bytes]]]]
) -> "IncidentHistory":
    return IncidentHistory(incident_id, _unpacked(runs), [WorkflowRuns(w, _unpacked(r)) for w, r in approvals])


@dataclass
class IncidentHistory:
    incident_id: str
    runs: list[WorkflowHistory]  # the incident workflow's runs, oldest first
    approvals: list[WorkflowRuns] = field(default_factory=list)

    def numbered(self) -> Iterator[NumberedEvent]:
        number = 0
        for index, run in enumerate(self.runs):
            for event in run.events:
                number += 1
                yield NumberedEvent(number, index, event)

    def event(self, number: int) -> EventRef:
        """Event `number` (1 to event_count, across runs)."""
        found = next((n for n in self.numbered() if n.number == number), None)
        if found is None:
            raise IndexError(f"the history has no event {number}")
        return EventRef(
            number=number,
            run=found.run + 1,
            run_id=self.runs[found.run].run_id,
            event_id=found.event.event_id,
            type=event_type_name(found.event),
            at=found.event.event_time.ToDatetime(tzinfo=UTC),
        )

    @property
    def event_count(self) -> int:
        return sum(len(run.events) for run in self.runs)

    def all_workflows(self) -> list[WorkflowHistory]:
        """Every run of the incident and of its approval requests: what a replay covers."""
        return [*self.runs, *(run for approval in self.approvals for run in approval.runs)]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as protobuf bytes (to a replay process): some 25 times cheaper than the JSON
        document, which the worker built on its own GIL for every history its watchdog checked."""
        return (
            _unpickle,
            (self.incident_id, _packed(self.runs), [(a.workflow_id, _packed(a.runs)) for a in self.approvals]),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "incident_id": self.incident_id,
            "runs": WorkflowRuns(self.incident_id, self.runs).to_document(),
            "approvals": [{"workflow_id": a.workflow_id, "runs": a.to_document()} for a in self.approvals],
        }

    @classmethod
    def from_document(cls, document: Any) -> "IncidentHistory":
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise BadDocument(f'not a Vigil history export (expected "format": "{FORMAT}")')
        try:
            incident_id = str(document["incident_id"])
            runs = _runs(incident_id, document["runs"])
            approvals = [
                WorkflowRuns(str(a["workflow_id"]), _runs(str(a["workflow_id"]), a["runs"]))
                for a in document.get("approvals", [])
            ]
        except (KeyError, TypeError) as error:
            raise BadDocument(f"incomplete history export: missing {error}") from None
        if not runs:
            raise BadDocument(f"{incident_id}: the export has no runs")
        return cls(incident_id, runs, approvals)


def _runs(workflow_id: str, runs: Any) -> list[WorkflowHistory]:
    histories = []
    for run in runs:
        try:
            histories.append(WorkflowHistory.from_json(workflow_id, run["history"]))
        except (ValueError, KeyError, TypeError) as error:  # protobuf's ParseError is a ValueError
            raise BadDocument(f"{workflow_id}: a run is not Temporal history JSON ({error})") from None
    return histories


def read_documents(text: str) -> list[IncidentHistory]:
    """One export (JSON) or many (JSON lines), as `vigil audit export` writes them."""
    text = text.strip()
    if not text:
        raise BadDocument("the file is empty")
    try:
        return [IncidentHistory.from_document(json.loads(text))]
    except json.JSONDecodeError:
        pass  # not one JSON document: JSON lines
    histories = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            histories.append(IncidentHistory.from_document(json.loads(line)))
        except json.JSONDecodeError as error:
            raise BadDocument(f"line {number}: not JSON ({error.msg})") from None
        except BadDocument as error:
            raise BadDocument(f"line {number}: {error}") from None
    return histories


def approval_ids(runs: list[WorkflowHistory]) -> list[str]:
    """The approval requests (child workflows) an incident started, in order."""
    ids = []
    for run in runs:
        for event in run.events:
            if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                workflow_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                if workflow_id not in ids:
                    ids.append(workflow_id)
    return ids


async def fetch(client: Client, incident_id: str, *, approvals: bool = True) -> IncidentHistory:
    """The incident's history from Temporal: all runs, and its approval requests' histories."""
    try:
        runs = await fetch_runs(client, incident_id)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HistoryNotFound(incident_id) from None
        raise
    children: list[WorkflowRuns] = []
    if approvals:
        ids = approval_ids(runs)
        fetched = await asyncio.gather(*(_child(client, child_id) for child_id in ids))
        children = [child for child in fetched if child is not None]
    return IncidentHistory(incident_id, runs, children)


async def _child(client: Client, workflow_id: str) -> WorkflowRuns | None:
    try:
        return WorkflowRuns(workflow_id, await fetch_runs(client, workflow_id))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # its retention ran out before the incident's
            return None
        raise
