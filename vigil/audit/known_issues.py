"""Divergences with a known cause outside Vigil's code, recognised by the mark they leave in history.

So far one: the Temporal SDK issue after a server restart, a query applied ahead of its workflow
task (docs/reliability.md, "The known SDK issue"). This module recognises its mark 2, an update
accepted after that task's other commands, which no longer replays.
"""

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

QUERY_AHEAD_OF_TASK = (
    "the history bears the mark of a known Temporal SDK issue rather than of a code change: a state query "
    "applied events ahead of their workflow task, and an update accepted after that task's other commands "
    "no longer replays (docs/reliability.md)"
)

_COMMAND_EVENTS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_TIMER_CANCELED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_MARKER_RECORDED,
}


def updates_accepted_after_other_commands(run: WorkflowHistory) -> list[int]:
    """Event ids of updates accepted, within one workflow task's completion, after a command that
    no update handler issued. Vigil's update handlers are synchronous, so a task's updates come
    first, each as accepted / its own commands / completed, unless the issue split the task."""
    found: list[int] = []
    in_task = other_command = False
    open_updates = 0
    for event in run.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            in_task, other_command, open_updates = True, False, 0
        elif not in_task:
            continue
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            if other_command:
                found.append(event.event_id)
            open_updates += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            open_updates = max(0, open_updates - 1)
        elif kind in _COMMAND_EVENTS:
            other_command = other_command or open_updates == 0
        else:  # an event that no command of this task wrote: the task's commands have ended
            in_task = False
    return found


def known_cause(run: WorkflowHistory, diverging_event_id: int | None) -> str | None:
    """The known cause of a replay failing at this event of this run, if its history bears the mark
    at the same workflow task (the mark is at most a few events after where the replay stops)."""
    if diverging_event_id is None:
        return None
    task_start = _task_completed_before(run, diverging_event_id)
    marks = updates_accepted_after_other_commands(run)
    return QUERY_AHEAD_OF_TASK if any(_task_completed_before(run, m) == task_start for m in marks) else None


def _task_completed_before(run: WorkflowHistory, event_id: int) -> int | None:
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    return max((e.event_id for e in run.events if e.event_type == completed and e.event_id < event_id), default=None)
