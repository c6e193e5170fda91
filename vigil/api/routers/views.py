"""/api/views: a person's saved queues, each a name and the queue's filters; theirs alone.

A view is the console queue's filters as they were when it was saved (status, severity,
category, channel, region, assignee, search text, sort); the console shows a person's views as
links above the queue. Everyone who reads the queue may keep views; nobody reads or deletes
another's (another's id is simply not found). Names are unique per person, whatever their case.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.api.deps import allow, get_session
from vigil.api.errors import conflict, not_found, responses
from vigil.auth import Principal
from vigil.db.tables import SavedViewRow
from vigil.domain import Category, Channel, Region, Severity, Status
from vigil.roles import READERS
from vigil.workflows.state import Printable, Username

router = APIRouter(prefix="/api/views", tags=["views"])

MAX_VIEWS = 50  # per person: a list of links above the queue, not a store
QueueSort = Literal["next_deadline", "severity", "newest", "updated"]  # the queue's sorts (vigil.console.queue)
ViewName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), Printable]
ViewId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ViewFilters(BaseModel):
    """The queue's filters: several values of one filter mean any of them."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "any"] | Status = Field("open", description="`open`: all but resolved, closed, merged")
    severity: list[Severity] = Field([], max_length=len(Severity))
    category: list[Category] = Field([], max_length=len(Category))
    channel: list[Channel] = Field([], max_length=len(Channel))
    region: list[Region] = Field([], max_length=len(Region))
    assignee: list[Username] = Field([], max_length=5)
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), Printable] = ""
    sort: QueueSort = "next_deadline"


class NewView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ViewName
    filters: ViewFilters = ViewFilters()


class View(BaseModel):
    id: int
    name: str
    filters: ViewFilters
    created_at: datetime


class ViewList(BaseModel):
    items: list[View]


def views_of(session: Session, owner: str) -> list[View]:
    rows = session.scalars(
        select(SavedViewRow).where(col(SavedViewRow.owner) == owner).order_by(func.lower(col(SavedViewRow.name)))
    )
    return [
        View(id=r.id or 0, name=r.name, filters=ViewFilters.model_validate(r.filters), created_at=r.created_at)
        for r in rows
    ]


def save_view(session: Session, owner: str, new: NewView) -> View:
    """Raises 409 for a name the person already uses (any case), or past MAX_VIEWS."""
    held = list(session.scalars(select(col(SavedViewRow.name)).where(col(SavedViewRow.owner) == owner)))
    if len(held) >= MAX_VIEWS:
        raise conflict(f"you have {MAX_VIEWS} saved views: delete one first")
    # Compared here, not by SQL's lower(): SQLite's lowers ASCII only ("Árbol" and "árbol").
    if new.name.casefold() in {name.casefold() for name in held}:
        raise conflict(f"you already have a view of that name: {new.name}")
    row = SavedViewRow(
        owner=owner, name=new.name, filters=new.filters.model_dump(mode="json"), created_at=datetime.now(UTC)
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # saved at the same moment by another request of theirs
        session.rollback()
        raise conflict(f"you already have a view of that name: {new.name}") from None
    return View(id=row.id or 0, name=row.name, filters=new.filters, created_at=row.created_at)


def delete_view(session: Session, owner: str, view_id: int) -> None:
    """Raises 404 for an id that is not one of the person's views."""
    mine = delete(SavedViewRow).where(col(SavedViewRow.id) == view_id, col(SavedViewRow.owner) == owner)
    gone = cast(CursorResult[Any], session.execute(mine)).rowcount  # a DELETE's result is a CursorResult
    session.commit()
    if not gone:
        raise not_found(f"no view {view_id} of yours")


@router.get("", response_model=ViewList, summary="Your saved views", responses=responses(403))
def list_views(
    user: Principal = Depends(allow(READERS, "keep views")), session: Session = Depends(get_session)
) -> ViewList:
    """Yours only, by name."""
    return ViewList(items=views_of(session, user.name))


@router.post("", status_code=201, response_model=View, summary="Save a view", responses=responses(403, 409))
def create_view(
    body: NewView, user: Principal = Depends(allow(READERS, "keep views")), session: Session = Depends(get_session)
) -> View:
    """`409` if you already have a view of that name (in any case), or too many views."""
    return save_view(session, user.name, body)


@router.delete("/{view_id}", status_code=204, summary="Delete one of your views", responses=responses(403, 404))
def remove_view(
    view_id: ViewId,
    user: Principal = Depends(allow(READERS, "keep views")),
    session: Session = Depends(get_session),
) -> Response:
    """`404` for an id that is not one of yours."""
    delete_view(session, user.name, view_id)
    return Response(status_code=204)
