"""How the API and the CLI talk to incident workflows: open, act, read. Errors come back as
the exceptions below, which the API maps to 404 / 409 / 403 / 422, and TimeoutError when no
worker answered, which it maps to 503."""

import contextlib
import uuid
from collections.abc import Iterator

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from vigil.config import settings
from vigil.temporal import signer_of
from vigil.temporal.signing import sign_request
from vigil.workflows.actions import HumanAction, RefusalCode
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.messages import ActionRequest, IncidentStart
from vigil.workflows.state import Actor, Incident, Intake


class IncidentNotFound(Exception):
    pass


class ActionRefused(Exception):
    """The state machine said no; `code` is a RefusalCode (forbidden / conflict / invalid)."""

    def __init__(self, code: RefusalCode, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@contextlib.contextmanager
def _no_answer_is_a_timeout() -> Iterator[None]:
    """When no worker answers an update, the SDK ends the call with its own error (the server's
    deadline passed, or the caller's timeout cancelled it); to every caller both mean one thing:
    nobody answered in time."""
    try:
        yield
    except WorkflowUpdateRPCTimeoutOrCancelledError as error:
        raise TimeoutError(str(error)) from error


def _refusal(error: BaseException) -> ActionRefused | None:
    cause = error.cause if isinstance(error, WorkflowUpdateFailedError) else None
    if not isinstance(cause, ApplicationError) or cause.type is None:
        return None
    if cause.type in RefusalCode.__members__.values():
        return ActionRefused(RefusalCode(cause.type), cause.message)
    return None


def incident_handle(client: Client, incident_id: str) -> WorkflowHandle[IncidentWorkflow, Incident]:
    """The incident's workflow handle, typed once: in a function mypy checks on a deferred pass (one
    calling a decorated function defined below it, like act), it infers get_workflow_handle_for's
    type variables as Never."""
    return client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)


async def open_incident(
    client: Client, incident_id: str, intake: Intake, task_queue: str | None = None, opened_by: Actor | None = None
) -> Incident:
    """Start the incident's workflow (or find it running) and return its state once triaged.

    Idempotent on the id: a second call returns the same incident.
    """
    start = WithStartWorkflowOperation(
        IncidentWorkflow.run,
        IncidentStart(incident_id=incident_id, intake=intake, opened_by=opened_by),
        id=incident_id,
        task_queue=task_queue or settings().task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A closed incident is never started again under its id.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    with _no_answer_is_a_timeout():
        return await client.execute_update_with_start_workflow(IncidentWorkflow.triaged, start_workflow_operation=start)


async def act(
    client: Client, incident_id: str, action: HumanAction, actor: Actor, request_id: str | None = None
) -> Incident:
    """Apply a person's action; returns the new state or raises ActionRefused / IncidentNotFound.

    `request_id` (the API's Idempotency-Key) becomes the update id: Temporal applies an update
    id once per run, so a client retrying after a timeout gets the first answer, not a second action.
    Without one, a fresh id is made here and kept across this call's own retries.
    """
    handle = incident_handle(client, incident_id)
    update_id = request_id or str(uuid.uuid4())
    request = sign_request(signer_of(client), incident_id, action, actor, nonce=update_id)
    try:
        with _no_answer_is_a_timeout():
            return await _update_retrying_while_busy(handle, request, update_id)
    except WorkflowUpdateFailedError as error:
        refusal = _refusal(error)
        if refusal:
            raise refusal from error
        raise
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            ended = await _how_it_ended(client, incident_id)
            if ended is not None:
                raise ActionRefused(RefusalCode.CONFLICT, ended) from error
            raise IncidentNotFound(incident_id) from error
        raise


def _workflow_busy(error: BaseException) -> bool:
    """The server turned the update away before accepting it because the workflow was, at that
    instant, continuing as new or completing a task: nothing was applied, so ask again."""
    return isinstance(error, RPCError) and error.status == RPCStatusCode.FAILED_PRECONDITION


@retry(
    retry=retry_if_exception(_workflow_busy),
    stop=stop_after_attempt(6),
    wait=wait_exponential(multiplier=0.05, max=1),
    reraise=True,
)
async def _update_retrying_while_busy(
    handle: WorkflowHandle[IncidentWorkflow, Incident], request: ActionRequest, update_id: str
) -> Incident:
    # By name: the handler takes the raw payload, to refuse (and journal) what it cannot verify.
    return await handle.execute_update("act", request, id=update_id, result_type=Incident)


async def send_action(client: Client, incident_id: str, action: HumanAction, actor: Actor) -> None:
    """Fire and forget: the workflow records a refused signal as refused, never applies it."""
    handle = incident_handle(client, incident_id)
    request = sign_request(signer_of(client), incident_id, action, actor)
    await handle.signal("act_signal", request.model_dump(mode="json"))


# How an incident's workflow can end other than by closing, in words for the person acting.
_ENDED_BY_TEMPORAL = {
    WorkflowExecutionStatus.TERMINATED: "was terminated in Temporal (by an operator, or a reset)",
    WorkflowExecutionStatus.FAILED: "failed in Temporal",
    WorkflowExecutionStatus.TIMED_OUT: "timed out in Temporal",
    WorkflowExecutionStatus.CANCELED: "was cancelled in Temporal",
}


async def _how_it_ended(client: Client, incident_id: str) -> str | None:
    """Why an incident whose workflow no longer runs takes no actions; None if it never ran."""
    handle = incident_handle(client, incident_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    ended = _ENDED_BY_TEMPORAL.get(description.status) if description.status else None
    if ended is not None:
        return (
            f"{incident_id} {ended}: it takes no more actions. An auditor can read its history; "
            "`vigil audit repair` can bring it back"
        )
    final = await handle.result()
    how = f"merged into {final.merged_into}" if final.merged_into else final.status.value
    return f"{final.id} is {how}: it takes no more actions"
