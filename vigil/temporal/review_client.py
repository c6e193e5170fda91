"""How the API talks to review workflows: changes go as updates (validated, answered at once).

Errors come back as incident_client's ActionRefused (403 / 409 / 422), ReviewNotFound when no
review workflow has that id, and TimeoutError when no worker answered (503)."""

import uuid

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from vigil.temporal import signer_of
from vigil.temporal.incident_client import ActionRefused, _no_answer_is_a_timeout, _refusal, _workflow_busy
from vigil.temporal.signing import signature_for
from vigil.workflows.actions import RefusalCode
from vigil.workflows.review import ReviewWorkflow
from vigil.workflows.review_state import Review, ReviewAction, ReviewActionRequest, review_id
from vigil.workflows.state import Actor


class ReviewNotFound(Exception):
    pass


async def act(
    client: Client, incident_id: str, action: ReviewAction, actor: Actor, request_id: str | None = None
) -> Review:
    """Apply a person's change to the incident's review; the review after it, or a refusal."""
    handle: WorkflowHandle[ReviewWorkflow, Review] = client.get_workflow_handle_for(
        ReviewWorkflow.run, review_id(incident_id)
    )
    update_id = request_id or str(uuid.uuid4())
    signature = signature_for(signer_of(client), review_id(incident_id), action, actor, nonce=update_id)
    request = ReviewActionRequest(action=action, actor=actor, signature=signature)

    @retry(
        retry=retry_if_exception(_workflow_busy),
        stop=stop_after_attempt(6),
        wait=wait_exponential(multiplier=0.05, max=1),
        reraise=True,
    )
    async def send(update_id: str) -> Review:
        # The stubs type `@workflow.update(name=...)` as returning the coroutine, not its result,
        # so the typed overload cannot match an async named update; the server answers a Review.
        return await handle.execute_update(ReviewWorkflow.act, request, id=update_id)  # type: ignore[arg-type]

    try:
        with _no_answer_is_a_timeout():
            return await send(update_id)
    except WorkflowUpdateFailedError as error:
        refusal = _refusal(error)
        if refusal:
            raise refusal from error
        raise
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            if await _ended(client, review_id(incident_id)):
                raise ActionRefused(RefusalCode.CONFLICT, f"the review of {incident_id} is finished") from error
            raise ReviewNotFound(incident_id) from error
        raise


async def _ended(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
