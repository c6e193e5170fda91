"""Workflow scenarios run on the time-skipping server with a real worker and SQLite."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.helpers import running_worker
from vigil.db.engine import make_engine, migrate
from vigil.policy import Policy
from vigil.temporal import data_converter, register_search_attributes


@pytest_asyncio.fixture
async def worker(
    ts_worker_client: Client, task_queue: str, sqlite_engine: Engine, policy: Policy
) -> AsyncIterator[Worker]:
    async with running_worker(ts_worker_client, task_queue, sqlite_engine, policy) as running:
        yield running


@pytest_asyncio.fixture
async def dev_namespace(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """A namespace of its own on the dev server: schedules and visibility queries see only this test's incidents."""
    from tests.api.conftest import namespace_client

    client = await namespace_client(dev_env, f"vigil-watchdog-{uuid.uuid4().hex[:6]}")
    await register_search_attributes(client)
    yield Client(**{**client.config(), "data_converter": data_converter()})


@pytest_asyncio.fixture
async def file_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'vigil.db'}")
    migrate(engine)
    yield engine
    engine.dispose()
