"""Repairing an incident whose history no longer replays (vigil.audit.repair): an admin resets it
to the workflow task where it diverges, and everyone who audits can read what the repair did."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from temporalio.client import Client

from vigil.api.deps import allow, check_incident_id, get_engine, get_temporal
from vigil.api.errors import conflict, responses
from vigil.api.routers.audit.reading import converter_of, incident_history
from vigil.audit import repair
from vigil.auth import Principal
from vigil.roles import AUDITORS, REPAIRERS
from vigil.workflows.state import Text

router = APIRouter(tags=["audit"])


class RepairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text
    dry_run: bool = False


@router.post(
    "/api/incidents/{incident_id}/repair",
    response_model=repair.RepairRecord,
    summary="Reset an incident whose history no longer replays",
    responses=responses(403, 404, 409, 422),
)
async def repair_incident(
    incident_id: str,
    request: Request,
    body: Annotated[RepairRequest, Body(examples=[{"reason": "diverged after the server restart"}])],
    user: Principal = Depends(allow(REPAIRERS, "repair incidents")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> repair.RepairRecord:
    """Resets the workflow to the task where its history diverges, reapplying signals and updates,
        and reports each action a person was answered for as it comes out now (`differences` counts
        those that changed). `409` when the history replays (nothing to repair) or cannot be mended
        by a reset; the detail says why. `dry_run` says what it would do and changes nothing. Recorded in
    `repairs` and in the history (the reset's reason names who and why)."""
    check_incident_id(incident_id)
    await incident_history(temporal, engine, incident_id, approvals=False)  # 404 for unknown ones
    converter = converter_of(request)
    try:
        if body.dry_run:
            return await repair.dry_run(temporal, converter, incident_id, user.name, body.reason)
        return await repair.repair(temporal, converter, engine, incident_id, user.name, body.reason)
    except (repair.NothingToRepair, repair.CannotRepair) as cannot:
        raise conflict(str(cannot)) from None


@router.get(
    "/api/incidents/{incident_id}/repairs",
    response_model=list[repair.RepairRecord],
    summary="The repairs an incident has had",
    responses=responses(403, 404),
)
async def repairs(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "read repairs")),
    engine: Engine = Depends(get_engine),
) -> list[repair.RepairRecord]:
    check_incident_id(incident_id)
    return await run_in_threadpool(repair.repairs_of, engine, incident_id)
