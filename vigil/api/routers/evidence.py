"""/api/incidents/{id}/evidence and /api/evidence/{eid}: the evidence vault (vigil.evidence).

Uploads are multipart (`file`, optional `description` and `graphic`); the type is sniffed from the
bytes, the file sealed with the payload keys, hashed (SHA-256, and PDQ for images) and preserved as
the policy says. Fetching the bytes records a custody event and an exposure. An item under
preservation or a legal hold cannot be deleted (409, saying until when); its purge timer
(EvidencePurgeWorkflow) purges it when the preservation ends.
"""

import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from vigil.api.deps import allow, check_incident_id, get_engine, get_temporal, projected_incident
from vigil.api.errors import ApiError, conflict, invalid, not_found, responses, unavailable
from vigil.api.schemas import UtcDatetime
from vigil.auth import Principal
from vigil.db.tables import CustodyRow, EvidenceRow
from vigil.evidence import exposure as exposures
from vigil.evidence.media import MediaRefused
from vigil.evidence.store import BlobMissing, StoreUnavailable
from vigil.evidence.vault import Preserved, Vault, Who
from vigil.policy import load_policy
from vigil.roles import (
    CUSTODY_READERS,
    EVIDENCE_CONTENT_READERS,
    EVIDENCE_DELETERS,
    EVIDENCE_HOLDERS,
    EVIDENCE_METADATA_READERS,
    EVIDENCE_UPLOADERS,
)
from vigil.workflows.evidence_purge import EvidencePurgeWorkflow, purge_workflow_id

log = logging.getLogger(__name__)
T = TypeVar("T")

router = APIRouter(tags=["evidence"])

MAX_DESCRIPTION = 2000


class EvidenceItem(BaseModel):
    id: str = Field(examples=["EV-3f9a0c1b2d4e5f607182"])
    incident_id: str
    sha256: str
    perceptual_hash: str | None = Field(description="PDQ (images): 64 hex digits")
    media_type: str
    size: int
    description: str | None
    category: str
    graphic: bool
    sensitive: bool = Field(description="shown blurred, greyscale and muted until a person chooses to see it")
    uploaded_by: str
    uploaded_at: UtcDatetime
    preserved_until: UtcDatetime | None
    legal_hold: bool
    legal_hold_by: str | None
    also_in: list[str] = Field(description="other incidents holding the same file or picture")
    content_url: str
    thumbnail_url: str | None


class EvidenceList(BaseModel):
    items: list[EvidenceItem]


class CustodyEvent(BaseModel):
    event: str = Field(examples=["upload", "view", "download", "hold_set", "hold_cleared", "delete", "purge"])
    actor: str
    actor_role: str
    at: UtcDatetime
    detail: str | None


class CustodyList(BaseModel):
    evidence_id: str
    items: list[CustodyEvent]


class HoldRequest(BaseModel):
    hold: bool
    reason: str | None = Field(None, max_length=MAX_DESCRIPTION)


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def item_out(row: EvidenceRow, also_in: list[str]) -> EvidenceItem:
    policy = load_policy()
    return EvidenceItem(
        id=row.id,
        incident_id=row.incident_id,
        sha256=row.sha256,
        perceptual_hash=row.perceptual_hash,
        media_type=row.media_type,
        size=row.size,
        description=row.description,
        category=row.category,
        graphic=row.graphic,
        sensitive=policy.wellbeing.sensitive(row.category, row.graphic),
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        preserved_until=row.preserved_until,
        legal_hold=row.legal_hold,
        legal_hold_by=row.legal_hold_by,
        also_in=also_in,
        content_url=f"/api/evidence/{row.id}/content",
        thumbnail_url=f"/api/evidence/{row.id}/thumbnail" if row.thumbnail_key else None,
    )


# Threads the store's calls may hold at once. They have their own, apart from the pool every
# database call shares: a bucket that answers slowly (up to ~100 s, boto3's retries) then holds
# these, not the threads the queue and every other page need.
_STORE_THREADS = anyio.CapacityLimiter(8)


async def _stored(call: Callable[..., T], *arguments: Any) -> T:
    """A vault call that reaches the store: when the store cannot answer, 503 and nothing changed
    (the vault touches the store before it records anything)."""
    try:
        return await anyio.to_thread.run_sync(call, *arguments, limiter=_STORE_THREADS)
    except StoreUnavailable as down:
        log.warning("evidence store unavailable: %s", down)
        raise unavailable(
            "evidence_store", "the evidence store is unreachable; nothing was changed, retry shortly"
        ) from None


async def live_item(vault: Vault, evidence_id: str) -> EvidenceRow:
    row = await run_in_threadpool(vault.item, evidence_id[:64])
    if row is None:
        raise not_found(f"no evidence {evidence_id[:64]}")
    if row.deleted_at is not None:
        how = "purged" if row.deleted_by == "vigil" else f"deleted by {row.deleted_by}"
        raise not_found(f"evidence {row.id} was {how} on {row.deleted_at:%Y-%m-%d}")
    return row


def _who(user: Principal) -> Who:
    return Who(user.name, user.role.value)


@router.post(
    "/api/incidents/{incident_id}/evidence",
    status_code=201,
    response_model=EvidenceItem,
    summary="Add an evidence file to an incident",
    responses=responses(403, 404, 413),
)
async def upload_evidence(
    incident_id: str,
    request: Request,
    file: Annotated[UploadFile, File(description="the evidence file; its type is read from its bytes")],
    description: Annotated[str | None, Form(max_length=MAX_DESCRIPTION)] = None,
    graphic: Annotated[bool, Form()] = False,
    user: Principal = Depends(allow(EVIDENCE_UPLOADERS, "add evidence")),
    engine: Engine = Depends(get_engine),
    temporal: Client = Depends(get_temporal),
    vault: Vault = Depends(get_vault),
) -> EvidenceItem:
    """Store a file, sealed; SHA-256 and PDQ at capture; preserved as the policy says."""
    check_incident_id(incident_id)
    incident = await run_in_threadpool(projected_incident, engine, incident_id)
    if incident is None:
        raise not_found(f"no incident {incident_id}")
    data = await file.read(vault.max_bytes + 1)
    if not data:
        raise invalid("file: the file is empty")
    if len(data) > vault.max_bytes:
        raise ApiError(413, "payload_too_large", f"file: larger than the limit of {vault.max_bytes} bytes")
    if description is not None and "\x00" in description:
        raise invalid("description: contains a NUL character")
    try:
        row = await _stored(vault.add, incident, data, _who(user), load_policy(), description or None, graphic)
    except MediaRefused as refused:
        raise invalid(f"file: {refused}") from None
    if row.preserved_until is not None:
        await temporal.start_workflow(
            EvidencePurgeWorkflow.run, row.id, id=purge_workflow_id(row.id), task_queue=request.app.state.task_queue
        )
    also = await run_in_threadpool(vault.also_in, [row])
    return item_out(row, also.get(row.id, []))


@router.get(
    "/api/incidents/{incident_id}/evidence",
    response_model=EvidenceList,
    summary="An incident's evidence",
    responses=responses(403, 404),
)
async def list_evidence(
    incident_id: str,
    user: Principal = Depends(allow(EVIDENCE_METADATA_READERS, "read evidence")),
    engine: Engine = Depends(get_engine),
    vault: Vault = Depends(get_vault),
) -> EvidenceList:
    """Every item still kept, oldest first, with the other incidents holding the same picture."""
    check_incident_id(incident_id)
    if await run_in_threadpool(projected_incident, engine, incident_id) is None:
        raise not_found(f"no incident {incident_id}")
    rows = await run_in_threadpool(vault.items, incident_id)
    also = await run_in_threadpool(vault.also_in, rows)
    return EvidenceList(items=[item_out(row, also.get(row.id, [])) for row in rows])


@router.get(
    "/api/evidence/{evidence_id}", response_model=EvidenceItem, summary="One item", responses=responses(403, 404)
)
async def get_evidence(
    evidence_id: str,
    user: Principal = Depends(allow(EVIDENCE_METADATA_READERS, "read evidence")),
    vault: Vault = Depends(get_vault),
) -> EvidenceItem:
    """The item's metadata (not its bytes)."""
    row = await live_item(vault, evidence_id)
    also = await run_in_threadpool(vault.also_in, [row])
    return item_out(row, also.get(row.id, []))


@router.get(
    "/api/evidence/{evidence_id}/content",
    summary="The item's bytes (recorded: custody and exposure)",
    responses={200: {"content": {"application/octet-stream": {}}}, **responses(403, 404)},
)
async def get_content(
    evidence_id: str,
    download: Annotated[bool, Query(description="as an attachment (custody: download)")] = False,
    exposure: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="the caller's reveal (POST /api/exposure) this fetch follows")
    ] = None,
    user: Principal = Depends(allow(EVIDENCE_CONTENT_READERS, "open evidence")),
    vault: Vault = Depends(get_vault),
) -> Response:
    """The file as uploaded; each fetch is a custody event and an exposure of the caller (one
    exposure with the reveal it follows, when `exposure` names the caller's own reveal of it)."""
    row = await live_item(vault, evidence_id)
    sensitive = load_policy().wellbeing.sensitive(row.category, row.graphic)
    counted = exposure is not None and await run_in_threadpool(
        exposures.recent_reveal, vault.engine, exposure, user.name, row.id
    )
    try:
        data = await _stored(vault.content, row, _who(user), sensitive, download, counted)
    except BlobMissing:  # deleted or purged between the look-up and the read
        raise not_found(f"evidence {row.id} was deleted") from None
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{row.id}"',
    }
    return Response(data, media_type=row.media_type, headers=headers)


@router.get(
    "/api/evidence/{evidence_id}/thumbnail",
    summary="A small JPEG made by Vigil (images)",
    responses={200: {"content": {"image/jpeg": {}}}, **responses(403, 404)},
)
async def get_thumbnail(
    evidence_id: str,
    user: Principal = Depends(allow(EVIDENCE_CONTENT_READERS, "open evidence")),
    vault: Vault = Depends(get_vault),
) -> Response:
    """Made at upload from the bytes (never by fetching a URL); the console shows it veiled."""
    row = await live_item(vault, evidence_id)
    data = await _stored(vault.thumbnail, row)
    if data is None:
        raise not_found(f"evidence {row.id} has no thumbnail ({row.media_type})")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/api/evidence/{evidence_id}/custody",
    response_model=CustodyList,
    summary="The chain of custody",
    responses=responses(403, 404),
)
async def get_custody(
    evidence_id: str,
    user: Principal = Depends(allow(CUSTODY_READERS, "read the chain of custody")),
    vault: Vault = Depends(get_vault),
) -> CustodyList:
    """Every upload, view, download, hold, deletion and purge, with who and when (deleted items too)."""
    row = await run_in_threadpool(vault.item, evidence_id[:64])
    if row is None:
        raise not_found(f"no evidence {evidence_id[:64]}")
    events: list[CustodyRow] = await run_in_threadpool(vault.custody, row.id)
    return CustodyList(
        evidence_id=row.id,
        items=[
            CustodyEvent(event=e.event, actor=e.actor, actor_role=e.actor_role, at=e.at, detail=e.detail)
            for e in events
        ],
    )


@router.post(
    "/api/evidence/{evidence_id}/hold",
    response_model=EvidenceItem,
    summary="Place or lift a legal hold",
    responses=responses(403, 404),
)
async def set_hold(
    evidence_id: str,
    body: HoldRequest,
    user: Principal = Depends(allow(EVIDENCE_HOLDERS, "place or lift legal holds")),
    temporal: Client = Depends(get_temporal),
    vault: Vault = Depends(get_vault),
) -> EvidenceItem:
    """`{"hold": true, "reason": "..."}` keeps the item past its preservation; `{"hold": false}` lifts it."""
    row = await live_item(vault, evidence_id)
    if body.hold and not (body.reason or "").strip():
        raise invalid("reason: say why the item is held (a case, a request from counsel)")
    row = await run_in_threadpool(vault.set_hold, row.id, _who(user), body.hold, body.reason)
    if not body.hold and row.preserved_until is not None:
        try:
            await temporal.get_workflow_handle(purge_workflow_id(row.id)).signal(EvidencePurgeWorkflow.reconsider)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
    also = await run_in_threadpool(vault.also_in, [row])
    return item_out(row, also.get(row.id, []))


@router.delete(
    "/api/evidence/{evidence_id}",
    status_code=204,
    summary="Delete an item nobody must keep",
    responses=responses(403, 404, 409),
)
async def delete_evidence(
    evidence_id: str,
    user: Principal = Depends(allow(EVIDENCE_DELETERS, "delete evidence")),
    vault: Vault = Depends(get_vault),
) -> Response:
    """409 while the item is preserved (the detail says until when) or under a legal hold."""
    row = await live_item(vault, evidence_id)
    try:
        await _stored(vault.delete, row.id, _who(user))
    except Preserved as kept:
        raise conflict(f"cannot delete: {kept}") from None
    return Response(status_code=204)
