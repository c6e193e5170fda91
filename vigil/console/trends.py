"""Trends: the numbers behind GET /api/trends (its own `compute`), drawn as charts and tables."""

from datetime import UTC, date, datetime, timedelta

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session as DbSession

from vigil.api.routers.trends import GroupBy, compute
from vigil.api.schemas import Trends
from vigil.console import charts
from vigil.console.render import page
from vigil.console.viewer import Viewer, signed_in
from vigil.i18n import _, gettext_for, label

router = APIRouter()

PERIODS = (7, 30, 90, 365)
GROUPINGS: dict[GroupBy, str] = {
    "severity": _("severity"),
    "category": _("category"),
    "region": _("region"),
    "channel": _("channel"),
}


def _compute(request: Request, start: date, end: date, by: GroupBy) -> Trends:
    with DbSession(request.app.state.engine) as db:
        return compute(db, start, end, by)


@router.get("/trends")
async def trends(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    params = request.query_params
    by: GroupBy = next((grouping for grouping in GROUPINGS if grouping == params.get("by")), "severity")
    period = int(params["days"]) if params.get("days", "").isdigit() and int(params["days"]) in PERIODS else 30
    end = datetime.now(UTC).date()
    start = end - timedelta(days=period - 1)
    result = await run_in_threadpool(_compute, request, start, end, by)

    language = viewer.language
    gettext = gettext_for(language)
    grouping = gettext(GROUPINGS[by])

    def group_label(group: str) -> str:
        return label(group, language)

    def day_label(day: date) -> str:
        return format_date(day, "d MMM", locale=language)

    svg = {
        "opened": charts.opened_per_day(
            result,
            gettext("Incidents opened per day, by %(grouping)s") % {"grouping": grouping},
            group_label,
            day_label,
        ),
        "breaches": charts.breach_rates(
            result,
            gettext("Share of incidents that breached a clock, by %(grouping)s") % {"grouping": grouping},
            group_label,
        ),
        "times": charts.times_to(
            result,
            gettext("Median time to acknowledge and to resolve, by %(grouping)s") % {"grouping": grouping},
            group_label,
            (gettext("to acknowledge"), gettext("to resolve")),
        ),
    }
    return page(
        request,
        "trends.html",
        language,
        viewer,
        trends=result,
        svg=svg,
        by=by,
        period=period,
        periods=PERIODS,
        groupings=GROUPINGS,
        group_label=group_label,
        day_label=day_label,
    )
