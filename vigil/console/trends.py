"""Trends: the numbers behind GET /api/trends (its own `compute`) and the recommendations behind
GET /api/trends/recommendations, drawn as charts and tables in the viewer's language."""

from datetime import UTC, date, datetime, timedelta
from typing import get_args

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session as DbSession

from vigil.api.deps import whole_number
from vigil.api.routers.trends import Table, as_csv, compute
from vigil.console import charts
from vigil.console.render import csv_download, page
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
# The figures the page offers as CSV (GET /api/trends' tables), each named as the page names it.
CSV_TABLES = {
    "rows": _("opened, resolved and breached, per day"),
    "totals": _("how long things took"),
    "clocks": _("clocks that fell due"),
    "teams": _("each team's first response"),
    "approvals": _("approvals"),
    "severity_changes": _("severity changes"),
    "enforcement": _("enforcement"),
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


def _window(request: Request) -> tuple[Group, int, Unit, date, date]:
    """What the page's form asks for: grouping, period in days, unit, first and last day."""
    params = request.query_params
    by = _grouping(params.get("by"))
    asked = whole_number(params.get("days"))
    period = asked if asked is not None and asked in PERIODS else 30
    every: Unit = "week" if period >= 90 else "day"
    end = datetime.now(UTC).date()
    return by, period, every, end - timedelta(days=period - 1), end


@router.get("/trends.csv")
async def trends_csv(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """One table of the page's figures, as GET /api/trends gives it in CSV (`table`, default the
    per-day rows), for the same period and grouping as the page."""
    by, _period, every, start, end = _window(request)
    asked = request.query_params.get("table", "rows")
    table: Table = next((t for t in get_args(Table) if t == asked), "rows")
    result, _findings = await run_in_threadpool(_compute, request, start, end, by, every)
    return csv_download(as_csv(result, table), f"vigil-trends-{table}-{by}-{start}-{end}.csv")


@router.get("/trends")
async def trends(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    by, period, every, start, end = _window(request)
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
        tables=CSV_TABLES,
        groupings=GROUPINGS,
        group_label=group_label,
        day_label=day_label,
    )
