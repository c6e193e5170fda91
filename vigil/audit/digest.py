"""Tamper evidence: a SHA-256 hash chain over an incident's history, event by event.

Each link is sha256(previous link + the event in canonical JSON), so the last link is a digest
of the whole history and the first link that differs names the first altered event. The
canonical form is the JSON Temporal itself exports, keys sorted, so an exported file can be
checked against the digest stored when the incident closed.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.protobuf.json_format import MessageToDict
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

SEAL_ACTIVITY = "seal_history"
_GENESIS = b"vigil-history-chain-v1:"


def canonical(event: HistoryEvent) -> bytes:
    return json.dumps(MessageToDict(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain(incident_id: str, events: Iterable[HistoryEvent]) -> list[str]:
    link = hashlib.sha256(_GENESIS + incident_id.encode()).digest()
    links = []
    for event in events:
        link = hashlib.sha256(link + canonical(event)).digest()
        links.append(link.hex())
    return links


def sealed_events(runs: Sequence[WorkflowHistory]) -> list[HistoryEvent]:
    """Every event of every run, up to (not including) the scheduling of the seal itself."""
    events: list[HistoryEvent] = []
    for run in runs:
        for event in run.events:
            if (
                event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                and event.activity_task_scheduled_event_attributes.activity_type.name == SEAL_ACTIVITY
            ):
                return events
            events.append(event)
    return events


@dataclass(frozen=True)
class Verdict:
    intact: bool
    events: int
    first_altered: int | None  # index (0-based, across runs) of the first event that differs
    detail: str


def verify(incident_id: str, runs: Sequence[WorkflowHistory], sealed_chain: Sequence[str]) -> Verdict:
    links = chain(incident_id, sealed_events(runs))
    for index, (now, then) in enumerate(zip(links, sealed_chain, strict=False)):
        if now != then:
            return Verdict(False, len(links), index, f"event {index + 1} differs from the sealed history")
    if len(links) != len(sealed_chain):
        shorter = min(len(links), len(sealed_chain))
        return Verdict(
            False,
            len(links),
            shorter,
            f"the history has {len(links)} sealed events, the seal recorded {len(sealed_chain)}",
        )
    return Verdict(True, len(links), None, f"all {len(links)} events match the seal")


async def fetch_runs(client: Client, workflow_id: str, run_id: str | None = None) -> list[WorkflowHistory]:
    """The histories of every run of a workflow, oldest first, following continue-as-new back."""
    runs: list[WorkflowHistory] = []
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            return list(reversed(runs))
