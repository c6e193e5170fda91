"""(d) Replay rate: incident histories replayed per second as `vigil audit replay` replays them
(vigil.audit.replay.replay_many: Temporal's Replayer with Vigil's workflows and converter,
decryption included, spread over one process per core), over 1,000 real histories: incidents
carried through the lifecycle mix by the real worker (bench.workload; one SEV1 with its approval
in four). Baseline: the bare workflow's histories (same steps) replayed with the bare workflows
by one Replayer, as the SDK gives it. Vigil's rate in one process is a detail line.
Target: the bare histories' rate or better (ratio >= 1.0). Histories are fetched first; only the replay is timed.

    python -m bench.replay_rate [--n 1000]
"""

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from bench import bare
from bench.report import Report, Row
from bench.stage import common_arguments, stage, worker_tuning
from bench.workload import SdkVigilDriver, bounded, kind_of
from vigil.audit.history import IncidentHistory
from vigil.audit.replay import pool_size, replay_many
from vigil.audit.replay import replay as replay_in_one_process


async def fetch(client: Client, ids: list[str]) -> list[WorkflowHistory]:
    async def one(workflow_id: str) -> WorkflowHistory:
        return await client.get_workflow_handle(workflow_id).fetch_history()

    return list(await bounded(16, [one(i) for i in ids]))


async def replay(replayer: Replayer, histories: list[WorkflowHistory]) -> tuple[float, int]:
    async def stream() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    started = time.perf_counter()
    results = await replayer.replay_workflows(stream(), raise_on_replay_failure=False)
    seconds = time.perf_counter() - started
    return seconds, len(results.replay_failures)


async def replay_as_audit(converter, histories: list[WorkflowHistory], processes: int | None) -> tuple[float, int]:
    """`vigil audit replay`'s way: reports per incident, over `processes` (None: one per core)."""
    incidents = [IncidentHistory(incident_id=h.workflow_id, runs=[h]) for h in histories]
    started = time.perf_counter()
    if processes == 1:
        reports = await replay_in_one_process(incidents, converter)
    else:
        reports = await replay_many(incidents, converter, processes)
    return time.perf_counter() - started, sum(not r.ok for r in reports)


async def main(args: argparse.Namespace) -> Report:
    report = Report("replay_rate", f"python -m bench.replay_rate --n {args.n}")
    year = datetime.now(UTC).year
    with stage("replay", keep=args.keep, **worker_tuning(args), api=False) as current:
        vigil_client = await current.vigil.client()
        bare_client = await Client.connect(current.server.address)
        vigil_ids = [f"INC-{year}-{i:06d}" for i in range(1, args.n + 1)]
        bare_ids = [f"BARE-{i}" for i in range(args.n)]
        driver, bare_driver = SdkVigilDriver(vigil_client), bare.SdkDriver(bare_client, "bare")
        made = time.perf_counter()
        outcomes = await bounded(args.concurrency, [driver.run(kind_of(i), id_) for i, id_ in enumerate(vigil_ids)])
        outcomes += await bounded(
            args.concurrency, [bare_driver.run(kind_of(i), id_) for i, id_ in enumerate(bare_ids)]
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} incidents failed; first: {failed[0]!r}")
        made = time.perf_counter() - made
        vigil_histories = await fetch(vigil_client, vigil_ids)
        bare_histories = await fetch(bare_client, bare_ids)
    converter = current.vigil.converter()
    bare_replayer = Replayer(workflows=bare.WORKFLOWS)
    await replay_as_audit(converter, vigil_histories[:20], 1)  # warm-up: imports
    await replay(bare_replayer, bare_histories[:20])
    vigil_seconds, vigil_failures = await replay_as_audit(converter, vigil_histories, None)
    bare_seconds, bare_failures = await replay(bare_replayer, bare_histories)
    one_seconds, _ = await replay_as_audit(converter, vigil_histories, 1)
    vigil_rate, bare_rate = len(vigil_histories) / vigil_seconds, len(bare_histories) / bare_seconds
    report.add(
        Row(
            "(d) replay rate",
            "histories/s",
            vigil_rate,
            bare_rate,
            "bare workflow histories",
            vigil_rate / bare_rate,
            ">= 1.0",
            vigil_rate >= bare_rate and vigil_failures == 0,
        )
    )
    report.details.update(
        {
            "histories": args.n,
            "replay failures (vigil, bare)": (vigil_failures, bare_failures),
            "processes (vigil, bare)": (pool_size(len(vigil_histories)), 1),
            "vigil in one process (histories/s)": round(len(vigil_histories) / one_seconds, 1),
            "events per history (vigil, bare)": (
                round(sum(len(h.events) for h in vigil_histories) / args.n, 1),
                round(sum(len(h.events) for h in bare_histories) / args.n, 1),
            ),
            "seconds to make the histories": round(made),
        }
    )
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=1000, help="histories per side")
    parser.add_argument("--concurrency", type=int, default=24)
    asyncio.run(main(parser.parse_args())).save_and_print()
