"""The weekly leadership report: one ISO week against the weeks before it, in words and numbers.

What it holds: the week's figures (opened, resolved, reopened, merged, times to acknowledge and
to resolve, clock breach rates, severity changes, approvals) beside the average of the previous
`weekly_report.compare_weeks` weeks; the largest movements named in words; the recommendations
over those weeks together; the SEV1/SEV2 reviews and the follow-ups overdue. What it never
holds: titles, descriptions, content, reporters or free text people wrote, only incident ids,
severities, categories and numbers, so it can be mailed and printed.

Weeks are ISO weeks in UTC ("2026-W48": Monday 23 to Sunday 29 November 2026).
"""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import FollowUpRow, ReviewRow
from vigil.i18n import LANGUAGES, _, gettext_for, how_long, label, translations
from vigil.policy import Policy
from vigil.trends import figures
from vigil.trends.models import TrendCell
from vigil.trends.recommend import Recommendations, recommend
from vigil.trends.sql import utc_range

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class BadWeek(ValueError):
    """Not an ISO week this report can be made for; the message says why."""


def parse_week(text: str) -> date:
    """'2026-W48' -> the Monday it starts on (2026-11-23)."""
    match = _WEEK.match(text or "")
    if not match:
        raise BadWeek(f"week: {text[:20]!r} is not an ISO week like 2026-W48")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise BadWeek(f"week: {year} has no week {week:02d}") from None
    if date.max - monday < timedelta(days=7):  # its figures need the day after its Sunday
        raise BadWeek(f"week: {text} ends where the calendar does")
    return monday


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def last_complete_week(now: datetime, time_zone: str = "UTC") -> date:
    """The Monday of the last whole week before `now`, by the calendar of `time_zone`."""
    today = now.astimezone(ZoneInfo(time_zone)).date()
    return today - timedelta(days=today.weekday() + 7)


class WeekFigures(BaseModel):
    week: str
    start: date
    opened: int = 0
    resolved: int = 0
    reopened: int = 0
    merged: int = 0
    raised: int = 0
    lowered: int = 0
    acknowledge_p50: float | None = None
    acknowledge_p90: float | None = None
    resolve_p50: float | None = None
    resolve_p90: float | None = None
    first_response_p50: float | None = None
    sla_owed: int = 0
    sla_late: int = 0
    regulatory_owed: int = 0
    regulatory_late: int = 0

    @property
    def sla_breach_rate(self) -> float | None:
        return self.sla_late / self.sla_owed if self.sla_owed else None


class Movement(BaseModel):
    """A figure that moved, in words: this week against the average of the weeks before."""

    figure: str
    now: float
    before: float
    change: float = Field(description="Relative change: 0.35 is 35 % up")
    worse: bool = Field(True, description="Whether the move is for the worse (more incidents, slower, later)")
    words: dict[str, str]


class ReviewLine(BaseModel):
    incident_id: str
    severity: str
    category: str
    status: str
    owner: str
    due_at: datetime
    overdue: bool


class FollowUpLine(BaseModel):
    id: str
    incident_id: str
    owner: str
    due: datetime


class WeeklyReport(BaseModel):
    week: str
    start: date
    end: date
    this: WeekFigures
    previous: list[WeekFigures]
    movements: list[Movement]
    recommendations: Recommendations
    reviews: list[ReviewLine]
    overdue_follow_ups: list[FollowUpLine]
    generated_at: datetime


# ---------------------------------------------------------------------------- figures


def _week_figures(monday: date, cell: TrendCell | None, clocks: list[Any]) -> WeekFigures:
    out = WeekFigures(week=week_label(monday), start=monday)
    if cell is not None:
        for name in ("opened", "resolved", "reopened", "merged", "raised", "lowered"):
            setattr(out, name, getattr(cell, name))
        out.acknowledge_p50, out.acknowledge_p90 = cell.acknowledge.p50, cell.acknowledge.p90
        out.resolve_p50, out.resolve_p90 = cell.resolve.p50, cell.resolve.p90
        out.first_response_p50 = cell.first_response.p50
    for clock in clocks:
        owed = clock.met + clock.met_late + clock.missed + clock.running_late
        late = clock.met_late + clock.missed + clock.running_late
        if clock.kind == "regulatory":
            out.regulatory_owed += owed
            out.regulatory_late += late
        else:
            out.sla_owed += owed
            out.sla_late += late
    return out


def weeks_of(session: Session, first: date, last: date) -> list[WeekFigures]:
    """Each ISO week from the one starting `first` to the one starting `last`, for all incidents."""
    since, until = utc_range(first, last + timedelta(days=6))
    window = figures.Window(since=since, until=until, unit="week", by="all")
    series, _totals = figures.incident_cells(session, window)
    cells = {c.period: c for c in series if c.group == figures.ALL}
    clocks: dict[date, list[Any]] = {}
    for clock in figures.clock_cells(session, window):
        if clock.period is not None and clock.group == figures.ALL:
            clocks.setdefault(clock.period, []).append(clock)
    weeks = []
    monday = first
    while monday <= last:
        weeks.append(_week_figures(monday, cells.get(monday), clocks.get(monday, [])))
        monday += timedelta(days=7)
    return weeks


# ---------------------------------------------------------------------------- movements in words

# figure -> (what it is called, how a value reads, whether up is bad)
_FIGURES: dict[str, tuple[str, str, bool]] = {
    "opened": (_("Incidents opened"), "count", True),
    "resolved": (_("Resolutions"), "count", False),
    "reopened": (_("Reopened"), "count", True),
    "lowered": (_("Severity lowered by leads"), "count", True),
    "acknowledge_p50": (_("Median time to acknowledge"), "time", True),
    "resolve_p50": (_("Median time to resolve"), "time", True),
    "first_response_p50": (_("Median time to a team's first response"), "time", True),
    "sla_breach_rate": (_("Share of SLA clocks late"), "share", True),
}
MIN_BASELINE = {"count": 3, "time": 60, "share": 0.01}
MAX_MOVEMENTS = 5


def _value(kind: str, value: float, language: str) -> str:
    if kind == "time":
        return how_long(value, language)
    if kind == "share":
        return f"{round(value * 100)} %"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def movements(this: WeekFigures, previous: list[WeekFigures]) -> list[Movement]:
    """The figures that moved most against the average of the previous weeks, largest first."""
    found = []
    for figure, (name, kind, up_is_worse) in _FIGURES.items():
        now = getattr(this, figure)
        before_values = [v for v in (getattr(w, figure) for w in previous) if v is not None]
        if now is None or not before_values:
            continue
        before = sum(before_values) / len(before_values)
        if before < MIN_BASELINE[kind]:
            continue
        change = (now - before) / before
        if abs(change) < 0.1:
            continue
        words = {}
        for language in LANGUAGES:
            gettext = gettext_for(language)
            direction = gettext(_("up")) if change > 0 else gettext(_("down"))
            words[language] = gettext(
                _("%(figure)s: %(now)s this week, %(before)s on average in the weeks before (%(direction)s %(change)s)")
            ) % {
                "figure": gettext(name),
                "now": _value(kind, now, language),
                "before": _value(kind, before, language),
                "direction": direction,
                "change": f"{abs(round(change * 100))} %",
            }
        worse = (change > 0) == up_is_worse
        found.append(
            Movement(
                figure=figure,
                now=float(now),
                before=round(before, 4),
                change=round(change, 4),
                worse=worse,
                words=words,
            )
        )
    found.sort(key=lambda m: -abs(m.change))
    return found[:MAX_MOVEMENTS]


def category_movements(session: Session, monday: date, first: date) -> list[Movement]:
    """Categories whose incidents opened moved most: which harm drove the change."""
    weeks_before = max(1, (monday - first).days // 7)
    since, until = utc_range(first, monday + timedelta(days=6))
    series, _totals = figures.incident_cells(
        session, figures.Window(since=since, until=until, unit="week", by="category")
    )
    now: dict[str, int] = {}
    before: dict[str, int] = {}
    for cell in series:
        if cell.group == figures.ALL or cell.period is None:
            continue
        target = now if cell.period == monday else before
        target[cell.group] = target.get(cell.group, 0) + cell.opened
    found = []
    for category in set(now) | set(before):
        average = before.get(category, 0) / weeks_before
        count = now.get(category, 0)
        if average < MIN_BASELINE["count"] and count < MIN_BASELINE["count"] * 2:
            continue
        change = (count - average) / average if average else 1.0
        if abs(change) < 0.25:
            continue
        words = {}
        for language in LANGUAGES:
            ngettext = translations(language).ngettext
            words[language] = ngettext(
                "%(category)s: %(num)d incident opened this week, %(before)s on average in the weeks before",
                "%(category)s: %(num)d incidents opened this week, %(before)s on average in the weeks before",
                count,
            ) % {"category": label(category, language), "num": count, "before": _value("count", average, language)}
            words[language] = words[language][:1].upper() + words[language][1:]
        found.append(
            Movement(
                figure=f"opened.{category}",
                now=count,
                before=round(average, 4),
                change=round(change, 4),
                worse=change > 0,
                words=words,
            )
        )
    found.sort(key=lambda m: -abs(m.change))
    return found[:3]


# ---------------------------------------------------------------------------- reviews


def review_lines(session: Session, since: datetime, until: datetime, now: datetime) -> list[ReviewLine]:
    """SEV1/SEV2 reviews opened in the week, and any still open from before."""
    statement = (
        select(ReviewRow)
        .where(
            or_(col(ReviewRow.opened_at).between(since, until), col(ReviewRow.status) == "open"),
            col(ReviewRow.opened_at) < until,
        )
        .order_by(col(ReviewRow.severity), col(ReviewRow.due_at))
        .limit(200)
    )
    lines = []
    for row in session.scalars(statement):
        due = row.due_at if row.due_at.tzinfo else row.due_at.replace(tzinfo=UTC)
        lines.append(
            ReviewLine(
                incident_id=row.incident_id,
                severity=row.severity,
                category=row.category,
                status=row.status,
                owner=row.owner,
                due_at=due,
                overdue=row.status == "open" and due < now,
            )
        )
    return lines


def overdue_follow_ups(session: Session, now: datetime) -> list[FollowUpLine]:
    statement = (
        select(FollowUpRow)
        .where(col(FollowUpRow.status) == "open", col(FollowUpRow.due) < now)
        .order_by(col(FollowUpRow.due))
        .limit(200)
    )
    return [
        FollowUpLine(
            id=r.id, incident_id=r.incident_id, owner=r.owner, due=r.due if r.due.tzinfo else r.due.replace(tzinfo=UTC)
        )
        for r in session.scalars(statement)
    ]


def _weeks_before(monday: date, count: int) -> date:
    """The Monday `count` weeks earlier, or the calendar's first Monday (0001-01-01) if sooner."""
    first = monday
    for _week in range(count):
        if first - date.min < timedelta(days=7):
            break
        first -= timedelta(days=7)
    return first


def weekly_report(session: Session, policy: Policy, monday: date, now: datetime | None = None) -> WeeklyReport:
    now = now or datetime.now(UTC)
    first = _weeks_before(monday, policy.weekly_report.compare_weeks)
    all_weeks = weeks_of(session, first, monday)
    this, previous = all_weeks[-1], all_weeks[:-1]
    since, until = utc_range(monday, monday + timedelta(days=6))
    return WeeklyReport(
        week=week_label(monday),
        start=monday,
        end=monday + timedelta(days=6),
        this=this,
        previous=previous,
        movements=movements(this, previous) + category_movements(session, monday, first),
        recommendations=recommend(session, policy, first, monday + timedelta(days=6)),
        reviews=review_lines(session, since, until, now),
        overdue_follow_ups=overdue_follow_ups(session, now),
        generated_at=now,
    )


# ---------------------------------------------------------------------------- as a document

# (figure, its name, how it reads) for the numbers table
TABLE_ROWS = [
    ("opened", _("Incidents opened"), "count"),
    ("resolved", _("Resolutions"), "count"),
    ("reopened", _("Reopened"), "count"),
    ("merged", _("Merged as duplicates"), "count"),
    ("raised", _("Severity raised by leads"), "count"),
    ("lowered", _("Severity lowered by leads"), "count"),
    ("acknowledge_p50", _("Time to acknowledge, median"), "time"),
    ("acknowledge_p90", _("Time to acknowledge, 90th percentile"), "time"),
    ("first_response_p50", _("Time to a team's first response, median"), "time"),
    ("resolve_p50", _("Time to resolve, median"), "time"),
    ("resolve_p90", _("Time to resolve, 90th percentile"), "time"),
    ("sla_late", _("SLA clocks late"), "sla"),
    ("regulatory_late", _("Legal deadlines late, of those due"), "legal"),
]


def weekly_context(report: WeeklyReport, language: str) -> dict[str, Any]:
    """What reports/_weekly_body.html needs, in `language`."""
    gettext = gettext_for(language)
    return {
        "report": report,
        "rows": [(key, gettext(name), kind) for key, name, kind in TABLE_ROWS],
        "statuses": {"open": gettext(_("open")), "completed": gettext(_("completed"))},
    }


def weekly_html(report: WeeklyReport, language: str) -> str:
    """The report as a document of its own (for PDF and for mail)."""
    from vigil.i18n import render

    return render("reports/weekly.html", language, **weekly_context(report, language))
