"""The sandbox IncidentWorkflow, ApprovalWorkflow and ReviewWorkflow run in, for the worker and the Replayer alike.

The sandbox re-executes every module a workflow imports, for every new run, unless it is passed
through; `imports_passed_through` alone still re-ran the state machine module for each incident
(py-spy: about 5% of the worker's CPU in bench (a)). The modules named here are pure (no I/O, no
clock; the one thing mutable at module level is the table of shared policies, which only maps a
policy to an equal one), so one copy serves every run. The workflow modules themselves stay
sandboxed, so a stray `datetime.now()` there is still caught.
"""

import functools
from dataclasses import dataclass
from types import CodeType
from typing import Any

from temporalio.worker._workflow_instance import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

PURE_MODULES = (
    "vigil.domain",
    "vigil.roles",
    "vigil.policy",
    "vigil.workflows.state",
    "vigil.workflows.actions",
    "vigil.workflows.messages",
    "vigil.workflows.lifecycle",
    "vigil.workflows.review_state",
    "vigil.workflows.review_rules",
    # Holds the keys signatures are checked against: one table for the worker and its workflows.
    "vigil.temporal.signing",
)


@functools.lru_cache(maxsize=64)
def _compiled(code: str) -> CodeType:
    return compile(code, "<string>", "exec")  # what exec() does with a string, each time


class _CompiledOnce(_Instance):
    """The SDK's sandboxed workflow instance, with the few code strings it hands to exec()
    compiled once instead of on every call: it calls exec for every activation and for every
    payload's serialization context (py-spy, bench (a): 7% of the worker's samples there)."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]  # exec takes either


@dataclass(frozen=True)
class _Runner(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnce(det, self.runner_class, self.restrictions)


WORKFLOW_RUNNER = _Runner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PURE_MODULES))


def write_bytecode() -> None:
    """Compile the workflow package's bytecode, if it is missing or stale.

    The sandbox imports the workflow modules afresh for every workflow it runs; with no .pyc
    beside them (PYTHONDONTWRITEBYTECODE, an editable install) each import compiles the source
    again: about 8 ms of CPU per incident the worker starts or replays. A package that cannot be
    written to (a read-only install) keeps working, only slower.
    """
    import compileall
    from pathlib import Path

    try:
        compileall.compile_dir(Path(__file__).parent, quiet=2, maxlevels=0)
    except OSError:
        pass
