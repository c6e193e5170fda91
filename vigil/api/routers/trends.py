"""/api/trends: what leadership reads on Monday. Counts per day and group, SLA breach rates,
median time to acknowledge and to resolve; JSON, or CSV with `Accept: text/csv`.

Counts are by cohort: each incident counts on the day it was opened, and `resolved` /
`breached` say how many of that day's incidents are resolved / breached a clock so far.
"""

import csv
import io
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal, overload

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Mapped, Session
from sqlmodel import col

from vigil.api.deps import allow, get_session
from vigil.api.errors import invalid, responses
from vigil.api.schemas import TrendGroup, TrendRow, Trends
from vigil.auth import Principal
from vigil.db.tables import IncidentRow
from vigil.roles import READERS

router = APIRouter(prefix="/api/trends", tags=["trends"])

GroupBy = Literal["severity", "category", "region", "channel"]
_GROUP_COLUMNS: dict[GroupBy, Mapped[str]] = {
    "severity": col(IncidentRow.severity),
    "category": col(IncidentRow.category),
    "region": col(IncidentRow.region),
    "channel": col(IncidentRow.channel),
}
MAX_DAYS = 366


@overload
def _aware(moment: datetime) -> datetime: ...
@overload
def _aware(moment: datetime | None) -> datetime | None: ...
def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return moment


class _Tally:
    def __init__(self) -> None:
        self.opened = self.resolved = self.breached = 0
        self.to_ack: list[float] = []
        self.to_resolve: list[float] = []

    def add(self, opened: datetime, acknowledged: datetime | None, resolved: datetime | None, breaches: int) -> None:
        self.opened += 1
        self.breached += breaches > 0
        if acknowledged:
            self.to_ack.append((acknowledged - opened).total_seconds())
        if resolved:
            self.resolved += 1
            self.to_resolve.append((resolved - opened).total_seconds())

    def summary(self, group: str) -> TrendGroup:
        return TrendGroup(
            group=group,
            opened=self.opened,
            resolved=self.resolved,
            breached=self.breached,
            breach_rate=round(self.breached / self.opened, 4) if self.opened else 0.0,
            median_seconds_to_acknowledge=statistics.median(self.to_ack) if self.to_ack else None,
            median_seconds_to_resolve=statistics.median(self.to_resolve) if self.to_resolve else None,
        )


def compute(session: Session, start: date, end: date, by: GroupBy) -> Trends:
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    opened_at = col(IncidentRow.opened_at)
    statement = select(
        opened_at,
        _GROUP_COLUMNS[by],
        col(IncidentRow.acknowledged_at),
        col(IncidentRow.resolved_at),
        col(IncidentRow.breaches),
    ).where(opened_at >= since, opened_at < until)
    per_day: dict[tuple[date, str], _Tally] = defaultdict(_Tally)
    per_group: dict[str, _Tally] = defaultdict(_Tally)
    overall = _Tally()
    for opened, group, acknowledged, resolved, breaches in session.execute(statement.execution_options(yield_per=2000)):
        opened, acknowledged, resolved = _aware(opened), _aware(acknowledged), _aware(resolved)
        for tally in (per_day[(opened.date(), group)], per_group[group], overall):
            tally.add(opened, acknowledged, resolved, breaches)
    return Trends(
        start=start,
        end=end,
        by=by,
        rows=[
            TrendRow(day=day, group=group, opened=t.opened, resolved=t.resolved, breached=t.breached)
            for (day, group), t in sorted(per_day.items())
        ],
        groups=[t.summary(group) for group, t in sorted(per_group.items())],
        overall=overall.summary("all"),
    )


def _csv(trends: Trends) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", trends.by, "opened", "resolved", "breached"])
    for row in trends.rows:
        writer.writerow([row.day.isoformat(), row.group, row.opened, row.resolved, row.breached])
    return out.getvalue()


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
    by: GroupBy = "severity",
) -> Trends | Response:
    end = end or datetime.now(UTC).date()
    if end >= date.max:  # the day after `end` bounds the query
        raise invalid(f"end: must be before {date.max.isoformat()}")
    if start is None:
        if end - date.min < timedelta(days=29):
            raise invalid(f"end: without start, must be at least 29 days after {date.min.isoformat()}")
        start = end - timedelta(days=29)
    if start > end:
        raise invalid("start: must not be after end")
    if (end - start).days >= MAX_DAYS:
        raise invalid(f"start..end: at most {MAX_DAYS} days at a time")
    result = compute(session, start, end, by)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            _csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="vigil-trends-{by}-{start}-{end}.csv"'},
        )
    return result
