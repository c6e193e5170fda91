"""Reading an incident's history for a request: from Temporal, with the API's keys.

A history Temporal no longer keeps is 404 (saying how to read an exported copy instead), and
a payload no key in the ring opens is 503: the reader cannot answer until the key is back.
"""

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.converter import DataConverter

from vigil.api.deps import check_incident_id, projected_incident
from vigil.api.errors import ApiError, not_found
from vigil.audit import history as histories
from vigil.audit.decode import Undecodable
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.temporal import data_converter


def converter_of(request: Request) -> DataConverter:
    """The API's Temporal client's converter: the same keys the workers write with."""
    client: Client | None = request.app.state.temporal
    return client.data_converter if client is not None else data_converter()


async def incident_history(
    temporal: Client, engine: Engine, incident_id: str, approvals: bool = True
) -> histories.IncidentHistory:
    check_incident_id(incident_id)
    try:
        return await histories.fetch(temporal, incident_id, approvals=approvals)
    except histories.HistoryNotFound:
        if await run_in_threadpool(projected_incident, engine, incident_id) is not None:
            raise not_found(
                f"Temporal no longer keeps the history of {incident_id} (its retention period has passed); "
                "read an exported copy with `vigil audit verify FILE`"
            ) from None
        raise not_found(f"no incident {incident_id}") from None


async def reconstruction(request: Request, temporal: Client, engine: Engine, incident_id: str) -> Reconstruction:
    history = await incident_history(temporal, engine, incident_id)
    try:
        return Reconstruction(await read_journal(history, converter_of(request)))
    except Undecodable as error:
        raise ApiError(
            503,
            "key_unavailable",
            f"{incident_id}: {error}. Every key that ever encrypted payloads must stay in VIGIL_ENCRYPTION_KEYS",
        ) from None
