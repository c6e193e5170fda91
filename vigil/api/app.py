"""The FastAPI app: `create_app()` wires routers, auth, errors, limits and metrics.

One Temporal client per process, connected in the lifespan. If Temporal is not up yet the app
still starts (health checks answer, /readyz says what is missing) and keeps trying to connect,
so an orchestrator can start the API and Temporal in any order.

Adding a resource is adding its router to ROUTERS.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import Engine
from temporalio.client import Client

import vigil
from vigil import console
from vigil.api import errors
from vigil.api.middleware import UPLOAD_OVERHEAD, BodyLimit, JsonDepthLimit, Metrics
from vigil.api.routers import (
    approvals,
    audit,
    codec,
    events,
    evidence,
    exposure,
    health,
    incidents,
    notifications,
    reports,
    reviews,
    trends,
    users,
    views,
)
from vigil.auth import FailedAttempts
from vigil.config import Settings, settings
from vigil.db.engine import engine as default_engine
from vigil.evidence.vault import Vault
from vigil.temporal import connect

log = logging.getLogger("vigil.api")

ROUTERS = [
    incidents.router,
    notifications.router,
    evidence.router,
    exposure.router,
    events.router,
    reviews.router,
    audit.router,
    codec.router,
    approvals.router,
    trends.router,
    reports.router,
    users.router,
    views.router,
    health.router,
]

DESCRIPTION = """
Vigil runs the incident lifecycle of a Trust & Safety team on Temporal.

Authenticate with `Authorization: Bearer <token>`: an admin's `POST /api/users` (or `vigil users
add NAME --role ROLE`) gives an enrolment secret, which acts on nothing; its person exchanges it
once at `POST /api/tokens/exchange` (or `vigil users enrol`) for their token. Roles: **analyst**
(intake and every action except severity changes and approvals),
**lead** (all an analyst can, plus `set_severity`, `approve`, `reject`), **auditor** and
**admin** (read everything, act on nothing; admins manage users).

Every error is JSON `{"error": code, "detail": text}`: 401 bad token, 403 your role may not,
404 unknown incident, 409 the incident's state forbids it now, 422 malformed request,
503 Temporal or the database unreachable.
"""


async def _connect_until_up(app: FastAPI, config: Settings) -> None:
    """Connect to Temporal, retrying with backoff; the app serves meanwhile (503 where needed)."""
    delay = 0.5
    while app.state.temporal is None:
        try:
            app.state.temporal = await connect(config)
            log.info("connected to Temporal at %s (namespace %s)", config.temporal_address, config.temporal_namespace)
        except Exception as error:
            log.warning("Temporal at %s not reachable (%s); retrying in %.0fs", config.temporal_address, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)


def create_app(
    *,
    temporal: Client | None = None,
    engine: Engine | None = None,
    config: Settings | None = None,
    task_queue: str | None = None,
) -> FastAPI:
    """The API. Tests pass their own client and engine; processes let it connect from settings."""
    config = config or settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connecting = None
        if app.state.temporal is None:
            connecting = asyncio.create_task(_connect_until_up(app, config))
        yield
        if connecting:
            connecting.cancel()

    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.temporal = temporal
    app.state.engine = engine or default_engine()
    app.state.task_queue = task_queue or config.task_queue
    app.state.max_body_bytes = config.max_body_bytes
    app.state.failed_attempts = FailedAttempts()  # failed token attempts per client: 429 past the limit
    app.state.vault = Vault.from_settings(app.state.engine, config)
    app.state.metrics_registry = CollectorRegistry()  # per app, so several apps can live in one process
    app.state.diverged_gauge = Gauge(
        "vigil_incidents_diverged",
        "Open incidents whose history no longer replays against the running code (-1: unknown)",
        registry=app.state.metrics_registry,
    )

    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app, config)  # the web console's pages at /, and /static

    app.add_middleware(codec.CodecCors, origin=config.temporal_ui_origin)
    app.add_middleware(JsonDepthLimit, max_bytes=config.max_body_bytes)  # inside BodyLimit
    app.add_middleware(
        BodyLimit, max_bytes=config.max_body_bytes, upload_bytes=config.evidence_max_bytes + UPLOAD_OVERHEAD
    )
    app.add_middleware(Metrics, registry=app.state.metrics_registry)
    return app
