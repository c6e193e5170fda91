"""Tamper evidence: the hash chain stored when the incident closed, and today's history checked
against it (the verdict itself is vigil.audit.verdict's, shared with `vigil audit verify FILE`)."""

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from vigil.api.deps import allow, check_incident_id, get_engine, get_temporal, projected_incident
from vigil.api.errors import conflict, not_found, responses
from vigil.api.routers.audit.reading import incident_history
from vigil.audit.verdict import StoredSeal, Verification, verification
from vigil.auth import Principal
from vigil.db.tables import HistorySealRow
from vigil.domain import TERMINAL_STATUSES
from vigil.roles import AUDITORS
from vigil.temporal import HISTORY_DIGEST

router = APIRouter(tags=["audit"])


def _seal_row(engine: Engine, incident_id: str) -> HistorySealRow | None:
    with Session(engine) as session:
        return session.get(HistorySealRow, incident_id)


async def _search_attribute_digest(temporal: Client, incident_id: str) -> str | None:
    try:
        description = await temporal.get_workflow_handle(incident_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.typed_search_attributes.get(HISTORY_DIGEST)


async def _stored_seal(temporal: Client, engine: Engine, incident_id: str) -> StoredSeal:
    check_incident_id(incident_id)
    row = await run_in_threadpool(_seal_row, engine, incident_id)
    if row is None:
        projected = await run_in_threadpool(projected_incident, engine, incident_id)
        if projected is None:
            raise not_found(f"no incident {incident_id}")
        if projected.status not in TERMINAL_STATUSES:
            raise conflict(f"{incident_id} is {projected.status}: a history is sealed when the incident closes")
        raise conflict(f"{incident_id} is {projected.status} but its seal is not recorded yet; retry shortly")
    return StoredSeal(
        incident_id=incident_id,
        digest=row.digest,
        events=row.events,
        chain=row.chain,
        run_ids=row.run_ids,
        sealed_at=row.sealed_at,
        search_attribute=await _search_attribute_digest(temporal, incident_id),
    )


@router.get(
    "/api/incidents/{incident_id}/seal",
    response_model=StoredSeal,
    summary="The hash chain stored when the incident closed",
    responses=responses(403, 404, 409),
)
async def seal(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "read seals")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> StoredSeal:
    """What `vigil audit verify FILE` checks an exported copy against. `409` while the incident
    is open (histories are sealed at close)."""
    return await _stored_seal(temporal, engine, incident_id)


@router.get(
    "/api/incidents/{incident_id}/verify",
    response_model=Verification,
    summary="Is Temporal's history still the one sealed at close?",
    responses=responses(403, 404, 409),
)
async def verify_incident(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "verify histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> Verification:
    """Fetches every run, recomputes the hash chain and compares it link by link with the one
    stored at close; points at the first event that differs. Also compares the stored digest
    with the HistoryDigest search attribute, a second copy kept by Temporal."""
    stored = await _stored_seal(temporal, engine, incident_id)
    history = await incident_history(temporal, engine, incident_id, approvals=False)
    return verification(history, stored)
