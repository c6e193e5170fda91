"""Trend figures and recommendations over a synthetic history with known answers, on SQLite and
PostgreSQL: every figure the API computes in SQL is computed again here, in Python, from the
journal entries the history was made of (vigil.synthetic_history: the real state machine at
simulated times, written through the projection's own writer)."""

import csv
import io
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api.conftest import add_people, fresh_pg_database
from vigil.api.app import create_app
from vigil.db.engine import make_engine, migrate
from vigil.db.tables import ClockOutcomeRow, MilestoneRow
from vigil.policy import load_policy
from vigil.synthetic_history import Made, make_history, write_history
from vigil.workflows.state import Clock, ClockKind

END = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)  # a Sunday night: eight whole ISO weeks before it
START_DAY, END_DAY = date(2026, 10, 5), date(2026, 11, 29)
WEEKS = 8


def percentile(values: list[float], p: float) -> float:
    """Continuous percentile, linear between the nearest ranks (percentile_cont)."""
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def monday(moment: datetime) -> str:
    day = moment.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def in_range(moment: datetime) -> bool:
    return datetime(2026, 10, 5, tzinfo=UTC) <= moment < datetime(2026, 11, 30, tzinfo=UTC)


class History:
    def __init__(self, http: httpx.AsyncClient, token: str, made: list[Made]):
        self.http, self.made = http, made
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.http.get(path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def entries(self, action_type: str) -> Iterator[tuple[Made, Any]]:
        for one in self.made:
            for entry in one.story.entries:
                if entry.action is not None and entry.action.type == action_type and not entry.refused:
                    yield one, entry


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('history') / 'vigil.db'}"
    else:
        with fresh_pg_database("vigil_history") as url:
            yield url


@pytest_asyncio.fixture(scope="module")
async def history(history_url: str) -> AsyncIterator[History]:
    engine = make_engine(history_url)
    migrate(engine)
    tokens = add_people(engine)
    made = make_history(load_policy(), END, WEEKS, per_week=30, seed=13)
    write_history(engine, made)
    write_history(engine, made)  # a batch written twice writes nothing twice
    app = create_app(engine=engine)  # trends read the projection alone
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trends.test") as http:
        yield History(http, tokens["leo"], made)
    engine.dispose()


def test_the_generated_history_has_what_the_figures_need(history: History) -> None:
    kinds = Counter(e.action.type for one in history.made for e in one.story.entries if e.action)
    assert kinds["set_severity"] and kinds["reopen"] and kinds["merge_into"] and kinds["reject"]
    fired = [e for _, e in history.entries("clock_fired")]
    assert any(c.breaches for e in fired for c in e.clocks if c.kind != ClockKind.REOPEN)


async def test_facts_are_written_once_however_often_a_batch_is(history: History, history_url: str) -> None:
    engine = make_engine(history_url)
    with Session(engine) as session:
        milestones = session.scalar(select(func.count()).select_from(MilestoneRow))
        clocks = session.scalar(select(func.count()).select_from(ClockOutcomeRow))
    engine.dispose()
    kinds = ("open", "acknowledge", "resolve", "reopen", "merge_into")
    assert milestones == sum(1 for kind in kinds for _ in history.entries(kind))
    assert clocks == len(_clock_rounds(history))


async def test_weekly_counts_and_durations_equal_a_count_of_the_journal(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="severity", every="week")
    cells = {(c["period"], c["group"]): c for c in trends["series"]}
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    names = {"open": "opened", "resolve": "resolved", "reopen": "reopened", "merge_into": "merged"}
    for action_type, name in names.items():
        for _, entry in history.entries(action_type):
            if in_range(entry.at):
                for group in (entry.severity.value, "all"):
                    expected[(monday(entry.at), group)][name] += 1
    for one, entry in history.entries("acknowledge"):
        if in_range(entry.at):
            for group in (entry.severity.value, "all"):
                waits[(monday(entry.at), group)].append((entry.at - one.story.now.opened_at).total_seconds())
    assert expected
    for key, counts in expected.items():
        cell = cells[key]
        assert {name: cell[name] for name in names.values()} == {name: counts[name] for name in names.values()}, key
    for key, seconds in waits.items():
        spread = cells[key]["acknowledge"]
        assert spread["count"] == len(seconds)
        for p in (0.5, 0.9, 0.99):
            assert spread[f"p{round(p * 100)}"] == pytest.approx(percentile(seconds, p)), (key, p)


async def test_time_to_resolve_percentiles_per_group_over_the_range(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="category", every="week")
    totals = {c["group"]: c for c in trends["totals"]}
    seconds: dict[str, list[float]] = defaultdict(list)
    for one, entry in history.entries("resolve"):
        if in_range(entry.at):
            for group in (one.story.now.intake.category.value, "all"):
                seconds[group].append((entry.at - one.story.now.opened_at).total_seconds())
    for group, values in seconds.items():
        assert totals[group]["resolve"]["count"] == len(values)
        assert totals[group]["resolve"]["p90"] == pytest.approx(percentile(values, 0.9))
        assert totals[group]["resolve"]["p99"] == pytest.approx(percentile(values, 0.99))


def _outcome(clock: Clock) -> str | None:
    if clock.met_at is not None:
        return "met" if clock.met_at <= clock.due_at else "met_late"
    if clock.cancelled_at is not None:
        return "missed" if clock.breaches else "cancelled"
    return "running_late" if clock.breaches else None


def _clock_rounds(history: History) -> dict[tuple[str, str, datetime], tuple[Clock, Any]]:
    """The last word on every clock round: (incident, clock, start) -> (clock, entry)."""
    rounds: dict[tuple[str, str, datetime], tuple[Clock, Any]] = {}
    for one in history.made:
        for entry in one.story.entries:
            if entry.action is None or entry.refused:
                continue
            for clock in entry.clocks:
                if clock.kind not in (ClockKind.REOPEN, ClockKind.UPDATE) and _outcome(clock) is not None:
                    rounds[(one.incident_id, clock.id, clock.started_at)] = (clock, entry)
    return rounds


async def test_clock_outcomes_per_clock_equal_the_clocks_in_the_journal(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="region", every="week")
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (incident_id, clock_id, _), (clock, _entry) in _clock_rounds(history).items():
        if in_range(clock.due_at):
            key = "sla.first_response" if clock_id.startswith("sla.first_response.") else clock_id
            region = next(m.story.now.intake.region.value for m in history.made if m.incident_id == incident_id)
            for group in (region, "all"):
                expected[(group, key)][_outcome(clock)] += 1
    cells = {(c["group"], c["clock"]): c for c in trends["clocks"] if c["period"] is None}
    assert set(cells) == set(expected)
    for key, counts in expected.items():
        cell = cells[key]
        outcomes = ("met", "met_late", "missed", "running_late", "cancelled")
        assert {o: cell[o] for o in outcomes} == {o: counts[o] for o in outcomes}, key
        owed = sum(counts[o] for o in ("met", "met_late", "missed", "running_late"))
        late = counts["met_late"] + counts["missed"] + counts["running_late"]
        assert cell["breach_rate"] == pytest.approx(late / owed if owed else 0.0, abs=1e-4)


async def test_each_teams_first_response_time_and_miss_rate(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="all")
    teams = {t["team"]: t for t in trends["teams"]}
    answered: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for (_, clock_id, _), (clock, _) in _clock_rounds(history).items():
        if clock_id.startswith("sla.first_response.") and in_range(clock.due_at):
            team = clock_id.removeprefix("sla.first_response.")
            outcomes[team][_outcome(clock)] += 1
            if clock.met_at:
                answered[team].append((clock.met_at - clock.started_at).total_seconds())
    assert set(teams) == set(outcomes)
    for team, counts in outcomes.items():
        asked = sum(counts[o] for o in ("met", "met_late", "missed", "running_late"))
        assert teams[team]["asked"] == asked
        late = asked - counts["met"]
        assert teams[team]["miss_rate"] == pytest.approx(late / asked if asked else 0, abs=1e-4)
        assert teams[team]["response"]["p50"] == pytest.approx(percentile(answered[team], 0.5))


async def test_approvals_latency_outcomes_and_rounds(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="severity")
    cells = {a["group"]: a for a in trends["approvals"]}
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    rounds: dict[str, Counter[str]] = defaultdict(Counter)
    latency: list[float] = []
    for one in history.made:
        for proposal in one.story.now.proposals:
            if not proposal.needs_approval or not in_range(proposal.proposed_at):
                continue
            status = {"done": "approved", "failed": "approved"}.get(proposal.status.value, proposal.status.value)
            asked = str(one.story.asked_rounds.get(proposal.id, 1))
            for group in (proposal.severity.value, "all"):
                statuses[group][status] += 1
                rounds[group][asked] += 1
            if proposal.decided_at and status != "pending":
                latency.append((proposal.decided_at - proposal.proposed_at).total_seconds())
    assert statuses["all"]["rejected"] and statuses["all"]["approved"]
    for group, counts in statuses.items():
        cell = cells[group]
        assert (cell["requested"], cell["approved"], cell["rejected"], cell["expired"], cell["pending"]) == (
            sum(counts.values()),
            counts["approved"],
            counts["rejected"],
            counts["expired"],
            counts["pending"],
        )
        assert cell["tiers"] == dict(sorted(rounds[group].items(), key=lambda item: int(item[0])))
    assert cells["all"]["latency"]["count"] == len(latency)
    assert cells["all"]["latency"]["p50"] == pytest.approx(percentile(latency, 0.5), rel=1e-6, abs=0.01)


def _lowered_by_rule(history: History) -> tuple[Counter[str], dict[str, set[str]]]:
    opened: Counter[str] = Counter()
    lowered: dict[str, set[str]] = defaultdict(set)
    for one in history.made:
        state = one.story.now
        if not in_range(state.opened_at):
            continue
        rule = state.triage_reasons[0]
        opened[rule] += 1
        before = one.story.entries[0].severity
        for entry in one.story.entries:
            if entry.action is not None and entry.action.type == "set_severity" and not entry.refused:
                if entry.severity > before:  # "SEV3" > "SEV2": lowered
                    lowered[rule].add(one.incident_id)
                before = entry.severity
    return opened, lowered


async def test_severity_changes_by_the_triage_rule_incidents_were_triaged_under(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY)
    cells = {c["triage_rule"]: c for c in trends["severity_changes"]}
    opened, lowered = _lowered_by_rule(history)
    assert set(cells) == set(opened)
    for rule, count in opened.items():
        assert (cells[rule]["incidents"], cells[rule]["lowered"]) == (count, len(lowered[rule])), rule


async def test_enforcement_by_action_and_outcome(history: History) -> None:
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="all")
    expected: Counter[tuple[str, str]] = Counter()
    for one, entry in history.entries("enforcement_completed"):
        if in_range(entry.at):
            action = one.story.now.proposal(entry.action.proposal_id).action.value
            expected[(action, "done" if entry.action.succeeded else "failed")] += 1
    got = {(c["action"], o): c[o] for c in trends["enforcement"] if c["group"] == "all" for o in ("done", "failed")}
    assert {k: v for k, v in got.items() if v} == dict(expected)


async def test_recommendations_name_the_over_triaging_rule_with_its_incidents(history: History) -> None:
    policy = load_policy().recommendations.triage_lowered
    answer = await history.get("/api/trends/recommendations", **{"from": START_DAY, "to": END_DAY})
    found = {f["subject"]: f for f in answer["findings"] if f["rule"] == "triage_lowered"}
    opened, lowered = _lowered_by_rule(history)
    expected = {r for r, n in opened.items() if n >= policy.min_count and len(lowered[r]) / n > policy.threshold}
    assert expected and set(found) == expected
    for rule in expected:
        finding = found[rule]
        assert finding["evidence"]["incidents"] == sorted(lowered[rule])[:50]
        assert finding["evidence"]["numbers"]["incidents"] == opened[rule]
        share = f"{round(len(lowered[rule]) / opened[rule] * 100)} %"
        assert share in finding["finding"]["en"] and share in finding["finding"]["es"]
        assert finding["finding"]["es"] != finding["finding"]["en"]
        assert finding["queue"].startswith("/?status=any&id=")
        listed = await history.get("/api/incidents", **{"id": finding["evidence"]["incidents"], "limit": 200})
        assert sorted(i["id"] for i in listed["items"]) == finding["evidence"]["incidents"]


async def test_recommendations_flag_a_legal_clock_met_late(history: History) -> None:
    answer = await history.get("/api/trends/recommendations", **{"from": START_DAY, "to": END_DAY})
    found = {f["subject"]: f for f in answer["findings"] if f["rule"] == "regulatory_late"}
    late: dict[str, set[str]] = defaultdict(set)
    for (incident_id, clock_id, _), (clock, _) in _clock_rounds(history).items():
        if (
            clock.kind == ClockKind.REGULATORY
            and in_range(clock.due_at)
            and _outcome(clock) not in ("met", "cancelled")
        ):
            late[clock_id].add(incident_id)
    assert set(found) == set(late)
    for clock_id, incidents in late.items():
        assert set(found[clock_id]["evidence"]["incidents"]) == incidents


async def test_trend_figures_as_csv(history: History) -> None:
    response = await history.http.get(
        "/api/trends",
        params={"start": START_DAY, "end": END_DAY, "by": "all", "table": "teams"},
        headers={**history.headers, "Accept": "text/csv"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    trends = await history.get("/api/trends", start=START_DAY, end=END_DAY, by="all")
    assert [r["team"] for r in rows] == [t["team"] for t in trends["teams"]]
    assert [float(r["response_p50"]) for r in rows] == pytest.approx([t["response"]["p50"] for t in trends["teams"]])


def test_a_synthetic_past_is_labelled_and_written_once_with_the_databases_own_ids(tmp_path) -> None:
    from vigil.db.tables import IncidentRow
    from vigil.synthetic_history import DESCRIPTION, generate

    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    migrate(engine)
    first = generate(engine, load_policy(), END, weeks=1, per_week=6, seed=5)
    again = generate(engine, load_policy(), END, weeks=1, per_week=6, seed=5)
    assert [m.incident_id for m in first] == [m.incident_id for m in again]
    with Session(engine) as session:
        stored = list(session.scalars(select(IncidentRow)))
    assert len(stored) == 6
    assert all(
        r.external_ref.startswith("synthetic:5:") and r.state["intake"]["description"] == DESCRIPTION for r in stored
    )
    assert sorted(r.id for r in stored) == [f"INC-{END.year}-{n:06d}" for n in range(1, 7)]
    engine.dispose()
