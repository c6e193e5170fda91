"""Enforcement: carrying out an approved action on the platform, behind a small interface.

A platform plugs in by implementing `EnforcementAdapter.execute`, which must be idempotent on
`request.proposal.id` (the activity is retried after crashes and timeouts). The built-in
`RecordingAdapter` records each action in the database, exactly once however often it runs.
"""

from typing import Protocol

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity
from temporalio.exceptions import ApplicationError

from vigil.db.tables import EnforcementRow
from vigil.db.upsert import insert_ignore
from vigil.workflows.messages import EnforcementRequest, EnforcementResult


class EnforcementRefused(Exception):
    """The platform will not do it (the account is gone, the content already removed by law...).
    Not retried: the incident records the failure and goes back to investigation."""


class EnforcementAdapter(Protocol):
    name: str

    def execute(self, request: EnforcementRequest) -> EnforcementResult:
        """Do the action once per proposal id; on a repeat, return the first result."""
        ...


class RecordingAdapter:
    """Records the action in `enforcement_actions`; the row's key is the proposal id."""

    name = "recording"

    def __init__(self, engine: Engine):
        self._engine = engine

    def execute(self, request: EnforcementRequest) -> EnforcementResult:
        proposal = request.proposal
        reference = f"ENF-{proposal.id}"
        target = proposal.target or ", ".join(c.url for c in request.content) or None
        with Session(self._engine) as session, session.begin():
            inserted = insert_ignore(
                session,
                EnforcementRow,
                [
                    {
                        "proposal_id": proposal.id,
                        "incident_id": request.incident_id,
                        "action": proposal.action.value,
                        "target": target,
                        "region": request.region.value,
                        "statement_of_reasons": proposal.statement_of_reasons,
                        "reference": reference,
                        "executed_at": activity.info().current_attempt_scheduled_time,
                        "attempts": 1,
                    }
                ],
            )
            if not inserted:  # a retry: the action already happened; count the attempt only
                session.execute(
                    update(EnforcementRow)
                    .where(col(EnforcementRow.proposal_id) == proposal.id)
                    .values(attempts=col(EnforcementRow.attempts) + 1)
                )
        return EnforcementResult(succeeded=True, reference=reference, detail=f"{proposal.action} recorded")


class EnforcementActivities:
    def __init__(self, adapter: EnforcementAdapter):
        self._adapter = adapter

    @activity.defn(name="enforce")
    def enforce(self, request: EnforcementRequest) -> EnforcementResult:
        try:
            return self._adapter.execute(request)
        except EnforcementRefused as refused:
            raise ApplicationError(str(refused), type="EnforcementRefused", non_retryable=True) from refused
