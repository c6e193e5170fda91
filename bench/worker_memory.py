"""(e) Worker memory: resident set size of the `vigil worker` process with 10,000 open incidents
waiting on their SLA timers (each triaged, projected, and waiting for acknowledgement), against
the bare worker holding 10,000 bare workflows waiting on a timer. Target: at most 1.2 times the bare worker.

The worker keeps at most VIGIL_WORKER_CACHE incidents in memory (2,000 by default); the others
wait in Temporal and are replayed when something happens to them. So RSS grows with the first
2,000 and then stays flat; the RSS is sampled every tenth of the way to show it. `--max-cached N`
runs both workers with another cache (10000: every incident cached, the cost of one cached
incident; 800: what fits in 300 MB).

    python -m bench.worker_memory [--n 10000] [--max-cached N]
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BareIncident
from bench.processes import Process, cpu_seconds, rss_mb
from bench.report import Report, Row
from bench.stage import Stage, common_arguments, stage, worker_tuning
from bench.workload import bounded, intake_body
from vigil.db.tables import IncidentRow
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.messages import IncidentStart
from vigil.workflows.state import Intake


def rss(process: Process) -> float:
    """The worker's RSS with its children's (`vigil worker`'s activity processes)."""
    return rss_mb(process.pid)


def settle(process: Process, quiet_seconds: float = 3.0, timeout: float = 120) -> None:
    """Wait until the process (and its children) used (almost) no CPU for `quiet_seconds`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(process.pid)
        time.sleep(quiet_seconds)
        if cpu_seconds(process.pid) - before < 0.05 * quiet_seconds:
            return


async def open_vigil(current: Stage, client: Client, n: int, samples: dict[int, float]) -> None:
    intake = Intake.model_validate(intake_body("sev3"))
    year = datetime.now(UTC).year
    engine = current.vigil.engine()

    async def one(index: int) -> None:
        await client.start_workflow(
            IncidentWorkflow.run,
            IncidentStart(incident_id=f"INC-{year}-{index:06d}", intake=intake),
            id=f"INC-{year}-{index:06d}",
            task_queue="vigil",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    step = max(n // 10, 1)
    for start in range(1, n + 1, step):
        await bounded(32, [one(i) for i in range(start, min(start + step, n + 1))])
        await _projected(engine, min(start + step - 1, n))
        assert current.vigil_worker is not None
        samples[min(start + step - 1, n)] = round(rss(current.vigil_worker), 1)
    engine.dispose()


async def _projected(engine, count: int, timeout: float = 600) -> None:
    """Until `count` incidents are triaged and in the projection (so each waits on its timers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if session.scalar(select(func.count()).select_from(IncidentRow)) >= count:
                return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{count} incidents not projected within {timeout}s")


async def open_bare(current: Stage, client: Client, n: int, samples: dict[int, float]) -> None:
    async def one(index: int) -> None:
        await client.start_workflow(BareIncident.run, {"kind": "sev3"}, id=f"BARE-{index}", task_queue="bare")

    step = max(n // 10, 1)
    for start in range(1, n + 1, step):
        await bounded(32, [one(i) for i in range(start, min(start + step, n + 1))])
        assert current.bare_worker is not None
        settle(current.bare_worker, quiet_seconds=1.5)
        samples[min(start + step - 1, n)] = round(rss(current.bare_worker), 1)


async def main(args: argparse.Namespace) -> Report:
    report = Report(
        "worker_memory",
        f"python -m bench.worker_memory --n {args.n}" + (f" --max-cached {args.max_cached}" if args.max_cached else ""),
    )
    with stage("memory", keep=args.keep, api=False, **worker_tuning(args)) as current:
        assert current.vigil_worker is not None and current.bare_worker is not None
        idle = {"vigil": round(rss(current.vigil_worker), 1), "bare": round(rss(current.bare_worker), 1)}
        vigil_samples: dict[int, float] = {}
        bare_samples: dict[int, float] = {}
        await open_vigil(current, await current.vigil.client(), args.n, vigil_samples)
        settle(current.vigil_worker)
        vigil_rss = rss(current.vigil_worker)
        workflows_alone = rss_mb(current.vigil_worker.pid, children=False)
        await open_bare(current, await Client.connect(current.server.address), args.n, bare_samples)
        settle(current.bare_worker)
        bare_rss = rss(current.bare_worker)
    report.add(
        Row(
            "(e) worker RSS",
            "MB",
            vigil_rss,
            bare_rss,
            "bare worker",
            vigil_rss / bare_rss,
            "<= 1.2",
            vigil_rss <= 1.2 * bare_rss,
        )
    )
    report.details.update(
        {
            "open incidents": args.n,
            "max_cached_workflows (both workers)": current.worker_cache,
            "RSS idle before (vigil, bare)": (idle["vigil"], idle["bare"]),
            "vigil RSS by open incidents": vigil_samples,
            "vigil RSS of the workflow process alone (no activity processes)": round(workflows_alone, 1),
            "bare RSS by open workflows": bare_samples,
        }
    )
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=10_000, help="open incidents (and bare workflows)")
    asyncio.run(main(parser.parse_args())).save_and_print()
