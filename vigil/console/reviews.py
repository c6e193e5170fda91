"""The post-incident review page (/incidents/{id}/review), its forms, and its exports.

Reading goes through the API's own `read_review` (the projection, or the review a resolution has
just opened); changes through the API's own `act_on_review`, so the review's rules answer here
word for word. The review's own record (who changed what, when) is read from review_events.
"""

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col

from vigil import auth
from vigil.api.errors import ApiError
from vigil.api.routers import reviews as reviews_api
from vigil.console import flash, refusals
from vigil.console.render import SECURITY_HEADERS, page
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.db.tables import ReviewEventRow
from vigil.i18n import _, gettext_for
from vigil.roles import RESPONDERS, REVIEWERS
from vigil.workflows.review_state import SECTIONS, ReviewAction, review_id
from vigil.workflows.state import INCIDENT_ID_PATTERN

router = APIRouter()
# As vigil.workflows.actions says of its adapters: refused by mypy only on some runs.
_ACTION: TypeAdapter[ReviewAction] = TypeAdapter(ReviewAction)  # type: ignore[arg-type, unused-ignore]

DONE = {
    "review_edit": _("Saved."),
    "review_assign": _("The review has a new owner."),
    "review_add_follow_up": _("Follow-up added."),
    "review_close_follow_up": _("Follow-up done."),
    "review_refresh_moments": _("Key moments picked again from the timeline."),
    "review_complete": _("Review completed."),
}
EVENT_WORDS = {
    "review_open": _("opened the review"),
    "review_moments": _("picked the key moments from the timeline"),
    "review_remind": _("sent a reminder"),
    "review_edit": _("edited a section"),
    "review_assign": _("handed the review to another owner"),
    "review_add_follow_up": _("added a follow-up"),
    "review_close_follow_up": _("closed a follow-up"),
    "review_refresh_moments": _("picked the key moments again"),
    "review_complete": _("completed the review"),
}


def _events(request: Request, incident_id: str) -> list[ReviewEventRow]:
    with DbSession(request.app.state.engine) as db:
        statement = select(ReviewEventRow).where(col(ReviewEventRow.review_id) == review_id(incident_id))
        return list(db.scalars(statement.order_by(col(ReviewEventRow.entry_no))))


def _people(request: Request) -> list[str]:
    with DbSession(request.app.state.engine) as db:
        return [u.name for u in auth.list_users(db) if u.disabled_at is None and u.role in RESPONDERS]


async def _review_page(
    request: Request, viewer: Viewer, incident_id: str, status: int = 200, error: str | None = None
) -> Response:
    gettext = gettext_for(viewer.language)
    if not re.match(INCIDENT_ID_PATTERN, incident_id):
        return page(
            request,
            "error.html",
            viewer.language,
            viewer,
            status=404,
            message=gettext("There is no incident %(id)s.") % {"id": incident_id[:40]},
        )
    try:
        review, source = await reviews_api.read_review(request.app.state.engine, incident_id)
    except ApiError as failure:
        return page(request, "error.html", viewer.language, viewer, status=failure.status, message=failure.detail)
    done = flash.take(request)
    return page(
        request,
        "review.html",
        viewer.language,
        viewer,
        status=status,
        review=review,
        source=source,
        sections=[(key, gettext(reviews_api.SECTION_TITLES[key])) for key in SECTIONS],
        events=await run_in_threadpool(_events, request, incident_id),
        event_words={k: gettext(v) for k, v in EVENT_WORDS.items()},
        people=await run_in_threadpool(_people, request),
        writes=viewer.role in REVIEWERS and review.status == "open" and source == "projection",
        closes=viewer.role in REVIEWERS and source == "projection",
        done=gettext(DONE[done]) if done in DONE and not error else None,
        error=error,
    )


@router.get("/incidents/{incident_id}/review")
async def review_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    return await _review_page(request, viewer, incident_id)


@router.post("/incidents/{incident_id}/review")
async def review_act(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    form: dict[str, Any] = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    fields = {k: v for k, v in form.items() if k != "csrf" and v != ""}
    gettext = gettext_for(viewer.language)
    try:
        action = _ACTION.validate_python(fields)
    except ValidationError as invalid:
        problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'form'}: {e['msg']}" for e in invalid.errors())
        return await _review_page(
            request, viewer, incident_id, 422, gettext("Not done: %(reason)s") % {"reason": problem}
        )
    temporal = request.app.state.temporal
    try:
        if temporal is None:
            raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
        await reviews_api.act_on_review(temporal, request.app.state.engine, incident_id, action, viewer.principal, None)
    except ApiError as refused:
        message = gettext("Not done: %(reason)s") % {"reason": refusals.in_words(refused.detail, viewer.language)}
        return await _review_page(request, viewer, incident_id, refused.status, message)
    return flash.redirect(request, f"/incidents/{incident_id}/review", action.type)


@router.get("/incidents/{incident_id}/review.{kind}")
async def review_export(request: Request, incident_id: str, kind: str, viewer: Viewer = Depends(signed_in)) -> Response:
    """The review as Markdown or PDF, in the viewer's language."""
    if kind not in ("md", "pdf"):
        return await _review_page(request, viewer, "not-an-id")
    try:
        review, _source = await reviews_api.read_review(request.app.state.engine, incident_id)
    except ApiError as failure:
        return page(request, "error.html", viewer.language, viewer, status=failure.status, message=failure.detail)
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="vigil-review-{incident_id}.{kind}"'}
    if kind == "md":
        text = reviews_api.review_markdown(review, viewer.language)
        return Response(text, media_type="text/markdown; charset=utf-8", headers=headers)
    pdf = await run_in_threadpool(reviews_api.review_pdf, review, viewer.language)
    return Response(pdf, media_type="application/pdf", headers=headers)
