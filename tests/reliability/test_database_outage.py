"""PostgreSQL unreachable for a while, mid-flight (a TCP proxy in front of it is cut, then
restored; the shared server is never stopped): the API answers 503 on what needs the database,
the workflows go on (signals are applied, timers fire), their activities retry, and once the
database is back every incident reaches its end with nothing lost or done twice."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType

from bench.processes import Deployment, TemporalDevServer
from bench.workload import ApiDriver, kind_of
from tests.conftest import POSTGRES_ADMIN_URL
from tests.helpers import query_state
from tests.reliability.checks import assert_all_consistent, drive
from tests.reliability.conftest import System, start_system
from tests.reliability.proxy import TcpProxy
from vigil.db.engine import make_engine
from vigil.domain import Role
from vigil.temporal.incident_client import send_action
from vigil.workflows.actions import AddNote
from vigil.workflows.state import Actor

INCIDENTS = 40
OUTAGE_SECONDS = 8


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, TcpProxy]]:
    """A PostgreSQL database of its own (dropped afterwards), and a proxy in front of the server."""
    admin = make_engine(POSTGRES_ADMIN_URL)
    name = f"vigil_reliability_{uuid.uuid4().hex[:10]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    host, port = "127.0.0.1", 5432
    proxy = TcpProxy(host, port)
    try:
        yield name, proxy
    finally:
        proxy.close()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def pg_system(
    temporal_server: TemporalDevServer, reliability_dir: Path, policy_file: Path, database: tuple[str, TcpProxy]
) -> Iterator[System]:
    name, proxy = database
    home = reliability_dir / "pg"
    deployment = Deployment(
        home=home,
        temporal_address=temporal_server.address,
        namespace="vigil-pg",
        database_url=f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}",
        policy=policy_file,
    )
    system = start_system(deployment)
    yield system
    deployment.stop_all()


async def test_database_outage_answers_503_and_loses_nothing(pg_system: System, database: tuple[str, TcpProxy]) -> None:
    name, proxy = database
    run = f"outage-{uuid.uuid4().hex[:6]}"
    incidents = {f"{run}-{i}": kind_of(i) for i in range(INCIDENTS)}
    client = await pg_system.deployment.client()
    bea = Actor(user="bea", role=Role.ANALYST)
    api = pg_system.urls[0]
    headers = {"Authorization": f"Bearer {pg_system.tokens['ana']}"}
    async with httpx.AsyncClient(timeout=90) as http:
        driver = ApiDriver(http, pg_system.urls, pg_system.tokens, poll=0.2, patience=180)
        load = asyncio.create_task(drive(driver, incidents, concurrency=20, client=client))
        await asyncio.sleep(3)
        listed = (await http.get(f"{api}/api/incidents", params={"limit": 200}, headers=headers)).json()["items"]
        proxy.cut()
        try:
            # Reads that need the database, and anything authenticated (tokens live there): 503, never 500.
            await asyncio.sleep(0.5)
            for path in ("/api/incidents", "/api/approvals", f"/api/incidents/{listed[0]['id']}"):
                response = await http.get(f"{api}{path}", headers=headers)
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert response.json()["error"] == "database_unavailable", response.text
            ready = await http.get(f"{api}/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["detail"]
            # Meanwhile Temporal carries on: fire-and-forget actions are applied by the workflows now,
            # and written to the projection when it is back (the activities retry until then).
            noted = []
            for item in listed:
                state = await query_state(client, item["id"])
                if state.status in ("investigating", "escalated"):
                    await send_action(client, item["id"], AddNote(text="noted while the database was down"), bea)
                    noted.append(item["id"])
            await asyncio.sleep(OUTAGE_SECONDS)
        finally:
            proxy.restore()
        ids = await load
    direct = make_engine(f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    kinds = {ids[ref]: incidents[ref] for ref in incidents}
    await assert_all_consistent(client, direct, kinds)
    for incident_id in noted:  # the notes sent during the outage are in the workflow and the projection
        state = await query_state(client, incident_id)
        assert any(n.text == "noted while the database was down" for n in state.notes), incident_id
    assert noted, "no incident was open to be noted during the outage"
    # ... and their projection did fail while the database was away, and was retried.
    retried = 0
    for incident_id in noted:
        history = await client.get_workflow_handle(incident_id).fetch_history()
        retried += sum(
            e.activity_task_started_event_attributes.attempt > 1
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        )
    assert retried, "no activity had to retry: the outage was not felt"
    assert not driver.server_errors, f"the API answered 5xx other than 503: {driver.server_errors[:5]}"
    assert driver.retries > 0, "the outage never reached the driver"
    direct.dispose()
