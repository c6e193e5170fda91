"""Notices delivered for real: the session's Temporal dev server, a SQLite database, a worker
that dispatches, an SMTP server (aiosmtpd) and a webhook receiver that checks signatures.

`Deliveries` is one such setup per test (its own task queue, so its own dispatcher, directory
and channels); the servers and the database are shared by the module.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.receivers import MailCatcher, WebhookReceiver
from tests.api.conftest import namespace_client
from tests.helpers import eventually
from vigil import auth
from vigil.activities.delivery import Channels
from vigil.db.engine import make_engine, migrate
from vigil.db.tables import DeliveryRow, OutboxRow
from vigil.notifications.directory import DirectoryFile
from vigil.notifications.dispatching import start_dispatcher
from vigil.notifications.senders import MailServer
from vigil.policy import Policy, parse_policy, policy_path
from vigil.worker import build_worker

SECRET = "test-webhook-secret"
PEOPLE = {"ana": ("analyst", "es"), "bea": ("analyst", "en"), "leo": ("lead", "en"), "lucia": ("lead", "es")}


def quick_policy() -> Policy:
    """The default policy, with a SEV1 acknowledge SLA of 2 seconds and a status update due
    every 3 seconds at SEV1 (30 s while a legal clock runs): real breaches and reminders."""
    text = policy_path().read_text()
    quick = text.replace('[sla.SEV1]\nacknowledge = "15m"', '[sla.SEV1]\nacknowledge = "2s"')
    quick = quick.replace('cadence = { SEV1 = "1h", SEV2 = "4h" }', 'cadence = { SEV1 = "3s", SEV2 = "4h" }')
    quick = quick.replace('alert_after = "15m"', 'alert_after = "3s"').replace(
        'check_every = "30s"', 'check_every = "1s"'
    )
    quick = quick.replace('retry_max_interval = "5m"', 'retry_max_interval = "2s"')
    assert quick.count("2s") >= 2 and 'SEV1 = "3s"' in quick, "the default policy changed: update quick_policy"
    return parse_policy(quick, "notification tests")


def directory_text(mail_domain: str = "example.org", hooks: WebhookReceiver | None = None, extra: str = "") -> str:
    webhook = f'webhook = "{hooks.url("/hooks/legal")}"' if hooks else ""
    return f"""
[teams.legal]
email = ["legal@{mail_domain}"]
{webhook}

[teams.public_policy]
email = ["policy@{mail_domain}"]

[tiers.regional_on_call_lead]
email = ["oncall@{mail_domain}"]

[tiers.leads]
email = ["leads@{mail_domain}"]

[tiers.head_of_incident_management]
email = ["head-im@{mail_domain}"]

[audiences.leadership]
email = ["leadership@{mail_domain}"]

[audiences.stakeholders]
email = ["stakeholders@{mail_domain}"]
{extra}
"""


@dataclass
class Deliveries:
    client: Client
    engine: Engine
    task_queue: str
    mail: MailCatcher
    hooks: WebhookReceiver
    directory: Path

    def notices(self, incident_id: str) -> list[OutboxRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(OutboxRow).where(OutboxRow.incident_id == incident_id)))

    def deliveries(self, incident_id: str | None = None, **where: Any) -> list[DeliveryRow]:
        with Session(self.engine) as session:
            statement = select(DeliveryRow)
            if incident_id is not None:
                statement = statement.where(DeliveryRow.incident_id == incident_id)
            for column, value in where.items():
                statement = statement.where(getattr(DeliveryRow, column) == value)
            return list(session.scalars(statement.order_by(DeliveryRow.id)))

    async def all_sent(self, incident_id: str, timeout: float = 30) -> list[DeliveryRow]:
        """Once every notice of the incident has deliveries and each is sent (or failed)."""

        def done() -> list[DeliveryRow] | None:
            notices = self.notices(incident_id)
            rows = self.deliveries(incident_id)
            if notices and all(n.dispatched_at for n in notices) and all(d.status != "pending" for d in rows):
                return rows
            return None

        return await eventually(done, timeout=timeout)


@pytest.fixture(scope="module")
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(SECRET).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def notices_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('notices') / 'vigil.db'}")
    migrate(engine)
    with Session(engine) as session:
        for name, (role, language) in PEOPLE.items():
            auth.add_user(session, name, role, language, f"{name}@people.example")
    yield engine
    engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def notices_client(dev_env: WorkflowEnvironment) -> Client:
    return await namespace_client(dev_env, f"vigil-notices-{uuid.uuid4().hex[:6]}")


@contextlib.asynccontextmanager
async def delivering(
    client: Client,
    engine: Engine,
    mail: MailCatcher,
    hooks: WebhookReceiver,
    tmp_path: Path,
    *,
    directory: str | None = None,
    smtp: bool = True,
    policy: Policy | None = None,
) -> AsyncIterator[Deliveries]:
    """A worker that dispatches, on a task queue of its own, with this directory and channels."""
    path = tmp_path / "directory.toml"
    path.write_text(directory if directory is not None else directory_text(hooks=hooks))
    task_queue = f"notices-{uuid.uuid4().hex[:8]}"
    channels = Channels(
        mail=MailServer.from_url(mail.url, "Vigil <vigil@vigil.test>") if smtp else None, webhook_secret=SECRET
    )
    worker = build_worker(
        client,
        task_queue=task_queue,
        engine=engine,
        policy=policy or quick_policy(),
        dispatch=True,
        channels=channels,
        directory=DirectoryFile.load(path),
    )
    async with worker:
        await start_dispatcher(client, task_queue)
        yield Deliveries(client, engine, task_queue, mail, hooks, path)
        await client.get_workflow_handle(f"vigil-dispatcher-{task_queue}").terminate("test over")
