"""The weekly report in the console (/reports/weekly?week=2026-W48), and its PDF (/reports/weekly.pdf):
the API's own report (vigil.reports.weekly), in the viewer's language."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session as DbSession

from vigil.console.render import SECURITY_HEADERS, page
from vigil.console.viewer import Viewer, signed_in
from vigil.policy import load_policy
from vigil.reports.pdf import html_to_pdf
from vigil.reports.weekly import (
    BadWeek,
    WeeklyReport,
    last_complete_week,
    parse_week,
    weekly_context,
    weekly_html,
    weekly_report,
)

router = APIRouter()


def _report(request: Request, week: str | None) -> WeeklyReport:
    monday = parse_week(week) if week else last_complete_week(datetime.now(UTC))
    with DbSession(request.app.state.engine) as db:
        return weekly_report(db, load_policy(), monday)


@router.get("/reports/weekly")
async def weekly(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    week = (request.query_params.get("week") or "").strip()[:20] or None
    try:
        report = await run_in_threadpool(_report, request, week)
    except BadWeek as error:
        return page(request, "error.html", viewer.language, viewer, status=422, message=str(error))
    return page(request, "weekly.html", viewer.language, viewer, **weekly_context(report, viewer.language))


@router.get("/reports/weekly.pdf")
async def weekly_pdf(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    week = (request.query_params.get("week") or "").strip()[:20] or None
    try:
        report = await run_in_threadpool(_report, request, week)
    except BadWeek as error:
        return page(request, "error.html", viewer.language, viewer, status=422, message=str(error))
    pdf = await run_in_threadpool(html_to_pdf, weekly_html(report, viewer.language))
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="vigil-weekly-{report.week}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
