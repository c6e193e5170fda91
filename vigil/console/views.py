"""Saved views from the queue: save its filters under a name, delete one (the API's own store,
vigil.api.routers.views: each person's views are theirs alone)."""

import re
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import QueryParams

from vigil.api.deps import whole_number
from vigil.api.errors import ApiError
from vigil.api.routers.views import NewView, ViewFilters, delete_view, save_view
from vigil.console import flash, refusals
from vigil.console.queue import ANY, Filters, read_filters
from vigil.console.render import page, url
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.domain import Category, Channel, Region, Severity, Status
from vigil.i18n import gettext_for

router = APIRouter()

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def view_filters(filters: Filters) -> ViewFilters:
    """The queue's filters as a view keeps them: only values Vigil knows (the queue ignores the rest)."""
    chosen = filters["status"]
    status: Literal["open", "any"] | Status = "any" if chosen == ANY else "open"
    if chosen in set(Status):
        status = Status(chosen)
    return ViewFilters(
        status=status,
        severity=[Severity(v) for v in filters["severity"] if v in set(Severity)],
        category=[Category(v) for v in filters["category"] if v in set(Category)],
        channel=[Channel(v) for v in filters["channel"] if v in set(Channel)],
        region=[Region(v) for v in filters["region"] if v in set(Region)],
        assignee=[a for a in filters["assignee"] if _USERNAME.match(a)],
        text=filters["text"],
        sort=filters["sort"],  # type: ignore[arg-type]  # read_filters keeps only the queue's sorts
    )


def _refused(request: Request, viewer: Viewer, status: int, reason: str) -> Response:
    message = gettext_for(viewer.language)("Not done: %(reason)s") % {
        "reason": refusals.in_words(reason, viewer.language)
    }
    return page(request, "error.html", viewer.language, viewer, status=status, message=message)


def _save(request: Request, owner: str, new: NewView) -> None:
    with DbSession(request.app.state.engine, expire_on_commit=False) as db:
        save_view(db, owner, new)


def _delete(request: Request, owner: str, view_id: int) -> None:
    with DbSession(request.app.state.engine) as db:
        delete_view(db, owner, view_id)


@router.post("/views")
async def save(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    filters = view_filters(read_filters(QueryParams(form.get("query", "")[:4000])))
    try:
        new = NewView(name=form.get("name", ""), filters=filters)
    except ValidationError:
        return _refused(request, viewer, 422, "a view needs a name of 1 to 80 characters")
    try:
        await run_in_threadpool(_save, request, viewer.name, new)
    except ApiError as refused:
        return _refused(request, viewer, refused.status, refused.detail)
    return flash.redirect(request, url("/", filters.model_dump(mode="json")), "view_saved")


@router.post("/views/{view_id}/delete")
async def delete(request: Request, view_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    try:
        number = whole_number(view_id)
        if number is None or number == 0:
            raise ApiError(404, "not_found", f"no view {view_id[:20]} of yours")
        await run_in_threadpool(_delete, request, viewer.name, number)
    except ApiError as refused:
        return _refused(request, viewer, refused.status, refused.detail)
    return flash.redirect(request, "/", "view_deleted")
