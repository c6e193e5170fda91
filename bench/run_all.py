"""Run every benchmark, one after the other, each in a fresh process with its own servers, and
print one table: figure, baseline measured in the same run, ratio, target.

    python -m bench.run_all            the full sizes (about 40 minutes on 2 cores)
    python -m bench.run_all --quick    small sizes, a smoke run of every benchmark (a few minutes)
    python -m bench.run_all --only a,c
    python -m bench.run_all --table    the table of the last saved results, without running

Each benchmark also saves its rows and details in bench/results/<name>.json.
"""

import argparse
import json
import subprocess
import sys
import time

from bench.report import RESULTS, Row, machine, print_table

# letter -> (module, full-size arguments, quick arguments)
BENCHMARKS = {
    "a": ("lifecycle_throughput", ["--n", "500"], ["--n", "40", "--warmup", "8"]),
    "b": ("action_latency", ["--n", "300"], ["--n", "40", "--warmup", "5"]),
    "c": ("list_at_scale", ["--rows", "100000", "--requests", "600"], ["--rows", "5000", "--requests", "100"]),
    "d": ("replay_rate", ["--n", "1000"], ["--n", "60"]),
    "e": ("worker_memory", ["--n", "10000"], ["--n", "400"]),
    "f": ("timer_lateness", ["--n", "2000", "--due", "150"], ["--n", "100", "--due", "60", "--window", "20"]),
    "g": ("trends_at_scale", ["--incidents", "1000000", "--requests", "30"], ["--incidents", "5000"]),
    "h": (
        "notice_delivery",
        ["--n", "2000", "--burst", "2000", "--due", "150"],
        ["--n", "100", "--burst", "40", "--due", "40"],
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check every benchmark runs")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="letters, e.g. a,c")
    parser.add_argument("--table", action="store_true", help="print the table of the last saved results only")
    args = parser.parse_args()
    rows: list[Row] = []
    failed = []
    for letter in args.only.split(","):
        module, full, quick = BENCHMARKS[letter.strip()]
        if args.table:
            rows += [Row(**row) for row in json.loads((RESULTS / f"{module}.json").read_text())["rows"]]
            continue
        command = [sys.executable, "-m", f"bench.{module}", *(quick if args.quick else full)]
        print(f"\n== ({letter}) {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        if subprocess.run(command).returncode != 0:
            failed.append(letter)
            continue
        result = json.loads((RESULTS / f"{module}.json").read_text())
        rows += [Row(**row) for row in result["rows"]]
        print(f"   ({time.monotonic() - started:.0f}s)", flush=True)
    print(f"\nVigil against the engine it runs on ({machine()}):\n")
    print_table(rows)
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
