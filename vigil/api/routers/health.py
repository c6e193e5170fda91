"""/healthz (the process answers), /readyz (Temporal and the database answer), /metrics.

No token needed: load balancers and Prometheus call these. They reveal no incident's content:
only how many open incidents the watchdog found whose history no longer replays (their ids are
for signed-in people: the incident page and the queue show them).
"""

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text

from vigil.api.errors import ErrorBody
from vigil.api.schemas import Health
from vigil.audit import watchdog
from vigil.config import settings

log = logging.getLogger("vigil.api")
router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 3.0


@router.get("/healthz", response_model=Health, response_model_exclude_none=True, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


def _ping_database(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _check_database(request: Request) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(_ping_database, request.app.state.engine), CHECK_TIMEOUT)
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"


async def _check_temporal(request: Request) -> str:
    client = request.app.state.temporal
    if client is None:
        return "connecting"
    try:
        serving = await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok" if serving else "not serving"


async def _check_evidence_store(request: Request) -> str:
    """Not a readiness condition either (only uploads and fetches of files need it): a note."""
    try:
        await asyncio.wait_for(run_in_threadpool(request.app.state.vault.store.check), CHECK_TIMEOUT)
    except Exception as error:  # the detail (a path, a bucket's endpoint) goes to the log, not to anyone asking
        log.warning("evidence store check failed: %s", error)
        return f"unreachable ({type(error).__name__})"
    return "ok"


def _diverged_count(engine: Engine) -> int:
    return len(watchdog.diverged_incidents(engine))


async def _check_watchdog(request: Request) -> str:
    """Not a readiness condition (a stalled incident is no reason to stop serving): a note."""
    try:
        count = await asyncio.wait_for(run_in_threadpool(_diverged_count, request.app.state.engine), CHECK_TIMEOUT)
    except Exception as error:
        return f"unknown: {type(error).__name__}"
    if count:
        return f"{count} open incident(s) whose history no longer replays: repair them (docs/reliability.md)"
    return "ok"


@router.get(
    "/readyz",
    response_model=Health,
    response_model_exclude_none=True,
    summary="Temporal and the database are reachable",
    responses={503: {"model": ErrorBody, "description": "Not ready: the detail names what is unreachable"}},
)
async def readyz(request: Request) -> Health | JSONResponse:
    database, temporal = await asyncio.gather(_check_database(request), _check_temporal(request))
    checks = {"database": database, "temporal": temporal}
    if all(v == "ok" for v in checks.values()):
        checks["replay"] = await _check_watchdog(request)
        checks["evidence"] = await _check_evidence_store(request)
        return Health(status="ready", checks=checks | {"mail": _mail()}, detail=_mail_detail())
    detail = "; ".join(f"{name}: {state}" for name, state in checks.items() if state != "ok")
    return JSONResponse({"error": "not_ready", "detail": detail, "checks": checks}, status_code=503)


def _mail() -> str:
    return "configured" if settings().smtp_url else "not configured"


def _mail_detail() -> str | None:
    """Ready, but say what does not reach people (the worker reads the same settings)."""
    if settings().smtp_url:
        return None
    return "mail is not configured (VIGIL_SMTP_URL): email notices wait in the outbox"


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request) -> Response:
    try:
        count = await asyncio.wait_for(run_in_threadpool(_diverged_count, request.app.state.engine), CHECK_TIMEOUT)
    except Exception:
        count = -1  # the database did not answer: -1 rather than a reassuring 0
    request.app.state.diverged_gauge.set(count)
    return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
