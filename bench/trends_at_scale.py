"""(g) Trends at scale: a year of 100,000 (or 1,000,000) incidents' facts bulk-loaded into the
projection; p50/p99 of `GET /api/trends` and `GET /api/trends/recommendations` (HTTP to `vigil
api`, token checked, JSON out) against the same aggregate SQL run raw through the database
driver (the statements the API's own code issues, captured from SQLAlchemy, executed and
fetched on a DBAPI cursor). Target p99 <= 2x, on SQLite and on PostgreSQL.

The facts are written straight into the fact tables (milestones, clock outcomes, severity
changes, enforcement outcomes, approvals, the incident rows), drawn at random in realistic
proportions: folding a million incidents through the state machine would take an hour and
measure the generator, not the queries.

    python -m bench.trends_at_scale [--incidents 100000] [--requests 30] [--backend sqlite|postgresql|both]
"""

import argparse
import asyncio
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session

from bench.processes import Deployment
from bench.profiling import py_spy
from bench.report import Report, Row, percentile
from bench.stage import common_arguments
from bench.workload import PEOPLE
from vigil.api.routers.trends import compute
from vigil.db.engine import make_engine
from vigil.db.tables import (
    ApprovalRow,
    ClockOutcomeRow,
    EnforcementOutcomeRow,
    IncidentRow,
    MilestoneRow,
    SeverityChangeRow,
)
from vigil.domain import REGION_INCIDENT_TEAM, Category, Channel, Region
from vigil.policy import load_policy
from vigil.trends.recommend import recommend

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SEVERITY_MIX = {"SEV1": 3, "SEV2": 12, "SEV3": 35, "SEV4": 50}
RULES = ["child safety is always SEV1", "external party is watching", "harm category", "risk to life", "default"]
TEAMS = ["legal", "public_policy", "product", "engineering"]
END = datetime.now(UTC).replace(microsecond=0)
# (name, path, params): what leadership and the console ask for.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("quarter by severity, weekly", "/api/trends", {"by": "severity", "every": "week", "days": 91}),
    ("month by category, daily", "/api/trends", {"by": "category", "every": "day", "days": 30}),
    ("quarter by team, weekly", "/api/trends", {"by": "team", "every": "week", "days": 91}),
    ("recommendations, month", "/api/trends/recommendations", {"days": 30}),
]


def fact_rows(count: int, seed: int = 7) -> dict[Any, list[dict[str, Any]]]:
    """Rows for every fact table, as the projection would have written them for `count` incidents."""
    rng = random.Random(seed)
    tables: dict[Any, list[dict[str, Any]]] = {m: [] for m in (IncidentRow, MilestoneRow, ClockOutcomeRow)}
    tables |= {SeverityChangeRow: [], EnforcementOutcomeRow: [], ApprovalRow: []}
    severities, weights = list(SEVERITY_MIX), list(SEVERITY_MIX.values())
    for number in range(1, count + 1):
        iid = f"INC-2026-{number:07d}"
        opened = END - timedelta(seconds=rng.randint(3600, 365 * 86400))
        severity = rng.choices(severities, weights)[0]
        region = rng.choice(list(Region)).value
        dims = {
            "severity": severity,
            "category": rng.choice(list(Category)).value,
            "channel": rng.choice(list(Channel)).value,
            "region": region,
            "team": REGION_INCIDENT_TEAM[Region(region)].value,
            "triage_rule": rng.choice(RULES),
        }
        entry = 1
        ack = opened + timedelta(seconds=rng.lognormvariate(7, 1))
        resolved = ack + timedelta(seconds=rng.lognormvariate(10, 1))
        tables[IncidentRow].append(
            {
                "id": iid,
                "title": "bench",
                "channel": dims["channel"],
                "category": dims["category"],
                "region": region,
                "language": "en",
                "severity": severity,
                "status": "closed",
                "opened_at": opened,
                "updated_at": resolved,
                "acknowledged_at": ack,
                "resolved_at": resolved,
                "closed_at": resolved,
                "breaches": rng.choice([0, 0, 0, 1]),
                "seq": 10,
                "state": {},
            }
        )
        milestones = [("opened", opened, None), ("acknowledged", ack, (ack - opened).total_seconds())]
        milestones.append(("resolved", resolved, (resolved - opened).total_seconds()))
        if rng.random() < 0.04:
            milestones.append(("reopened", resolved + timedelta(hours=5), None))
        for kind, at, seconds in milestones:
            tables[MilestoneRow].append(
                {"incident_id": iid, "entry_no": entry, "kind": kind, "at": at, "seconds": seconds, **dims}
            )
            entry += 1
        for clock, started, met in (("sla.acknowledge", opened, ack), ("sla.resolve", opened, resolved)):
            due = started + timedelta(seconds=rng.choice([900, 3600, 14400, 86400]))
            outcome = "met" if met <= due else "met_late"
            tables[ClockOutcomeRow].append(_clock(iid, clock, clock, started, due, met, outcome, entry, dims))
            entry += 1
        if rng.random() < 0.5:
            team = rng.choice(TEAMS)
            started = ack + timedelta(minutes=10)
            due, met = started + timedelta(hours=4), started + timedelta(seconds=rng.lognormvariate(9, 1))
            outcome = "met" if met <= due else rng.choice(["met_late", "missed"])
            row = _clock(
                iid, f"sla.first_response.{team}", "sla.first_response", started, due, met, outcome, entry, dims
            )
            tables[ClockOutcomeRow].append(row | {"team": team})
            entry += 1
        if rng.random() < 0.08:
            to = rng.choice(["SEV3", "SEV4"])
            tables[SeverityChangeRow].append(
                {"incident_id": iid, "entry_no": entry, "at": ack, "from_severity": severity, "to_severity": to}
                | {
                    "direction": "lowered" if to > severity else "raised",
                    "changed_by": "lead01",
                    "triaged_severity": severity,
                }
                | {k: v for k, v in dims.items() if k != "severity"}
            )
            entry += 1
        if rng.random() < 0.55:
            action = rng.choice(["remove_content", "geo_block", "suspend_account"])
            tables[EnforcementOutcomeRow].append(
                {"incident_id": iid, "entry_no": entry, "proposal_id": f"{iid}-A1", "action": action}
                | {"outcome": "done" if rng.random() < 0.97 else "failed", "at": ack + timedelta(hours=1), **dims}
            )
            if severity in ("SEV1", "SEV2"):
                tables[ApprovalRow].append(
                    {
                        "id": f"{iid}-A1",
                        "incident_id": iid,
                        "action": action,
                        "rationale": "bench",
                        "proposed_by": "ana",
                    }
                    | {"requested_at": ack + timedelta(minutes=30), "severity": severity, "region": region, "quorum": 1}
                    | {"status": rng.choice(["approved"] * 8 + ["rejected", "expired"]), "approvers": [], "votes": []}
                    | {
                        "decided_at": ack + timedelta(minutes=30 + rng.randint(1, 90)),
                        "asked_round": rng.choice([1, 1, 1, 2, 3]),
                    }
                )
    return tables


def _clock(
    iid: str,
    clock_id: str,
    clock: str,
    started: datetime,
    due: datetime,
    met: datetime,
    outcome: str,
    entry: int,
    dims: dict,
) -> dict[str, Any]:
    return {
        "incident_id": iid,
        "clock_id": clock_id,
        "started_at": started,
        "entry_no": entry,
        "clock": clock,
        "kind": "sla",
        "due_at": due,
        "ended_at": met,
        "outcome": outcome,
        "seconds": (met - started).total_seconds() if outcome != "missed" else None,
        "late_by_seconds": max(0.0, (met - due).total_seconds()),
        **dims,
    }


def bulk_load(engine: Engine, tables: dict[Any, list[dict[str, Any]]], chunk: int = 5000) -> float:
    started = time.perf_counter()
    with Session(engine) as session:
        for model, rows in tables.items():
            for start in range(0, len(rows), chunk):
                session.execute(insert(model.__table__), rows[start : start + chunk])
                session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    return time.perf_counter() - started


def _range(params: dict[str, Any]) -> tuple[date, date]:
    end = END.date()
    return end - timedelta(days=params["days"] - 1), end


def _query(path: str, params: dict[str, Any]) -> dict[str, Any]:
    start, end = _range(params)
    if path.endswith("recommendations"):
        return {"from": start.isoformat(), "to": end.isoformat()}
    return {"start": start.isoformat(), "end": end.isoformat(), "by": params["by"], "every": params["every"]}


def captured_sql(engine: Engine, path: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """The DBAPI statements the API's own trend code issues for this request."""
    statements: list[tuple[str, Any]] = []

    def capture(conn, dbapi_cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    start, end = _range(params)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            if path.endswith("recommendations"):
                recommend(session, load_policy(), start, end)
            else:
                compute(session, start, end, params["by"], params["every"])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


def run_raw(raw_connection: Any, statements: list[tuple[str, Any]]) -> int:
    fetched = 0
    for statement, parameters in statements:
        cursor = raw_connection.cursor()
        cursor.execute(statement, parameters)
        fetched += len(cursor.fetchall())
        cursor.close()
    return fetched


async def measure(
    engine: Engine, api_url: str, token: str, requests: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    headers = {"Authorization": f"Bearer {token}"}
    plans = [(name, path, params, captured_sql(engine, path, params)) for name, path, params in REQUESTS]
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _, _ in REQUESTS}
    raw = engine.raw_connection()
    async with httpx.AsyncClient(timeout=300) as http:
        for index in range(requests + warmup):
            for name, path, params, statements in plans:
                started = time.perf_counter()
                response = await http.get(f"{api_url}{path}", params=_query(path, params), headers=headers)
                api_seconds = time.perf_counter() - started
                assert response.status_code == 200, response.text
                started = time.perf_counter()
                run_raw(raw, statements)
                sql_seconds = time.perf_counter() - started
                if index >= warmup:
                    times[name][0].append(api_seconds)
                    times[name][1].append(sql_seconds)
    raw.close()
    return times


async def one_backend(
    backend: str, args: argparse.Namespace, report: Report, tables: dict[Any, list[dict[str, Any]]]
) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"vigil-bench-trends-{backend}-"))
    pg_name = None
    if backend == "postgresql":
        pg_name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(POSTGRES_ADMIN_URL)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        url = f"sqlite:///{root / 'vigil.db'}"
    deployment = Deployment(home=root, temporal_address="127.0.0.1:1", database_url=url)  # trends need no Temporal
    try:
        deployment.migrate()
        tokens = deployment.add_people(PEOPLE)
        engine = make_engine(url)
        load_seconds = bulk_load(engine, tables)
        api = deployment.api(name=f"api-{backend}", ready_path="/healthz")
        with py_spy({f"api-{backend}": api.pid}, args.profile):
            times = await measure(engine, api.url, tokens["leo"], args.requests, args.warmup)
        for name, (api_times, sql_times) in times.items():
            for p in (50, 99):
                vigil, raw = percentile(api_times, p) * 1000, percentile(sql_times, p) * 1000
                report.add(
                    Row(
                        f"(g) {name} {backend} p{p}",
                        "ms",
                        vigil,
                        raw,
                        "same SQL, raw driver",
                        vigil / raw,
                        "<= 2" if p == 99 else "(p99 only)",
                        vigil / raw <= 2 if p == 99 else True,
                    )
                )
        facts = sum(len(rows) for rows in tables.values())
        report.details[backend] = (
            f"{facts:,} fact rows bulk-loaded in {load_seconds:.0f}s; {args.requests} requests each"
        )
        engine.dispose()
    finally:
        deployment.stop_all()
        if pg_name:
            admin = make_engine(POSTGRES_ADMIN_URL)
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


async def main(args: argparse.Namespace) -> Report:
    report = Report(
        "trends_at_scale", f"python -m bench.trends_at_scale --incidents {args.incidents} --requests {args.requests}"
    )
    tables = fact_rows(args.incidents)
    report.details["requests"] = "; ".join(name for name, _, _ in REQUESTS)
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        await one_backend(backend, args, report, tables)
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--incidents", type=int, default=100_000, help="100000, or 1000000 for the full run")
    parser.add_argument("--requests", type=int, default=30, help="requests measured per query and backend")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    asyncio.run(main(parser.parse_args())).save_and_print()
