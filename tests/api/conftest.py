"""The API against real servers, started once per session.

A `Stack` is what a deployment is: the session's Temporal dev server (`dev_env`), a database
(SQLite file or a PostgreSQL database of its own), a real worker, and the app, called over
httpx's ASGI transport. Each stack has its own Temporal namespace, because both number their
incidents from INC-YYYY-000001 and workflow ids must not collide.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from temporalio import workflow
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import HandleQueryInput, Interceptor, WorkflowInboundInterceptor, WorkflowInterceptorClassInput

from tests.conftest import POSTGRES_ADMIN_URL
from tests.helpers import SHARED_APPS
from vigil import auth
from vigil.api.app import create_app
from vigil.db.engine import make_engine, migrate
from vigil.db.tables import IdCounterRow, IncidentRow, IntakeKeyRow
from vigil.policy import Policy
from vigil.temporal import register_search_attributes
from vigil.worker import build_worker

# Everyone the tests act as: name -> role.
PEOPLE = {
    "ana": "analyst",
    "bea": "analyst",
    "leo": "lead",
    "lucia": "lead",
    "lena": "lead",
    "audrey": "auditor",
    "adam": "admin",
}


class QueryCounter(Interceptor):
    """Counts the workflow queries the stack's worker answers: Vigil must send none
    (docs/reliability.md), so every test's traffic through the API proves it."""

    answered: ClassVar[list[str]] = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _CountingInbound


class _CountingInbound(WorkflowInboundInterceptor):
    def handle_query(self, input: HandleQueryInput) -> Any:
        QueryCounter.answered.append(f"{workflow.info().workflow_id}: {input.query}")
        return super().handle_query(input)


@dataclass
class Stack:
    backend: str
    app: FastAPI
    http: httpx.AsyncClient
    engine: Engine
    temporal: Client
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def post(self, path: str, body: Any, user: str, **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(user), **kwargs)

    async def get(self, path: str, user: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(user), **kwargs)

    async def act(self, incident_id: str, body: dict[str, Any], user: str) -> httpx.Response:
        return await self.post(f"/api/incidents/{incident_id}/actions", body, user)

    async def open(self, user: str = "ana", **changes: Any) -> dict[str, Any]:
        response = await self.post("/api/incidents", intake_body(**changes), user)
        assert response.status_code == 201, response.text
        return response.json()

    def counts(self) -> dict[str, Any]:
        """What an accepted intake changes: to prove a refused one changed nothing."""
        with Session(self.engine) as session:
            return {
                "incidents": session.scalar(select(func.count()).select_from(IncidentRow)),
                "intake_keys": session.scalar(select(func.count()).select_from(IntakeKeyRow)),
                "counters": [(r.year, r.last) for r in session.scalars(select(IdCounterRow))],
            }


def intake_body(**changes: Any) -> dict[str, Any]:
    """The incident of docs/walkthrough.md: threats of an attack, reported by police in Mexico. SEV1."""
    body: dict[str, Any] = {
        "title": "Livestream announcing an attack on a school in Monterrey",
        "description": "Policía de Nuevo León reports a livestream naming a school and a date.",
        "channel": "law_enforcement",
        "category": "violent_extremism",
        "region": "LATAM",
        "language": "es",
        "content": [{"url": "https://video.example/live/8841", "graphic": False}],
        "reporter": {"name": "Unidad de Policía Cibernética", "email": "ciber@policia.example"},
        "reach": 48000,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def add_people(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {name: auth.enrol(session, auth.add_user(session, name, role))[0] for name, role in PEOPLE.items()}


async def namespace_client(env: WorkflowEnvironment, name: str) -> Client:
    await env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400))
    )
    client = Client(**{**env.client.config(), "namespace": name})
    await register_search_attributes(client)
    return client


@contextlib.contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards (test sessions run side by side)."""
    admin = make_engine(POSTGRES_ADMIN_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}); .ci/run starts it")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def api_pg_url() -> Iterator[str]:
    with fresh_pg_database("vigil_api") as url:
        yield url


@pytest.fixture(scope="session")
def api_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('api') / 'vigil.db'}"


async def _stack(backend: str, url: str, env: WorkflowEnvironment, policy: Policy) -> AsyncIterator[Stack]:
    engine = make_engine(url)
    migrate(engine)
    tokens = add_people(engine)
    client = await namespace_client(env, f"vigil-api-{backend}-{uuid.uuid4().hex[:6]}")
    task_queue = f"api-{backend}"
    app = create_app(temporal=client, engine=engine, task_queue=task_queue)
    SHARED_APPS.append(app)
    async with build_worker(client, task_queue=task_queue, engine=engine, policy=policy, interceptors=[QueryCounter()]):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test", timeout=60) as http:
                yield Stack(backend=backend, app=app, http=http, engine=engine, temporal=client, tokens=tokens)
    engine.dispose()
    assert not QueryCounter.answered, f"Vigil read state with a query: {QueryCounter.answered[:5]}"


@pytest_asyncio.fixture(scope="session")
async def sqlite_stack(dev_env: WorkflowEnvironment, api_sqlite_url: str, policy: Policy) -> AsyncIterator[Stack]:
    async for stack in _stack("sqlite", api_sqlite_url, dev_env, policy):
        yield stack


@pytest_asyncio.fixture(scope="session")
async def pg_stack(dev_env: WorkflowEnvironment, api_pg_url: str, policy: Policy) -> AsyncIterator[Stack]:
    async for stack in _stack("postgresql", api_pg_url, dev_env, policy):
        yield stack


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """Runs a test once against each database."""
    return request.getfixturevalue("sqlite_stack" if request.param == "sqlite" else "pg_stack")
