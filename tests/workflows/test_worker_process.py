"""The `vigil worker` process: refuses a bad policy at start, and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import ANA, open_new
from vigil.policy import DEFAULT_POLICY_PATH
from vigil.temporal.incident_client import act
from vigil.workflows.actions import Acknowledge


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "worker"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_bad_policy_file_stops_the_worker_naming_the_key(tmp_path: Path):
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text().replace('acknowledge = "15m"', 'acknowledge = "fifteen"'))
    process = _worker({"VIGIL_POLICY": str(bad), "VIGIL_HOME": str(tmp_path)})
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "sla.SEV1.acknowledge" in output and "fifteen" in output


def test_a_worker_with_no_temporal_to_reach_says_so_and_exits_3(tmp_path: Path):
    process = _worker({"TEMPORAL_ADDRESS": "127.0.0.1:1", "VIGIL_HOME": str(tmp_path)})
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 3, output
    assert "cannot reach Temporal at 127.0.0.1:1" in " ".join(output.split())
    assert "Traceback" not in output


async def test_sigterm_lets_the_worker_finish_and_exit(dev_env, dev_client, task_queue, tmp_path: Path):
    env = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "VIGIL_TASK_QUEUE": task_queue,
        "VIGIL_HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'vigil.db'}",
    }
    process = _worker(env)
    try:
        _, state = await open_new(dev_client, task_queue)  # served by the subprocess
        assert (await act(dev_client, state.id, Acknowledge(), ANA)).status == "investigating"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)  # graceful shutdown gives activities 20 s
    assert process.returncode == 0, output
