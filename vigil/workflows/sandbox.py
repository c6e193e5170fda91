"""The sandbox IncidentWorkflow and ApprovalWorkflow run in, for the worker and the Replayer alike.

The sandbox re-executes every module a workflow imports, for every new run, unless it is passed
through; `imports_passed_through` alone still re-ran the state machine module for each incident
(py-spy: about 5% of the worker's CPU in bench (a)). The modules named here are pure (no I/O, no
clock; the one thing mutable at module level is the table of shared policies, which only maps a
policy to an equal one), so one copy serves every run. The workflow modules themselves stay
sandboxed, so a stray `datetime.now()` there is still caught.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PURE_MODULES = (
    "vigil.domain",
    "vigil.policy",
    "vigil.workflows.state",
    "vigil.workflows.actions",
    "vigil.workflows.messages",
    "vigil.workflows.lifecycle",
)

WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PURE_MODULES)
)
