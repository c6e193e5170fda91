"""`vigil up` as a user runs it: a subprocess in a fresh VIGIL_HOME, on free ports. It comes up
ready and prints an admin token once; the README's curl walk runs against it as written; the CLI
works against it; Ctrl-C stops all three processes; a second start finds everything as it was."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import intake_body

VIGIL = str(Path(sys.executable).parent / "vigil")
REPO = Path(__file__).resolve().parents[2]


def readme_walk(api: str, scratch: Path) -> str:
    """The shell blocks of the README's curl walk, pointed at this API and a scratch directory."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## One SEV1 incident", 1)[1].split("\n## ", 1)[0]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, flags=re.S))
    assert script.count("curl") >= 10
    assert "API=http://127.0.0.1:8000" in script
    return script.replace("API=http://127.0.0.1:8000", f"API={api}").replace("/tmp/", f"{scratch}/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Up:
    """One `vigil up` process, its output collected line by line."""

    def __init__(self, env: dict[str, str], port: int, temporal_port: int, ui_port: int):
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [VIGIL, "up", "--port", str(port), "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, marker: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if marker in line:
                return line
        return None

    def drain(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def interrupt(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def wait_ready(base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{base}/readyz never became ready")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([VIGIL, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_vigil_up_runs_the_stack_and_stops_it_cleanly(tmp_path: Path) -> None:
    unset = ("TEMPORAL_ADDRESS", "DATABASE_URL", "VIGIL_ENCRYPTION_KEYS")  # the defaults a new user gets
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["VIGIL_HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    port, temporal_port, ui_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"

    up = Up(env, port, temporal_port, ui_port)
    try:
        line = up.wait_for("VIGIL_ADMIN_TOKEN=", timeout=120)
        assert line, up.drain()
        admin = line.strip().split("=", 1)[1]
        wait_ready(base)
        assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {admin}"}).json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=5).status_code == 200  # Temporal Web UI

        # The README's walk, as written (bash, curl, the venv's `vigil`).
        scratch = tmp_path / "walk"
        scratch.mkdir()
        walk = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_walk(base, scratch)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        assert walk.returncode == 0, walk.stdout + walk.stderr
        assert '"error"' not in walk.stdout, walk.stdout
        walked_id = json.loads((scratch / "incident.json").read_text())["id"]
        walked = httpx.get(f"{base}/api/incidents/{walked_id}", headers={"Authorization": f"Bearer {admin}"}).json()
        assert (walked["severity"], walked["status"], walked["resolution"]) == ("SEV1", "resolved", "actioned")
        assert [v["by"] for v in walked["proposals"][0]["votes"]] == ["leo", "lucia"]
        assert "aprobó" in walk.stdout  # Lucia's timeline, in Spanish

        # The CLI, as the README uses it.
        token = cli(env, "users", "add", "bea", "--role", "analyst", "-q").strip()
        api = ["--api", base, "--token", token]
        body = intake_body()
        created = cli(env, "incidents", "create", "--title", body["title"], "--channel", body["channel"],
                      "--category", body["category"], "--region", body["region"], "--language", "es", *api)
        assert "INC-" in created and "SEV1" in created and "triage" in created
        incident_id = created.split()[0]
        assert "investigating" in cli(env, "incidents", "act", incident_id, "acknowledge", *api)
        assert incident_id in cli(env, "incidents", "list", *api)
        assert "investigating" in cli(env, "incidents", "show", incident_id, *api)
    finally:
        code = up.interrupt()
    output = up.drain()
    assert code == 0, output
    assert "Stopped." in output
    for p in (port, temporal_port, ui_port):  # every child is gone, its port free
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"

    # Second start: same data, no new admin token.
    again = Up(env, port, temporal_port, ui_port)
    try:
        assert again.wait_for("Vigil is up", timeout=120), again.drain()
        wait_ready(base)
        state = httpx.get(f"{base}/api/incidents/{incident_id}", headers={"Authorization": f"Bearer {token}"}).json()
        assert state["status"] == "investigating"
    finally:
        code = again.interrupt()
    assert code == 0
    assert "VIGIL_ADMIN_TOKEN=" not in again.drain()
