"""Every notice delivered once, to the right address, over real SMTP and a real webhook receiver;
permanent refusals failed and alerted; a mail server that is down, then up; and no SMTP at all."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from bench.receivers import MailCatcher, WebhookReceiver
from tests.helpers import ANA, LEA, LEO, eventually, intake, new_incident_id
from tests.notifications.conftest import Deliveries, delivering, directory_text
from vigil.activities.delivery import MAIL_NOT_CONFIGURED
from vigil.domain import EnforcementAction, Role, Team
from vigil.notifications.senders import delivery_id
from vigil.temporal.incident_client import act, open_incident
from vigil.workflows.actions import Acknowledge, Approve, Assign, Escalate, PostUpdate, ProposeAction
from vigil.workflows.state import Actor

LUCIA = Actor(user="lucia", role=Role.LEAD)
ADDRESSES = {  # recipient -> where the test directory and the people's emails send it
    "tier:regional_on_call_lead:EMEA": {"oncall@example.org"},
    "tier:leads:EMEA": {"leads@example.org"},
    "tier:head_of_incident_management": {"head-im@example.org"},
    "team:legal": {"legal@example.org", "webhook"},
    "audience:leadership": {"leadership@example.org"},
    "user:ana": {"ana@people.example"},
    "user:bea": {"bea@people.example"},
}
SECRETS = ("Beheading video", "video.example", "Agencia Nacional", "orders@regulator.example")


async def _sev1_through_every_notice(stack: Deliveries) -> str:
    """A SEV1 removal order: opened, breached, reminded, assigned, escalated, updated, proposed,
    approved by two leads and enforced: every kind of notice an incident sends."""
    incident_id = new_incident_id()
    await open_incident(stack.client, incident_id, intake(), task_queue=stack.task_queue)
    await eventually(lambda: any(n.kind == "breach" for n in stack.notices(incident_id)), timeout=20)
    await act(stack.client, incident_id, Acknowledge(), ANA)
    await eventually(lambda: any(n.kind == "update_due" for n in stack.notices(incident_id)), timeout=20)
    await act(stack.client, incident_id, Assign(assignee="bea"), ANA)
    await act(stack.client, incident_id, Escalate(team=Team.LEGAL, reason="removal order: three URLs"), ANA)
    await act(
        stack.client, incident_id, PostUpdate(audience="leadership", text="Order received; removal under way."), ANA
    )
    state = await act(
        stack.client,
        incident_id,
        ProposeAction(action=EnforcementAction.REMOVE_CONTENT, rationale="TCO order", statement_of_reasons="art. 3"),
        ANA,
    )
    approval = state.proposals[-1].id
    await act(stack.client, incident_id, Approve(approval_id=approval), LEO)
    await act(stack.client, incident_id, Approve(approval_id=approval), LUCIA)
    await eventually(lambda: any(n.kind == "enforcement" for n in stack.notices(incident_id)), timeout=20)
    return incident_id


async def test_every_notice_kind_is_delivered_once_to_its_address(
    notices_client: Client, notices_engine: Engine, mail: MailCatcher, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    async with delivering(notices_client, notices_engine, mail, hooks, tmp_path) as stack:
        incident_id = await _sev1_through_every_notice(stack)
        delivered = await stack.all_sent(incident_id)
    notices = {n.key: n for n in stack.notices(incident_id)}
    assert {n.kind for n in notices.values()} >= {
        "opened",
        "breach",
        "update_due",
        "assigned",
        "escalation",
        "status_update",
        "approval_requested",
        "approval_decided",
        "enforcement",
    }
    assert all(d.status == "sent" and d.attempts == 1 for d in delivered), [
        (d.address, d.last_error) for d in delivered
    ]
    for notice in notices.values():
        addresses = {
            "webhook" if d.channel == "webhook" else d.address for d in delivered if d.notice_key == notice.key
        }
        assert addresses == ADDRESSES[notice.recipient], notice.key
    mails, posts = mail.copies(), hooks.copies()
    for d in delivered:
        arrived = posts if d.channel == "webhook" else mails
        assert arrived[delivery_id(d.notice_key, d.address)] == 1, (d.notice_key, d.address)
    assert hooks.bad_signatures == 0
    ours = {delivery_id(d.notice_key, d.address) for d in delivered}
    for message in [m for m in mail.received if m.delivery_id in ours]:
        assert not any(secret in message.subject + message.body for secret in SECRETS), message.subject
    legal = [h for h in hooks.at("/hooks/legal") if h.body["incident_id"] == incident_id]
    assert len(legal) == 1 and legal[0].body["kind"] == "escalation" and legal[0].body["severity"] == "SEV1"
    assert legal[0].body["link"].endswith(f"/incidents/{incident_id}") and "removal order" in legal[0].body["text"]
    spanish = [m for m in mail.to("ana@people.example") if m.delivery_id in ours]
    assert spanish and all(m.message["Content-Language"] == "es" for m in spanish)  # ana reads Spanish
    update = next(m for m in mail.to("leadership@example.org") if m.delivery_id in ours)
    assert "Order received; removal under way." in update.body and "status update from ana" in update.subject


async def test_a_refused_address_is_failed_once_and_the_head_of_im_is_told(
    notices_client: Client, notices_engine: Engine, mail: MailCatcher, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    mail.refuse.add("legal@refusing.example")
    hooks.gone.add("/hooks/gone")
    extra = f'\n[teams.public_policy]\nemail = ["legal@refusing.example"]\nwebhook = "{hooks.url("/hooks/gone")}"\n'
    directory = directory_text(hooks=hooks).replace('[teams.public_policy]\nemail = ["policy@example.org"]\n', extra)
    async with delivering(notices_client, notices_engine, mail, hooks, tmp_path, directory=directory) as stack:
        incident_id = new_incident_id()
        await open_incident(stack.client, incident_id, intake(category="hate_speech"), task_queue=stack.task_queue)
        await act(stack.client, incident_id, Acknowledge(), ANA)
        await act(stack.client, incident_id, Escalate(team=Team.PUBLIC_POLICY, reason="a ruling is needed"), ANA)
        refused = await eventually(
            lambda: (
                [d for d in stack.deliveries(incident_id) if d.status == "failed"]
                if len([d for d in stack.deliveries(incident_id) if d.status == "failed"]) == 2
                else None
            )
        )
        alerts = await eventually(
            lambda: (
                [d for d in stack.deliveries(incident_id, address="head-im@example.org") if d.status == "sent"]
                if len(stack.deliveries(incident_id, address="head-im@example.org", status="sent")) == 2
                else None
            )
        )
    by_channel = {d.channel: d for d in refused}
    assert "550" in by_channel["email"].last_error and by_channel["email"].attempts == 1
    assert "410" in by_channel["webhook"].last_error and by_channel["webhook"].attempts == 1
    assert mail.to("legal@refusing.example") == []
    told = [
        m
        for m in mail.to("head-im@example.org")
        if m.delivery_id in {delivery_id(a.notice_key, a.address) for a in alerts}
    ]
    assert len(told) == 2 and all("could not be delivered" in m.subject for m in told)
    assert any("legal@refusing.example" in m.body and "550" in m.body for m in told)


async def test_mail_that_is_down_then_up_is_delivered_after_once(
    notices_client: Client, notices_engine: Engine, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    down = MailCatcher()  # not started yet: nothing listens on its port
    async with delivering(notices_client, notices_engine, down, hooks, tmp_path) as stack:
        incident_id = new_incident_id()
        await open_incident(stack.client, incident_id, intake(category="hate_speech"), task_queue=stack.task_queue)
        await act(stack.client, incident_id, Assign(assignee="bea"), ANA)
        retried = await eventually(lambda: [d for d in stack.deliveries(incident_id) if d.attempts >= 2], timeout=30)
        assert "cannot reach the mail server" in retried[0].last_error and retried[0].status == "pending"
        # Kept down until every notice is past the policy's alert_after (3 s here) and alerted.
        await eventually(lambda: _every_notice_alerted(stack.notices(incident_id)), timeout=30)
        down.start()
        try:
            delivered = await stack.all_sent(incident_id, timeout=30)
        finally:
            down.stop()
    assignment = next(d for d in delivered if d.address == "bea@people.example")
    assert assignment.status == "sent" and assignment.attempts >= 2  # refused while down, then sent
    assert [m.delivery_id for m in down.to("bea@people.example")] == [
        delivery_id(assignment.notice_key, assignment.address)
    ]
    # Still unsent after the policy's alert_after (3 s here): the head of IM was told, once a notice.
    notices = stack.notices(incident_id)
    alerts = {n.key for n in notices if n.kind == "undelivered"}
    assert alerts == {f"undelivered:{n.key}" for n in notices if n.kind != "undelivered"}
    assert all(d.status == "sent" for d in delivered if d.address == "head-im@example.org")
    assert all("still not delivered" in m.body for m in down.to("head-im@example.org"))


async def test_without_smtp_email_waits_as_not_configured_and_webhooks_still_go(
    notices_client: Client, notices_engine: Engine, mail: MailCatcher, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    async with delivering(notices_client, notices_engine, mail, hooks, tmp_path, smtp=False) as stack:
        incident_id = new_incident_id()
        await open_incident(stack.client, incident_id, intake(category="hate_speech"), task_queue=stack.task_queue)
        await act(stack.client, incident_id, Acknowledge(), ANA)
        await act(stack.client, incident_id, Escalate(team=Team.LEGAL, reason="needs a view"), ANA)
        webhook = await eventually(lambda: stack.deliveries(incident_id, channel="webhook", status="sent"))
        email = stack.deliveries(incident_id, channel="email")
        await asyncio.sleep(2)  # two of the dispatcher's rounds: still nothing sent
        email = stack.deliveries(incident_id, channel="email")
    assert len(webhook) == 1
    assert email and all(
        d.status == "pending" and d.attempts == 0 and d.last_error == MAIL_NOT_CONFIGURED for d in email
    )
    assert not [m for m in mail.received if m.to == "legal@example.org" and incident_id in m.subject]


async def test_a_rota_handoff_pages_one_person_before_it_and_the_next_after(
    notices_client: Client, notices_engine: Engine, mail: MailCatcher, hooks: WebhookReceiver, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    handoff = start + timedelta(seconds=6)
    rota = f"""
[[tiers.regional_on_call_lead.EMEA.rota]]
from = {start - timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z
to = {handoff:%Y-%m-%dT%H:%M:%S.%f}Z
person = "leo"

[[tiers.regional_on_call_lead.EMEA.rota]]
from = {handoff:%Y-%m-%dT%H:%M:%S.%f}Z
to = {start + timedelta(hours=8):%Y-%m-%dT%H:%M:%S}Z
person = "lucia"
"""
    async with delivering(
        notices_client, notices_engine, mail, hooks, tmp_path, directory=directory_text(hooks=hooks, extra=rota)
    ) as stack:
        before = new_incident_id()
        await open_incident(stack.client, before, intake(), task_queue=stack.task_queue)  # breaches 2 s later
        await asyncio.sleep(max((handoff - datetime.now(UTC)).total_seconds(), 0) + 0.5)
        after = new_incident_id()
        await open_incident(stack.client, after, intake(), task_queue=stack.task_queue)
        pages = {}
        for incident_id in (before, after):
            await eventually(lambda: any(n.kind == "breach" for n in stack.notices(incident_id)), timeout=20)  # noqa: B023
            await act(stack.client, incident_id, Acknowledge(), LEA)
            breach = next(n for n in stack.notices(incident_id) if n.kind == "breach")
            sent = await eventually(lambda: stack.deliveries(incident_id, notice_key=breach.key, status="sent"))  # noqa: B023
            pages[incident_id] = (breach.occurred_at, {d.address for d in sent})
    assert pages[before][1] == {"leo@people.example"}, pages
    assert pages[after][1] == {"lucia@people.example"}, pages


def _every_notice_alerted(notices: list[Any]) -> bool:
    alerts = {n.key for n in notices if n.kind == "undelivered"}
    wanted = {f"undelivered:{n.key}" for n in notices if n.kind != "undelivered"}
    return bool(wanted) and wanted <= alerts
