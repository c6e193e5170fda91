"""What each history event carried, decoded with Vigil's data converter (so with the keys).

Temporal stores Vigil's messages as encrypted payloads. Reading them back needs to know
which message each payload is: an activity's input by its activity type, an update's by its
name, and so on. `decode_steps` does that once for a whole history, so the timeline, the
reconstruction and the replay report all read the same decoded events.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from vigil.audit.digest import SEAL_ACTIVITY
from vigil.audit.history import WorkflowRuns
from vigil.temporal.codec import KeyError_
from vigil.workflows.messages import (
    ActionRequest,
    ApprovalAsk,
    ApprovalOutcome,
    ApprovalRequest,
    EnforcementRequest,
    EnforcementResult,
    IncidentStart,
    ProjectionBatch,
    Seal,
    TriageResult,
)
from vigil.workflows.state import Incident, Intake

E = EventType

# Activity type -> (input type, result type).
ACTIVITIES: dict[str, tuple[type, type | None]] = {
    "triage": (Intake, TriageResult),
    "project": (ProjectionBatch, None),
    "enforce": (EnforcementRequest, EnforcementResult),
    SEAL_ACTIVITY: (str, Seal),
    "ask_approvers": (ApprovalAsk, None),
}
# Workflow type -> (input type, result type).
WORKFLOWS: dict[str, tuple[type, type]] = {
    "IncidentWorkflow": (IncidentStart, Incident),
    "ApprovalWorkflow": (ApprovalRequest, ApprovalOutcome),
}
UPDATES: dict[str, type] = {"act": ActionRequest}
SIGNALS: dict[str, type] = {"act_signal": dict, "close": str}


class Undecodable(Exception):
    """A payload this process cannot read: a key missing from the ring, or a tampered payload."""


@dataclass
class Step:
    """One history event and what it carried.

    `value` is the decoded message (an activity's input on its scheduling, its result on its
    completion, a signal's argument, ...); `info` holds the plain facts the timeline needs
    (activity type, timer summary, update id, failure message, ...).
    """

    number: int  # across runs, 1-based (see vigil.audit.history)
    run: int
    event: HistoryEvent
    value: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> int:
        return self.event.event_type

    @property
    def type_name(self) -> str:
        return E.Name(self.event.event_type).removeprefix("EVENT_TYPE_")

    @property
    def at(self) -> datetime:
        return self.event.event_time.ToDatetime(tzinfo=UTC)


def event_type_name(event: HistoryEvent) -> str:
    return E.Name(event.event_type).removeprefix("EVENT_TYPE_")


class _Decoder:
    def __init__(self, converter: DataConverter, workflow_type: str):
        self._converter = converter
        self._workflow_type = workflow_type
        self._by_id: dict[tuple[int, int], Step] = {}

    async def one(self, payloads: Payloads | None, hint: type | None, step: Step) -> Any:
        if payloads is None or not payloads.payloads:
            return None
        try:
            values = await self._converter.decode(payloads.payloads, [hint] if hint else None)
        except KeyError_ as error:
            raise Undecodable(f"event {step.number}: {error}") from None
        except Exception as error:  # a tampered ciphertext, or a message today's models reject
            raise Undecodable(f"event {step.number} ({step.type_name}): cannot read its payload: {error}") from None
        return values[0] if values else None

    async def payload(self, payload: Payload, hint: type, step: Step) -> Any:
        return await self.one(Payloads(payloads=[payload]), hint, step)

    async def failure(self, failure: Failure) -> str:
        copy = Failure()
        copy.CopyFrom(failure)
        try:
            error = await self._converter.decode_failure(copy)
        except Exception:
            return failure.message
        return str(error)

    async def step(self, step: Step) -> None:
        event, t = step.event, step.type
        self._by_id[(step.run, event.event_id)] = step
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
            step.info["summary"] = await self.payload(event.user_metadata.summary, str, step)

        if t == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            a = event.workflow_execution_started_event_attributes
            step.info["workflow_type"] = a.workflow_type.name
            step.value = await self.one(a.input, WORKFLOWS.get(a.workflow_type.name, (None,))[0], step)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = event.activity_task_scheduled_event_attributes
            step.info["activity"] = a.activity_type.name
            step.value = await self.one(a.input, ACTIVITIES.get(a.activity_type.name, (None, None))[0], step)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            a = event.activity_task_completed_event_attributes
            name = self._scheduled(step, a.scheduled_event_id)
            step.value = await self.one(a.result, ACTIVITIES.get(name, (None, None))[1], step)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            a = event.activity_task_failed_event_attributes
            self._scheduled(step, a.scheduled_event_id)
            step.info["failure"] = await self.failure(a.failure)
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            a = event.activity_task_timed_out_event_attributes
            self._scheduled(step, a.scheduled_event_id)
            step.info["failure"] = await self.failure(a.failure)
        elif t == E.EVENT_TYPE_TIMER_STARTED:
            a = event.timer_started_event_attributes
            step.info["duration"] = a.start_to_fire_timeout.ToTimedelta()
        elif t == E.EVENT_TYPE_TIMER_FIRED:
            started = self._by_id.get((step.run, event.timer_fired_event_attributes.started_event_id))
            if started is not None:
                step.info["summary"] = started.info.get("summary", "")
                step.info["duration"] = started.info.get("duration")
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            a = event.workflow_execution_signaled_event_attributes
            step.info["signal"] = a.signal_name
            step.value = await self.one(a.input, SIGNALS.get(a.signal_name), step)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            a = event.workflow_execution_update_accepted_event_attributes
            request = a.accepted_request
            step.info.update(update=request.input.name, update_id=request.meta.update_id)
            step.value = await self.one(request.input.args, UPDATES.get(request.input.name), step)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            a = event.workflow_execution_update_completed_event_attributes
            step.info["update_id"] = a.meta.update_id
            if a.outcome.HasField("failure"):
                step.info["failure"] = await self.failure(a.outcome.failure)
            else:
                step.value = await self.one(a.outcome.success, Incident, step)
        elif t == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            a = event.start_child_workflow_execution_initiated_event_attributes
            step.info["workflow_id"] = a.workflow_id
            step.value = await self.one(a.input, WORKFLOWS.get(a.workflow_type.name, (None,))[0], step)
        elif t == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            a = event.child_workflow_execution_completed_event_attributes
            step.info["workflow_id"] = a.workflow_execution.workflow_id
            step.value = await self.one(a.result, WORKFLOWS.get(a.workflow_type.name, (None, None))[1], step)
        elif t == E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            a = event.signal_external_workflow_execution_initiated_event_attributes
            step.info.update(signal=a.signal_name, workflow_id=a.workflow_execution.workflow_id)
        elif t == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            step.info["search_attributes"] = {name: _plain_json(p) for name, p in fields.items()}
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            a = event.workflow_execution_continued_as_new_event_attributes
            step.value = await self.one(a.input, WORKFLOWS.get(self._workflow_type, (None,))[0], step)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            a = event.workflow_execution_completed_event_attributes
            step.value = await self.one(a.result, WORKFLOWS.get(self._workflow_type, (None, None))[1], step)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            step.info["failure"] = await self.failure(event.workflow_execution_failed_event_attributes.failure)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            a = event.workflow_execution_terminated_event_attributes
            step.info.update(reason=a.reason, identity=a.identity)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            step.info["reason"] = "cancelled"
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            step.info["reason"] = "timed out"

    def _scheduled(self, step: Step, scheduled_event_id: int) -> str:
        scheduled = self._by_id.get((step.run, scheduled_event_id))
        name = scheduled.info.get("activity", "") if scheduled else ""
        step.info["activity"] = name
        step.info["scheduled"] = scheduled
        return name


def _plain_json(payload: Payload) -> Any:
    try:
        return json.loads(payload.data)
    except ValueError:
        return None


async def decode_steps(
    runs: list, converter: DataConverter, *, first_number: int = 1, workflow_type: str = "IncidentWorkflow"
) -> list[Step]:
    """Every event of `runs` (oldest first), numbered across them and decoded."""
    decoder = _Decoder(converter, workflow_type)
    steps = []
    number = first_number
    for index, run in enumerate(runs):
        for event in run.events:
            step = Step(number, index, event)
            await decoder.step(step)
            steps.append(step)
            number += 1
    return steps


async def decode_workflow(workflow: WorkflowRuns, converter: DataConverter) -> list[Step]:
    """An approval request's events, numbered within that workflow."""
    return await decode_steps(workflow.runs, converter, workflow_type="ApprovalWorkflow")
