"""The audit suite's world, built once per session: a namespace of its own on the session's
Temporal dev server, a real worker with the scenario policy, the scenario driver's incidents
(tests/audit/scenarios.py), and the API, both in-process (httpx) and behind a real uvicorn on
a free port (for the `vigil audit` CLI and the `temporal` CLI's codec client)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from tests.audit.scenarios import Driver, PlatformAdapter, run_scenarios, scenario_policy
from tests.helpers import free_port
from vigil import auth
from vigil.api.app import create_app
from vigil.cli import app as vigil_cli
from vigil.db.engine import make_engine, migrate
from vigil.policy import Policy
from vigil.temporal import data_converter, register_search_attributes
from vigil.worker import build_worker

PEOPLE = {
    "ana": ("analyst", "en"),
    "leo": ("lead", "en"),
    "audrey": ("auditor", "en"),
    "aurora": ("auditor", "es"),
    "adam": ("admin", "en"),
}


@dataclass
class World:
    client: Client
    engine: Engine
    task_queue: str
    app: FastAPI
    http: httpx.AsyncClient
    base_url: str  # the same app behind uvicorn
    temporal_address: str
    tokens: dict[str, str]
    incidents: dict[str, list[str]] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def get(self, path: str, user: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        return await self.http.get(path, headers=headers, **kwargs)

    async def post(self, path: str, body: Any, user: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(user), **kwargs.pop("headers", {})}
        return await self.http.post(path, json=body, headers=headers, **kwargs)

    def one(self, scenario: str) -> str:
        return self.incidents[scenario][0]

    def audit_cli(self, *args: str, user: str = "audrey") -> Result:
        """`vigil audit ...` against this world's API, in a terminal wide enough that rich
        does not wrap a long path into the middle of a message."""
        command = ["audit", *args, "--api", self.base_url, "--token", self.tokens[user]]
        return CliRunner().invoke(vigil_cli, command, env={"COLUMNS": "200"})

    @property
    def all_ids(self) -> list[str]:
        return [i for ids in self.incidents.values() for i in ids]


async def namespace_client(env: WorkflowEnvironment, name: str) -> Client:
    await env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400))
    )
    client = Client(**{**env.client.config(), "namespace": name, "data_converter": data_converter()})
    await register_search_attributes(client)
    return client


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn, on this event loop, on a free port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(scope="session")
async def world(dev_env: WorkflowEnvironment, tmp_path_factory, policy: Policy) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('audit')) / 'vigil.db'}")
    migrate(engine)
    with Session(engine) as session:
        tokens = {
            name: auth.enrol(session, auth.add_user(session, name, role, language))[0]
            for name, (role, language) in PEOPLE.items()
        }
    client = await namespace_client(dev_env, f"vigil-audit-{uuid.uuid4().hex[:6]}")
    task_queue = "audit"
    app = create_app(temporal=client, engine=engine, task_queue=task_queue)
    worker = build_worker(
        client, task_queue=task_queue, engine=engine, policy=scenario_policy(policy), adapter=PlatformAdapter(engine)
    )
    async with worker, app.router.lifespan_context(app), serving(app) as base_url:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test", timeout=120) as http:
            world = World(
                client=client,
                engine=engine,
                task_queue=task_queue,
                app=app,
                http=http,
                base_url=base_url,
                temporal_address=dev_env.client.service_client.config.target_host,
                tokens=tokens,
            )
            world.incidents = await run_scenarios(Driver(client, task_queue))
            yield world
    engine.dispose()
