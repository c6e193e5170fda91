"""Sealing a closed incident's history: the hash chain is stored in the projection, and the
digest returned to the workflow, which puts it in a search attribute."""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from vigil.audit.digest import SEAL_ACTIVITY, chain, fetch_runs, sealed_events
from vigil.db.tables import HistorySealRow, IncidentRow
from vigil.db.upsert import insert_ignore
from vigil.temporal import signer_of
from vigil.temporal.signing import sign_request
from vigil.workflows.actions import AddNote
from vigil.workflows.messages import MergeNote, Seal
from vigil.workflows.state import SYSTEM


class AuditActivities:
    def __init__(self, client: Client, engine: Engine):
        self._client = client
        self._engine = engine

    @activity.defn(name=SEAL_ACTIVITY)
    async def seal(self, incident_id: str) -> Seal:
        runs = await fetch_runs(self._client, incident_id)
        links = chain(incident_id, sealed_events(runs))
        seal = Seal(digest=links[-1], events=len(links))
        await asyncio.to_thread(self._store, incident_id, links, [r.run_id for r in runs])
        return seal

    @activity.defn
    async def note_merge(self, note: MergeNote) -> None:
        """Vigil's own note on the merge target, signed as the system actor (`internal`). The nonce
        is the merged incident's, so a retry that reaches the target twice is refused there once."""
        text = AddNote(text=f"{note.merged_id} was merged into this incident")
        request = sign_request(
            signer_of(self._client), note.target_id, text, SYSTEM, nonce=f"merged:{note.merged_id}", internal=True
        )
        try:
            await self._client.get_workflow_handle(note.target_id).signal("act_signal", request.model_dump(mode="json"))
        except RPCError as error:  # the target has closed meanwhile
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            activity.logger.warning("could not note merge on %s: %s", note.target_id, error)

    def _store(self, incident_id: str, links: list[str], run_ids: list[str | None]) -> None:
        with Session(self._engine) as session, session.begin():
            # A retry computes the same chain over the same events: the first row stands.
            insert_ignore(
                session,
                HistorySealRow,
                [
                    {
                        "incident_id": incident_id,
                        "digest": links[-1],
                        "events": len(links),
                        "chain": links,
                        "run_ids": run_ids,
                        "sealed_at": datetime.now(UTC),
                    }
                ],
            )
            sealed = update(IncidentRow).where(col(IncidentRow.id) == incident_id)
            session.execute(sealed.values(history_digest=links[-1]))
