"""The console against real servers, started once per session.

The session's Temporal dev server (`dev_env`), a SQLite database, a real worker, and the app
served by uvicorn on a free port of 127.0.0.1: browsers need a real address, and httpx tests use
the same one, so cookies and headers travel as they do in production. Incidents are opened and
checked through the JSON API (tests/api's people and intake); the console is what is tested.

Browser tests drive Debian's chromium (`apt-get install chromium`; .ci/run installs it) with
Playwright's Python API; Playwright's own browser downloads are never used.
"""

import asyncio
import contextlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import QueryCounter, add_people, intake_body, namespace_client
from tests.helpers import SHARED_APPS, free_port
from vigil.api.app import create_app
from vigil.db.engine import make_engine, migrate
from vigil.policy import Policy, parse_policy, policy_path
from vigil.worker import build_worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def hidden_value(html: str, name: str) -> str:
    """The value of a hidden form field (the CSRF token, the sign-in nonce)."""
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


@dataclass
class Console:
    base_url: str
    engine: Engine
    temporal: Client
    tokens: dict[str, str]
    api: httpx.AsyncClient
    app: Any = None  # the served FastAPI app (its state: the directory the on-call page reads)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    # The newest `seq` each incident answered with, by the API or a console redirect: reads wait
    # for the projection to reach it, as a person's next page does after they act.
    _seen: dict[str, int] = field(default_factory=dict)

    def _saw(self, incident: dict[str, Any]) -> dict[str, Any]:
        self._seen[incident["id"]] = max(self._seen.get(incident["id"], 0), incident["seq"])
        return incident

    async def open(self, user: str = "ana", **changes: Any) -> dict[str, Any]:
        """A new incident through the JSON API (the SEV1 of docs/walkthrough.md by default)."""
        changes.setdefault("external_ref", f"CONSOLE-{uuid.uuid4().hex[:10]}")
        response = await self.api.post("/api/incidents", json=intake_body(**changes), headers=self.auth(user))
        assert response.status_code == 201, response.text
        return self._saw(response.json())

    async def state(self, incident_id: str) -> dict[str, Any]:
        seen = self._seen.get(incident_id, 0)
        response = await self.api.get(f"/api/incidents/{incident_id}?min_seq={seen}", headers=self.auth("audrey"))
        assert response.status_code == 200, response.text
        return self._saw(response.json())

    async def act(self, incident_id: str, body: dict[str, Any], user: str) -> dict[str, Any]:
        response = await self.api.post(f"/api/incidents/{incident_id}/actions", json=body, headers=self.auth(user))
        assert response.status_code == 200, response.text
        return self._saw(response.json())

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A browser-like client: keeps cookies, does not follow redirects (tests check them)."""
        client = httpx.AsyncClient(base_url=self.base_url, timeout=60, **kwargs)
        self._clients.append(client)
        return client

    async def signed_in(self, user: str, **kwargs: Any) -> httpx.AsyncClient:
        client = self.client(**kwargs)
        form = await client.get("/sign-in")
        response = await client.post(
            "/sign-in", data={"token": self.tokens[user], "nonce": hidden_value(form.text, "nonce"), "next": "/"}
        )
        assert response.status_code == 303, response.text
        return client

    async def post_form(
        self, client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
    ) -> httpx.Response:
        """Post a form the way a browser does: with the CSRF token of the page it was on."""
        html = (await client.get(page)).text
        response = await client.post(action, data={"csrf": hidden_value(html, "csrf"), **data})
        seen = (
            re.search(r"/incidents/(INC-[0-9-]+)/actions", action),
            re.search(r"seen=(\d+)", response.headers.get("location", "")),
        )
        if seen[0] and seen[1]:
            self._saw({"id": seen[0].group(1), "seq": int(seen[1].group(1))})
        return response


def quick_sev4_policy() -> Policy:
    """The default policy, except that a SEV4's acknowledge clock runs 2 seconds: real breaches to show."""
    text = policy_path().read_text()
    quick = text.replace('[sla.SEV4]\nacknowledge = "24h"', '[sla.SEV4]\nacknowledge = "2s"')
    assert quick != text, "the default policy's SEV4 block changed: update quick_sev4_policy"
    return parse_policy(quick, "console tests")


class _QuietServer(uvicorn.Server):
    """uvicorn inside the test's event loop: leave Ctrl-C to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest_asyncio.fixture(scope="session")
async def console(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'vigil.db'}")
    migrate(engine)
    tokens = add_people(engine)
    client = await namespace_client(dev_env, f"vigil-console-{uuid.uuid4().hex[:6]}")
    task_queue = "console"
    app = create_app(temporal=client, engine=engine, task_queue=task_queue)
    SHARED_APPS.append(app)
    port = free_port()
    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with build_worker(
        client, task_queue=task_queue, engine=engine, policy=quick_sev4_policy(), interceptors=[QueryCounter()]
    ):
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.05)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
            stack = Console(base_url=base_url, engine=engine, temporal=client, tokens=tokens, api=api, app=app)
            yield stack
            for opened in stack._clients:
                await opened.aclose()
        server.should_exit = True
        await serving
    engine.dispose()
    assert not QueryCounter.answered, f"Vigil read state with a query: {QueryCounter.answered[:5]}"


# ---------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests leave their screenshots: $VIGIL_SCREENSHOTS, else a temp folder."""
    folder = Path(os.environ.get("VIGIL_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
