"""GET /api/incidents/{id}/history: exactly what Temporal stores, for auditors to keep and check."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine
from temporalio.client import Client

from vigil.api.deps import allow, get_engine, get_temporal
from vigil.api.errors import responses
from vigil.api.routers.audit.reading import incident_history
from vigil.auth import Principal
from vigil.roles import AUDITORS

router = APIRouter(tags=["audit"])


@router.get(
    "/api/incidents/{incident_id}/history",
    summary="The incident's Temporal history (all runs), as JSON",
    responses={
        200: {
            "description": "A `vigil-history-v1` document: each run as Temporal's own history JSON, "
            "payloads still encrypted; and the approval requests' histories"
        },
        **responses(403, 404),
    },
)
async def history(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "read raw histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
    approvals: Annotated[bool, Query(description="Include the approval requests' histories")] = True,
) -> dict[str, Any]:
    """Exactly what Temporal stores, payloads encrypted: check it with `vigil audit verify FILE`,
    replay it, or open it in any Temporal tool (`temporal workflow show --codec-endpoint` decodes)."""
    return (await incident_history(temporal, engine, incident_id, approvals)).to_document()
