"""Notices delivered once across a worker killed with kill -9 mid-delivery and a Temporal server
restart: `vigil worker` and `vigil api` processes with VIGIL_SMTP_URL, VIGIL_WEBHOOK_SECRET and
VIGIL_DIRECTORY pointing at a (slow) SMTP server and a webhook receiver in this process.

What "once" means here (docs/communications.md, "Exactly once"): every delivery arrives, and
none arrives twice under two ids. A kill -9 between the far end accepting a message and the
worker recording it sent makes the next attempt send it again, with the same X-Vigil-Delivery
and Message-ID, so a receiver that drops repeated ids sees each notice once; the test counts
such repeats and bounds them by the kills. A server restart kills no worker: there, not one
message may arrive twice.
"""

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.processes import Deployment, TemporalDevServer
from bench.receivers import MailCatcher, WebhookReceiver
from bench.workload import intake_body
from tests.helpers import eventually
from tests.reliability.conftest import System, start_system
from vigil.db.tables import DeliveryRow, OutboxRow
from vigil.notifications.senders import delivery_id

SECRET = "reliability-webhook-secret"
INCIDENTS = 24
KILLS = 2


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[MailCatcher, WebhookReceiver]]:
    mail, hooks = MailCatcher(delay=0.5).start(), WebhookReceiver(SECRET).start()
    yield mail, hooks
    mail.stop()
    hooks.stop()


@pytest.fixture(scope="module")
def notices_system(
    temporal_server: TemporalDevServer,
    reliability_dir: Path,
    policy_file: Path,
    receivers: tuple[MailCatcher, WebhookReceiver],
) -> Iterator[System]:
    mail, hooks = receivers
    home = reliability_dir / "notices"
    home.mkdir(parents=True, exist_ok=True)
    directory = home / "directory.toml"
    directory.write_text(
        "[tiers.regional_on_call_lead]\n"
        'email = ["oncall@example.org", "oncall-deputy@example.org"]\n'
        f'webhook = "{hooks.url("/hooks/oncall")}"\n'
        "[tiers.head_of_incident_management]\n"
        'email = ["head-im@example.org"]\n'
    )
    deployment = Deployment(
        home=home,
        temporal_address=temporal_server.address,
        namespace="vigil-notices",
        database_url=f"sqlite:///{home / 'vigil.db'}",
        policy=policy_file,
        extra_env={
            "VIGIL_SMTP_URL": mail.url,
            "VIGIL_MAIL_FROM": "Vigil <vigil@reliability.test>",
            "VIGIL_WEBHOOK_SECRET": SECRET,
            "VIGIL_DIRECTORY": str(directory),
        },
    )
    system = start_system(deployment)
    yield system
    deployment.stop_all()


async def _open_incidents(system: System, run: str) -> list[str]:
    """SEV1 incidents: each tells the region's on-call lead (two emails and a webhook)."""
    async with httpx.AsyncClient(timeout=90) as http:

        async def one(index: int) -> str:
            body = intake_body("sev1", external_ref=f"{run}-{index}")
            for _ in range(60):
                try:
                    response = await http.post(
                        f"{system.urls[0]}/api/incidents",
                        json=body,
                        headers={"Authorization": f"Bearer {system.tokens['ana']}"},
                    )
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code in (200, 201):
                    return str(response.json()["id"])
                await asyncio.sleep(1)  # 503 while a worker or the server is away: the same ref again
            raise AssertionError(f"could not open incident {index}")

        return list(await asyncio.gather(*(one(i) for i in range(INCIDENTS))))


def _deliveries(system: System, incidents: list[str]) -> list[DeliveryRow] | None:
    """Every delivery of these incidents' notices, once each is sent; None while any is not."""
    engine = system.deployment.engine()
    try:
        with Session(engine) as session:
            notices = session.scalars(select(OutboxRow).where(OutboxRow.incident_id.in_(incidents))).all()
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.incident_id.in_(incidents))).all()
    finally:
        engine.dispose()
    opened = [n for n in notices if n.kind == "opened"]
    if len(opened) < len(incidents) or not all(n.dispatched_at for n in opened):
        return None
    mine = [d for d in rows if d.notice_key in {n.key for n in opened}]
    return mine if mine and all(d.status == "sent" for d in mine) else None


def _out(system: System) -> int:
    """How many deliveries are out: claimed by an attempt, not yet recorded sent. After a kill,
    these are the sends that may arrive twice (the attempt died before recording it)."""
    engine = system.deployment.engine()
    try:
        with Session(engine) as session:
            held = select(func.count()).where(DeliveryRow.status == "pending", DeliveryRow.sending_since.is_not(None))
            return int(session.scalar(held) or 0)
    finally:
        engine.dispose()


def _sending(system: System) -> bool:
    return _out(system) > 0


def _arrived(mail: MailCatcher, hooks: WebhookReceiver, rows: list[DeliveryRow]) -> tuple[set[str], int]:
    """The delivery ids that arrived, and how many copies arrived beyond the first."""
    mails, posts = mail.copies(), hooks.copies()
    expected = {delivery_id(d.notice_key, d.address): (posts if d.channel == "webhook" else mails) for d in rows}
    arrived = {key for key, counter in expected.items() if counter[key] >= 1}
    repeats = sum(counter[key] - 1 for key, counter in expected.items() if counter[key] > 1)
    return arrived, repeats


async def test_notices_are_delivered_once_across_worker_kill_9(
    notices_system: System, receivers: tuple[MailCatcher, WebhookReceiver]
) -> None:
    mail, hooks = receivers
    rng = random.Random()
    incidents_task = asyncio.create_task(_open_incidents(notices_system, f"kill-{rng.randrange(10**6)}"))
    kills = interrupted = 0
    for _ in range(KILLS):
        await eventually(lambda: _sending(notices_system), timeout=60, interval=0.05)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        worker = notices_system.workers[0]
        worker.kill()  # mid-delivery (waited for one in flight; the SMTP server takes 0.5 s a message)
        kills += 1
        interrupted += await asyncio.to_thread(_out, notices_system)  # deliveries run side by side
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        await asyncio.to_thread(notices_system.deployment.restart, worker)
    incidents = await incidents_task
    rows = await eventually(lambda: _deliveries(notices_system, incidents), timeout=150, interval=1)
    arrived, repeats = _arrived(mail, hooks, rows)
    assert len(rows) == 3 * INCIDENTS  # two addresses and a webhook each
    assert arrived == {delivery_id(d.notice_key, d.address) for d in rows}, "a delivery never arrived"
    # Only a send its attempt was holding when the worker died may arrive twice.
    assert repeats <= interrupted, f"{repeats} repeated copies after {kills} kills that interrupted {interrupted}"
    assert hooks.bad_signatures == 0
    taken_over = sum(1 for d in rows if d.attempts > 1)
    print(f"{len(rows)} deliveries, {kills} kills, {taken_over} taken over by a later attempt, {repeats} repeated")


async def test_notices_are_delivered_exactly_once_across_a_temporal_server_restart(
    notices_system: System, receivers: tuple[MailCatcher, WebhookReceiver], temporal_server: TemporalDevServer
) -> None:
    mail, hooks = receivers
    notices_system.heal()
    incidents = await _open_incidents(notices_system, f"restart-{random.randrange(10**6)}")
    await eventually(lambda: _sending(notices_system), timeout=60, interval=0.05)  # deliveries under way
    await asyncio.to_thread(temporal_server.stop)
    await asyncio.sleep(2)
    await asyncio.to_thread(temporal_server.start)
    rows = await eventually(lambda: _deliveries(notices_system, incidents), timeout=150, interval=1)
    arrived, repeats = _arrived(mail, hooks, rows)
    assert all(w.alive for w in notices_system.workers), notices_system.workers[0].log_tail()
    assert len(rows) == 3 * INCIDENTS
    assert arrived == {delivery_id(d.notice_key, d.address) for d in rows}
    assert repeats == 0, f"{repeats} messages arrived twice"
