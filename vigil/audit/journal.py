"""The incident's journal as the history records it, each entry tied to the event that caused it.

IncidentWorkflow writes every action it applies (or refuses) as a JournalEntry and sends the
entries, in batches, to the `project` activity: so the entries are in the history, inside
the inputs of the `project` activities. This module finds them and says, for each, which
history event made it happen:

- a person's update:      the WorkflowExecutionUpdateAccepted event of that update;
- a person's signal:      the WorkflowExecutionSignaled event (signals are applied in order);
- the triage (`open`):    the ActivityTaskCompleted of the `triage` activity;
- a clock firing:         the TimerFired event whose summary names the clock, or, when the
                          clock came due while the workflow was awake for something else,
                          the event that woke it;
- an enforcement outcome: the ActivityTaskCompleted (or Failed) of that proposal's `enforce`.

Every entry is stamped with `workflow.now()`, which is the start time of the workflow task
that applied it; that ties each entry to its workflow task, and the task to the events that
were delivered to it.

`applied` is the event after which the incident's state includes the entry. It is the cause,
except where a later-numbered cause was applied earlier in the same task (an update is
recorded after the task that ran it): then an entry counts from the latest cause before it,
so the states "after event N" are always states the workflow really passed through.

The module also collects the states the workflow itself recorded (update results, projection
batches, the state carried into a new run, the final result): the witnesses a reconstruction
is checked against.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.converter import DataConverter

from vigil.audit.decode import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    SignalReceived,
    Step,
    TimerFired,
    UpdateAccepted,
    UpdateCompleted,
    WorkflowCompleted,
    WorkflowStarted,
    decode_steps,
    decode_workflow,
)
from vigil.audit.history import IncidentHistory
from vigil.policy import Policy
from vigil.workflows.actions import ClockFired, EnforcementCompleted, Open
from vigil.workflows.messages import (
    ActionRequest,
    EnforcementRequest,
    IncidentStart,
    JournalEntry,
    ProjectionBatch,
    TriageResult,
)
from vigil.workflows.state import Incident, clocks_in_timer_summary

E = EventType
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TASK_EVENTS = (
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
)


@dataclass(frozen=True)
class Recorded:
    entry: JournalEntry
    run: int  # 0-based run that applied it
    cause: int  # the event that made it happen
    applied: int  # the event after which the state includes it (see the module docstring)
    via: str  # update | signal | triage | timer | time | enforcement | unknown


@dataclass(frozen=True)
class Witness:
    """A state the workflow itself recorded, after journal entry `after_entry`."""

    event: int
    after_entry: int
    source: str  # "update result" | "projection batch" | "carried into a new run" | "workflow result"
    state: Incident


@dataclass
class Journal:
    history: IncidentHistory
    steps: list[Step]
    entries: list[Recorded]
    witnesses: list[Witness]
    starts: list[IncidentStart | None]  # each run's input
    policy: Policy | None  # the policy the incident was triaged under
    approvals: dict[str, list[Step]]  # approval id -> that request's decoded events
    problems: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step:
        return self.steps[number - 1]


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: the precision a JournalEntry keeps of workflow.now()."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


# ---------------------------------------------------------------------------- one run's events


@dataclass
class _Task:
    started: int  # global number of WorkflowTaskStarted
    completed: int  # global number of WorkflowTaskCompleted
    micros: int  # its start time: what workflow.now() returned inside it
    previous_started: int  # global number of the previous completed task's start (0 for the first)


def _tasks(steps: list[Step]) -> list[_Task]:
    """The run's completed workflow tasks (failed or timed-out ones changed nothing)."""
    started: dict[int, Step] = {}
    tasks: list[_Task] = []
    for step in steps:
        if step.type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started[step.event.event_id] = step
        elif step.type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            a = step.event.workflow_task_completed_event_attributes
            begun = started.get(a.started_event_id)
            if begun is None:
                continue
            tasks.append(
                _Task(
                    started=begun.number,
                    completed=step.number,
                    micros=_micros(begun.at),
                    previous_started=tasks[-1].started if tasks else 0,
                )
            )
    return tasks


@dataclass(frozen=True)
class _Update:
    """An accepted `act` update that succeeded: it applied exactly one entry."""

    accepted: Step
    request: ActionRequest
    completed: Step  # its UpdateCompleted, which carries the state after it


def _applied_updates(steps: list[Step]) -> list[_Update]:
    completed = {s.fact.update_id: (s, s.fact) for s in steps if isinstance(s.fact, UpdateCompleted)}
    updates = []
    for step in steps:
        fact = step.fact
        if not isinstance(fact, UpdateAccepted) or fact.update != "act" or fact.update_id not in completed:
            continue
        done, outcome = completed[fact.update_id]
        if outcome.failure is None and isinstance(fact.request, ActionRequest):
            updates.append(_Update(step, fact.request, done))
    return updates


def _refused_updates(steps: list[Step]) -> list[tuple[Step, object]]:
    """Accepted `act` updates that failed, with their requests (None when unreadable)."""
    failed = {s.fact.update_id for s in steps if isinstance(s.fact, UpdateCompleted) and s.fact.failure is not None}
    return [
        (s, s.fact.request)
        for s in steps
        if isinstance(s.fact, UpdateAccepted) and s.fact.update == "act" and s.fact.update_id in failed
    ]


def _act_signals(steps: list[Step]) -> list[tuple[Step, SignalReceived]]:
    return [(s, s.fact) for s in steps if isinstance(s.fact, SignalReceived) and s.fact.signal == "act_signal"]


def _enforced_proposal(step: Step) -> str | None:
    """The proposal an `enforce` activity's outcome (completed, failed or timed out) is for."""
    fact = step.fact
    if not isinstance(fact, ActivityCompleted | ActivityFailed) or fact.activity != "enforce":
        return None
    request = fact.scheduled.input if fact.scheduled is not None else None
    return request.proposal.id if isinstance(request, EnforcementRequest) else None


def _same_request(request: ActionRequest, entry: JournalEntry) -> bool:
    return (
        entry.action is not None
        and entry.actor is not None
        and request.action.model_dump(mode="json") == entry.action.model_dump(mode="json")
        and request.actor == entry.actor
    )


def _signal_matches(raw: object, entry: JournalEntry) -> bool:
    if entry.action is None:
        return raw == entry.raw
    try:
        return _same_request(ActionRequest.model_validate(raw), entry)
    except ValueError:
        return False


# ---------------------------------------------------------------------------- causes


@dataclass(frozen=True)
class _Cause:
    event: int
    via: str
    update: _Update | None = None  # when an update applied it


class _RunReader:
    """Ties one run's entries to their causes, taken in entry order (each event causes one entry)."""

    def __init__(self, steps: list[Step], problems: list[str]):
        self.steps = steps
        self.problems = problems
        self.tasks = _tasks(steps)
        self.signals = _act_signals(steps)
        self.updates = _applied_updates(steps)
        self.refused_updates = _refused_updates(steps)
        self.used: set[int] = set()
        self.task_index = 0

    def cause(self, entry: JournalEntry) -> _Cause:
        task = self._task_of(entry)
        found: _Cause | None
        match entry.action:
            case Open():
                found = self._triage(task)
            case EnforcementCompleted() as done:
                found = self._enforcement(done, task)
            case ClockFired() as fired:
                found = self._timer(fired, task)
            case _:  # a person's action (or a malformed signal): an update of this task, else the next signal
                found = self._update(entry, task) or self._refused_update(entry, task) or self._signal(entry, task)
        if found is not None:
            return found
        kind = entry.action.type if entry.action else "malformed"
        self.problems.append(f"entry {entry.entry_no} ({kind}): no event found that caused it")
        return _Cause(self._trigger(task), "unknown")

    def _triage(self, task: _Task | None) -> _Cause | None:
        """The triage activity that completed last before the entry's task."""
        before = self._before(task)
        triaged = [
            s
            for s in self.steps
            if isinstance(s.fact, ActivityCompleted) and s.fact.activity == "triage" and s.number < before
        ]
        return _Cause(triaged[-1].number, "triage") if triaged else None

    def _enforcement(self, done: EnforcementCompleted, task: _Task | None) -> _Cause | None:
        """The first outcome, not yet used, of the `enforce` activity for this proposal."""
        before = self._before(task)
        for s in self.steps:
            if s.number not in self.used and s.number < before and _enforced_proposal(s) == done.proposal_id:
                self.used.add(s.number)
                return _Cause(s.number, "enforcement")
        return None

    def _timer(self, fired: ClockFired, task: _Task | None) -> _Cause:
        """The timer delivered to the task that names the clock, else any timer delivered to it;
        else the clock came due while the workflow was awake for something else."""
        low, high = (task.previous_started if task else 0), self._before(task)
        timers = [(s, s.fact) for s in self.steps if isinstance(s.fact, TimerFired) and low < s.number < high]
        named = [s for s, timer in timers if fired.clock_id in clocks_in_timer_summary(timer.summary)]
        if named or timers:
            return _Cause((named or [s for s, _ in timers])[-1].number, "timer")
        return _Cause(self._trigger(task), "time")

    def _update(self, entry: JournalEntry, task: _Task | None) -> _Cause | None:
        """A successful update with the same action and actor, recorded right after the task."""
        if task is None or entry.refused:
            return None
        following = self._next_start(task)
        for update in self.updates:
            number = update.accepted.number
            if number not in self.used and task.completed < number < following and _same_request(update.request, entry):
                self.used.add(number)
                return _Cause(number, "update", update)
        return None

    def _refused_update(self, entry: JournalEntry, task: _Task | None) -> _Cause | None:
        """A failed update the handler journaled as refused, recorded right after the task."""
        if task is None or not entry.refused:
            return None
        following = self._next_start(task)
        for step, request in self.refused_updates:
            if step.number in self.used or not task.completed < step.number < following:
                continue
            if entry.action is None and not isinstance(request, ActionRequest):
                same = True
            else:
                same = isinstance(request, ActionRequest) and _same_request(request, entry)
            if same:
                self.used.add(step.number)
                return _Cause(step.number, "update")
        return None

    def _signal(self, entry: JournalEntry, task: _Task | None) -> _Cause | None:
        """The next signal not yet used (signals are applied in the order they arrive)."""
        limit = task.completed if task else self._before(None)
        for step, signal in self.signals:
            if step.number not in self.used and step.number < limit:
                self.used.add(step.number)
                if not _signal_matches(signal.argument, entry):
                    self.problems.append(
                        f"entry {entry.entry_no}: the signal at event {step.number} carries another action"
                    )
                return _Cause(step.number, "signal")
        return None

    def _task_of(self, entry: JournalEntry) -> _Task | None:
        micros = _micros(entry.at)
        for index in range(self.task_index, len(self.tasks)):
            if abs(self.tasks[index].micros - micros) <= 1:  # the SDK's float seconds can round up by 1 µs
                self.task_index = index
                return self.tasks[index]
        self.problems.append(f"entry {entry.entry_no}: no workflow task started at {entry.at.isoformat()}")
        return None

    def _before(self, task: _Task | None) -> int:
        return task.started if task else self.steps[-1].number + 1

    def _next_start(self, task: _Task) -> int:
        later = [t.started for t in self.tasks if t.started > task.started]
        return later[0] if later else self.steps[-1].number + 1

    def _trigger(self, task: _Task | None) -> int:
        """The last event delivered to the task (what woke the workflow), else the task's start."""
        if task is None:
            return self.steps[-1].number
        delivered = [
            s for s in self.steps if task.previous_started < s.number < task.started and s.type not in _TASK_EVENTS
        ]
        return delivered[-1].number if delivered else task.started


# ---------------------------------------------------------------------------- the whole journal


def _start_of(steps: list[Step]) -> IncidentStart | None:
    """A run's input: its first event's."""
    first = steps[0].fact if steps else None
    return first.input if isinstance(first, WorkflowStarted) and isinstance(first.input, IncidentStart) else None


def _batches(steps: list[Step]) -> list[tuple[Step, ProjectionBatch]]:
    """The run's `project` activities: the entries it wrote, and the state after the last of them."""
    return [
        (s, s.fact.input)
        for s in steps
        if isinstance(s.fact, ActivityScheduled) and isinstance(s.fact.input, ProjectionBatch)
    ]


def _triage_policy(steps: list[Step]) -> Policy | None:
    results = (s.fact.result for s in steps if isinstance(s.fact, ActivityCompleted))
    return next((r.policy for r in results if isinstance(r, TriageResult)), None)


class _JournalReader:
    """Reads the runs in order: their entries, each tied to its cause, the states the workflow
    recorded, and the policy the incident was triaged under."""

    def __init__(self) -> None:
        self.entries: list[Recorded] = []
        self.witnesses: list[Witness] = []
        self.problems: list[str] = []
        self.policy: Policy | None = None
        self._applied = 0
        self._seen: set[int] = set()  # entry numbers read so far

    def read_run(
        self, run: int, steps: list[Step], start: IncidentStart | None, following: IncidentStart | None
    ) -> None:
        if start is not None and start.carried is not None:
            self.policy = self.policy or start.carried.policy
            carried = Witness(steps[0].number, start.carried.entries, "carried into a new run", start.carried.state)
            self.witnesses.append(carried)
        self.policy = self.policy or _triage_policy(steps)
        batches = _batches(steps)
        causes = _RunReader(steps, self.problems)
        for entry in self._new_entries(batches, following):
            self._record(run, entry, causes.cause(entry))
        for step, batch in batches:
            if batch.entries:
                self.witnesses.append(Witness(step.number, batch.entries[-1].entry_no, "projection batch", batch.state))
        self._record_result(steps)

    def _new_entries(
        self, batches: list[tuple[Step, ProjectionBatch]], following: IncidentStart | None
    ) -> list[JournalEntry]:
        """The entries the run wrote, and those it applied but never wrote: they travel in the
        next run's start input. An entry carried to the next run is written there again: it is
        read once, where it was applied."""
        carried_on = following.carried.unprojected if following and following.carried else []
        new = []
        for entry in [e for _, batch in batches for e in batch.entries] + carried_on:
            if entry.entry_no not in self._seen:
                self._seen.add(entry.entry_no)
                new.append(entry)
        return sorted(new, key=lambda e: e.entry_no)

    def _record(self, run: int, entry: JournalEntry, cause: _Cause) -> None:
        self._applied = max(self._applied, cause.event)
        self.entries.append(Recorded(entry, run, cause.event, self._applied, cause.via))
        done = cause.update.completed if cause.update else None
        if done is not None and isinstance(done.fact, UpdateCompleted) and isinstance(done.fact.result, Incident):
            self.witnesses.append(Witness(done.number, entry.entry_no, "update result", done.fact.result))

    def _record_result(self, steps: list[Step]) -> None:
        """The state a run that completed returned."""
        last = steps[-1] if steps else None
        if last is not None and isinstance(last.fact, WorkflowCompleted) and isinstance(last.fact.result, Incident):
            after = self.entries[-1].entry.entry_no if self.entries else 0
            self.witnesses.append(Witness(last.number, after, "workflow result", last.fact.result))

    def check_numbering(self) -> None:
        numbers = [r.entry.entry_no for r in self.entries]
        if numbers != list(range(1, len(numbers) + 1)):
            self.problems.append(
                f"journal entries are not numbered 1..{len(numbers)}: some are missing from the history"
            )


async def read_journal(history: IncidentHistory, converter: DataConverter) -> Journal:
    steps = await decode_steps(history.runs, converter)
    approvals = {a.workflow_id: await decode_workflow(a, converter) for a in history.approvals}
    by_run = [[s for s in steps if s.run == run] for run in range(len(history.runs))]
    starts = [_start_of(run_steps) for run_steps in by_run]
    reader = _JournalReader()
    for run, run_steps in enumerate(by_run):
        following = starts[run + 1] if run + 1 < len(starts) else None
        reader.read_run(run, run_steps, starts[run], following)
    reader.check_numbering()
    witnesses = sorted(reader.witnesses, key=lambda w: w.event)
    return Journal(history, steps, reader.entries, witnesses, starts, reader.policy, approvals, reader.problems)
