"""The approval inbox: GET /api/approvals?status=pending's own function, as a page.

A lead sees the approvals they may still decide (not their own proposals, not yet voted on),
with approve and reject forms that post to the incident's actions and come back here. An
analyst sees the proposals they are waiting on; auditors and admins see every pending one.
"""

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col

from vigil.api.routers.approvals import inbox
from vigil.api.schemas import ApprovalItem
from vigil.console import forms, wellbeing
from vigil.console.render import page
from vigil.console.viewer import Viewer, signed_in
from vigil.db.tables import IncidentRow

router = APIRouter()


def _pending(request: Request, viewer: Viewer) -> tuple[list[ApprovalItem], dict[str, str]]:
    """The inbox, and the titles of its incidents (a lead decides knowing what it is about)."""
    with DbSession(request.app.state.engine) as db:
        items = inbox(user=viewer.principal, session=db, status="pending", scope="inbox", limit=200).items
        ids = {item.incident_id for item in items}
        known = select(col(IncidentRow.id), col(IncidentRow.title), col(IncidentRow.category)).where(
            col(IncidentRow.id).in_(ids)
        )
        # Sensitive titles are masked here, as in the queue (console/wellbeing.py).
        titles = {i: wellbeing.masked_title(t, c, viewer.language) for i, t, c in db.execute(known).tuples().all()}
    return items, titles


@router.get("/approvals")
async def approvals(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    items, titles = await run_in_threadpool(_pending, request, viewer)
    done = forms.DONE.get(request.query_params.get("done", ""))
    return page(
        request,
        "approvals.html",
        viewer.language,
        viewer,
        items=items,
        titles=titles,
        done=done,
        may_decide=viewer.may("approve"),
    )
