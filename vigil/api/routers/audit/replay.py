"""POST /api/audit/replay: incidents' histories replayed against today's workflow code, chosen
by id, by a filter over the projection, or by when they closed."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.client import Client

from vigil.api.deps import allow, get_engine, get_temporal
from vigil.api.errors import responses
from vigil.api.routers.audit.reading import converter_of
from vigil.api.routers.audit.schemas import ReplayFilter, ReplayReportOut, ReplayRequest, ReplayResult
from vigil.audit import history as histories
from vigil.audit.replay import replay_many
from vigil.auth import Principal
from vigil.db.tables import IncidentRow
from vigil.domain import TERMINAL_STATUSES
from vigil.roles import AUDITORS

router = APIRouter(tags=["audit"])

_RESULTS = ("ok", "nondeterministic", "failed", "missing")


def _filtered(statement: Select[tuple[str]], f: ReplayFilter) -> Select[tuple[str]]:
    for column, values in (
        (IncidentRow.status, f.status),
        (IncidentRow.severity, f.severity),
        (IncidentRow.category, f.category),
        (IncidentRow.channel, f.channel),
        (IncidentRow.region, f.region),
    ):
        if values:
            statement = statement.where(col(column).in_([v.value for v in values]))
    if f.opened_from:
        statement = statement.where(col(IncidentRow.opened_at) >= f.opened_from)
    if f.opened_to:
        statement = statement.where(col(IncidentRow.opened_at) < f.opened_to)
    return statement.order_by(col(IncidentRow.opened_at), col(IncidentRow.id))


def _closed_between(statement: Select[tuple[str]], request: ReplayRequest) -> Select[tuple[str]]:
    statement = statement.where(col(IncidentRow.status).in_([s.value for s in TERMINAL_STATUSES]))
    if request.closed_from:
        statement = statement.where(col(IncidentRow.closed_at) >= request.closed_from)
    if request.closed_to:
        statement = statement.where(col(IncidentRow.closed_at) < request.closed_to)
    return statement.order_by(col(IncidentRow.closed_at), col(IncidentRow.id))


def _select(engine: Engine, request: ReplayRequest) -> tuple[list[str], bool]:
    """The incidents a filter or a closing time selects (at most `limit`), and whether there were more."""
    statement = select(col(IncidentRow.id))
    if request.filter is not None:
        statement = _filtered(statement, request.filter)
    else:
        statement = _closed_between(statement, request)
    with Session(engine) as session:
        ids = list(session.scalars(statement.limit(request.limit + 1)))
    return ids[: request.limit], len(ids) > request.limit


@router.post(
    "/api/audit/replay",
    response_model=ReplayResult,
    response_model_exclude_unset=True,  # a missing incident's report has no counts (every other field is set)
    summary="Replay incidents' histories against today's workflow code",
    responses=responses(403),
)
async def replay_incidents(
    request: Request,
    body: Annotated[
        ReplayRequest,
        Body(
            examples=[
                {"ids": ["INC-2026-000001"]},
                {"filter": {"status": ["closed"], "region": ["EMEA"]}},
                {"closed_from": "2026-11-01T00:00:00Z"},
            ]
        ),
    ],
    user: Principal = Depends(allow(AUDITORS, "replay histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> ReplayResult:
    """Temporal's Replayer runs each history (every run, and the approval requests') through
    today's IncidentWorkflow and ApprovalWorkflow. `nondeterministic` means today's code would
    not continue that incident: the report names the first event it no longer produces."""
    if body.ids:
        ids, truncated = list(dict.fromkeys(body.ids))[: body.limit], len(set(body.ids)) > body.limit
    else:
        ids, truncated = await run_in_threadpool(_select, engine, body)
    found = []
    for incident_id in ids:
        try:
            found.append(await histories.fetch(temporal, incident_id))
        except histories.HistoryNotFound:
            pass  # reported missing below
    reports = {r.incident_id: r for r in await replay_many(found, converter_of(request))} if found else {}
    out = [ReplayReportOut.of(reports[i]) if i in reports else ReplayReportOut.missing(i) for i in ids]
    count = {kind: sum(1 for r in out if r.result == kind) for kind in _RESULTS}
    return ReplayResult(replayed=len(found), truncated=truncated, reports=out, **count)
