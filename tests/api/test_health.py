"""Health, readiness, metrics, the OpenAPI document, and outages answered with 503, never 500."""

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from tests.api.conftest import Stack, intake_body
from vigil import auth
from vigil.api.app import create_app
from vigil.audit import watchdog
from vigil.config import settings
from vigil.db.engine import make_engine

UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/nowhere"


async def test_health_and_readiness_when_everything_is_up(sqlite_stack: Stack) -> None:
    assert (await sqlite_stack.http.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = await sqlite_stack.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "temporal": "ok",
        "replay": "ok",
        "evidence": "ok",
        "mail": "not configured",
    }
    assert ready.json()["detail"] == "mail is not configured (VIGIL_SMTP_URL): email notices wait in the outbox"


async def test_an_incident_whose_history_no_longer_replays_is_named_in_readyz_and_metrics(sqlite_stack: Stack) -> None:
    """What the watchdog records (tests/workflows/test_watchdog.py finds one for real) shows where
    an operator looks, without making the API unready: a stalled incident is no reason to stop."""
    incident = await sqlite_stack.open(title="Diverged, for the health checks")
    await sqlite_stack.get(f"/api/incidents/{incident['id']}?min_seq={incident['seq']}", "ana")  # projected
    candidate = watchdog.Candidate(incident["id"], incident["seq"])
    diverged = watchdog.Verdict(incident["id"], "nondeterministic", 12, 9, "Update machine does not handle this event")
    now = datetime.now(UTC)
    watchdog.record(sqlite_stack.engine, [candidate], [diverged], now, "http://vigil.test")
    try:
        ready = await sqlite_stack.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["replay"].startswith("1 open incident(s) whose history no longer replays")
        assert "vigil_incidents_diverged 1.0" in (await sqlite_stack.http.get("/metrics")).text
    finally:
        repaired = watchdog.Verdict(incident["id"], "ok", 14)
        watchdog.record(sqlite_stack.engine, [candidate], [repaired], now, "http://vigil.test")
    assert (await sqlite_stack.http.get("/readyz")).json()["checks"]["replay"] == "ok"
    assert "vigil_incidents_diverged 0.0" in (await sqlite_stack.http.get("/metrics")).text


async def test_metrics_count_requests_by_route_template_and_status(sqlite_stack: Stack) -> None:
    await sqlite_stack.get("/api/incidents/INC-1999-000404", "ana")
    await sqlite_stack.get("/api/incidents/INC-1999-000405", "ana")
    text = (await sqlite_stack.http.get("/metrics")).text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("vigil_http_requests_total{")
        and 'route="/api/incidents/{incident_id}"' in line
        and 'status="404"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert "INC-1999-000404" not in text  # raw paths never become labels
    assert "vigil_http_request_duration_seconds_bucket" in text


@asynccontextmanager
async def api_without_database(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The stack's Temporal behind an API whose database cannot be reached."""
    engine = make_engine(UNREACHABLE_PG)
    app = create_app(temporal=stack.temporal, engine=engine)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://down") as http:
            yield http
    finally:
        engine.dispose()


async def test_database_down_answers_503_not_500(sqlite_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "recent_tokens", auth.TokenCache(ttl=0.0))  # every token is looked up: the database
    async with api_without_database(sqlite_stack) as http:
        headers = sqlite_stack.auth("ana")
        for method, path, body in [
            ("GET", "/api/incidents", None),
            ("POST", "/api/incidents", intake_body()),
            ("GET", "/api/approvals", None),
            ("GET", "/api/trends", None),
            ("POST", "/api/incidents/INC-2026-000001/actions", {"type": "acknowledge"}),
        ]:
            response = await http.request(method, path, json=body, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"] == "database_unavailable"
            assert response.headers["retry-after"]
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"] == "not_ready" and "database" in ready.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200  # the process itself is fine


async def test_an_action_by_a_caller_checked_seconds_ago_goes_on_while_the_database_is_down(
    sqlite_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incident lives in Temporal: an action needs the database only to check the token, and a
    token checked in the last TOKEN_CACHE_SECONDS is not checked again. So a short outage does not
    stop an analyst mid-incident; the workflow applies the action and its projection waits."""
    monkeypatch.setattr(auth, "recent_tokens", auth.TokenCache(ttl=600.0))  # however slow this machine is
    incident = await sqlite_stack.open(title="Noted while the database is down")
    await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")  # ana's token is checked now
    async with api_without_database(sqlite_stack) as http:
        headers = sqlite_stack.auth("ana")
        note = {"type": "add_note", "text": "written during the outage"}
        acted = await http.post(f"/api/incidents/{incident['id']}/actions", json=note, headers=headers)
        assert acted.status_code == 200, acted.text
        assert (await http.get("/api/incidents", headers=headers)).status_code == 503  # reads still need it
    seen = await sqlite_stack.get(f"/api/incidents/{incident['id']}?min_seq={acted.json()['seq']}", "ana")
    assert any(n["text"] == "written during the outage" for n in seen.json()["notes"])


async def test_temporal_unreachable_answers_503_and_lists_still_work(sqlite_stack: Stack) -> None:
    config = dataclasses.replace(settings(), temporal_address="127.0.0.1:1")
    app = create_app(engine=sqlite_stack.engine, config=config)  # connects in the background, and fails
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t-down") as http:
            before = sqlite_stack.counts()
            response = await http.post("/api/incidents", json=intake_body(), headers=sqlite_stack.auth("ana"))
            assert response.status_code == 503
            assert response.json()["error"] == "temporal_unavailable"
            assert sqlite_stack.counts() == before  # no id was taken
            assert (await http.get("/api/incidents", headers=sqlite_stack.auth("ana"))).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "temporal" in ready.json()["detail"]


async def test_every_api_route_documents_its_errors(sqlite_stack: Stack) -> None:
    spec = (await sqlite_stack.http.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in spec["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, operation in operations.items():
            documented = operation["responses"]
            for status in ("401", "503"):
                assert status in documented, (method, path, status)
            for status, response in documented.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    actions = spec["paths"]["/api/incidents/{incident_id}/actions"]["post"]["responses"]
    assert {"200", "403", "404", "409", "422"} <= set(actions)
    assert (await sqlite_stack.http.get("/docs")).status_code == 200
