"""What waits for a person: approvals they may decide, and open incidents assigned to them.
The console's navigation shows these counts; GET /api/events sends them as `waiting` events."""

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.api.routers.approvals import inbox
from vigil.auth import Principal
from vigil.db.tables import IncidentRow
from vigil.domain import Role, Status

_DONE = (Status.RESOLVED.value, Status.CLOSED.value, Status.MERGED.value)


class Waiting(BaseModel):
    approvals: int  # pending approvals this person may still decide (leads only)
    assigned: int  # open incidents assigned to this person


def waiting_for(session: Session, user: Principal) -> Waiting:
    approvals = 0
    if user.role == Role.LEAD:
        approvals = len(inbox(user=user, session=session, status="pending", scope="inbox", limit=500).items)
    assigned = session.scalar(
        select(func.count())
        .select_from(IncidentRow)
        .where(col(IncidentRow.assignee) == user.name, col(IncidentRow.status).not_in(_DONE))
    )
    return Waiting(approvals=approvals, assigned=assigned or 0)
