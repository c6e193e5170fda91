"""(b) Action latency: p50/p99 of one action through the API (`POST /api/incidents/{id}/actions`
`{"type": "acknowledge"}`, answered with the new state) against the raw SDK update round trip of
the bare workflow, on the same dev server. Target <= 1.5x. One action at a time, interleaved
(API, bare, Vigil's own SDK call), so the three share whatever else the machine is doing, and
`--pause` apart, so that what an action sets off in the background (the projection write) is
not counted in the next action's latency.

The third figure, the same acknowledge sent by `vigil.temporal.incident_client.act` (Vigil's workflow,
converter and encryption, no HTTP), splits Vigil's overhead between the API and the workflow.

    python -m bench.action_latency [--n 300]
"""

import argparse
import asyncio
import time

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BareIncident
from bench.profiling import py_spy
from bench.report import Report, Row, percentile
from bench.stage import common_arguments, stage, worker_tuning
from bench.workload import bounded, intake_body
from vigil.domain import Role
from vigil.temporal import incident_client
from vigil.workflows.actions import Acknowledge
from vigil.workflows.state import Actor

ANA = Actor(user="ana", role=Role.ANALYST)


async def open_api_incidents(http: httpx.AsyncClient, url: str, token: str, n: int) -> list[str]:
    async def one(index: int) -> str:
        response = await http.post(
            f"{url}/api/incidents",
            json=intake_body("sev3", f"LAT-{index}"),
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        return response.json()["id"]

    return list(await bounded(8, [one(i) for i in range(n)]))


async def open_bare(client: Client, n: int) -> list[str]:
    async def one(index: int) -> str:
        start = WithStartWorkflowOperation(
            BareIncident.run,
            {"kind": "sev3"},
            id=f"BARE-LAT-{index}",
            task_queue="bare",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await client.execute_update_with_start_workflow(BareIncident.opened, start_workflow_operation=start)
        return f"BARE-LAT-{index}"

    return list(await bounded(8, [one(i) for i in range(n)]))


async def main(args: argparse.Namespace) -> Report:
    report = Report("action_latency", f"python -m bench.action_latency --n {args.n} --pause {args.pause}")
    with stage("latency", keep=args.keep, **worker_tuning(args)) as current:
        assert current.api is not None
        bare_client = await Client.connect(current.server.address)
        vigil_client = await current.vigil.client()
        total = args.n + args.warmup
        async with httpx.AsyncClient(timeout=60) as http:
            ids = await open_api_incidents(http, current.api.url, current.tokens["ana"], 2 * total)
            via_api, via_sdk = ids[:total], ids[total:]
            bare_ids = await open_bare(bare_client, total)
            await asyncio.sleep(2)  # let the intakes' projections settle
            headers = {"Authorization": f"Bearer {current.tokens['ana']}"}
            api_times, sdk_times, bare_times = [], [], []
            profiled = {"api": current.api.pid}
            if current.vigil_worker:
                profiled["worker"] = current.vigil_worker.pid
            profiling = py_spy(profiled, args.profile)
            profiling.__enter__()
            for index in range(total):
                await asyncio.sleep(args.pause)  # the previous actions' projections run meanwhile, not during
                started = time.perf_counter()
                response = await http.post(
                    f"{current.api.url}/api/incidents/{via_api[index]}/actions",
                    json={"type": "acknowledge"},
                    headers=headers,
                )
                api_seconds = time.perf_counter() - started
                assert response.status_code == 200, response.text

                await asyncio.sleep(args.pause)
                started = time.perf_counter()
                await bare_client.get_workflow_handle(bare_ids[index]).execute_update(
                    BareIncident.act, {"type": "acknowledge"}
                )
                bare_seconds = time.perf_counter() - started

                await asyncio.sleep(args.pause)
                started = time.perf_counter()
                await incident_client.act(vigil_client, via_sdk[index], Acknowledge(), ANA)
                sdk_seconds = time.perf_counter() - started
                if index >= args.warmup:
                    api_times.append(api_seconds)
                    bare_times.append(bare_seconds)
                    sdk_times.append(sdk_seconds)
            profiling.__exit__(None, None, None)
    for p in (50, 99):
        vigil, bare = percentile(api_times, p) * 1000, percentile(bare_times, p) * 1000
        report.add(
            Row(
                f"(b) action latency p{p}",
                "ms",
                vigil,
                bare,
                "bare SDK update",
                vigil / bare,
                "<= 1.5",
                vigil / bare <= 1.5,
            )
        )
    report.details.update(
        {
            "actions": args.n,
            "action": f"acknowledge, one at a time, {args.pause}s apart",
            "vigil via SDK (no HTTP) p50/p99 ms": (
                round(percentile(sdk_times, 50) * 1000, 1),
                round(percentile(sdk_times, 99) * 1000, 1),
            ),
        }
    )
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=300, help="actions measured per side")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help="seconds between actions, so one action's background work is not the next one's wait",
    )
    asyncio.run(main(parser.parse_args())).save_and_print()
