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

from vigil.audit.decode import Step, decode_steps, decode_workflow
from vigil.audit.history import IncidentHistory
from vigil.policy import Policy
from vigil.workflows.messages import ActionRequest, IncidentStart, JournalEntry, ProjectionBatch, TriageResult
from vigil.workflows.state import Incident, clocks_in_timer_summary

E = EventType
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Recorded:
    entry: JournalEntry
    run: int  # 0-based run that applied it
    cause: int  # the event that made it happen
    applied: int  # the event after which the state includes it (see the module docstring)
    via: str  # update | signal | triage | timer | time | enforcement


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


class _RunReader:
    """Ties one run's entries to their causes."""

    def __init__(self, run: int, steps: list[Step], problems: list[str]):
        self.run = run
        self.steps = steps
        self.problems = problems
        self.tasks = _tasks(steps)
        self.signals = [
            s
            for s in steps
            if s.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED and s.info.get("signal") == "act_signal"
        ]
        completed = {
            s.info["update_id"]: s for s in steps if s.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
        }
        # Accepted `act` updates that succeeded: each applied exactly one entry.
        self.updates = [
            s
            for s in steps
            if s.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            and s.info.get("update") == "act"
            and s.info["update_id"] in completed
            and "failure" not in completed[s.info["update_id"]].info
        ]
        self.update_results = {s.info["update_id"]: completed[s.info["update_id"]] for s in self.updates}
        self.used: set[int] = set()
        self.task_index = 0

    def task_of(self, entry: JournalEntry) -> _Task | None:
        micros = _micros(entry.at)
        for index in range(self.task_index, len(self.tasks)):
            if abs(self.tasks[index].micros - micros) <= 1:  # the SDK's float seconds can round up by 1 µs
                self.task_index = index
                return self.tasks[index]
        self.problems.append(f"entry {entry.entry_no}: no workflow task started at {entry.at.isoformat()}")
        return None

    def _before(self, task: _Task | None) -> int:
        return task.started if task else self.steps[-1].number + 1

    def cause(self, entry: JournalEntry) -> tuple[int, str, Step | None]:
        task = self.task_of(entry)
        kind = entry.action.type if entry.action else None
        if kind == "open":
            triaged = [
                s
                for s in self.steps
                if s.type == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                and s.info.get("activity") == "triage"
                and s.number < self._before(task)
            ]
            if triaged:
                return triaged[-1].number, "triage", None
        elif kind == "enforcement_completed":
            for s in self.steps:
                if (
                    s.number not in self.used
                    and s.number < self._before(task)
                    and s.info.get("activity") == "enforce"
                    and s.type != E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                ):
                    request = s.info["scheduled"].value if s.info.get("scheduled") else None
                    if request is not None and request.proposal.id == entry.action.proposal_id:
                        self.used.add(s.number)
                        return s.number, "enforcement", None
        elif kind == "clock_fired":
            low = task.previous_started if task else 0
            fired = [
                s for s in self.steps if s.type == E.EVENT_TYPE_TIMER_FIRED and low < s.number < self._before(task)
            ]
            named = [s for s in fired if entry.action.clock_id in clocks_in_timer_summary(s.info.get("summary"))]
            if named or fired:
                return (named or fired)[-1].number, "timer", None
            return self._trigger(task), "time", None
        else:  # a person's action (or a malformed signal): an update of this task, else the next signal
            if task is not None and not entry.refused:
                # The task's accepted updates are recorded right after it completes.
                following = self._next_start(task)
                for s in self.updates:
                    if (
                        s.number not in self.used
                        and task.completed < s.number < following
                        and s.value is not None
                        and _same_request(s.value, entry)
                    ):
                        self.used.add(s.number)
                        return s.number, "update", self.update_results[s.info["update_id"]]
            limit = task.completed if task else self._before(None)
            for s in self.signals:
                if s.number not in self.used and s.number < limit:
                    self.used.add(s.number)
                    if not _signal_matches(s.value, entry):
                        self.problems.append(
                            f"entry {entry.entry_no}: the signal at event {s.number} carries another action"
                        )
                    return s.number, "signal", None
        self.problems.append(f"entry {entry.entry_no} ({kind or 'malformed'}): no event found that caused it")
        return self._trigger(task), "unknown", None

    def _next_start(self, task: _Task) -> int:
        later = [t.started for t in self.tasks if t.started > task.started]
        return later[0] if later else self.steps[-1].number + 1

    def _trigger(self, task: _Task | None) -> int:
        """The last event delivered to the task (what woke the workflow), else the task's start."""
        if task is None:
            return self.steps[-1].number
        delivered = [
            s
            for s in self.steps
            if task.previous_started < s.number < task.started
            and s.type
            not in (
                E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
                E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            )
        ]
        return delivered[-1].number if delivered else task.started


async def read_journal(history: IncidentHistory, converter: DataConverter) -> Journal:
    steps = await decode_steps(history.runs, converter)
    approvals = {a.workflow_id: await decode_workflow(a, converter) for a in history.approvals}
    problems: list[str] = []
    entries: list[Recorded] = []
    witnesses: list[Witness] = []
    starts: list[IncidentStart | None] = []
    policy: Policy | None = None
    applied = 0
    by_run = [[s for s in steps if s.run == run] for run in range(len(history.runs))]
    run_starts = [
        run_steps[0].value if run_steps and isinstance(run_steps[0].value, IncidentStart) else None
        for run_steps in by_run
    ]
    seen: set[int] = set()  # an entry carried to the next run is written there again: count it once

    for run, run_steps in enumerate(by_run):
        start = run_starts[run]
        starts.append(start)
        if start is not None and start.carried is not None:
            policy = policy or start.carried.policy
            witnesses.append(
                Witness(run_steps[0].number, start.carried.entries, "carried into a new run", start.carried.state)
            )
        batches = [
            (s, s.value)
            for s in run_steps
            if isinstance(s.value, ProjectionBatch) and s.type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        for s in run_steps:
            if isinstance(s.value, TriageResult):
                policy = policy or s.value.policy
        reader = _RunReader(run, run_steps, problems)
        # Entries this run applied but never wrote travel in the next run's start input.
        following = run_starts[run + 1] if run + 1 < len(run_starts) else None
        carried_on = following.carried.unprojected if following and following.carried else []
        written = [e for _, batch in batches for e in batch.entries]
        run_entries = sorted(
            (e for e in written + carried_on if not (e.entry_no in seen or seen.add(e.entry_no))),
            key=lambda e: e.entry_no,
        )
        for entry in run_entries:
            cause, via, result = reader.cause(entry)
            applied = max(applied, cause)
            entries.append(Recorded(entry, run, cause, applied, via))
            if result is not None and isinstance(result.value, Incident):
                witnesses.append(Witness(result.number, entry.entry_no, "update result", result.value))
        for step, batch in batches:
            if batch.entries:
                witnesses.append(Witness(step.number, batch.entries[-1].entry_no, "projection batch", batch.state))
        last = run_steps[-1] if run_steps else None
        completed = last is not None and last.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
        if completed and isinstance(last.value, Incident):
            witnesses.append(
                Witness(last.number, entries[-1].entry.entry_no if entries else 0, "workflow result", last.value)
            )

    numbers = [r.entry.entry_no for r in entries]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"journal entries are not numbered 1..{len(numbers)}: some are missing from the history")
    witnesses.sort(key=lambda w: w.event)
    return Journal(history, steps, entries, witnesses, starts, policy, approvals, problems)
