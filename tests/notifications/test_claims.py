"""The deliver activity's claim, on SQLite and PostgreSQL: one attempt at a time, a dead
attempt's delivery taken over once its lease has passed, and a sent one never sent again."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from temporalio.exceptions import ApplicationError

from bench.receivers import MailCatcher
from tests.helpers import new_incident_id
from vigil.activities.delivery import DELIVERY_LEASE, Channels, DeliveryActivities
from vigil.db.tables import DeliveryRow, OutboxRow
from vigil.db.upsert import insert_ignore
from vigil.notifications.directory import DirectoryFile
from vigil.notifications.senders import MailServer, delivery_id
from vigil.policy import Notifications


@pytest.fixture(scope="module")
def catcher() -> MailCatcher:
    mail = MailCatcher().start()
    yield mail
    mail.stop()


def _delivery(engine: Engine) -> int:
    now = datetime.now(UTC)
    key = f"{new_incident_id()}:1:assigned:user:ana"
    with Session(engine) as session, session.begin():
        insert_ignore(
            session,
            OutboxRow,
            [
                {
                    "key": key,
                    "incident_id": key[:15],
                    "kind": "assigned",
                    "recipient": "user:ana",
                    "language": "en",
                    "subject": "[SEV3] assigned to you",
                    "body": "Open it",
                    "created_at": now,
                    "dispatched_at": now,
                }
            ],
        )
        row = DeliveryRow(
            notice_key=key,
            incident_id=key[:15],
            address="ana@people.example",
            channel="email",
            language="en",
            created_at=now,
        )
        session.add(row)
        session.flush()
        return int(row.id or 0)


def _activities(engine: Engine, mail: MailCatcher) -> DeliveryActivities:
    channels = Channels(mail=MailServer.from_url(mail.url, "vigil@vigil.test"), webhook_secret=None)
    return DeliveryActivities(engine, DirectoryFile(None), channels, "http://vigil.test", Notifications())


async def test_a_dead_attempts_delivery_is_taken_over_after_its_lease_and_sent_once(
    any_engine: Engine, catcher: MailCatcher
) -> None:
    activities = _activities(any_engine, catcher)
    delivery = _delivery(any_engine)
    claimed = activities._claim(delivery)  # an attempt claims it, and its worker dies
    assert not isinstance(claimed, str)
    with pytest.raises(ApplicationError) as busy:
        activities._claim(delivery)  # the next attempt, inside the lease: not while the first may be sending
    assert busy.value.type == "DeliveryBusy" and not busy.value.non_retryable
    with Session(any_engine) as session, session.begin():
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery)
            .values(sending_since=datetime.now(UTC) - DELIVERY_LEASE - timedelta(seconds=1))
        )
    assert await activities.deliver(delivery) == "sent"  # the lease has passed: taken over
    assert await activities.deliver(delivery) == "sent"  # and never sent again
    with Session(any_engine) as session:
        row = session.get(DeliveryRow, delivery)
        assert row is not None and (row.status, row.attempts, row.sending_since) == ("sent", 2, None)
        key = row.notice_key
    assert catcher.copies()[delivery_id(key, "ana@people.example")] == 1
