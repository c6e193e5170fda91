"""Trend figures as SQL aggregates over the projection's fact tables (vigil.trends.facts).

Every figure is one GROUP BY in the database, grouped by period (day or ISO week) and by the
group asked for; Python only files the aggregated rows into cells and adds cells up (counts
sum; percentiles never do, so each grouping of a percentile is its own query). Periods and
ranges are in UTC. What counts where:

- opened, resolved, reopened, merged, raised, lowered: in the period the event happened;
- time to acknowledge and to resolve: in the period of the acknowledgement or resolution;
  time to first team response: in the period of the answer;
- clock outcomes: in the period the clock fell due;
- approvals: in the period they were requested; severity changes by triage rule: the
  incidents opened in the range, and what leads did to their severity at any time since.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, join, literal, outerjoin, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from vigil.db.tables import (
    ApprovalRow,
    ClockOutcomeRow,
    EnforcementOutcomeRow,
    IncidentRow,
    MilestoneRow,
    SeverityChangeRow,
)
from vigil.domain import REGION_INCIDENT_TEAM
from vigil.trends.facts import FIRST_RESPONSE
from vigil.trends.models import (
    ApprovalCell,
    ClockCell,
    EnforcementCell,
    Group,
    SeverityChangeCell,
    Spread,
    TeamCell,
    TrendCell,
    TrendGroup,
    TrendRow,
)
from vigil.trends.sql import Unit, period, seconds_between, spreads, within

ALL = "all"
LATE = ("met_late", "missed", "running_late")
OWED = ("met", *LATE)
EVIDENCE_LIMIT = 50  # incident ids kept as evidence per figure


@dataclass(frozen=True)
class Window:
    """What to count: moments in [since, until), per `unit`, grouped `by`."""

    since: datetime
    until: datetime
    unit: Unit = "day"
    by: Group = "severity"


def _day(value: Any) -> date | None:
    """Periods come back as dates (PostgreSQL) or ISO text (SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _group(model: Any, by: Group, severity: str = "severity") -> ColumnElement[Any]:
    if by == ALL:
        return literal(ALL)
    return getattr(model, severity if by == "severity" else by)


def _spread(row: Any) -> Spread:
    count = int(row.n or 0)
    if not count:
        return Spread()
    return Spread(count=count, p50=float(row.p50), p90=float(row.p90), p99=float(row.p99))


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# ---------------------------------------------------------------------------- incidents


def incident_cells(session: Session, window: Window) -> tuple[list[TrendCell], list[TrendCell]]:
    """(series, totals): cells per (period, group) and (period, "all"); and per group and "all"
    over the whole window."""
    dialect = session.get_bind().dialect.name
    cells: dict[tuple[date | None, str], TrendCell] = {}

    def cell(when: date | None, group: str) -> TrendCell:
        return cells.setdefault((when, group), TrendCell(period=when, group=group))

    m = MilestoneRow
    when = period(m.at, window.unit, dialect).label("period")
    group = _group(m, window.by).label("grp")
    counted = {kind: func.sum(case((col(m.kind) == kind, 1), else_=0)).label(kind) for kind in _MILESTONE_COUNTS}
    for row in session.execute(
        select(when, group, *counted.values()).where(within(m.at, window.since, window.until)).group_by(when, group)
    ):
        _add_counts(cells, _day(row.period), str(row.grp), {k: int(getattr(row, k) or 0) for k in counted})

    s = SeverityChangeRow
    when = period(s.at, window.unit, dialect).label("period")
    group = _group(s, window.by, severity="from_severity").label("grp")
    for row in session.execute(
        select(when, group, col(s.direction), func.count().label("n"))
        .where(within(s.at, window.since, window.until))
        .group_by(when, group, col(s.direction))
    ):
        _add_counts(cells, _day(row.period), str(row.grp), {str(row.direction): int(row.n)})

    for keys, spread_row in _duration_spreads(session, window, dialect):
        target = cell(keys.get("period"), keys.get("grp", ALL))
        setattr(target, spread_row.metric, _spread(spread_row))

    ordered = sorted(cells.values(), key=lambda c: (c.period is None, c.period or date.min, c.group == ALL, c.group))
    return [c for c in ordered if c.period is not None], [c for c in ordered if c.period is None]


_MILESTONE_COUNTS = {"opened": "opened", "resolved": "resolved", "reopened": "reopened", "merged": "merged"}


def _add_counts(cells: dict[tuple[date | None, str], TrendCell], when: date | None, group: str, counts: dict) -> None:
    """Counts add up: into the cell, its period's "all", the group's total and the grand total."""
    places = {(when, group), (when, ALL), (None, group), (None, ALL)}
    for place in places:
        target = cells.setdefault(place, TrendCell(period=place[0], group=place[1]))
        for name, value in counts.items():
            setattr(target, name, getattr(target, name) + value)


def _duration_spreads(session: Session, window: Window, dialect: str) -> list[tuple[dict[str, Any], Any]]:
    """Percentiles of time to acknowledge, first respond and resolve, for each grouping."""
    m, c = MilestoneRow, ClockOutcomeRow
    milestone_when = period(m.at, window.unit, dialect).label("period")
    clock_when = period(c.ended_at, window.unit, dialect).label("period")
    values = union_all(
        select(milestone_when, _group(m, window.by).label("grp"), literal("acknowledge").label("metric"))
        .add_columns(col(m.seconds).label("value"))
        .where(col(m.kind) == "acknowledged", within(m.at, window.since, window.until)),
        select(milestone_when, _group(m, window.by).label("grp"), literal("resolve").label("metric"))
        .add_columns(col(m.seconds).label("value"))
        .where(col(m.kind) == "resolved", within(m.at, window.since, window.until)),
        select(clock_when, _group(c, window.by).label("grp"), literal("first_response").label("metric"))
        .add_columns(col(c.seconds).label("value"))
        .where(
            col(c.clock) == FIRST_RESPONSE, col(c.seconds).is_not(None), within(c.ended_at, window.since, window.until)
        ),
    )
    groupings = [["period", "grp", "metric"], ["period", "metric"], ["grp", "metric"], ["metric"]]
    if window.by == ALL:
        groupings = [["period", "metric"], ["metric"]]
    found = []
    for keys in groupings:
        statement = spreads(select(values.subquery("facts")), keys, dialect)
        for row in session.execute(statement):
            found.append((({"period": _day(row.period)} if "period" in keys else {}) | _grp(row, keys), row))
    return found


def _grp(row: Any, keys: list[str]) -> dict[str, Any]:
    return {"grp": str(row.grp)} if "grp" in keys else {}


# ---------------------------------------------------------------------------- clocks and teams


def clock_cells(session: Session, window: Window) -> list[ClockCell]:
    """Per clock: per group over the window, "all" over the window, and "all" per period."""
    dialect = session.get_bind().dialect.name
    c = ClockOutcomeRow
    when = period(c.due_at, window.unit, dialect).label("period")
    group = _group(c, window.by).label("grp")
    cells: dict[tuple[date | None, str, str], ClockCell] = {}
    statement = (
        select(when, group, col(c.clock), col(c.kind), col(c.outcome), func.count().label("n"))
        .where(within(c.due_at, window.since, window.until))
        .group_by(when, group, col(c.clock), col(c.kind), col(c.outcome))
    )
    for row in session.execute(statement):
        for place in {(None, str(row.grp)), (None, ALL), (_day(row.period), ALL)}:
            target = cells.setdefault(
                (*place, row.clock), ClockCell(period=place[0], group=place[1], clock=row.clock, kind=row.kind)
            )
            setattr(target, row.outcome, getattr(target, row.outcome) + int(row.n))
    late = _late_incidents(session, window)
    for target in cells.values():
        owed = target.met + target.met_late + target.missed + target.running_late
        target.breach_rate = _rate(target.met_late + target.missed + target.running_late, owed)
        if target.period is None and target.group == ALL:
            target.incidents = late.get(target.clock, [])
    return sorted(
        cells.values(), key=lambda x: (x.period is not None, x.period or date.min, x.group == ALL, x.group, x.clock)
    )


def _late_incidents(session: Session, window: Window) -> dict[str, list[str]]:
    """Per clock, the first incidents (by due time) whose round was late: the evidence."""
    c = ClockOutcomeRow
    ranked = (
        select(
            col(c.clock),
            col(c.incident_id),
            func.row_number().over(partition_by=col(c.clock), order_by=(col(c.due_at), col(c.incident_id))).label("rn"),
        )
        .where(col(c.outcome).in_(LATE), within(c.due_at, window.since, window.until))
        .subquery()
    )
    found: dict[str, list[str]] = defaultdict(list)
    for clock, incident_id in session.execute(
        select(ranked.c.clock, ranked.c.incident_id)
        .where(ranked.c.rn <= EVIDENCE_LIMIT)
        .order_by(ranked.c.clock, ranked.c.rn)
    ):
        if incident_id not in found[clock]:
            found[clock].append(incident_id)
    return dict(found)


def team_cells(session: Session, window: Window, severities: list[str] | None = None) -> list[TeamCell]:
    """Each team's first-response clock, for rounds that fell due in the window."""
    dialect = session.get_bind().dialect.name
    c = ClockOutcomeRow
    where: list[ColumnElement[bool]] = [col(c.clock) == FIRST_RESPONSE, within(c.due_at, window.since, window.until)]
    if severities:
        where.append(col(c.severity).in_(severities))
    teams: dict[str, TeamCell] = {}
    for team, outcome, count in session.execute(
        select(col(c.team), col(c.outcome), func.count()).where(*where).group_by(col(c.team), col(c.outcome))
    ):
        target = teams.setdefault(team, TeamCell(team=team))
        if outcome in OWED:
            setattr(target, outcome, getattr(target, outcome) + int(count))
    values: Select[Any] = select(col(c.team).label("team"), col(c.seconds).label("value")).where(
        *where, col(c.seconds).is_not(None)
    )
    for row in session.execute(spreads(values, ["team"], dialect)):
        teams.setdefault(row.team, TeamCell(team=row.team)).response = _spread(row)
    for target in teams.values():
        target.asked = target.met + target.met_late + target.missed + target.running_late
        target.miss_rate = _rate(target.met_late + target.missed + target.running_late, target.asked)
    return sorted(teams.values(), key=lambda t: t.team)


# ---------------------------------------------------------------------------- approvals


def approval_cells(session: Session, window: Window) -> list[ApprovalCell]:
    """Approval requests made in the window, per group and "all". The approvals table has the
    request's severity and region; the other dimensions come from the incident's opening."""
    dialect = session.get_bind().dialect.name
    a, m = ApprovalRow, MilestoneRow
    joined = outerjoin(a, m, and_(col(m.incident_id) == col(a.incident_id), col(m.kind) == "opened"))
    group = (
        literal(ALL)
        if window.by == ALL
        else func.coalesce(getattr(a if window.by in ("severity", "region") else m, window.by), "unknown")
    ).label("grp")
    in_window = within(a.requested_at, window.since, window.until)
    cells: dict[str, ApprovalCell] = {}
    for grp, status, rounds, count in session.execute(
        select(group, col(a.status), col(a.asked_round), func.count())
        .select_from(joined)
        .where(in_window)
        .group_by(group, col(a.status), col(a.asked_round))
    ):
        for name in {str(grp), ALL}:
            target = cells.setdefault(name, ApprovalCell(group=name))
            target.requested += int(count)
            if status in ("approved", "rejected", "expired", "pending"):
                setattr(target, status, getattr(target, status) + int(count))
            tier = str(max(1, int(rounds or 0)))
            target.tiers[tier] = target.tiers.get(tier, 0) + int(count)
    decided = col(a.status).in_(("approved", "rejected", "expired"))
    values = (
        select(group, seconds_between(a.decided_at, a.requested_at, dialect).label("value"))
        .select_from(joined)
        .where(in_window, decided, col(a.decided_at).is_not(None))
    )
    for keys in (["grp"], []):
        for row in session.execute(spreads(values, keys, dialect)):
            name = str(row.grp) if keys else ALL
            if name in cells:
                cells[name].latency = _spread(row)
    for target in cells.values():
        decided_count = target.approved + target.rejected + target.expired
        target.rejection_rate = _rate(target.rejected, decided_count)
        target.expiry_rate = _rate(target.expired, decided_count)
        target.tiers = dict(sorted(target.tiers.items(), key=lambda item: int(item[0])))
    return sorted(cells.values(), key=lambda x: (x.group == ALL, x.group))


# ---------------------------------------------------------------------------- severity changes


def severity_change_cells(session: Session, window: Window) -> list[SeverityChangeCell]:
    """Per triage rule: the incidents it triaged in the window, and how many leads raised or
    lowered (each incident counted once per direction, whenever the change came)."""
    m, s = MilestoneRow, SeverityChangeRow
    opened = and_(col(m.kind) == "opened", within(m.at, window.since, window.until))
    joined = outerjoin(m, s, col(s.incident_id) == col(m.incident_id))
    cells: dict[str, SeverityChangeCell] = {}
    triaged: dict[str, Counter[str]] = defaultdict(Counter)
    for rule, severity, count in session.execute(
        select(col(m.triage_rule), col(m.severity), func.count())
        .where(opened)
        .group_by(col(m.triage_rule), col(m.severity))
    ):
        triaged[rule][severity] += int(count)
    for rule, counts in triaged.items():
        cells[rule] = SeverityChangeCell(
            triage_rule=rule, triaged_severity=counts.most_common(1)[0][0], incidents=sum(counts.values())
        )
    changed = (
        select(
            col(m.triage_rule),
            func.count(distinct(case((col(s.direction) == "raised", col(m.incident_id))))).label("raised"),
            func.count(distinct(case((col(s.direction) == "lowered", col(m.incident_id))))).label("lowered"),
        )
        .select_from(joined)
        .where(opened)
        .group_by(col(m.triage_rule))
    )
    for row in session.execute(changed):
        target = cells[row.triage_rule]
        target.raised, target.lowered = int(row.raised), int(row.lowered)
        target.raised_share = _rate(target.raised, target.incidents)
        target.lowered_share = _rate(target.lowered, target.incidents)
    lowered_to = (
        select(col(m.triage_rule), col(s.to_severity), func.count(distinct(col(m.incident_id))))
        .select_from(joined)
        .where(opened, col(s.direction) == "lowered")
        .group_by(col(m.triage_rule), col(s.to_severity))
    )
    for rule, severity, count in session.execute(lowered_to):
        cells[rule].lowered_to[severity] = int(count)
    return sorted(cells.values(), key=lambda x: (-x.incidents, x.triage_rule))


def incidents_changed(session: Session, window: Window, rule: str, direction: str) -> list[str]:
    """The evidence: incidents triaged under `rule` in the window whose severity went `direction`."""
    m, s = MilestoneRow, SeverityChangeRow
    statement = (
        select(distinct(col(m.incident_id)))
        .select_from(join(m, s, col(s.incident_id) == col(m.incident_id)))
        .where(
            col(m.kind) == "opened",
            within(m.at, window.since, window.until),
            col(m.triage_rule) == rule,
            col(s.direction) == direction,
        )
        .order_by(col(m.incident_id))
        .limit(EVIDENCE_LIMIT)
    )
    return [str(i) for i in session.scalars(statement)]


# ---------------------------------------------------------------------------- enforcement


def enforcement_cells(session: Session, window: Window) -> list[EnforcementCell]:
    e = EnforcementOutcomeRow
    group = _group(e, window.by).label("grp")
    cells: dict[tuple[str, str], EnforcementCell] = {}
    for grp, action, outcome, count in session.execute(
        select(group, col(e.action), col(e.outcome), func.count())
        .where(within(e.at, window.since, window.until))
        .group_by(group, col(e.action), col(e.outcome))
    ):
        for name in {str(grp), ALL}:
            target = cells.setdefault((name, action), EnforcementCell(group=name, action=action))
            if outcome in ("done", "failed"):
                setattr(target, outcome, getattr(target, outcome) + int(count))
    return sorted(cells.values(), key=lambda x: (x.group == ALL, x.group, x.action))


# ---------------------------------------------------------------------------- cohorts (by day opened)


def _incident_group(by: Group) -> ColumnElement[Any]:
    i = IncidentRow
    if by == ALL:
        return literal(ALL)
    if by == "team":
        return case(
            *[(col(i.region) == region.value, team.value) for region, team in REGION_INCIDENT_TEAM.items()],
            else_="unknown",
        )
    if by == "triage_rule":
        rule = (
            select(col(MilestoneRow.triage_rule))
            .where(col(MilestoneRow.incident_id) == col(i.id), col(MilestoneRow.kind) == "opened")
            .scalar_subquery()
        )
        return func.coalesce(rule, "unknown")
    return getattr(i, by)


def opened_cohorts(session: Session, window: Window) -> tuple[list[TrendRow], list[TrendGroup], TrendGroup]:
    """Incidents by the day they were opened: how many, how many resolved and breached so far,
    and the median time to acknowledge and to resolve (per day and group; per group; overall)."""
    dialect = session.get_bind().dialect.name
    i = IncidentRow
    day = period(i.opened_at, "day", dialect).label("period")
    group = _incident_group(window.by).label("grp")
    opened = within(i.opened_at, window.since, window.until)
    tallies = [
        func.count().label("opened"),
        func.sum(case((col(i.resolved_at).is_not(None), 1), else_=0)).label("resolved"),
        func.sum(case((col(i.breaches) > 0, 1), else_=0)).label("breached"),
    ]
    rows = [
        TrendRow(
            day=_day(r.period) or date.min, group=str(r.grp), opened=r.opened, resolved=r.resolved, breached=r.breached
        )
        for r in session.execute(select(day, group, *tallies).where(opened).group_by(day, group))
    ]
    rows.sort(key=lambda r: (r.day, r.group))
    per_group = {str(r.grp): r for r in session.execute(select(group, *tallies).where(opened).group_by(group))}
    overall = session.execute(select(*tallies).where(opened)).one()
    values = union_all(
        select(group, literal("acknowledge").label("metric"))
        .add_columns(seconds_between(i.acknowledged_at, i.opened_at, dialect).label("value"))
        .where(opened, col(i.acknowledged_at).is_not(None)),
        select(group, literal("resolve").label("metric"))
        .add_columns(seconds_between(i.resolved_at, i.opened_at, dialect).label("value"))
        .where(opened, col(i.resolved_at).is_not(None)),
    )
    medians: dict[tuple[str, str], float] = {}
    for keys in (["grp", "metric"], ["metric"]):
        for r in session.execute(spreads(select(values.subquery("cohort")), keys, dialect)):
            if r.n:
                medians[(str(r.grp) if keys[0] == "grp" else ALL, str(r.metric))] = float(r.p50)

    def summary(name: str, tally: Any, key: str) -> TrendGroup:
        count = int(tally.opened or 0)
        breached = int(tally.breached or 0)
        return TrendGroup(
            group=name,
            opened=count,
            resolved=int(tally.resolved or 0),
            breached=breached,
            breach_rate=_rate(breached, count),
            median_seconds_to_acknowledge=medians.get((key, "acknowledge")),
            median_seconds_to_resolve=medians.get((key, "resolve")),
        )

    groups = [summary(name, tally, name) for name, tally in sorted(per_group.items())]
    return rows, groups, summary(ALL, overall, ALL)
