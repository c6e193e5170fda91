"""/api/trends: what leadership reads on Monday, computed in the database (vigil.trends.figures);
JSON, or CSV with `Accept: text/csv`. /api/trends/recommendations: what the numbers suggest
changing, by the policy's rules (vigil.trends.recommend).

`rows`, `groups` and `overall` are by cohort (each incident counts on the day it was opened);
the other figures count each event in the period it happened (docs/learning.md).
"""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from vigil.api.deps import allow, get_session
from vigil.api.errors import invalid, responses
from vigil.auth import Principal
from vigil.policy import Policy, load_policy
from vigil.roles import READERS
from vigil.spreadsheet import csv_text
from vigil.trends import figures
from vigil.trends.models import Group, Trends
from vigil.trends.recommend import Recommendations, recommend
from vigil.trends.sql import Unit, utc_range

router = APIRouter(prefix="/api/trends", tags=["trends"])

MAX_DAYS = 366
Table = Literal["rows", "series", "totals", "clocks", "teams", "approvals", "severity_changes", "enforcement"]


def compute(session: Session, start: date, end: date, by: Group, every: Unit = "day") -> Trends:
    since, until = utc_range(start, end)
    window = figures.Window(since=since, until=until, unit=every, by=by)
    rows, groups, overall = figures.opened_cohorts(session, window)
    series, totals = figures.incident_cells(session, window)
    return Trends(
        start=start,
        end=end,
        by=by,
        rows=rows,
        groups=groups,
        overall=overall,
        every=every,
        series=series,
        totals=totals,
        clocks=figures.clock_cells(session, window),
        teams=figures.team_cells(session, window),
        approvals=figures.approval_cells(session, window),
        severity_changes=figures.severity_change_cells(session, window),
        enforcement=figures.enforcement_cells(session, window),
    )


def checked_range(start: date | None, end: date | None, default_days: int = 30) -> tuple[date, date]:
    """The range asked for, or 422 naming what is wrong (never a date past the calendar's ends)."""
    end = end or datetime.now(UTC).date()
    if end >= date.max:  # the day after `end` bounds the query
        raise invalid(f"end: must be before {date.max.isoformat()}")
    if start is None:
        if end - date.min < timedelta(days=default_days - 1):
            raise invalid(f"end: without start, must be at least {default_days - 1} days after {date.min.isoformat()}")
        start = end - timedelta(days=default_days - 1)
    if start > end:
        raise invalid("start: must not be after end")
    if (end - start).days >= MAX_DAYS:
        raise invalid(f"start..end: at most {MAX_DAYS} days at a time")
    return start, end


# ---------------------------------------------------------------------------- CSV


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    """A figure as one CSV row: nested spreads become acknowledge_p50, ...; maps become tiers_2, ..."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out |= _flat(item, f"{prefix}{key}_")
        return out
    if isinstance(value, list):
        return {prefix.rstrip("_"): " ".join(str(v) for v in value)}
    return {prefix.rstrip("_"): "" if value is None else value}


def as_csv(trends: Trends, table: Table) -> str:
    """One table of the figures as CSV (this route's, and the console's trends download)."""
    if table == "rows":
        rows = [[row.day.isoformat(), row.group, row.opened, row.resolved, row.breached] for row in trends.rows]
        return csv_text(["day", trends.by, "opened", "resolved", "breached"], rows)
    flat = [_flat(item.model_dump(mode="json")) for item in getattr(trends, table)]
    header = list(dict.fromkeys(key for line in flat for key in line))
    return csv_text(header, ([line.get(key, "") for key in header] for line in flat))


def _wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


# ---------------------------------------------------------------------------- routes


@router.get(
    "",
    response_model=Trends,
    summary="Incident trends",
    responses={
        200: {"content": {"text/csv": {"example": "day,severity,opened,resolved,breached\n"}}},
        **responses(403, 422),
    },
)
def trends(
    request: Request,
    user: Principal = Depends(allow(READERS, "read trends")),
    session: Session = Depends(get_session),
    start: Annotated[date | None, Query(description="First day (UTC), default 29 days before `end`")] = None,
    end: Annotated[date | None, Query(description="Last day (UTC), inclusive; default today")] = None,
    by: Annotated[Group, Query(description="Group by this dimension; `all` for no grouping")] = "severity",
    every: Annotated[Unit, Query(description="The period of `series` and clocks: day, or ISO week")] = "day",
    table: Annotated[Table, Query(description="With Accept: text/csv, which figures (default: rows)")] = "rows",
) -> Trends | Response:
    start, end = checked_range(start, end)
    result = compute(session, start, end, by, every)
    if _wants_csv(request):
        return Response(
            as_csv(result, table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="vigil-trends-{table}-{by}-{start}-{end}.csv"'},
        )
    return result


def current_policy() -> Policy:
    """The policy file in force for this process (its thresholds make the findings)."""
    return load_policy()


@router.get(
    "/recommendations",
    response_model=Recommendations,
    summary="What the trends suggest changing",
    responses=responses(403, 422),
)
def recommendations(
    user: Principal = Depends(allow(READERS, "read trends")),
    session: Session = Depends(get_session),
    policy: Policy = Depends(current_policy),
    start: Annotated[date | None, Query(alias="from", description="First day (UTC); default: 29 days before")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC), inclusive; default today")] = None,
) -> Recommendations:
    """Findings by the rules in the policy's `[recommendations]`: each with its evidence (the
    numbers and the incidents behind them), a suggested change in English and Spanish, and a link
    to the queue filtered to those incidents."""
    start, end = checked_range(start, end)
    return recommend(session, policy, start, end)
