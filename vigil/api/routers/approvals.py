"""/api/approvals: the caller's approval inbox, from the `approvals` projection.

What "inbox" means depends on who asks:
- a lead: the approvals they may still decide (not their own proposal, not yet voted on);
- an analyst: the approvals they proposed (what they are waiting for);
- an auditor or admin: every approval.
`?scope=all` shows everything to anyone (everyone may read everything).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.api.deps import allow, get_session
from vigil.api.errors import responses
from vigil.api.schemas import ApprovalItem, ApprovalList
from vigil.auth import Principal
from vigil.db.tables import ApprovalRow
from vigil.domain import Role
from vigil.roles import READERS
from vigil.workflows.state import ProposalStatus

router = APIRouter(prefix="/api/approvals", tags=["approvals"])

StatusFilter = Literal["pending", "approved", "rejected", "expired", "done", "failed", "all"]


@router.get("", response_model=ApprovalList, summary="Your approval inbox", responses=responses(403, 422))
def inbox(
    user: Principal = Depends(allow(READERS, "read approvals")),
    session: Session = Depends(get_session),
    status: StatusFilter = "pending",
    scope: Literal["inbox", "all"] = "inbox",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> ApprovalList:
    """Oldest request first: the one that has waited longest is at the top."""
    statement = select(ApprovalRow).order_by(col(ApprovalRow.requested_at), col(ApprovalRow.id))
    if status != "all":
        statement = statement.where(col(ApprovalRow.status) == ProposalStatus(status).value)
    if scope == "inbox" and user.role == Role.LEAD:
        statement = statement.where(col(ApprovalRow.proposed_by) != user.name)  # four-eyes
    elif scope == "inbox" and user.role == Role.ANALYST:
        statement = statement.where(col(ApprovalRow.proposed_by) == user.name)
    items = []
    for row in session.scalars(statement):
        if scope == "inbox" and user.role == Role.LEAD and any(v.get("by") == user.name for v in row.votes or []):
            continue  # already voted: nothing left for this lead to do
        items.append(ApprovalItem.model_validate(row))
        if len(items) >= limit:
            break
    return ApprovalList(items=items)
