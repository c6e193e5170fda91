"""Two answers the load tests once caught wrong, pinned: no worker in time is 503 (it was a 500),
and a body that is not even UTF-8 is 422 like any malformed body (it was an undocumented 400)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from sqlalchemy.orm import Session
from temporalio.client import Client

from bench.processes import TemporalDevServer
from bench.workload import intake_body
from vigil import auth
from vigil.api.app import create_app
from vigil.api.routers import incidents
from vigil.db.engine import make_engine, migrate
from vigil.temporal import data_converter


@pytest_asyncio.fixture
async def api_without_worker(temporal_server: TemporalDevServer, tmp_path: Path) -> AsyncIterator[tuple]:
    """The API in this process, on a task queue no worker polls: every update waits in vain."""
    engine = make_engine(f"sqlite:///{tmp_path / 'vigil.db'}")
    migrate(engine)
    with Session(engine) as session:
        token = auth.enrol(session, auth.add_user(session, "ana", "analyst"))[0]
    # The "default" namespace, which no deployment here uses: ids restart at INC-YYYY-000001 in every
    # database, and a workflow left waiting here must never be found by another deployment's intake.
    client = await Client.connect(temporal_server.address, namespace="default", data_converter=data_converter())
    app = create_app(temporal=client, engine=engine, task_queue="no-worker-polls-this")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is an answer, as over HTTP
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as http:
        yield http, {"Authorization": f"Bearer {token}"}
    engine.dispose()


async def test_no_worker_within_the_timeout_is_503(api_without_worker: tuple, monkeypatch) -> None:
    http, headers = api_without_worker
    monkeypatch.setattr(incidents, "ACTION_TIMEOUT", 1.0)
    intake = await http.post("/api/incidents", json=intake_body("sev3", "NO-WORKER"), headers=headers)
    assert intake.status_code == 503, intake.text
    action = await http.post(f"{intake.headers['location']}/actions", json={"type": "acknowledge"}, headers=headers)
    assert action.status_code == 503, action.text


async def test_a_body_that_is_not_utf8_is_422(api_without_worker: tuple) -> None:
    http, headers = api_without_worker
    response = await http.post(
        "/api/incidents", content=b"\xff\xfe{", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
