"""(c) List at scale: 100,000 incidents bulk-loaded into the projection; p50/p99 of filtered,
sorted, paginated `GET /api/incidents` (HTTP to `vigil api`, token checked, JSON out) against the
same SQL run raw through the database driver (the statements the API's own code issues, captured
from SQLAlchemy, executed and fetched on a DBAPI cursor). Target p99 <= 2x, on SQLite and on
PostgreSQL (a fresh database of its own on 127.0.0.1:5432, dropped afterwards).

The queries are a team's day: the work queue (SEV1 first), a region's SEV1/SEV2, an analyst's
own incidents, what is due soonest (open statuses by next deadline), a title search, each
followed through its first pages by cursor.

    python -m bench.list_at_scale [--rows 100000] [--requests 600] [--backend sqlite|postgresql|both]
"""

import argparse
import asyncio
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
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
from vigil.activities.projection import incident_row
from vigil.api.listing import IncidentQuery, list_incidents
from vigil.db.engine import make_engine
from vigil.db.search import search_row
from vigil.db.tables import IncidentRow, IncidentSearchRow
from vigil.domain import Category, Channel, Region, Severity, Status
from vigil.policy import load_policy
from vigil.workflows import lifecycle
from vigil.workflows.actions import Open
from vigil.workflows.state import SYSTEM, Intake

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ANALYSTS = [f"analyst{i:02d}" for i in range(40)]
STATUS_MIX = {  # most incidents of a year are closed; a working set is open
    Status.CLOSED: 70,
    Status.RESOLVED: 8,
    Status.MERGED: 3,
    Status.INVESTIGATING: 10,
    Status.ESCALATED: 4,
    Status.PENDING_APPROVAL: 2,
    Status.ACTIONING: 0.5,
    Status.TRIAGE: 2.5,
}
SEVERITY_MIX = {Severity.SEV1: 3, Severity.SEV2: 12, Severity.SEV3: 35, Severity.SEV4: 50}
TITLES = [
    "Livestream announcing an attack on a school",
    "Coordinated slurs against a streamer",
    "Self-harm challenge spreading among teenagers",
    "Scam ads impersonating a bank",
    "Doxxing of a journalist's home address",
    "Graphic video of an execution re-uploaded",
    "Removal order for terrorist propaganda",
    "Animal cruelty video with high reach",
    "Fake health cure promoted by a network of pages",
    "Harassment campaign against a teacher",
]

# Queries as the console sends them: (name, params); each is followed through PAGES pages.
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("work queue", {"status": "investigating", "sort": "severity", "order": "asc"}),
    ("region SEV1/SEV2", {"region": "EMEA", "severity": ["SEV1", "SEV2"], "sort": "opened_at", "order": "desc"}),
    ("my incidents", {"assignee": "analyst07", "sort": "updated_at", "order": "desc"}),
    ("due soonest", {"status": ["investigating", "escalated", "triage"], "sort": "next_deadline", "order": "asc"}),
    ("title search", {"text": "teacher", "sort": "opened_at", "order": "desc"}),  # and full text (vigil.db.search)
]
PAGES = 4


def _pick(mix: dict, rng: random.Random) -> Any:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def incident_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic projection rows; each carries a real incident state (as the projection writes it)."""
    rng = random.Random(seed)
    policy = load_policy()
    now = datetime.now(UTC)
    intake = Intake(
        title=TITLES[0],
        channel=Channel.LAW_ENFORCEMENT,
        category=Category.VIOLENT_EXTREMISM,
        region=Region.LATAM,
        language="es",
        content=[{"url": "https://video.example/live/8841"}],
        reporter={"name": "Unidad de Policía Cibernética", "email": "ciber@policia.example"},
    )
    template = lifecycle.apply(
        None,
        Open(
            incident_id="INC-2026-000000",
            intake=intake,
            severity=Severity.SEV1,
            triage_reasons=["bench"],
            policy_version=policy.version,
        ),
        SYSTEM,
        now,
        policy,
    )
    state_json = incident_row(template)["state"]
    rows = []
    for number in range(1, count + 1):
        status, severity = _pick(STATUS_MIX, rng), _pick(SEVERITY_MIX, rng)
        opened = now - timedelta(seconds=rng.randint(0, 365 * 86400))
        updated = min(now, opened + timedelta(seconds=rng.randint(60, 10 * 86400)))
        open_ = status not in (Status.CLOSED, Status.RESOLVED, Status.MERGED)
        rows.append(
            {
                "id": f"INC-{opened.year}-{number:06d}",
                "title": f"{rng.choice(TITLES)} #{number}",
                "channel": rng.choice(list(Channel)).value,
                "category": rng.choice(list(Category)).value,
                "region": rng.choice(list(Region)).value,
                "language": rng.choice(["en", "es"]),
                "severity": severity.value,
                "status": status.value,
                "assignee": None if status == Status.TRIAGE else rng.choice(ANALYSTS),
                "external_ref": f"REF-{number}" if rng.random() < 0.3 else None,
                "opened_at": opened,
                "updated_at": updated,
                "acknowledged_at": None if status == Status.TRIAGE else opened + timedelta(minutes=rng.randint(1, 600)),
                "resolved_at": updated if status in (Status.CLOSED, Status.RESOLVED) else None,
                "closed_at": updated if status in (Status.CLOSED, Status.MERGED) else None,
                "resolution": "actioned" if status in (Status.CLOSED, Status.RESOLVED) else None,
                "merged_into": None,
                "breaches": rng.choice([0, 0, 0, 1, 2]),
                "next_deadline": opened + timedelta(hours=rng.randint(1, 72)) if open_ else None,
                "seq": rng.randint(2, 20),
                "state": state_json,
                "history_digest": None,
            }
        )
    return rows


def search_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's searchable words, as the projection writes them beside it (vigil.db.search)."""
    found = []
    for row in rows:
        intake = {**row["state"]["intake"], "title": row["title"], "external_ref": row["external_ref"]}
        found.append(search_row(row["id"], row["seq"], {**row["state"], "intake": intake}))
    return found


def bulk_load(engine: Engine, rows: list[dict[str, Any]], chunk: int = 2000) -> float:
    started = time.perf_counter()
    with Session(engine) as session:
        for start in range(0, len(rows), chunk):
            session.execute(insert(IncidentRow.__table__), rows[start : start + chunk])
            session.execute(insert(IncidentSearchRow.__table__), search_rows(rows[start : start + chunk]))
            session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE incidents"))  # what autovacuum does after a bulk load
            session.execute(text("ANALYZE incident_search"))
            session.commit()
    return time.perf_counter() - started


def captured_sql(engine: Engine, params: dict[str, Any], cursor: str | None) -> list[tuple[str, Any]]:
    """The DBAPI statements (and parameters) the API's list code issues for this request."""
    statements: list[tuple[str, Any]] = []

    def capture(conn, dbapi_cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    listify = {k: (v if isinstance(v, list) else [v]) for k, v in params.items() if k not in ("sort", "order", "text")}
    query = IncidentQuery(**listify, text=params.get("text"), sort=params["sort"], order=params["order"], cursor=cursor)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            list_incidents(session, query)
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
    backend: str, url: str, engine: Engine, api_url: str, token: str, requests: int, warmup: int
) -> tuple[list[float], list[float], int]:
    headers = {"Authorization": f"Bearer {token}"}
    plan: list[tuple[dict[str, Any], str | None, list[tuple[str, Any]]]] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for _, params in QUERIES:  # follow each query's pages once, to know its cursors
            cursor = None
            for _ in range(PAGES):
                plan.append((params, cursor, captured_sql(engine, params, cursor)))
                page = (
                    await http.get(
                        f"{api_url}/api/incidents",
                        params={**params, **({"cursor": cursor} if cursor else {})},
                        headers=headers,
                    )
                ).json()
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        raw = engine.raw_connection()
        api_times, sql_times, rows_seen = [], [], 0
        for index in range(requests + warmup):
            params, cursor, statements = plan[index % len(plan)]
            query = {**params, **({"cursor": cursor} if cursor else {})}
            started = time.perf_counter()
            response = await http.get(f"{api_url}/api/incidents", params=query, headers=headers)
            api_seconds = time.perf_counter() - started
            assert response.status_code == 200, response.text
            started = time.perf_counter()
            fetched = run_raw(raw, statements)
            sql_seconds = time.perf_counter() - started
            if index >= warmup:
                api_times.append(api_seconds)
                sql_times.append(sql_seconds)
                rows_seen += len(response.json()["items"])
                assert fetched >= len(response.json()["items"])
        raw.close()
    return api_times, sql_times, rows_seen


async def one_backend(backend: str, args: argparse.Namespace, report: Report, rows: list[dict[str, Any]]) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"vigil-bench-list-{backend}-"))
    pg_name = None
    if backend == "postgresql":
        pg_name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(POSTGRES_ADMIN_URL)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        url = f"sqlite:///{root / 'vigil.db'}"
    # No Temporal: listing reads only the projection (the API keeps trying to connect, harmlessly).
    deployment = Deployment(home=root, temporal_address="127.0.0.1:1", database_url=url)
    try:
        deployment.migrate()
        tokens = deployment.add_people(PEOPLE)
        engine = make_engine(url)
        load_seconds = bulk_load(engine, rows)
        api = deployment.api(name=f"api-{backend}", ready_path="/healthz")
        with py_spy({f"api-{backend}": api.pid}, args.profile):
            api_times, sql_times, rows_seen = await measure(
                backend, url, engine, api.url, tokens["ana"], args.requests, args.warmup
            )
        for p in (50, 99):
            vigil, raw = percentile(api_times, p) * 1000, percentile(sql_times, p) * 1000
            target = "<= 2" if p == 99 else "(p99 only)"
            report.add(
                Row(
                    f"(c) list {backend} p{p}",
                    "ms",
                    vigil,
                    raw,
                    "same SQL, raw driver",
                    vigil / raw,
                    target,
                    vigil / raw <= 2 if p == 99 else True,
                )
            )
        report.details[f"{backend}"] = (
            f"{len(rows):,} rows bulk-loaded in {load_seconds:.0f}s; {len(api_times)} "
            f"requests, {rows_seen / max(len(api_times), 1):.0f} rows/page on average"
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
    report = Report("list_at_scale", f"python -m bench.list_at_scale --rows {args.rows} --requests {args.requests}")
    rows = incident_rows(args.rows)
    report.details["queries"] = ", ".join(name for name, _ in QUERIES) + f"; up to {PAGES} pages each, 50 rows a page"
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        await one_backend(backend, args, report, rows)
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=600, help="requests measured per backend")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    asyncio.run(main(parser.parse_args())).save_and_print()
