"""The queue: incidents from the projection, with the API's filters and its keyset pages.

Sorted by the nearest running deadline by default (undated ones last), so the incident most
about to breach is on top. The listing itself is the API's (vigil.api.listing); this page only
reads its query from a form, leniently: a value that is not one of ours is ignored, not a 422.
"""

from enum import StrEnum
from typing import Any, TypedDict, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Row, select
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col
from starlette.datastructures import QueryParams

from vigil import auth
from vigil.api.deps import whole_number
from vigil.api.errors import ApiError
from vigil.api.listing import IncidentQuery, Order, SortKey, list_incidents
from vigil.api.routers.reviews import open_follow_ups, owned_reviews
from vigil.api.routers.views import View, views_of
from vigil.audit import watchdog
from vigil.console import flash, forms, masking, urgency, wellbeing
from vigil.console.render import aware, csv_download, page, url
from vigil.console.viewer import Viewer, signed_in
from vigil.db.tables import IncidentRow
from vigil.domain import TERMINAL_STATUSES, Category, Channel, Region, Severity, Status
from vigil.i18n import _
from vigil.need_to_know import reads_others_exposure
from vigil.spreadsheet import csv_text
from vigil.workflows.state import Clock, is_incident_id

router = APIRouter()

PAGE_SIZES = (25, 50, 100, 200)  # offered; any size the API takes (1 to 200) works in a link
OPEN = "open"  # the queue's default: every status but resolved, closed and merged
ANY = "any"
OPEN_STATUSES: list[Status] = [s for s in Status if s not in TERMINAL_STATUSES and s != Status.RESOLVED]
SORTS: dict[str, tuple[SortKey, Order]] = {
    "next_deadline": ("next_deadline", "asc"),
    "severity": ("severity", "asc"),
    "newest": ("opened_at", "desc"),
    "updated": ("updated_at", "desc"),
}
SORT_LABELS = {
    "next_deadline": _("nearest deadline"),
    "severity": _("most severe"),
    "newest": _("newest"),
    "updated": _("recently updated"),
}


E = TypeVar("E", bound=StrEnum)


def _pick(values: list[str], enum: type[E]) -> list[E]:
    known = {e.value: e for e in enum}
    return [known[v] for v in values if v in known]


class Filters(TypedDict):
    """The queue form as read from the page address (a dict: the template links with it)."""

    status: str  # a Status, OPEN or ANY
    severity: list[str]
    category: list[str]
    channel: list[str]
    region: list[str]
    assignee: list[str]
    id: list[str]  # exactly these incidents: a finding's evidence
    text: str
    sort: str  # a key of SORTS
    limit: str


def read_filters(params: QueryParams) -> Filters:
    """The queue's filters from a page address's query (leniently: see the module's docstring)."""
    sort = params.get("sort", "")
    return {
        "status": params.get("status") or OPEN,
        "severity": params.getlist("severity"),
        "category": params.getlist("category"),
        "channel": params.getlist("channel"),
        "region": params.getlist("region"),
        "assignee": [a.strip() for a in params.getlist("assignee") if a.strip()][:5],
        "id": [i for i in params.getlist("id") if is_incident_id(i)][:100],  # a finding's evidence
        "text": "".join(c for c in params.get("text") or "" if c.isprintable()).strip()[:200],  # as typed
        "sort": sort if sort in SORTS else "next_deadline",
        "limit": str(limit) if (limit := whole_number(params.get("limit"))) and limit <= 200 else "50",
    }


def _query(filters: Filters, cursor: str | None) -> IncidentQuery:
    status = filters["status"]
    statuses = OPEN_STATUSES if status == OPEN else [] if status == ANY else _pick([status], Status)
    sort, order = SORTS[filters["sort"]]
    return IncidentQuery(
        status=statuses,
        severity=_pick(filters["severity"], Severity),
        category=_pick(filters["category"], Category),
        channel=_pick(filters["channel"], Channel),
        region=_pick(filters["region"], Region),
        assignee=[a[:64] for a in filters["assignee"]],
        ids=filters["id"],
        text=filters["text"] or None,
        sort=sort,
        order=order,
        limit=int(filters["limit"]),
        cursor=cursor,
    )


Loaded = tuple[list[Row[Any]], str | None, list[str], dict[str, Clock]]


def _load(request: Request, query: IncidentQuery) -> Loaded:
    with DbSession(request.app.state.engine) as db:
        rows, next_cursor = list_incidents(db, query)
        due = _due_clocks(db, rows)
    return rows, next_cursor, responders(request), due


def responders(request: Request) -> list[str]:
    """Who can be assigned an incident: analysts and leads who are not disabled."""
    with DbSession(request.app.state.engine) as db:
        return [u.name for u in auth.list_users(db) if u.disabled_at is None and u.role in ("analyst", "lead")]


def _views(request: Request, name: str) -> list[View]:
    with DbSession(request.app.state.engine) as db:
        return views_of(db, name)


def _due_clocks(db: DbSession, rows: list[Row[Any]]) -> dict[str, Clock]:
    """Each listed incident's clock that is due next (the one its next_deadline is): named in the queue."""
    dated = {row.id: row.next_deadline for row in rows if row.next_deadline is not None}
    if not dated:
        return {}
    states = db.execute(select(col(IncidentRow.id), col(IncidentRow.state)).where(col(IncidentRow.id).in_(dated)))
    found = {}
    for incident_id, state in states.tuples():
        clock = urgency.due_clock(state, dated[incident_id])
        if clock is not None:
            found[incident_id] = clock
    return found


def _waiting_for(request: Request, name: str) -> tuple[list, list]:
    """The viewer's own open reviews and follow-ups (the learning loop's part of their queue)."""
    with DbSession(request.app.state.engine, expire_on_commit=False) as db:
        return owned_reviews(db, name), open_follow_ups(db, name)


def _diverged(request: Request) -> set[str]:
    """Open incidents whose history no longer replays (the watchdog's finding): marked in the queue."""
    return {check.incident_id for check in watchdog.diverged_incidents(request.app.state.engine)}


def _filtered(filters: Filters) -> int:
    """How many filters the panel holds (shown on its closed summary), the search box aside."""
    lists = (filters["severity"], filters["category"], filters["channel"], filters["region"], filters["assignee"])
    return sum(len(values) for values in lists) + int(filters["status"] != OPEN)


@router.get("/")
async def queue(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    filters = read_filters(request.query_params)
    cursor = (request.query_params.get("cursor") or "")[:1000] or None
    error = None
    try:
        rows, next_cursor, people, due = await run_in_threadpool(_load, request, _query(filters, cursor))
    except ApiError:  # a cursor from another sort, or not ours: start from the first page
        error = _("That page link no longer fits these filters: showing the first page.")
        rows, next_cursor, people, due = await run_in_threadpool(_load, request, _query(filters, None))
        cursor = None
    reviews, follow_ups = await run_in_threadpool(_waiting_for, request, viewer.name)
    views = await run_in_threadpool(_views, request, viewer.name)
    # Sensitive titles are read on the incident's page first; then the queue shows them to that person.
    seen = await run_in_threadpool(masking.titles_seen, request.app.state.engine, viewer.name, [r.id for r in rows])
    listed = masking.mask_rows(rows, viewer.language, seen)
    least_exposed: list[str] = []
    if reads_others_exposure(viewer.role) and any(r.masked and not r.assignee for r in listed):
        # Who to hand the next sensitive incident to: names only, for those who may read team exposure.
        ranked = await run_in_threadpool(wellbeing.least_exposed, request.app.state.engine)
        least_exposed = [name for name, _views in ranked][:3]
    return page(
        request,
        "queue.html",
        viewer.language,
        viewer,
        rows=listed,
        least_exposed=least_exposed,
        due_clocks=due,
        done=forms.DONE.get(flash.take(request) or ""),
        take=lambda status, assignee: forms.take(viewer, status, assignee),
        filtered=_filtered(filters),
        reviews=reviews,
        follow_ups=follow_ups,
        diverged=await run_in_threadpool(_diverged, request),
        filters=filters,
        views=[(view, url("/", view.filters.model_dump(mode="json"))) for view in views],
        query=request.url.query,
        next_cursor=next_cursor,
        first_page=cursor is None,
        error=error,
        people=people,
        statuses=list(Status),
        severities=list(Severity),
        categories=list(Category),
        channels=list(Channel),
        regions=list(Region),
        sorts=SORT_LABELS,
        page_sizes=PAGE_SIZES,
        OPEN=OPEN,
        ANY=ANY,
    )


CSV_COLUMNS = ["id", "severity", "status", "title", "due_clock", "next_deadline", "category", "region", "channel"]
CSV_COLUMNS += ["assignee", "breaches", "opened_at", "external_ref"]


@router.get("/queue.csv")
async def queue_csv(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """The queue's page as CSV, with the same filters and sort (at most 200 rows, as a page)."""
    filters = read_filters(request.query_params)
    try:
        rows, _next, _people, due = await run_in_threadpool(_load, request, _query(filters, None))
    except ApiError as refused:
        return Response(refused.detail, status_code=refused.status, media_type="text/plain")
    lines = []
    for row in masking.mask_rows(rows, viewer.language):  # masked for everyone: a file leaves the screen
        clock = due.get(row.id)
        values = [row.id, row.severity, row.status, row.title, clock.id if clock else None, aware(row.next_deadline)]
        values += [row.category, row.region, row.channel, row.assignee, row.breaches, aware(row.opened_at)]
        lines.append([*values, row.external_ref])
    return csv_download(csv_text(CSV_COLUMNS, lines), "vigil-queue.csv")
