"""A probe for issue 16's (a): what of Vigil's workflow shape makes the Temporal server work
harder, with nothing else of Vigil running. The bare workflow (bench.bare) is carried through
(a)'s steps as it is, and in variants that each add one thing Vigil's incidents do:

    pad                 `--pad` characters of incompressible text in the state, which every update
                        result and projection input carries, as Vigil's carry the whole incident:
                        a bare history of about Vigil's bytes (36 KB an incident against 11)
    search_attributes   five keyword search attributes upserted on every change of status
    search_attributes_changed
                        the same changes, each upsert carrying only the status (is the cost per
                        upsert or per attribute?)
    timers              the SLA timer moved (cancelled, started again) on every change of status
    activities_elsewhere
                        activities on a task queue of their own, as Vigil's activity process polls:
                        matched by the server instead of handed back eagerly to the workflow's worker

Passes alternate (plain, then each variant, `--rounds` times), so a slower minute does not fall
on one side. Each variant's server CPU per incident against the plain pass's is what that
feature costs the server, and so the most that removing it could save.

    python -m bench.server_cost [--n 200] [--pad 1400] [--rounds 2] [--variants pad,timers]
"""

import argparse
import asyncio
import base64
import os
from typing import Any

from temporalio.client import Client

from bench.lifecycle_throughput import events_per_incident, run_bare
from bench.report import Report, Row
from bench.stage import Stage, common_arguments, stage


async def one_pass(current: Stage, client: Client, n: int, variant: dict[str, Any], prefix: str) -> dict[str, float]:
    run = await run_bare(current, client, n, 16, prefix, variant)
    counts = await events_per_incident(client, run.ids)
    return {
        "server CPU ms/incident": 1000 * run.cpu["temporal"] / n,
        "bare worker CPU ms/incident": 1000 * run.cpu["bare worker"] / n,
        "incidents/s": n / run.seconds,
        "history KB/incident": counts["history KB"],
        "events/incident": counts["events"],
        "timers/incident": counts.get("timers", 0.0),
    }


async def main(args: argparse.Namespace) -> Report:
    report = Report("server_cost", f"python -m bench.server_cost --n {args.n} --pad {args.pad} --rounds {args.rounds}")
    variants: dict[str, dict[str, Any]] = {
        "plain": {},
        "pad": {"pad": base64.b64encode(os.urandom(args.pad))[: args.pad].decode()},
        "search_attributes": {"search_attributes": "all"},
        "search_attributes_changed": {"search_attributes": "changed"},
        "timers": {"timers": True},
        "activities_elsewhere": {"activities_elsewhere": True},
    }
    if args.variants:
        variants = {name: v for name, v in variants.items() if name == "plain" or name in args.variants.split(",")}
    passes: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    with stage("server-cost", keep=args.keep, api=False, vigil_worker=False) as current:
        client = await Client.connect(current.server.address)
        await one_pass(current, client, 16, {}, "WARM")
        for round_no in range(args.rounds):
            for name, variant in variants.items():
                passes[name].append(await one_pass(current, client, args.n, variant, f"{name.upper()}{round_no}"))
    mean = {name: {k: sum(p[k] for p in runs) / len(runs) for k in runs[0]} for name, runs in passes.items()}
    plain = mean["plain"]["server CPU ms/incident"]
    for name in variants:
        if name != "plain":
            cost = mean[name]["server CPU ms/incident"]
            report.add(
                Row(f"server with {name}", "CPU ms/incident", cost, plain, "bare, plain", cost / plain, "", True)
            )
    for name, means in mean.items():
        report.details[f"{name} (mean of {args.rounds})"] = {k: round(v, 2) for k, v in means.items()}
    report.details["passes"] = passes
    return report


if __name__ == "__main__":
    parser = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--n", type=int, default=200, help="incidents per pass")
    parser.add_argument("--pad", type=int, default=1400, help="characters of incompressible text in the state")
    parser.add_argument("--rounds", type=int, default=2, help="passes of each variant, alternated")
    parser.add_argument("--variants", default="", help="only these variants (and plain), comma-separated")
    asyncio.run(main(parser.parse_args())).save_and_print()
