"""/api/reports/weekly?week=2026-W48: the weekly leadership report (vigil.reports.weekly), as
HTML, or PDF with `Accept: application/pdf`, or its figures as JSON with `Accept:
application/json`. The same report the Temporal Schedule sends every week."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from vigil.api.deps import allow, get_engine
from vigil.api.errors import invalid, responses
from vigil.api.routers.trends import current_policy
from vigil.auth import Principal
from vigil.i18n import supported
from vigil.policy import Policy
from vigil.reports.pdf import html_to_pdf
from vigil.reports.weekly import BadWeek, WeeklyReport, last_complete_week, parse_week, weekly_html, weekly_report
from vigil.roles import READERS

router = APIRouter(prefix="/api/reports", tags=["reports"])


def _report(engine: Engine, policy: Policy, week: str | None) -> WeeklyReport:
    try:
        monday = parse_week(week) if week else last_complete_week(datetime.now(UTC))
    except BadWeek as error:
        raise invalid(str(error)) from None
    with Session(engine) as session:
        return weekly_report(session, policy, monday)


@router.get(
    "/weekly",
    response_model=WeeklyReport,
    summary="The weekly leadership report",
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}, **responses(403, 422)},
)
async def weekly(
    request: Request,
    user: Principal = Depends(allow(READERS, "read reports")),
    engine: Engine = Depends(get_engine),
    policy: Policy = Depends(current_policy),
    week: Annotated[str | None, Query(max_length=20, description="ISO week, e.g. 2026-W48; default: last week")] = None,
    lang: Annotated[str | None, Query(description="en or es; default: yours")] = None,
) -> Response:
    """The week against the weeks before it, what changed in words, the recommendations, the
    SEV1/SEV2 reviews and overdue follow-ups: ids, severities, categories and numbers only."""
    report = await run_in_threadpool(_report, engine, policy, week)
    accept = request.headers.get("accept", "")
    language = supported(lang or user.language)
    if "application/json" in accept:
        return Response(report.model_dump_json(), media_type="application/json")
    html = weekly_html(report, language)
    if "application/pdf" in accept:
        pdf = await run_in_threadpool(html_to_pdf, html)
        disposition = f'attachment; filename="vigil-weekly-{report.week}.pdf"'
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})
    return Response(html, media_type="text/html; charset=utf-8")
