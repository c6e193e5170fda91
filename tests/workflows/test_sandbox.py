"""Vigil's sandbox runner (vigil/workflows/sandbox.py) compiles the SDK's exec strings once; what
it must keep is the sandbox itself: a workflow that reads the machine's clock is refused. That
it runs Vigil's workflows as before, every workflow test and the recorded histories' replay
(tests/audit/test_histories_gate.py) show."""

import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError
from temporalio.worker.workflow_sandbox._runner import _Instance

from tests.workflows.clock_reader import ReadsTheClock
from vigil.workflows.sandbox import WORKFLOW_RUNNER


def test_the_sdk_method_vigil_overrides_is_still_there() -> None:
    """A guard for upgrades of temporalio: the runner overrides a private method of the SDK."""
    assert callable(getattr(_Instance, "_run_code", None))


async def test_a_workflow_reading_the_clock_is_still_refused(ts_env) -> None:
    task_queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[ReadsTheClock],
        workflow_runner=WORKFLOW_RUNNER,
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],  # fail the run, not retry the task
    ):
        with pytest.raises(WorkflowFailureError) as failed:
            await ts_env.client.execute_workflow(ReadsTheClock.run, id=task_queue, task_queue=task_queue)
    assert "datetime.datetime.now" in str(failed.value.cause)
