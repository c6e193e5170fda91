"""docs/auditing.md, run as written (bash, curl, the venv's `vigil` and `temporal`) against the
audit world's API behind uvicorn: what a new auditor would type."""

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.audit.conftest import World
from tests.helpers import shell_blocks

REPO = Path(__file__).resolve().parents[2]


def auditing_walk(scratch: Path) -> str:
    script = shell_blocks("docs/auditing.md")
    assert script.count("vigil audit") >= 8
    return script.replace("/tmp/", f"{scratch}/")


async def test_the_auditing_walk_works_as_written(world: World, tmp_path: Path) -> None:
    incident_id = world.one("approval-asks-next-tier")  # open, like the walk's: a duplicate can merge into it
    prelude = (
        f'API={world.base_url}\nINC={incident_id}\nANA="Authorization: Bearer {world.tokens["ana"]}"\n'
        'JSON="Content-Type: application/json"\n'
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": str(world.engine.url),
        "VIGIL_HOME": str(tmp_path / "home"),
        "TEMPORAL_ADDRESS": world.temporal_address,
        "TEMPORAL_NAMESPACE": world.client.namespace,
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        prelude + auditing_walk(tmp_path),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(process.communicate(), timeout=150))[0].decode()
    assert process.returncode == 0, out
    assert "ana (analyst) acknowledged the incident." in out
    assert "ana (analista) confirmó la recepción del incidente." in out
    assert re.search(r"verified: \d+ of \d+ states the workflow recorded up to this event match the fold", out)
    assert out.count("1 of 1 incidents replay cleanly against today's code") == 2
    assert out.count("intact  INC-") == 2
    assert "input[0].intake.reporter.email: orders@regulator.example" in out
    assert (tmp_path / f"{incident_id}.json").exists() and (tmp_path / "ended.jsonl").stat().st_size > 0
