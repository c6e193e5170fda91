"""The dispatcher's side effects: planning deliveries from the outbox, and sending one.

`plan_deliveries` turns new notices into deliveries (one per address the directory gives the
recipient at the moment the notice is about), reports notices still unsent after the policy's
`alert_after` to the head of incident management (once), and picks the deliveries due now.

`deliver` sends one delivery, at most once at a time and never again once sent:
1. claim: one UPDATE marks the attempt (`sending_since`, `attempts + 1`), only while the row is
   pending and no other attempt holds it (an attempt holds it for DELIVERY_LEASE, the activity's
   own timeout, so one that died is taken over when Temporal retries it);
2. send, with the delivery's stable id as Message-ID / X-Vigil-Delivery;
3. mark it sent (retried for a while if the database blips, since the far end has it now).
Only a crash between the far end accepting and step 3 committing sends it again, with the same
id: docs/communications.md, "Exactly once".
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity
from temporalio.exceptions import ApplicationError
from tenacity import retry, stop_after_delay, wait_exponential

from vigil.db.tables import DeliveryRow, OutboxRow, UserRow
from vigil.db.upsert import insert_ignore
from vigil.i18n import supported
from vigil.notifications.directory import DirectoryFile, Person, resolve
from vigil.notifications.notices import undelivered
from vigil.notifications.senders import MailServer, Message, SendFailed, delivery_id, send_email, send_webhook
from vigil.policy import Notifications
from vigil.workflows.messages import DeliveryPlan, PlanRequest

log = logging.getLogger("vigil.delivery")

# An attempt's hold on its delivery: the deliver activity's start-to-close timeout. A second
# attempt may take a delivery over only after the first one has certainly timed out.
DELIVERY_LEASE = timedelta(seconds=30)
MAIL_NOT_CONFIGURED = "mail is not configured (set VIGIL_SMTP_URL)"
WEBHOOKS_NOT_CONFIGURED = "webhooks are not configured (set VIGIL_WEBHOOK_SECRET)"
_RESOLVE_BATCH = 500


@dataclass(frozen=True)
class Channels:
    """How this worker reaches people: None where a channel is not configured (it then waits)."""

    mail: MailServer | None
    webhook_secret: str | None

    def waiting_reason(self, channel: str) -> str | None:
        if channel == "email" and self.mail is None:
            return MAIL_NOT_CONFIGURED
        if channel == "webhook" and not self.webhook_secret:
            return WEBHOOKS_NOT_CONFIGURED
        return None

    @property
    def enabled(self) -> list[str]:
        return [c for c in ("email", "webhook") if self.waiting_reason(c) is None]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryActivities:
    def __init__(
        self,
        engine: Engine,
        directory: DirectoryFile,
        channels: Channels,
        public_url: str,
        settings: Notifications,
        on_notices: Callable[[], None] | None = None,
    ):
        self._on_notices = on_notices
        self._engine = engine
        self._directory = directory
        self._channels = channels
        self._public_url = public_url
        self._settings = settings
        self._http: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------ planning

    @activity.defn(name="plan_deliveries")
    def plan(self, request: PlanRequest) -> DeliveryPlan:
        now = _now()
        with Session(self._engine) as session, session.begin():
            self._alert_overdue(session, now)  # first, so the alerts are resolved in the same round
            self._resolve_new_notices(session, now)
            self._note_waiting_channels(session)
            due = self._due(session, request, now)
        return DeliveryPlan(
            deliveries=due[: request.capacity],
            more=len(due) > request.capacity,
            check_again_seconds=self._settings.check_every.total_seconds(),
            concurrency=self._settings.concurrency,
            retry_max_interval_seconds=self._settings.retry_max_interval.total_seconds(),
        )

    def _people(self, session: Session) -> tuple[dict[str, Person], str]:
        rows = session.execute(
            select(col(UserRow.name), col(UserRow.email), col(UserRow.language)).where(
                col(UserRow.disabled_at).is_(None)
            )
        ).all()
        people = {r.name: Person(r.email, r.language) for r in rows}
        digest = hashlib.sha256(repr(sorted((r.name, r.email or "", r.language) for r in rows)).encode())
        return people, digest.hexdigest()[:16]

    def _resolve_new_notices(self, session: Session, now: datetime) -> None:
        """Notices not yet resolved, and not tried against this directory and these people."""
        directory, directory_version = self._directory.current()
        people, people_version = self._people(session)
        version = f"{directory_version}:{people_version}"[:64]
        notices = session.scalars(
            select(OutboxRow)
            .where(
                col(OutboxRow.dispatched_at).is_(None),
                or_(col(OutboxRow.resolved_against).is_(None), col(OutboxRow.resolved_against) != version),
            )
            .order_by(col(OutboxRow.id))
            .limit(_RESOLVE_BATCH)
        ).all()
        for notice in notices:
            moment = _aware(notice.occurred_at or notice.created_at)
            addresses = resolve(directory, notice.recipient, moment, people)
            notice.resolved_against = version
            if not addresses:
                notice.last_error = self._no_address(notice.recipient, people)
                continue
            rows = [
                {
                    "notice_key": notice.key,
                    "incident_id": notice.incident_id,
                    "address": a.address,
                    "channel": a.channel,
                    "language": supported(a.language or notice.language),
                    "status": "pending",
                    "attempts": 0,
                    "last_error": self._channels.waiting_reason(a.channel),
                    "created_at": now,
                }
                for a in addresses
            ]
            insert_ignore(session, DeliveryRow, rows)
            notice.dispatched_at, notice.last_error = now, None

    def _no_address(self, recipient: str, people: dict[str, Person]) -> str:
        kind, _, name = recipient.partition(":")
        if kind == "user":
            return f"{name} has no email address (vigil users email {name} ADDR)"
        if not self._directory.configured:
            return f"no address for {recipient}: no directory is configured (set VIGIL_DIRECTORY)"
        return f"no address for {recipient} in the directory {self._directory.path}"

    def _note_waiting_channels(self, session: Session) -> None:
        """Say why deliveries wait, for a channel this worker cannot send on."""
        for channel in ("email", "webhook"):
            reason = self._channels.waiting_reason(channel)
            if reason:
                session.execute(
                    update(DeliveryRow)
                    .where(
                        col(DeliveryRow.status) == "pending",
                        col(DeliveryRow.channel) == channel,
                        or_(col(DeliveryRow.last_error).is_(None), col(DeliveryRow.last_error) != reason),
                    )
                    .values(last_error=reason)
                )

    def _alert_overdue(self, session: Session, now: datetime) -> None:
        """A notice still unsent after `alert_after`, though tried (or the directory has no one
        for it), is reported to the head of incident management, once. Waiting because a
        channel is deliberately not configured is not alerted: /readyz and the console say so."""
        cutoff = now - self._settings.alert_after
        open_notice = and_(
            col(OutboxRow.alerted_at).is_(None),
            col(OutboxRow.kind) != "undelivered",
            col(OutboxRow.created_at) < cutoff,
        )
        tried = (
            select(OutboxRow, func.max(col(DeliveryRow.last_error)))
            .join(DeliveryRow, col(DeliveryRow.notice_key) == col(OutboxRow.key))
            .where(open_notice, col(DeliveryRow.status) == "pending", col(DeliveryRow.attempts) > 0)
            .group_by(col(OutboxRow.id))
            .limit(100)
        )
        overdue: list[tuple[OutboxRow, str]] = [
            (notice, f"still not delivered after {self._settings.alert_after}: {error or 'retrying'}")
            for notice, error in session.execute(tried).all()
        ]
        if self._directory.configured:
            unresolved = select(OutboxRow).where(open_notice, col(OutboxRow.dispatched_at).is_(None)).limit(100)
            overdue += [(n, n.last_error or "no address") for n in session.scalars(unresolved)]
        for notice, reason in overdue:
            notice.alerted_at = now
            alert = undelivered(f"undelivered:{notice.key}"[:160], _about(notice), reason, None, now, self._public_url)
            insert_ignore(session, OutboxRow, [alert.row(now)])

    def _due(self, session: Session, request: PlanRequest, now: datetime) -> list[int]:
        enabled = self._channels.enabled
        if not enabled or request.capacity <= 0:
            return []
        statement = (
            select(col(DeliveryRow.id))
            .where(
                col(DeliveryRow.status) == "pending",
                col(DeliveryRow.channel).in_(enabled),
                or_(col(DeliveryRow.sending_since).is_(None), col(DeliveryRow.sending_since) < now - DELIVERY_LEASE),
            )
            .order_by(col(DeliveryRow.id))
            .limit(request.capacity + 1)
        )
        if request.in_flight:
            statement = statement.where(col(DeliveryRow.id).not_in(request.in_flight))
        return list(session.scalars(statement))

    # ------------------------------------------------------------------ sending

    @activity.defn(name="deliver")
    async def deliver(self, delivery: int) -> str:
        """Send one delivery: "sent", or what it already was ("sent", "failed"), or "waiting"
        when its channel is not configured here. Raises to be retried; DeliveryRefused for good."""
        claimed = await asyncio.to_thread(self._claim, delivery)
        if isinstance(claimed, str):
            return claimed
        row, message = claimed
        try:
            if row.channel == "email":
                assert self._channels.mail is not None
                await send_email(self._channels.mail, row.address, message)
            else:
                assert self._channels.webhook_secret
                await send_webhook(self._client(), row.address, self._channels.webhook_secret, message)
        except SendFailed as failure:
            if failure.permanent:
                await asyncio.to_thread(self._fail, row, str(failure))
                if self._on_notices is not None:
                    self._on_notices()  # the alert it wrote
                raise ApplicationError(str(failure), type="DeliveryRefused", non_retryable=True) from None
            await asyncio.to_thread(self._release, delivery, str(failure))
            raise ApplicationError(str(failure), type="DeliveryFailed") from None
        await asyncio.to_thread(self._mark_sent, row)
        return "sent"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    def _claim(self, delivery: int) -> tuple[DeliveryRow, Message] | str:
        now = _now()
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            row = session.get(DeliveryRow, delivery)
            if row is None:
                return "gone"
            if row.status != "pending":
                return row.status
            if self._channels.waiting_reason(row.channel):
                return "waiting"
            claim = (
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.id) == delivery,
                    col(DeliveryRow.status) == "pending",
                    or_(
                        col(DeliveryRow.sending_since).is_(None), col(DeliveryRow.sending_since) < now - DELIVERY_LEASE
                    ),
                )
                .values(sending_since=now, attempts=col(DeliveryRow.attempts) + 1)
                # Not evaluated against the row loaded above: SQLite hands back naive times.
                .execution_options(synchronize_session=False)
            )
            claimed = cast(CursorResult[Any], session.execute(claim)).rowcount
            if not claimed:
                raise ApplicationError("another attempt is sending it", type="DeliveryBusy")
            notice = session.scalars(select(OutboxRow).where(col(OutboxRow.key) == row.notice_key)).one()
            return row, self._message(notice, row)

    def _message(self, notice: OutboxRow, row: DeliveryRow) -> Message:
        text = (notice.messages or {}).get(row.language) or {"subject": notice.subject, "body": notice.body}
        language = row.language if notice.messages and row.language in notice.messages else notice.language
        link = f"{self._public_url}/incidents/{notice.incident_id}" if notice.incident_id else self._public_url
        return Message(
            delivery_id=delivery_id(row.notice_key, row.address),
            incident_id=notice.incident_id,
            kind=notice.kind,
            severity=notice.severity,
            language=language,
            subject=text["subject"],
            body=text["body"],
            link=link,
            occurred_at=_aware(notice.occurred_at) if notice.occurred_at else None,
        )

    @retry(stop=stop_after_delay(20), wait=wait_exponential(multiplier=0.2, max=5), reraise=True)
    def _mark_sent(self, row: DeliveryRow) -> None:
        """The far end has it: record that, trying hard (a failure here means a second send)."""
        now = _now()
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.id) == row.id)
                .values(status="sent", sent_at=now, sending_since=None, last_error=None)
            )
            waiting = session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(col(DeliveryRow.notice_key) == row.notice_key, col(DeliveryRow.status) != "sent")
            )
            if not waiting:
                session.execute(update(OutboxRow).where(col(OutboxRow.key) == row.notice_key).values(delivered_at=now))

    def _release(self, delivery: int, error: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.id) == delivery, col(DeliveryRow.status) == "pending")
                .values(sending_since=None, last_error=error[:2000])
            )

    def _fail(self, row: DeliveryRow, error: str) -> None:
        """Refused for good: recorded failed, and the head of IM told (not for their own alerts)."""
        now = _now()
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.id) == row.id)
                .values(status="failed", failed_at=now, sending_since=None, last_error=error[:2000])
            )
            notice = session.scalars(select(OutboxRow).where(col(OutboxRow.key) == row.notice_key)).one()
            if notice.kind == "undelivered":
                log.error("an alert about an undelivered notice was refused too: %s", error)
                return
            notice.alerted_at = notice.alerted_at or now
            key = f"failed:{delivery_id(row.notice_key, row.address)}"
            alert = undelivered(key, _about(notice), error, row.address, now, self._public_url)
            insert_ignore(session, OutboxRow, [alert.row(now)])


def _about(notice: OutboxRow) -> dict[str, Any]:
    return {
        "key": notice.key,
        "kind": notice.kind,
        "recipient": notice.recipient,
        "incident_id": notice.incident_id,
        "severity": notice.severity,
    }
