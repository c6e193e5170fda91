"""The ApprovalWorkflow's one side effect: asking a tier of approvers (the approvals row says
who was asked last; the outbox carries the request)."""

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio import activity

from vigil.db.tables import ApprovalRow, OutboxRow
from vigil.db.upsert import insert_ignore, upsert
from vigil.notifications.notices import for_approval_ask
from vigil.workflows.messages import ApprovalAsk


class ApprovalActivities:
    def __init__(self, engine: Engine, public_url: str, on_notices: Callable[[], None] | None = None):
        self._engine = engine
        self._public_url = public_url
        self._on_notices = on_notices

    @activity.defn(name="ask_approvers")
    def ask(self, ask: ApprovalAsk) -> None:
        request, proposal = ask.request, ask.request.proposal
        notification = for_approval_ask(ask, self._public_url)
        with Session(self._engine) as session, session.begin():
            row: dict[str, object] = {
                "id": proposal.id,
                "incident_id": request.incident_id,
                "action": proposal.action.value,
                "rationale": proposal.rationale,
                "proposed_by": proposal.proposed_by,
                "requested_at": proposal.proposed_at,
                "severity": request.severity.value,
                "region": request.region.value,
                "quorum": proposal.quorum,
                "status": proposal.status.value,
                "approvers": [],
                "votes": [],
                "asked_tier": ask.tier,
                "asked_round": ask.round,
                "seq": 0,
            }
            # The incident may have written the row (even decided it) already: only the ask moves.
            upsert(
                session,
                ApprovalRow,
                row,
                keys=["id"],
                update=["asked_tier", "asked_round"],
                where=col(ApprovalRow.asked_round) < ask.round,
            )
            written = insert_ignore(session, OutboxRow, [notification.row(ask.at)])
        if written and self._on_notices is not None:
            self._on_notices()
