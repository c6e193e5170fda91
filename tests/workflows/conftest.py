"""Workflow scenarios run on the time-skipping server with a real worker and SQLite."""

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from tests.helpers import running_worker
from vigil.policy import Policy


@pytest_asyncio.fixture
async def worker(
    ts_worker_client: Client, task_queue: str, sqlite_engine: Engine, policy: Policy
) -> AsyncIterator[Worker]:
    async with running_worker(ts_worker_client, task_queue, sqlite_engine, policy) as running:
        yield running
