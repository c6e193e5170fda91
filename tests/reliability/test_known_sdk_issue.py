"""The known SDK issue (docs/reliability.md) that replay reports and the reliability checks
recognise (vigil.audit.known_issues), on the history that showed it: INC-2026-000024 of a
dev-server restart run (2026-11-25), kept in evidence/ with the run's throwaway test key.

What happened: the project activity (event 68) and the enforcement (71) completed while the
server was coming back; the workflow task that would process them only started at event 72. Yet
the driver, polling the state query, saw the enforcement's result (seq 7) and sent `resolve`
keyed by it. So a query had applied those completions ahead of their workflow task, and the
worker kept the commands they caused: that task completed with them first (74, 75) and the
update's acceptance after (76). A replay delivers the update and the completions in one
activation, update first, and no longer matches.
"""

from datetime import UTC, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from tests.histories import recorded
from tests.reliability.checks import clock_ran_behind
from vigil.audit.history import IncidentHistory, read_documents
from vigil.audit.known_issues import QUERY_AHEAD_OF_TASK, updates_accepted_after_other_commands
from vigil.audit.replay import replay
from vigil.temporal import data_converter
from vigil.temporal.codec import EncryptionCodec, KeyRing
from vigil.workflows.state import Incident

EVIDENCE = Path(__file__).parent / "evidence"


def evidence() -> tuple[IncidentHistory, object]:
    history = read_documents((EVIDENCE / "query-ahead-of-task.json").read_text())[0]
    converter = data_converter(EncryptionCodec(KeyRing.parse((EVIDENCE / "query-ahead-of-task.keys").read_text())))
    return history, converter


async def proposed_state(history: IncidentHistory, converter: object) -> Incident:
    """The state `propose_action` answered with (event 64): the last one a completed task made."""
    proposed = next(e for e in history.runs[0].events if e.event_id == 64)
    outcome = proposed.workflow_execution_update_completed_event_attributes.outcome
    [state] = await converter.decode(outcome.success.payloads, [Incident])  # type: ignore[attr-defined]
    return state


async def test_the_history_no_longer_replays_where_the_update_follows_other_commands() -> None:
    history, converter = evidence()
    [report] = await replay([history], converter)  # type: ignore[arg-type]
    assert report.result == "nondeterministic", report
    assert report.divergence is not None and report.divergence.event_id == 74
    assert "Update machine does not handle" in report.divergence.message
    assert report.divergence.known_cause == QUERY_AHEAD_OF_TASK
    assert updates_accepted_after_other_commands(history.runs[0]) == [76]


async def test_the_update_was_sent_from_a_state_no_workflow_task_had_made() -> None:
    history, converter = evidence()
    events = {e.event_id: e for e in history.runs[0].events}
    state = await proposed_state(history, converter)
    assert state.seq == 6  # the last state a completed workflow task had answered with
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    assert [i for i in range(65, 73) if events[i].event_type == completed] == []  # none until 72 started
    resolve = events[76].workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
    assert resolve == "bea/INC-2026-000024:7:resolve"  # keyed by the seq its sender saw (ApiDriver.carry)


def test_no_history_recorded_by_the_scenarios_bears_the_mark() -> None:
    runs = [
        run for path in recorded() for history in read_documents(path.read_text()) for run in history.all_workflows()
    ]
    assert len(runs) > 30
    assert [run.workflow_id for run in runs if updates_accepted_after_other_commands(run)] == []


async def test_a_state_whose_only_difference_is_an_earlier_task_clock_bears_the_stale_clock_mark() -> None:
    """The form with no replay error (seen 2026-11-25, INC-2026-000135: enforced_at 18:35:58.201286,
    the start of the task before, where its replay says 18:36:00.276661): times move, nothing else."""
    history, converter = evidence()
    run = history.runs[0]
    events = {e.event_id: e for e in run.events}
    state = await proposed_state(history, converter)
    earlier, later = (events[i].event_time.ToDatetime(tzinfo=UTC) for i in (60, 72))  # two task starts
    projected = state.model_copy(update={"updated_at": earlier})
    assert clock_ran_behind(run, projected, state.model_copy(update={"updated_at": later}))
    assert not clock_ran_behind(run, projected, state.model_copy(update={"updated_at": later + timedelta(seconds=1)}))
    assert not clock_ran_behind(run, state.model_copy(update={"updated_at": later}), projected)  # never ahead
    assert not clock_ran_behind(run, projected, state.model_copy(update={"updated_at": later, "seq": 99}))
    assert not clock_ran_behind(run, state, state)
