"""The DigestWorkflow's one side effect: the digest notice, written to the outbox (once per run:
its key is the run's moment), then the dispatcher is woken to deliver it."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio import activity

from vigil.db.tables import OutboxRow
from vigil.db.upsert import insert_ignore
from vigil.notifications.digest import build_digest


class DigestActivities:
    def __init__(self, engine: Engine, public_url: str, on_notices: Callable[[], None] | None = None):
        self._engine = engine
        self._public_url = public_url
        self._on_notices = on_notices

    @activity.defn(name="write_digest")
    def write(self, at: datetime) -> str:
        """Writes the digest as of `at`; returns its notice key."""
        with Session(self._engine) as session, session.begin():
            digest = build_digest(session, at, self._public_url)
            insert_ignore(session, OutboxRow, [digest.row(at)])
        if self._on_notices is not None:
            self._on_notices()
        return digest.key
