"""What each history event carried, decoded with Vigil's data converter (so with the keys).

Temporal stores Vigil's messages as encrypted payloads. Reading them back needs to know
which message each payload is: an activity's input by its activity type, an update's by its
name, and so on. `decode_steps` does that once for a whole history, so the timeline, the
reconstruction and the replay report all read the same decoded events.

Each decoded event is a `Step` whose `fact` is a record of its own kind (`ActivityScheduled`,
`TimerFired`, `UpdateAccepted`, ...). One small frozen dataclass per kind, rather than one
record with optional fields for all of them: `isinstance(step.fact, TimerFired)` then tells a
reader, and mypy, exactly which fields it may read, and no reader can ask a timer for its
update id. Events no reader needs (workflow tasks, markers, ...) have no fact. `_DECODERS`
maps each event type to the small function that reads it.
"""

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from vigil.audit.digest import SEAL_ACTIVITY
from vigil.audit.history import WorkflowRuns, event_type_name
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
Hint = type[object] | None  # the message type a payload decodes to; None: plain JSON

# Activity type -> (input type, result type).
ACTIVITIES: dict[str, tuple[Hint, Hint]] = {
    "triage": (Intake, TriageResult),
    "project": (ProjectionBatch, None),
    "enforce": (EnforcementRequest, EnforcementResult),
    SEAL_ACTIVITY: (str, Seal),
    "ask_approvers": (ApprovalAsk, None),
}
# Workflow type -> (input type, result type).
WORKFLOWS: dict[str, tuple[Hint, Hint]] = {
    "IncidentWorkflow": (IncidentStart, Incident),
    "ApprovalWorkflow": (ApprovalRequest, ApprovalOutcome),
}
UPDATES: dict[str, Hint] = {"act": ActionRequest}
SIGNALS: dict[str, Hint] = {"act_signal": dict, "close": str}
_UNKNOWN: tuple[Hint, Hint] = (None, None)


class Undecodable(Exception):
    """A payload this process cannot read: a key missing from the ring, or a tampered payload."""


# ---------------------------------------------------------------------------- the records


@dataclass(frozen=True)
class WorkflowStarted:
    workflow_type: str
    input: object  # IncidentStart, ApprovalRequest


@dataclass(frozen=True)
class ActivityScheduled:
    activity: str
    input: object  # see ACTIVITIES


@dataclass(frozen=True)
class ActivityCompleted:
    activity: str  # "" when its scheduling is not in this run
    scheduled: ActivityScheduled | None
    result: object


@dataclass(frozen=True)
class ActivityFailed:
    """An activity that failed or timed out (after its retries)."""

    activity: str
    scheduled: ActivityScheduled | None
    failure: str


@dataclass(frozen=True)
class TimerStarted:
    duration: timedelta


@dataclass(frozen=True)
class TimerFired:
    summary: str  # its TimerStarted's summary ("clock sla.acknowledge"), "" without one
    duration: timedelta | None  # None when its start is not in this run


@dataclass(frozen=True)
class SignalReceived:
    signal: str
    argument: object  # a raw dict for `act_signal`: it may be malformed, the journal says so


@dataclass(frozen=True)
class UpdateAccepted:
    update: str
    update_id: str
    request: object  # ActionRequest for `act`


@dataclass(frozen=True)
class UpdateCompleted:
    update_id: str
    failure: str | None  # why the update was refused; None when it succeeded
    result: object  # the Incident after it, when it succeeded


@dataclass(frozen=True)
class ChildStarted:
    workflow_id: str
    input: object  # ApprovalRequest


@dataclass(frozen=True)
class ChildCompleted:
    workflow_id: str
    result: object  # ApprovalOutcome


@dataclass(frozen=True)
class SignalSent:
    signal: str
    workflow_id: str


@dataclass(frozen=True)
class SearchAttributesSet:
    values: dict[str, object]


@dataclass(frozen=True)
class ContinuedAsNew:
    input: object  # the next run's IncidentStart, with what it carries


@dataclass(frozen=True)
class WorkflowCompleted:
    result: object  # Incident, ApprovalOutcome


@dataclass(frozen=True)
class WorkflowReset:
    """The run was reset here (a repair: vigil.audit.repair): this task failed on purpose, and the
    run went on from it as `new_run_id`; the events the old run had after it are in `base_run_id`."""

    reason: str
    base_run_id: str
    new_run_id: str


@dataclass(frozen=True)
class WorkflowEnded:
    """The workflow ended abnormally: failed, terminated, cancelled or timed out."""

    reason: str
    identity: str = ""  # who terminated it, as Temporal recorded


Fact = (
    WorkflowStarted
    | ActivityScheduled
    | ActivityCompleted
    | ActivityFailed
    | TimerStarted
    | TimerFired
    | SignalReceived
    | UpdateAccepted
    | UpdateCompleted
    | ChildStarted
    | ChildCompleted
    | SignalSent
    | SearchAttributesSet
    | ContinuedAsNew
    | WorkflowCompleted
    | WorkflowEnded
    | WorkflowReset
)


@dataclass(frozen=True)
class Step:
    """One history event and what it carried (`fact`, None for events no reader needs)."""

    number: int  # across runs, 1-based (see vigil.audit.history)
    run: int
    event: HistoryEvent
    fact: Fact | None = None
    summary: str | None = None  # the event's own user-metadata summary (Vigil sets one on timers)

    @property
    def type(self) -> "EventType.ValueType":
        return self.event.event_type

    @property
    def type_name(self) -> str:
        return event_type_name(self.event)

    @property
    def at(self) -> datetime:
        return self.event.event_time.ToDatetime(tzinfo=UTC)


# ---------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _Event:
    """One event being decoded: reads its payloads, names it in errors, finds what it refers to."""

    converter: DataConverter
    workflow_type: str  # of the runs being decoded: what their own inputs and results are
    earlier: dict[tuple[int, int], Step]  # (run, event id) -> step, for the events decoded so far
    number: int
    run: int
    event: HistoryEvent

    async def value(self, payloads: Payloads | None, hint: Hint) -> object:
        if payloads is None or not payloads.payloads:
            return None
        try:
            values = await self.converter.decode(payloads.payloads, [hint] if hint else None)
        except KeyError_ as error:
            raise Undecodable(f"event {self.number}: {error}") from None
        except Exception as error:  # a tampered ciphertext, or a message today's models reject
            name = event_type_name(self.event)
            raise Undecodable(f"event {self.number} ({name}): cannot read its payload: {error}") from None
        value: object = values[0] if values else None
        return value

    async def failure(self, failure: Failure) -> str:
        copy = Failure()
        copy.CopyFrom(failure)
        try:
            error = await self.converter.decode_failure(copy)
        except Exception:
            return failure.message
        return str(error)

    async def summary(self) -> str | None:
        if not (self.event.HasField("user_metadata") and self.event.user_metadata.HasField("summary")):
            return None
        summary = await self.value(Payloads(payloads=[self.event.user_metadata.summary]), str)
        return summary if isinstance(summary, str) else None

    def step(self, event_id: int) -> Step | None:
        """An earlier event of the same run, by its id."""
        return self.earlier.get((self.run, event_id))

    def scheduled(self, scheduled_event_id: int) -> ActivityScheduled | None:
        step = self.step(scheduled_event_id)
        return step.fact if step is not None and isinstance(step.fact, ActivityScheduled) else None


async def _workflow_started(e: _Event) -> WorkflowStarted:
    a = e.event.workflow_execution_started_event_attributes
    hint = WORKFLOWS.get(a.workflow_type.name, _UNKNOWN)[0]
    return WorkflowStarted(a.workflow_type.name, await e.value(a.input, hint))


async def _activity_scheduled(e: _Event) -> ActivityScheduled:
    a = e.event.activity_task_scheduled_event_attributes
    hint = ACTIVITIES.get(a.activity_type.name, _UNKNOWN)[0]
    return ActivityScheduled(a.activity_type.name, await e.value(a.input, hint))


async def _activity_completed(e: _Event) -> ActivityCompleted:
    a = e.event.activity_task_completed_event_attributes
    scheduled = e.scheduled(a.scheduled_event_id)
    name = scheduled.activity if scheduled else ""
    return ActivityCompleted(name, scheduled, await e.value(a.result, ACTIVITIES.get(name, _UNKNOWN)[1]))


async def _activity_failed(e: _Event) -> ActivityFailed:
    a = e.event.activity_task_failed_event_attributes
    scheduled = e.scheduled(a.scheduled_event_id)
    return ActivityFailed(scheduled.activity if scheduled else "", scheduled, await e.failure(a.failure))


async def _activity_timed_out(e: _Event) -> ActivityFailed:
    a = e.event.activity_task_timed_out_event_attributes
    scheduled = e.scheduled(a.scheduled_event_id)
    return ActivityFailed(scheduled.activity if scheduled else "", scheduled, await e.failure(a.failure))


async def _timer_started(e: _Event) -> TimerStarted:
    return TimerStarted(e.event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())


async def _timer_fired(e: _Event) -> TimerFired:
    started = e.step(e.event.timer_fired_event_attributes.started_event_id)
    if started is None:
        return TimerFired(await e.summary() or "", None)
    duration = started.fact.duration if isinstance(started.fact, TimerStarted) else None
    return TimerFired(started.summary or "", duration)


async def _signaled(e: _Event) -> SignalReceived:
    a = e.event.workflow_execution_signaled_event_attributes
    return SignalReceived(a.signal_name, await _from_outside(e, a.input, SIGNALS.get(a.signal_name)))


async def _from_outside(e: _Event, payloads: Payloads, hint: Hint) -> object:
    """A signal's or update's argument: anyone who reaches Temporal may send one, readable or
    not (the workflow journals it refused); None when it cannot be read, and the history reads on."""
    try:
        return await e.value(payloads, hint)
    except Undecodable:
        return None


async def _update_accepted(e: _Event) -> UpdateAccepted:
    accepted = e.event.workflow_execution_update_accepted_event_attributes
    request = accepted.accepted_request
    if not request.input.name:  # admitted first (an update a reset reapplied): the request is there
        admitted = e.step(accepted.accepted_request_sequencing_event_id)
        if admitted is not None:
            request = admitted.event.workflow_execution_update_admitted_event_attributes.request
    name = request.input.name
    return UpdateAccepted(name, request.meta.update_id, await _from_outside(e, request.input.args, UPDATES.get(name)))


async def _update_completed(e: _Event) -> UpdateCompleted:
    a = e.event.workflow_execution_update_completed_event_attributes
    if a.outcome.HasField("failure"):
        return UpdateCompleted(a.meta.update_id, await e.failure(a.outcome.failure), None)
    return UpdateCompleted(a.meta.update_id, None, await e.value(a.outcome.success, Incident))


async def _child_started(e: _Event) -> ChildStarted:
    a = e.event.start_child_workflow_execution_initiated_event_attributes
    return ChildStarted(a.workflow_id, await e.value(a.input, WORKFLOWS.get(a.workflow_type.name, _UNKNOWN)[0]))


async def _child_completed(e: _Event) -> ChildCompleted:
    a = e.event.child_workflow_execution_completed_event_attributes
    hint = WORKFLOWS.get(a.workflow_type.name, _UNKNOWN)[1]
    return ChildCompleted(a.workflow_execution.workflow_id, await e.value(a.result, hint))


async def _signal_sent(e: _Event) -> SignalSent:
    a = e.event.signal_external_workflow_execution_initiated_event_attributes
    return SignalSent(a.signal_name, a.workflow_execution.workflow_id)


async def _search_attributes(e: _Event) -> SearchAttributesSet:
    fields = e.event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    return SearchAttributesSet({name: _plain_json(payload) for name, payload in fields.items()})


async def _continued_as_new(e: _Event) -> ContinuedAsNew:
    a = e.event.workflow_execution_continued_as_new_event_attributes
    return ContinuedAsNew(await e.value(a.input, WORKFLOWS.get(e.workflow_type, _UNKNOWN)[0]))


async def _completed(e: _Event) -> WorkflowCompleted:
    a = e.event.workflow_execution_completed_event_attributes
    return WorkflowCompleted(await e.value(a.result, WORKFLOWS.get(e.workflow_type, _UNKNOWN)[1]))


async def _failed(e: _Event) -> WorkflowEnded:
    return WorkflowEnded(await e.failure(e.event.workflow_execution_failed_event_attributes.failure))


async def _task_failed(e: _Event) -> WorkflowReset | None:
    a = e.event.workflow_task_failed_event_attributes
    if a.cause != WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW:
        return None  # an ordinary failed task, retried: no reader needs it
    return WorkflowReset(await e.failure(a.failure), a.base_run_id, a.new_run_id)


async def _terminated(e: _Event) -> WorkflowEnded:
    a = e.event.workflow_execution_terminated_event_attributes
    return WorkflowEnded(a.reason, a.identity)


async def _cancelled(e: _Event) -> WorkflowEnded:
    return WorkflowEnded("cancelled")


async def _timed_out(e: _Event) -> WorkflowEnded:
    return WorkflowEnded("timed out")


_DECODERS: dict["EventType.ValueType", Callable[[_Event], Awaitable[Fact | None]]] = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: _workflow_started,
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: _activity_scheduled,
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: _activity_completed,
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED: _activity_failed,
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: _activity_timed_out,
    E.EVENT_TYPE_TIMER_STARTED: _timer_started,
    E.EVENT_TYPE_TIMER_FIRED: _timer_fired,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: _signaled,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: _update_accepted,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: _update_completed,
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: _child_started,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: _child_completed,
    E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: _signal_sent,
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: _search_attributes,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: _continued_as_new,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: _completed,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: _failed,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: _terminated,
    E.EVENT_TYPE_WORKFLOW_TASK_FAILED: _task_failed,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: _cancelled,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: _timed_out,
}


def _plain_json(payload: Payload) -> object:
    try:
        value: object = json.loads(payload.data)
    except ValueError:
        return None
    return value


async def _decode(e: _Event) -> Step:
    summary = await e.summary()
    decoder = _DECODERS.get(e.event.event_type)
    fact = await decoder(e) if decoder is not None else None
    return Step(e.number, e.run, e.event, fact, summary)


async def decode_steps(
    runs: Sequence[WorkflowHistory],
    converter: DataConverter,
    *,
    first_number: int = 1,
    workflow_type: str = "IncidentWorkflow",
) -> list[Step]:
    """Every event of `runs` (oldest first), numbered across them and decoded."""
    earlier: dict[tuple[int, int], Step] = {}
    steps = []
    number = first_number
    for index, run in enumerate(runs):
        for event in run.events:
            step = await _decode(_Event(converter, workflow_type, earlier, number, index, event))
            earlier[(index, event.event_id)] = step
            steps.append(step)
            number += 1
    return steps


async def decode_workflow(workflow: WorkflowRuns, converter: DataConverter) -> list[Step]:
    """An approval request's events, numbered within that workflow."""
    return await decode_steps(workflow.runs, converter, workflow_type="ApprovalWorkflow")
