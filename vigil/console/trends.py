"""Trends: the numbers behind GET /api/trends (its own `compute`) and the recommendations behind
GET /api/trends/recommendations, drawn as charts and tables in the viewer's language."""

from datetime import UTC, date, datetime, timedelta

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session as DbSession

from vigil.api.routers.trends import compute
from vigil.console import charts
from vigil.console.render import page
from vigil.console.viewer import Viewer, signed_in
from vigil.i18n import _, gettext_for, label
from vigil.policy import load_policy
from vigil.trends.models import Group, Trends
from vigil.trends.recommend import Recommendations, recommend
from vigil.trends.sql import Unit

router = APIRouter()

PERIODS = (7, 30, 90, 365)
GROUPINGS: dict[Group, str] = {
    "severity": _("severity"),
    "category": _("category"),
    "region": _("region"),
    "channel": _("channel"),
    "team": _("team"),
    "triage_rule": _("triage rule"),
}
OUTCOMES = {
    "met": _("met"),
    "met_late": _("met late"),
    "missed": _("missed"),
    "running_late": _("running late"),
}


def _compute(request: Request, start: date, end: date, by: Group, every: Unit) -> tuple[Trends, Recommendations]:
    with DbSession(request.app.state.engine) as db:
        return compute(db, start, end, by, every), recommend(db, load_policy(), start, end)


def _grouping(asked: str | None) -> Group:
    """The grouping asked for if the page offers it, else severity."""
    return next((group for group in GROUPINGS if group == asked), "severity")


@router.get("/trends")
async def trends(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    params = request.query_params
    by = _grouping(params.get("by"))
    period = int(params["days"]) if params.get("days", "").isdigit() and int(params["days"]) in PERIODS else 30
    every: Unit = "week" if period >= 90 else "day"
    end = datetime.now(UTC).date()
    start = end - timedelta(days=period - 1)
    result, findings = await run_in_threadpool(_compute, request, start, end, by, every)

    language = viewer.language
    gettext = gettext_for(language)
    grouping = gettext(GROUPINGS[by])

    def group_label(group: str) -> str:
        return label(group, language)

    def day_label(day: date) -> str:
        return format_date(day, "d MMM", locale=language)

    totals = [t for t in result.totals if t.group != "all"]
    groups = sorted({c.group for c in result.series if c.group != "all"})
    svg = {
        "opened": charts.opened_per_day(
            result,
            gettext("Incidents opened per day, by %(grouping)s") % {"grouping": grouping},
            group_label,
            day_label,
        ),
        "weekly": charts.weekly(
            [c for c in result.series if c.group != "all"],
            gettext("Incidents opened per week, by %(grouping)s") % {"grouping": grouping},
            group_label,
            day_label,
            groups,
        )
        if every == "week"
        else None,
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
        "resolve": charts.percentiles(
            [(group_label(t.group), t.resolve.p50, t.resolve.p90, t.resolve.p99) for t in totals if t.resolve.count],
            gettext("Time to resolve: median, 90th and 99th percentile, by %(grouping)s") % {"grouping": grouping},
            (gettext("median"), gettext("90th percentile"), gettext("99th percentile")),
        ),
    }
    return page(
        request,
        "trends.html",
        language,
        viewer,
        trends=result,
        findings=findings.findings,
        totals=totals,
        overall=next((t for t in result.totals if t.group == "all"), None),
        clocks=[c for c in result.clocks if c.period is None and c.group == "all"],
        approvals=next((a for a in result.approvals if a.group == "all"), None),
        outcomes={k: gettext(v) for k, v in OUTCOMES.items()},
        svg=svg,
        by=by,
        period=period,
        periods=PERIODS,
        groupings=GROUPINGS,
        group_label=group_label,
        day_label=day_label,
    )
