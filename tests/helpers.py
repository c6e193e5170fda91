"""Small helpers shared by test modules (fixtures live in conftest.py)."""

import asyncio
import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from vigil.domain import Role
from vigil.policy import Policy
from vigil.temporal.incident_client import ActionRefused, open_incident
from vigil.worker import build_worker
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.state import Actor, Incident, Intake

ANA = Actor(user="ana", role=Role.ANALYST)
BEA = Actor(user="bea", role=Role.ANALYST)
LEA = Actor(user="lea", role=Role.LEAD)
LEO = Actor(user="leo", role=Role.LEAD)
AUDREY = Actor(user="audrey", role=Role.AUDITOR)

REPO = Path(__file__).resolve().parents[1]


# The apps that session-scoped fixtures share between tests, all called from one address: each test
# starts with no failed token attempts counted against it (tests/conftest.py), so that tests
# refusing bad tokens on purpose do not, together, put the next test over the limit (429).
SHARED_APPS: list[Any] = []


def free_port() -> int:
    """A loopback port nobody holds now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shell_blocks(page: str) -> str:
    """The ```sh blocks of a page (README.md, docs/walkthrough.md), in order and joined: what a
    reader of the page types. Output and commands not meant to run go in other blocks."""
    text = (REPO / page).read_text(encoding="utf-8")
    return "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.S))


def new_incident_id() -> str:
    """Unique per test run: tests share servers and databases."""
    return f"INC-{datetime.now(UTC).year}-{uuid.uuid4().int % 10**6:06d}"


def intake(**changes: Any) -> Intake:
    fields: dict[str, Any] = {
        "title": "Beheading video re-uploaded after removal order",
        "description": "Regulator order TCO-2026-0042 names three URLs.",
        "channel": "regulator",
        "category": "violent_extremism",
        "region": "EMEA",
        "language": "es",
        "content": [{"url": "https://video.example/v/123", "graphic": True}],
        "reporter": {"name": "Agencia Nacional", "email": "orders@regulator.example"},
        "reach": 250_000,
    }
    fields.update(changes)
    return Intake.model_validate(fields)


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, task_queue: str, engine: Engine, policy: Policy, **kwargs: Any
) -> AsyncIterator[Worker]:
    worker = build_worker(client, task_queue=task_queue, engine=engine, policy=policy, **kwargs)
    async with worker:
        yield worker


async def open_new(client: Client, task_queue: str, **intake_changes: Any) -> tuple[WorkflowHandle, Incident]:
    incident_id = new_incident_id()
    state = await open_incident(client, incident_id, intake(**intake_changes), task_queue=task_queue)
    return client.get_workflow_handle_for(IncidentWorkflow.run, incident_id), state


async def query_state(client: Client, incident_id: str) -> Incident:
    """The workflow's own answer to its `state` query: for tests only, on servers that are not
    restarted. Vigil itself never reads state with a query (docs/reliability.md)."""
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    state = await handle.query(IncidentWorkflow.state)
    assert state is not None, f"{incident_id} is not triaged yet"
    return state


async def eventually(check: Callable[[], Any | Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, or fail after `timeout`
    (generous: on a loaded 2-core machine a projection can take seconds to catch up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


async def refusal(call: Awaitable[Any]) -> ActionRefused:
    """Await an action that must be refused; return the refusal for its code and reason."""
    try:
        await call
    except ActionRefused as refused:
        return refused
    raise AssertionError("the action was accepted, but should have been refused")


def rows(engine: Engine, model: Any, **where: Any) -> list[Any]:
    with Session(engine) as session:
        statement = select(model)
        for column, value in where.items():
            statement = statement.where(getattr(model, column) == value)
        return list(session.scalars(statement))
