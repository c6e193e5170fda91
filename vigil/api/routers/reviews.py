"""/api/incidents/{id}/review: the post-incident review, read from the projection (the `reviews`
table its workflow writes), as JSON, Markdown (`Accept: text/markdown`) or PDF (`Accept:
application/pdf`). Changes go through POST /api/incidents/{id}/actions (types `review_*`),
which `act_on_review` sends to the review's workflow as updates. /api/follow-ups: the open
follow-ups a person owns.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.client import Client

from vigil.api.deps import allow, check_incident_id, get_engine, get_session
from vigil.api.errors import ApiError, conflict, invalid, not_found, responses, unavailable
from vigil.auth import Principal, active_user
from vigil.db.tables import FollowUpRow, ReviewRow
from vigil.i18n import _, gettext_for, render, supported
from vigil.policy import load_policy
from vigil.reports.pdf import html_to_pdf
from vigil.roles import READERS, RESPONDERS
from vigil.temporal import review_client
from vigil.temporal.incident_client import ActionRefused
from vigil.workflows import review_rules
from vigil.workflows.actions import RefusalCode
from vigil.workflows.review_state import SECTIONS, OpenReview, Review, ReviewAction, ReviewStatus
from vigil.workflows.state import Incident, Username

router = APIRouter(tags=["reviews"])

ACTION_TIMEOUT = 30.0
_REFUSAL_STATUS = {RefusalCode.FORBIDDEN: 403, RefusalCode.CONFLICT: 409, RefusalCode.INVALID: 422}
SECTION_TITLES = {
    "summary": _("Summary"),
    "contributing_factors": _("Contributing factors"),
    "went_well": _("What went well"),
    "to_change": _("What to change"),
}
STATUS_WORDS = {"open": _("open"), "completed": _("completed"), "done": _("done")}


class FollowUpItem(BaseModel):
    id: str
    review_id: str
    incident_id: str
    text: str
    owner: str
    due: datetime
    serves: str | None
    status: str


class FollowUpList(BaseModel):
    items: list[FollowUpItem]


def projected_review(engine: Engine, incident_id: str) -> Review | None:
    with Session(engine) as session:
        row = session.scalar(select(ReviewRow).where(col(ReviewRow.incident_id) == incident_id))
        return Review.model_validate(row.review) if row is not None else None


async def read_review(engine: Engine, incident_id: str, min_seq: int = 0) -> tuple[Review, str]:
    """The review and where it came from: the projection, or ("planned") the review a resolution
    has just opened whose workflow has not written it yet. `min_seq`: the incident's seq the
    caller has seen (the resolution's answer), so a read right after resolving finds it resolved."""
    from vigil.api.routers.incidents import read_incident  # one way of reading an incident

    review = await run_in_threadpool(projected_review, engine, incident_id)
    if review is not None:
        return review, "projection"
    state = await read_incident(engine, incident_id, min_seq)
    policy = load_policy()
    if state.resolved_at is None or not review_rules.owed(state, policy):
        raise not_found(_no_review(state))
    planned = review_rules.opened(OpenReview(start=review_rules.planned(state, policy)), state.resolved_at)
    return planned, "planned"


def _no_review(state: Incident) -> str:
    if state.resolved_at is None:
        return f"{state.id} has no review: one opens when a SEV1 or SEV2 incident is resolved"
    return f"{state.id} has no review: it was resolved at {state.severity}, and reviews open for higher severities"


def export_context(review: Review, language: str) -> dict[str, object]:
    gettext = gettext_for(language)
    return {
        "review": review,
        "sections": [(key, gettext(SECTION_TITLES[key])) for key in SECTIONS],
        "statuses": {s: gettext(STATUS_WORDS[s]) for s in ("open", "completed")},
        "follow_up_statuses": {s: gettext(STATUS_WORDS[s]) for s in ("open", "done")},
        "now": datetime.now(UTC),
    }


def review_markdown(review: Review, language: str) -> str:
    return render("reports/review_markdown.txt", language, **export_context(review, language))


def review_pdf(review: Review, language: str) -> bytes:
    return html_to_pdf(render("reports/review.html", language, **export_context(review, language)))


@router.get(
    "/api/incidents/{incident_id}/review",
    response_model=Review,
    summary="The post-incident review",
    responses={
        200: {"content": {"text/markdown": {}, "application/pdf": {}}},
        **responses(403, 404),
    },
)
async def get_review(
    incident_id: str,
    request: Request,
    user: Principal = Depends(allow(READERS, "read reviews")),
    engine: Engine = Depends(get_engine),
    lang: Annotated[str | None, Query(description="Language of a Markdown or PDF export: en or es")] = None,
    min_seq: Annotated[
        int, Query(ge=0, le=2**31, description="The incident's seq you have seen, e.g. your resolution's answer")
    ] = 0,
) -> Review | Response:
    """Status, owner, due date, sections, key moments and follow-ups, from the moment a SEV1 or SEV2
    is resolved (`X-Vigil-Source: planned` until the review's workflow has written it)."""
    check_incident_id(incident_id)
    review, source = await read_review(engine, incident_id, min_seq)
    accept = request.headers.get("accept", "")
    language = supported(lang or user.language)
    headers = {"X-Vigil-Source": source}
    if "application/pdf" in accept:
        pdf = await run_in_threadpool(review_pdf, review, language)
        headers["Content-Disposition"] = f'attachment; filename="vigil-review-{incident_id}.pdf"'
        return Response(pdf, media_type="application/pdf", headers=headers)
    if "text/markdown" in accept:
        headers["Content-Disposition"] = f'attachment; filename="vigil-review-{incident_id}.md"'
        return Response(review_markdown(review, language), media_type="text/markdown; charset=utf-8", headers=headers)
    return Response(review.model_dump_json(), media_type="application/json", headers=headers)


@router.get("/api/follow-ups", response_model=FollowUpList, summary="Open follow-ups", responses=responses(403, 422))
def follow_ups(
    user: Principal = Depends(allow(READERS, "read follow-ups")),
    session: Session = Depends(get_session),
    owner: Annotated[Username | None, Query(description="Whose (default: yours)")] = None,
) -> FollowUpList:
    """Follow-ups from reviews still open, soonest due first."""
    return FollowUpList(
        items=[
            FollowUpItem.model_validate(r, from_attributes=True) for r in open_follow_ups(session, owner or user.name)
        ]
    )


def open_follow_ups(session: Session, owner: str) -> list[FollowUpRow]:
    statement = (
        select(FollowUpRow)
        .where(col(FollowUpRow.owner) == owner, col(FollowUpRow.status) == "open")
        .order_by(col(FollowUpRow.due), col(FollowUpRow.id))
        .limit(200)
    )
    return list(session.scalars(statement))


def owned_reviews(session: Session, owner: str) -> list[ReviewRow]:
    statement = (
        select(ReviewRow)
        .where(col(ReviewRow.owner) == owner, col(ReviewRow.status) == ReviewStatus.OPEN.value)
        .order_by(col(ReviewRow.due_at), col(ReviewRow.id))
        .limit(200)
    )
    return list(session.scalars(statement))


# ---------------------------------------------------------------------------- changes


async def act_on_review(
    temporal: Client, engine: Engine, incident_id: str, action: ReviewAction, user: Principal, request_id: str | None
) -> Review:
    """A `review_*` action from POST /api/incidents/{id}/actions, to the review's workflow."""
    if action.type in ("review_assign", "review_add_follow_up"):
        await run_in_threadpool(_check_owner, engine, action.owner)
    try:
        return await asyncio.wait_for(
            review_client.act(temporal, incident_id, action, user.actor, request_id=request_id), ACTION_TIMEOUT
        )
    except review_client.ReviewNotFound:
        raise await _why_no_review(temporal, engine, incident_id) from None
    except ActionRefused as refused:
        raise ApiError(_REFUSAL_STATUS[refused.code], refused.code.value, refused.reason) from None
    except TimeoutError:
        raise unavailable(
            "temporal",
            f"no worker answered within {ACTION_TIMEOUT:.0f}s; the change may still be applied: read the review, "
            "or send it again with the same Idempotency-Key",
        ) from None


async def _why_no_review(temporal: Client, engine: Engine, incident_id: str) -> ApiError:
    from vigil.api.routers.incidents import read_incident

    try:
        state = await read_incident(engine, incident_id)
    except ApiError as error:
        return error  # no such incident: 404
    if state.resolved_at is not None and review_rules.owed(state, load_policy()):
        return conflict(f"the review of {incident_id} is still opening: try again in a moment")
    return conflict(_no_review(state))


def _check_owner(engine: Engine, name: str) -> None:
    with Session(engine) as session:
        person = active_user(session, name)
    if person is None:
        raise invalid(f"owner: no user {name!r}")
    if person.role not in RESPONDERS:
        raise invalid(f"owner: {name} is an {person.role}; only analysts and leads own reviews and follow-ups")
