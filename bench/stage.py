"""A fresh, throwaway setup for one benchmark: a Temporal dev server as `vigil up` runs it, a Vigil
deployment on it (SQLite file, `vigil worker`, `vigil api`) and the bare baseline's worker on a
task queue of its own, all in a temporary directory removed afterwards."""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import Api, Deployment, Process, TemporalDevServer
from bench.workload import PEOPLE
from vigil.config import settings

REPO = Path(__file__).resolve().parents[1]
BARE_WORKER = [sys.executable, "-m", "bench.bare"]
# Workers run as `python -m bench....` need the repository on their path (after any path given).
PYTHONPATH = ":".join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))


@dataclass
class Stage:
    root: Path
    server: TemporalDevServer
    vigil: Deployment
    bare: Deployment
    worker_cache: int  # workflows each worker keeps cached (VIGIL_WORKER_CACHE)
    tokens: dict[str, str] = field(default_factory=dict)
    api: Api | None = None
    vigil_worker: Process | None = None
    bare_worker: Process | None = None


@contextlib.contextmanager
def stage(
    name: str,
    policy: Path | None = None,
    keep: bool = False,
    api: bool = True,
    vigil_worker: bool = True,
    bare_worker: bool = True,
    max_cached: int | None = None,
    extra_env: dict[str, str] | None = None,
    activity_processes: int | None = None,
) -> Iterator[Stage]:
    """`max_cached`: run `vigil worker` with this workflow cache size (VIGIL_WORKER_CACHE) instead
    of its default; the bare worker gets the same. `activity_processes`: `vigil worker
    --activity-processes` (VIGIL_ACTIVITY_PROCESSES) instead of its default."""
    root = Path(tempfile.mkdtemp(prefix=f"vigil-bench-{name}-"))
    server = TemporalDevServer(root / "temporal")
    vigil = Deployment(
        home=root / "vigil",
        temporal_address=server.address,
        database_url=f"sqlite:///{root / 'vigil' / 'vigil.db'}",
        task_queue="vigil",
        policy=policy,
        extra_env=extra_env or {},
    )
    bare = Deployment(
        home=root / "bare",
        temporal_address=server.address,
        database_url="sqlite://",
        task_queue="bare",
        extra_env={"PYTHONPATH": PYTHONPATH},
    )
    current = Stage(
        root=root, server=server, vigil=vigil, bare=bare, worker_cache=max_cached or settings().worker_cache
    )
    try:
        server.start()
        vigil.migrate()
        current.tokens = vigil.add_people(PEOPLE)
        if vigil_worker:
            tuning = {"VIGIL_ACTIVITY_PROCESSES": str(activity_processes)} if activity_processes is not None else {}
            current.vigil_worker = vigil.worker("vigil-worker", VIGIL_WORKER_CACHE=str(current.worker_cache), **tuning)
        if api:
            current.api = vigil.api(name="vigil-api")
        if bare_worker:  # the same workflow cache as the Vigil worker's
            current.bare_worker = bare.worker(
                "bare-worker", BARE_WORKER, BENCH_MAX_CACHED_WORKFLOWS=str(current.worker_cache)
            )
        yield current
    finally:
        vigil.stop_all()
        bare.stop_all()
        server.stop()
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def worker_tuning(args: argparse.Namespace) -> dict[str, Any]:
    """`stage`'s worker settings from `common_arguments`."""
    return {
        "max_cached": args.max_cached,
        "activity_processes": args.activity_processes,
        "extra_env": dict(args.vigil_env),
    }


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("VIGIL_"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected VIGIL_NAME=VALUE")
    return name, value


def common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    parser.add_argument(
        "--max-cached",
        type=int,
        default=None,
        metavar="N",
        help="both workers keep this many workflows cached (default: VIGIL_WORKER_CACHE, 2000)",
    )
    parser.add_argument(
        "--activity-processes",
        type=int,
        default=None,
        metavar="N",
        help="`vigil worker --activity-processes N` (default: the worker's own)",
    )
    parser.add_argument(
        "--vigil-env",
        action="append",
        type=_setting,
        default=[],
        metavar="NAME=VALUE",
        help="a setting for Vigil's processes, e.g. VIGIL_WATCHDOG_INTERVAL=0 (to measure what a feature costs)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample Vigil's processes with py-spy while measuring (bench/profiling.py)",
    )
    return parser
