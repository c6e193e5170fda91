"""The approval inbox: GET /api/approvals?status=pending's own function, as a page.

A lead sees the approvals they may still decide (not their own proposals, not yet voted on),
with approve and reject forms that post to the incident's actions and come back here. An
analyst sees the proposals they are waiting on; auditors and admins see every pending one.
Most urgent first: by severity, then by the approval's own deadline (when the tier asked now
times out and the next is asked), with that countdown and the tier asked.
"""

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col

from vigil.api.routers.approvals import inbox
from vigil.api.schemas import ApprovalItem
from vigil.console import flash, forms, masking
from vigil.console.render import aware, csv_download, current_policy, page
from vigil.console.viewer import Viewer, signed_in
from vigil.db.tables import ApprovalRow, IncidentRow
from vigil.spreadsheet import csv_text

router = APIRouter()


def _pending(
    request: Request, viewer: Viewer, unmask_seen: bool = True
) -> tuple[list[ApprovalItem], dict[str, str], dict[str, datetime]]:
    """The inbox by urgency, the titles of its incidents (a lead decides knowing what it is
    about) and when each approval times out to the next tier. `unmask_seen=False`: every
    sensitive title masked, as for a file, which leaves the screen."""
    with DbSession(request.app.state.engine) as db:
        items = inbox(user=viewer.principal, session=db, status="pending", scope="inbox", limit=200).items
        ids = {item.incident_id for item in items}
        known = select(col(IncidentRow.id), col(IncidentRow.title), col(IncidentRow.category)).where(
            col(IncidentRow.id).in_(ids)
        )
        # Sensitive titles are masked here, as in the queue, until the lead has opened the incident.
        seen = masking.titles_seen(request.app.state.engine, viewer.name, ids) if unmask_seen else set()
        titles = {
            i: masking.masked_title(t, c, viewer.language, seen=i in seen) for i, t, c in db.execute(known).tuples()
        }
        rounds_of = select(col(ApprovalRow.id), col(ApprovalRow.asked_round)).where(
            col(ApprovalRow.id).in_([item.id for item in items])
        )
        rounds = dict(db.execute(rounds_of).tuples().all())
    deadlines = {item.id: timeout_at(item.requested_at, rounds.get(item.id, 0)) for item in items}
    items.sort(key=lambda item: (item.severity, deadlines[item.id], item.id))
    return items, titles, deadlines


def timeout_at(requested_at: datetime, asked_round: int) -> datetime:
    """When the tier asked now has waited the policy's approval timeout, and the next is asked
    (vigil.workflows.approval: one timeout per round, from the request)."""
    policy = current_policy()
    timeout = policy.approval.timeout if policy is not None else timedelta(minutes=30)
    return aware(requested_at) + timeout * max(asked_round, 1)


@router.get("/approvals")
async def approvals(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    items, titles, deadlines = await run_in_threadpool(_pending, request, viewer)
    done = forms.DONE.get(flash.take(request) or "")
    return page(
        request,
        "approvals.html",
        viewer.language,
        viewer,
        items=items,
        titles=titles,
        deadlines=deadlines,
        done=done,
        may_decide=viewer.may("approve"),
    )


CSV_COLUMNS = ["id", "incident_id", "severity", "action", "title", "asked_tier", "times_out_at", "requested_at"]
CSV_COLUMNS += ["proposed_by", "approvals", "quorum", "approvers", "region", "rationale"]


@router.get("/approvals.csv")
async def approvals_csv(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """The inbox as the page shows it to this viewer (same order; sensitive titles masked for everyone)."""
    items, titles, deadlines = await run_in_threadpool(_pending, request, viewer, False)
    rows = [
        [item.id, item.incident_id, item.severity, item.action, titles.get(item.incident_id), item.asked_tier]
        + [deadlines[item.id], aware(item.requested_at), item.proposed_by, len(item.approvers), item.quorum]
        + [" ".join(item.approvers), item.region, item.rationale]
        for item in items
    ]
    return csv_download(csv_text(CSV_COLUMNS, rows), "vigil-approvals.csv")
