"""The daily leadership digest: how things stand, from the projection, for audience:leadership.

Open SEV1 and SEV2 incidents with their status and next deadline; what opened, breached and was
resolved in the last 24 hours; approvals waiting. Ids, severities, categories, statuses and
times only: never a title (some categories' titles are themselves sensitive), content or
reporter. Written in every language; each address reads its own.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import ApprovalRow, IncidentRow, SlaBreachRow
from vigil.domain import Severity, Status
from vigil.notifications.notices import Notification, notice

WINDOW = timedelta(hours=24)
_OPEN = [s.value for s in Status if s not in (Status.RESOLVED, Status.CLOSED, Status.MERGED)]


@dataclass(frozen=True)
class Line:
    id: str
    severity: str
    category: str
    status: str
    next_deadline: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def build_digest(session: Session, at: datetime, public_url: str, key: str | None = None) -> Notification:
    since = at - WINDOW
    columns = (
        col(IncidentRow.id),
        col(IncidentRow.severity),
        col(IncidentRow.category),
        col(IncidentRow.status),
        col(IncidentRow.next_deadline),
    )
    open_rows = session.execute(
        select(*columns)
        .where(
            col(IncidentRow.status).in_(_OPEN),
            col(IncidentRow.severity).in_([Severity.SEV1.value, Severity.SEV2.value]),
        )
        .order_by(col(IncidentRow.severity), col(IncidentRow.next_deadline), col(IncidentRow.id))
        .limit(50)
    ).all()
    severe = [Line(r.id, r.severity, r.category, r.status, _aware(r.next_deadline)) for r in open_rows]

    def count(statement: Any) -> int:
        return int(session.scalar(statement) or 0)

    opened = count(select(func.count()).select_from(IncidentRow).where(col(IncidentRow.opened_at) >= since))
    resolved = count(select(func.count()).select_from(IncidentRow).where(col(IncidentRow.resolved_at) >= since))
    breached = count(
        select(func.count(func.distinct(col(SlaBreachRow.incident_id)))).where(col(SlaBreachRow.breached_at) >= since)
    )
    waiting = session.execute(
        select(col(ApprovalRow.id), col(ApprovalRow.severity), col(ApprovalRow.action), col(ApprovalRow.requested_at))
        .where(col(ApprovalRow.status) == "pending")
        .order_by(col(ApprovalRow.severity), col(ApprovalRow.requested_at))
        .limit(50)
    ).all()
    return notice(
        key or f"digest:{at:%Y-%m-%dT%H:%M}",
        "digest",
        "audience:leadership",
        "en",
        "digest",
        occurred_at=at,
        severity=None,
        incident_id=None,
        at=at,
        severe=severe,
        opened=opened,
        resolved=resolved,
        breached=breached,
        approvals=[(w.id, w.severity, w.action, _aware(w.requested_at)) for w in waiting],
        link=public_url,
    )
