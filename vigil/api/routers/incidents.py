"""/api/incidents: intake, the list, one incident, and actions on it (its timeline: routers/audit/reconstruction.py).

Every read comes from the SQL projection, whose states are each the one a completed workflow
task made; Vigil never reads an incident with a workflow query (docs/reliability.md: a query
after a server restart can answer from events no task has processed, and an action sent on that
state no longer replays). Every action is a workflow update: the state machine answers at once
with the new state or a refusal, and a refused action never enters the incident's history.
An action's answer carries its `seq`; a read can ask for at least that `seq` (`min_seq`), so a
person never reads an older state than the one their own action answered with.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client

from vigil import need_to_know
from vigil.api.deps import (
    allow,
    check_incident_id,
    get_engine,
    get_session,
    get_temporal,
    projected_incident,
)
from vigil.api.errors import ApiError, conflict, forbidden, invalid, not_found, responses, unavailable
from vigil.api.listing import IncidentQuery, Order, SortKey, list_incidents
from vigil.api.routers.reviews import act_on_review
from vigil.api.schemas import IncidentPage, IncidentSummary, web_url
from vigil.auth import Principal, active_user
from vigil.db.intake import reserve_incident, was_reserved
from vigil.domain import TERMINAL_STATUSES, Category, Channel, Region, Role, Severity, Status
from vigil.roles import READERS, RESPONDERS, may_not
from vigil.temporal import incident_client
from vigil.temporal.incident_client import ActionRefused, IncidentNotFound
from vigil.workflows import lifecycle, review_rules
from vigil.workflows.actions import HumanAction, RefusalCode
from vigil.workflows.review_state import Review, ReviewAction
from vigil.workflows.state import Incident, IncidentId, Intake, Printable

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

# How long a person waits for Temporal before getting a 503 instead of a spinner.
ACTION_TIMEOUT = 30.0
# How long a read waits for the projection to reach the `min_seq` it was asked for. The projection
# trails an action by one activity (tens of milliseconds); past this, the read answers with what
# the projection holds, its `seq` in the X-Vigil-Seq header.
CATCH_UP_TIMEOUT = 5.0
_CATCH_UP_POLL = 0.02

_REFUSAL_STATUS = {RefusalCode.FORBIDDEN: 403, RefusalCode.CONFLICT: 409, RefusalCode.INVALID: 422}


# ---------------------------------------------------------------------------- helpers


async def read_incident(engine: Engine, incident_id: str, min_seq: int = 0, reader: Role | None = None) -> Incident:
    """The incident as the projection holds it, once it has reached `min_seq` (bounded wait),
    as `reader` may see it (vigil.need_to_know: the reporter only for those who see reporters;
    None, Vigil's own checks, never).

    An incident just taken in has no row until its triage is projected: its read waits too. An id
    never handed out is 404 at once.
    """
    deadline = asyncio.get_running_loop().time() + CATCH_UP_TIMEOUT
    while True:
        row = await run_in_threadpool(projected_incident, engine, incident_id)
        caught_up = row is not None and row.seq >= min_seq
        if caught_up or asyncio.get_running_loop().time() >= deadline:
            break
        if row is None and not await run_in_threadpool(was_reserved, engine, incident_id):
            break
        await asyncio.sleep(_CATCH_UP_POLL)  # the next projection write is one activity away
    if row is None:
        raise not_found(f"no incident {incident_id}")
    return need_to_know.read_stored(row.state, row.reporter_sealed, reader)


def _reject_nul(value: object, where: str = "body") -> None:
    """PostgreSQL cannot store NUL in text: refuse it here, not in a retrying activity later."""
    if isinstance(value, str) and "\x00" in value:
        raise invalid(f"{where}: contains a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{where}.{index}")


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------------------- intake


@router.post(
    "",
    status_code=201,
    response_model=Incident,
    summary="Take in an incident",
    responses={
        200: {"model": Incident, "description": "The same `external_ref` was taken in before: the existing incident"},
        **responses(403, 409, 413, 422),
    },
)
async def create_incident(
    intake: Intake,
    request: Request,
    response: Response,
    user: Principal = Depends(allow(RESPONDERS, "take in incidents")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> Incident:
    """Starts the incident's workflow, which triages it by policy; answers with the triaged
    incident. Send `external_ref` (the channel's own reference) to make retries safe: the same
    reference again returns `200` and the incident already opened for it; `409` (with its
    `incident_id`) if that incident's category, channel or region differ from this body's."""
    _reject_nul(intake.model_dump(mode="json"))
    for index, content in enumerate(intake.content):
        if not web_url(content.url):
            raise invalid(f"content.{index}.url: must be an http or https URL")
    reservation = await run_in_threadpool(reserve_incident, engine, intake.external_ref)
    incident_id = reservation.incident_id
    response.headers["Location"] = f"/api/incidents/{incident_id}"
    if not reservation.created:
        response.status_code = 200
        existing = await _existing_incident(engine, incident_id, user.role)
        if existing is not None:
            return _same_intake(existing, intake)
    try:
        # Idempotent on the id: for a duplicate this waits for the first intake's triage (or
        # finishes it, if the first request died between reserving the id and starting).
        opened = await asyncio.wait_for(
            incident_client.open_incident(
                temporal, incident_id, intake, task_queue=request.app.state.task_queue, opened_by=user.actor
            ),
            ACTION_TIMEOUT,
        )
        if not reservation.created:
            _same_intake(opened, intake)
        return need_to_know.for_reader(opened, user.role)
    except TimeoutError:
        raise unavailable(
            "temporal",
            f"{incident_id} is opened but no worker triaged it within {ACTION_TIMEOUT:.0f}s; "
            "it will be triaged when a worker is running",
            location=f"/api/incidents/{incident_id}",
        ) from None


_SAME_INTAKE_FIELDS = ("category", "channel", "region")


def _same_intake(existing: Incident, intake: Intake) -> Incident:
    """A repeated `external_ref` is a retry only if it says the same thing: one whose category,
    channel or region differ is another report (a child-safety report must not fold into a spam
    one), so 409 with the existing incident's id."""
    differs = [f for f in _SAME_INTAKE_FIELDS if getattr(existing.intake, f) != getattr(intake, f)]
    if differs:
        said = ", ".join(f"{f} {getattr(existing.intake, f).value}" for f in differs)
        raise ApiError(
            409,
            "conflict",
            f"external_ref {intake.external_ref!r} was taken in as {existing.id} with {said}: "
            "send a different external_ref for a different report",
            headers={"Location": f"/api/incidents/{existing.id}"},
            extra={"incident_id": existing.id},
        )
    return existing


async def _existing_incident(engine: Engine, incident_id: str, reader: Role) -> Incident | None:
    """The incident a duplicate intake refers to, if its triage has been projected.

    Never start a workflow for an incident that has ended (its history may be gone): an ended
    one is always in the projection, which its workflow drains before it ends.
    """
    try:
        return await read_incident(engine, incident_id, reader=reader)
    except ApiError as error:
        if error.status == 404:
            return None  # not started, or not triaged yet: opening it is safe and idempotent
        raise


# ---------------------------------------------------------------------------- list


@router.get("", response_model=IncidentPage, summary="List and search incidents", responses=responses(403, 422))
def list_(
    user: Principal = Depends(allow(READERS, "list incidents")),
    session: Session = Depends(get_session),
    status: Annotated[list[Status], Query(description="One or more (repeat the parameter)")] = [],  # noqa: B006
    severity: Annotated[list[Severity], Query()] = [],  # noqa: B006
    category: Annotated[list[Category], Query()] = [],  # noqa: B006
    channel: Annotated[list[Channel], Query()] = [],  # noqa: B006
    region: Annotated[list[Region], Query()] = [],  # noqa: B006
    assignee: Annotated[list[Annotated[str, Printable]], Query(max_length=64)] = [],  # noqa: B006
    id: Annotated[
        list[IncidentId], Query(max_length=100, description="Exactly these incidents (repeat, at most 100)")
    ] = [],  # noqa: B006
    text: Annotated[
        Annotated[str, Printable] | None,
        Query(
            max_length=200,
            description="Search: every word in the title, description, notes, external_ref, content URLs or "
            "accounts (each a whole word or its start), or text the title or external_ref contains",
        ),
    ] = None,
    opened_from: Annotated[datetime | None, Query(description="Opened at or after (ISO 8601)")] = None,
    opened_to: Annotated[datetime | None, Query(description="Opened before (ISO 8601)")] = None,
    sort: SortKey = "opened_at",
    order: Order = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> IncidentPage:
    """From the projection. `sort=severity&order=asc` is the work queue: SEV1 first, oldest
    first within a severity. Page with `next_cursor` until it is null."""
    query = IncidentQuery(
        status=status,
        severity=severity,
        category=category,
        channel=channel,
        region=region,
        assignee=assignee,
        ids=id,
        text=(text or "").strip() or None,
        opened_from=_utc(opened_from),
        opened_to=_utc(opened_to),
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    rows, next_cursor = list_incidents(session, query)
    # From each row's mapping rather than its attributes: a third less CPU for a page of 50.
    return IncidentPage(items=[IncidentSummary.model_validate(r._mapping) for r in rows], next_cursor=next_cursor)


# ---------------------------------------------------------------------------- one incident


@router.get("/{incident_id}", response_model=Incident, summary="One incident", responses=responses(403, 404, 422))
async def get_incident(
    incident_id: str,
    response: Response,
    user: Principal = Depends(allow(READERS, "read incidents")),
    engine: Engine = Depends(get_engine),
    min_seq: Annotated[
        int,
        Query(
            ge=0,
            le=2**31,
            description="Wait (a few seconds at most) until the incident has reached this `seq`, "
            "e.g. the one your last action answered with",
        ),
    ] = 0,
) -> Incident:
    """The incident as its last completed workflow task left it (the SQL projection). The
    `X-Vigil-Seq` header repeats its `seq`: lower than `min_seq` if the projection did not catch
    up in time."""
    check_incident_id(incident_id)
    state = await read_incident(engine, incident_id, min_seq, reader=user.role)
    response.headers["X-Vigil-Seq"] = str(state.seq)
    response.headers["X-Vigil-Source"] = "projection"
    return state


@router.post(
    "/{incident_id}/actions",
    response_model=Incident | Review,
    summary="Act on an incident (or its post-incident review)",
    responses=responses(403, 404, 409, 413, 422),
)
async def act(
    incident_id: str,
    action: Annotated[
        Annotated[HumanAction | ReviewAction, Field(discriminator="type")],
        Body(
            examples=[
                {"type": "acknowledge"},
                {"type": "escalate", "team": "legal", "reason": "removal order names three URLs"},
                {"type": "review_edit", "section": "summary", "text": "What happened, in a paragraph."},
            ]
        ),
    ],
    user: Principal = Depends(allow(RESPONDERS, "act on incidents")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            pattern=r"^[!-~]+$",
            description="Send the same key when retrying: the action is applied once, the answer repeated",
        ),
    ] = None,
) -> Incident | Review:
    """One action, `{"type": ..., ...}`. The actor is the token's user, never a body field.
    `200` with the new state; `403` the role may not; `409` the incident's state forbids it
    now (the detail says why); `422` malformed or meaningless here. Types `review_*` change the
    incident's post-incident review (also after the incident has closed) and answer with it."""
    check_incident_id(incident_id)
    request_id = f"{user.name}/{idempotency_key}" if idempotency_key else None
    if action.type.startswith("review_"):
        if not review_rules.permitted(user.role, action.type):
            raise forbidden(may_not(user.role, "change reviews"))
        _reject_nul(action.model_dump(mode="json"))
        return await act_on_review(temporal, engine, incident_id, action, user, request_id)  # type: ignore[arg-type]
    _reject_nul(action.model_dump(mode="json"))
    # A role that may not take this action is refused by the state machine, like any refusal, so
    # that the attempt is in the incident's journal and timeline for the auditor (who tried what).
    permitted = lifecycle.permitted(user.role, action.type)
    if permitted and action.type == "assign":
        await run_in_threadpool(_check_assignee, engine, action.assignee)
    if permitted and action.type == "merge_into":
        await _check_merge_target(engine, incident_id, action.incident_id)
    try:
        # The key is the update id, scoped to the caller so two people's keys never collide.
        acted = await asyncio.wait_for(
            incident_client.act(temporal, incident_id, action, user.actor, request_id=request_id),  # type: ignore[arg-type]
            ACTION_TIMEOUT,
        )
        return need_to_know.for_reader(acted, user.role)
    except IncidentNotFound:
        raise not_found(f"no incident {incident_id}") from None
    except ActionRefused as refused:
        if not permitted:  # an ended incident cannot journal it; the role's refusal still comes first
            raise forbidden(may_not(user.role, action.type.replace("_", " "))) from None
        reason = refused.reason
        if refused.code == RefusalCode.CONFLICT:
            ended = await run_in_threadpool(_ended_reason, engine, incident_id)
            reason = ended or reason
        raise ApiError(_REFUSAL_STATUS[refused.code], refused.code.value, reason) from None
    except TimeoutError:
        raise unavailable(
            "temporal",
            f"no worker answered within {ACTION_TIMEOUT:.0f}s; the action may still be applied: "
            f"read {incident_id}, or send it again with the same Idempotency-Key",
        ) from None


def _ended_reason(engine: Engine, incident_id: str) -> str | None:
    """For an incident whose workflow has ended, say how it ended (merged into what, closed when)."""
    row = projected_incident(engine, incident_id)
    if row is None or row.status not in TERMINAL_STATUSES:
        return None
    how = f"merged into {row.merged_into}" if row.status == Status.MERGED else "closed"
    return f"{incident_id} is {how}: it takes no more actions"


def _check_assignee(engine: Engine, name: str) -> None:
    with Session(engine) as session:
        assignee = active_user(session, name)
    if assignee is None:
        raise invalid(f"assignee: no user {name!r}")
    if assignee.role not in RESPONDERS:
        raise invalid(f"assignee: {name} is an {assignee.role}; only analysts and leads take incidents")


async def _check_merge_target(engine: Engine, incident_id: str, target_id: str) -> None:
    if target_id == incident_id:
        return  # the state machine explains this one
    try:
        target = await read_incident(engine, target_id)
    except ApiError as error:
        if error.status == 404:
            raise invalid(f"incident_id: no incident {target_id} to merge into") from None
        raise
    if target.status in TERMINAL_STATUSES:
        raise conflict(f"{target_id} is {target.status}: merge into an open incident")
