"""/api/incidents/{id}/notifications: each notice the incident called for, and each delivery.

One item per (notice, address): where it went, on which channel, whether it was sent, how many
attempts it took and why it waits or failed. A notice the directory has no address for yet is
one item without an address. Everyone who reads incidents may read these (they carry no title,
content or reporter, by construction: vigil/notifications/notices.py).
"""

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.api.deps import allow, check_incident_id, get_session
from vigil.api.errors import not_found, responses
from vigil.api.schemas import UtcDatetime
from vigil.auth import Principal
from vigil.db.tables import DeliveryRow, IncidentRow, OutboxRow
from vigil.roles import READERS

router = APIRouter(prefix="/api/incidents", tags=["notifications"])


class NotificationItem(BaseModel):
    key: str = Field(description="The notice's key: one per journal entry and recipient")
    kind: str = Field(examples=["breach"], description="opened, breach, escalation, status_update, update_due, ...")
    recipient: str = Field(examples=["tier:regional_on_call_lead:EMEA"])
    address: str | None = Field(description="The email address or webhook URL; null until the directory has one")
    channel: Literal["email", "webhook"] | None
    status: Literal["pending", "sent", "failed"]
    attempts: int
    sent_at: UtcDatetime | None
    created_at: UtcDatetime
    reason: str | None = Field(description="Why it waits, or why it failed")
    language: str
    subject: str = Field(description="What the recipient reads first (in their language)")


class NotificationList(BaseModel):
    items: list[NotificationItem]


def incident_notifications(session: Session, incident_id: str) -> list[NotificationItem]:
    notices = session.scalars(
        select(OutboxRow).where(col(OutboxRow.incident_id) == incident_id).order_by(col(OutboxRow.id))
    )
    deliveries: dict[str, list[DeliveryRow]] = {}
    for row in session.scalars(
        select(DeliveryRow).where(col(DeliveryRow.incident_id) == incident_id).order_by(col(DeliveryRow.id))
    ):
        deliveries.setdefault(row.notice_key, []).append(row)
    items = []
    for notice in notices:
        for d in deliveries.get(notice.key) or [None]:  # type: ignore[list-item]
            language = d.language if d else notice.language
            text = (notice.messages or {}).get(language) or {"subject": notice.subject}
            items.append(
                NotificationItem(
                    key=notice.key,
                    kind=notice.kind,
                    recipient=notice.recipient,
                    address=d.address if d else None,
                    channel=d.channel if d else None,  # type: ignore[arg-type]
                    status=d.status if d else "pending",  # type: ignore[arg-type]
                    attempts=d.attempts if d else 0,
                    sent_at=d.sent_at if d else None,
                    created_at=notice.created_at,
                    reason=(d.last_error if d else notice.last_error or "waiting for the dispatcher"),
                    language=language,
                    subject=text["subject"],
                )
            )
    return items


@router.get(
    "/{incident_id}/notifications",
    response_model=NotificationList,
    summary="Who was told what, and whether it reached them",
    responses=responses(403, 404),
)
def notifications(
    incident_id: str,
    user: Principal = Depends(allow(READERS, "read notifications")),
    session: Session = Depends(get_session),
) -> NotificationList:
    """From the projection, as the dispatcher records it: `pending` (waiting, `reason` says
    why), `sent` (`sent_at`), `failed` (refused for good; the head of IM was told)."""
    check_incident_id(incident_id)
    if session.get(IncidentRow, incident_id) is None:
        raise not_found(f"no incident {incident_id}")
    return NotificationList(items=incident_notifications(session, incident_id))
