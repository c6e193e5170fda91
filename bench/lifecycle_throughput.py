"""(a) Lifecycle throughput: incidents carried from intake to resolved per second, through the
HTTP API (`vigil api` -> `vigil worker`), against the bare workflow carried through the same
steps with the raw SDK (bench.bare), on the same dev server in the same run. Target ratio >= 0.8.

The mix (bench.workload): one SEV1 in four (acknowledge, assign, escalate, team response,
propose, two approvals by different leads, enforcement, resolve: 8 actions and an approval
child workflow); the rest SEV3 (the same without approvals: 6 actions). The bare workflow gets
the same updates, activities and child workflows; the counts from sample histories are printed.

    python -m bench.lifecycle_throughput [--n 500] [--concurrency 16]
"""

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from bench.bare import SdkDriver
from bench.processes import cpu_seconds
from bench.profiling import py_spy
from bench.report import Report, Row, percentile
from bench.stage import Stage, common_arguments, stage, worker_tuning
from bench.workload import ApiDriver, bounded, kind_of

COUNTED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflows",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow tasks",
}


@dataclass
class Run:
    seconds: float
    ids: list[str]  # the incidents' workflow ids
    cpu: dict[str, float]  # CPU seconds each process used meanwhile
    latencies: list[float]  # seconds per action (update round trip)

    def latency(self) -> str:
        return f"p50 {percentile(self.latencies, 50) * 1000:.0f} ms, p99 {percentile(self.latencies, 99) * 1000:.0f} ms"


async def run_vigil(current: Stage, n: int, concurrency: int, prefix: str, profile: Path | None = None) -> Run:
    assert current.api is not None and current.vigil_worker is not None
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    profiled = {"worker": current.vigil_worker.pid, "api": current.api.pid}
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        driver = ApiDriver(http, [current.api.url], current.tokens)
        with cpu_use(current) as cpu, py_spy(profiled, profile):
            started = time.perf_counter()
            results = await bounded(concurrency, [driver.run(kind_of(i), f"{prefix}-{i}") for i in range(n)])
            elapsed = time.perf_counter() - started
    return Run(elapsed, _ids(results, n, "vigil"), cpu, driver.latencies)


async def run_bare(
    current: Stage, client: Client, n: int, concurrency: int, prefix: str, variant: dict[str, Any] | None = None
) -> Run:
    """`variant`: one of Vigil's habits added to the bare workflow (bench.server_cost); (a) adds none."""
    driver = SdkDriver(client, "bare", variant=variant)
    with cpu_use(current) as cpu:
        started = time.perf_counter()
        results = await bounded(concurrency, [driver.run(kind_of(i), f"{prefix}-{i}") for i in range(n)])
        elapsed = time.perf_counter() - started
    return Run(elapsed, _ids(results, n, "bare"), cpu, driver.latencies)


def _ids(results: list, n: int, what: str) -> list[str]:
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise RuntimeError(f"{what}: {len(failures)} of {n} incidents failed; first: {failures[0]!r}")
    unresolved = [r for r in results if r["status"] != "resolved"]
    if unresolved:
        raise RuntimeError(f"{what}: {len(unresolved)} incidents did not end resolved")
    return [r["id"] for r in results]


@contextlib.contextmanager
def cpu_use(current: Stage) -> Iterator[dict[str, float]]:
    """CPU seconds used by each process of the stage (with its children: the worker's activity
    processes) and this driver while the block runs."""
    processes = {
        "temporal": current.server,
        "vigil worker": current.vigil_worker,
        "vigil api": current.api,
        "bare worker": current.bare_worker,
    }
    pids = {name: p.pid for name, p in processes.items() if p is not None}
    pids["driver"] = os.getpid()  # its children are the stage's processes: itself alone
    before = {name: cpu_seconds(pid, children=name != "driver") for name, pid in pids.items()}
    used: dict[str, float] = {}
    yield used
    used.update(
        {name: round(cpu_seconds(pid, children=name != "driver") - before[name], 1) for name, pid in pids.items()}
    )


async def activity_timings(client: Client, ids: list[str], sample: int = 40) -> dict[str, str]:
    """Per activity type, p50/p99 of waiting for a worker slot (scheduled -> started) and of running
    (started -> completed), in ms, over a sample of incidents and their approval children."""
    waits: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {}
    for workflow_id in ids[:sample]:
        for one in (workflow_id, f"{workflow_id}-A1"):
            try:
                history = await client.get_workflow_handle(one).fetch_history()
            except RPCError:
                continue
            scheduled: dict[int, tuple[str, float]] = {}
            started: dict[int, float] = {}
            for e in history.events:
                at = e.event_time.ToDatetime().timestamp()
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                    scheduled[e.event_id] = (e.activity_task_scheduled_event_attributes.activity_type.name, at)
                elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    name, when = scheduled[e.activity_task_started_event_attributes.scheduled_event_id]
                    started[e.activity_task_started_event_attributes.scheduled_event_id] = at
                    waits.setdefault(name, []).append(at - when)
                elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                    key = e.activity_task_completed_event_attributes.scheduled_event_id
                    if key in started:
                        runs.setdefault(scheduled[key][0], []).append(at - started[key])
    return {
        name: f"wait p50 {_ms(waits[name], 50)} p99 {_ms(waits[name], 99)}, "
        f"run p50 {_ms(runs.get(name, []), 50)} p99 {_ms(runs.get(name, []), 99)}"
        for name in sorted(waits)
    }


def _ms(seconds: list[float], p: float) -> str:
    return f"{percentile(seconds, p) * 1000:.0f}"


async def events_per_incident(client: Client, ids: list[str], sample: int = 40) -> dict[str, float]:
    """Counted events per incident over a sample of incidents, their approval children included."""
    counts: Counter[str] = Counter()
    for workflow_id in ids[:sample]:
        for one in (workflow_id, f"{workflow_id}-A1"):  # the approval child, where there is one
            try:
                history = await client.get_workflow_handle(one).fetch_history()
            except RPCError:
                continue
            counts.update(COUNTED[e.event_type] for e in history.events if e.event_type in COUNTED)
            counts["events"] += len(history.events)
            counts["history KB"] += sum(e.ByteSize() for e in history.events) / 1024
    return {name: round(counts[name] / min(len(ids), sample), 2) for name in counts}


async def main(args: argparse.Namespace) -> Report:
    report = Report(
        "lifecycle_throughput", f"python -m bench.lifecycle_throughput --n {args.n} --concurrency {args.concurrency}"
    )
    with stage("throughput", keep=args.keep, **worker_tuning(args)) as current:
        bare_client = await Client.connect(current.server.address)
        vigil_client = await current.vigil.client()
        # Warm-up: imports, caches and connections, for both.
        await run_bare(current, bare_client, args.warmup, args.concurrency, "BARE-WARM")
        await run_vigil(current, args.warmup, args.concurrency, "WARM")
        bare = await run_bare(current, bare_client, args.n, args.concurrency, "BARE")
        vigil = await run_vigil(current, args.n, args.concurrency, "RUN", args.profile)
        vigil_rate, bare_rate = args.n / vigil.seconds, args.n / bare.seconds
        report.add(
            Row(
                "(a) lifecycle throughput",
                "incidents/s",
                vigil_rate,
                bare_rate,
                "bare SDK workflow",
                vigil_rate / bare_rate,
                ">= 0.8",
                vigil_rate / bare_rate >= 0.8,
            )
        )
        report.details.update(
            {
                "incidents": args.n,
                "concurrency": args.concurrency,
                "mix": "1 SEV1 (2 approvals) : 3 SEV3 (none)",
                "vigil seconds": round(vigil.seconds, 1),
                "bare seconds": round(bare.seconds, 1),
                "vigil CPU seconds": vigil.cpu,
                "bare CPU seconds": bare.cpu,
                "vigil action latency": vigil.latency(),
                "bare action latency": bare.latency(),
                "vigil events/incident": await events_per_incident(vigil_client, vigil.ids),
                "bare events/incident": await events_per_incident(bare_client, bare.ids),
                "vigil activities (ms)": await activity_timings(vigil_client, vigil.ids),
                "bare activities (ms)": await activity_timings(bare_client, bare.ids),
            }
        )
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=500, help="incidents per side")
    parser.add_argument("--concurrency", type=int, default=16, help="incidents in flight at once, per side")
    parser.add_argument("--warmup", type=int, default=16)
    asyncio.run(main(parser.parse_args())).save_and_print()
