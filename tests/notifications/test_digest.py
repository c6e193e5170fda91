"""The daily leadership digest: a Temporal Schedule kept as the policy says, and `vigil digest
--now` (digest_now), delivered to the leadership audience in its language, with no titles."""

from pathlib import Path

from sqlalchemy import Engine
from temporalio.client import Client

from bench.receivers import MailCatcher, WebhookReceiver
from tests.helpers import ANA, eventually, intake, new_incident_id, rows
from tests.notifications.conftest import delivering, directory_text
from vigil.db.tables import IncidentRow
from vigil.notifications.schedules import digest_now, keep_digest_schedule
from vigil.policy import DigestSchedule
from vigil.temporal.incident_client import act, open_incident
from vigil.workflows.actions import Acknowledge
from vigil.workflows.digest import digest_schedule_id


async def test_the_schedule_follows_the_policy(notices_client: Client, tmp_path: Path) -> None:
    task_queue = f"digest-{tmp_path.name[-8:]}"
    await keep_digest_schedule(notices_client, task_queue, DigestSchedule(at="08:30", zone="Europe/Madrid"))
    await keep_digest_schedule(notices_client, task_queue, DigestSchedule(at="07:15", zone="America/Mexico_City"))
    described = await notices_client.get_schedule_handle(digest_schedule_id(task_queue)).describe()
    spec = described.schedule.spec
    assert spec.time_zone_name == "America/Mexico_City"
    assert [(c.hour[0].start, c.minute[0].start) for c in spec.calendars] == [(7, 15)] or spec.cron_expressions == [
        "15 7 * * *"
    ]
    await keep_digest_schedule(notices_client, task_queue, None)  # the policy turned it off
    ids = [s.id async for s in await notices_client.list_schedules()]
    assert digest_schedule_id(task_queue) not in ids


async def test_digest_now_reaches_leadership_with_ids_and_no_titles(
    notices_client: Client, notices_engine: Engine, mail: MailCatcher, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    directory = directory_text(hooks=hooks).replace(
        '[audiences.leadership]\nemail = ["leadership@example.org"]',
        '[audiences.leadership]\nemail = ["direccion@example.org"]\nlanguage = "es"',
    )
    async with delivering(notices_client, notices_engine, mail, hooks, tmp_path, directory=directory) as stack:
        incident_id = new_incident_id()
        await open_incident(stack.client, incident_id, intake(), task_queue=stack.task_queue)
        await act(stack.client, incident_id, Acknowledge(), ANA)
        await eventually(lambda: rows(notices_engine, IncidentRow, id=incident_id, status="investigating"))
        await keep_digest_schedule(stack.client, stack.task_queue, DigestSchedule(at="08:00", zone="UTC"))
        await digest_now(stack.client, stack.task_queue)
        digests = await eventually(
            lambda: [m for m in mail.to("direccion@example.org") if "Vigil" in m.subject and incident_id in m.body],
            timeout=30,
        )
        await keep_digest_schedule(stack.client, stack.task_queue, None)
    body = digests[0].body
    assert digests[0].message["Content-Language"] == "es" and "resumen diario" in digests[0].subject.lower()
    assert f"{incident_id} SEV1" in body and "en investigación" in body
    assert "Beheading" not in body and "video.example" not in body and "Agencia Nacional" not in body
