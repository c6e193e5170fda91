"""`vigil up` as a user runs it: a subprocess in a fresh VIGIL_HOME, on free ports. It comes up
ready and writes an admin token to a 0600 file once (printing where, not the token); the curl
walk of docs/walkthrough.md and the README's first incident run against it as written; the CLI
works against it; Ctrl-C stops all three processes; a second start finds everything as it was,
and every file of Vigil's under VIGIL_HOME is its owner's only."""

import asyncio
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import intake_body, namespace_client
from tests.helpers import shell_blocks

VIGIL = str(Path(sys.executable).parent / "vigil")
REPO = Path(__file__).resolve().parents[2]


def walkthrough(api: str, scratch: Path) -> str:
    """The shell blocks of docs/walkthrough.md, pointed at this API and a scratch directory."""
    script = shell_blocks("docs/walkthrough.md")
    assert script.count("curl") >= 10
    assert "API=http://127.0.0.1:8000" in script
    return script.replace("API=http://127.0.0.1:8000", f"API={api}").replace("/tmp/", f"{scratch}/")


def first_incident(api: str) -> str:
    """The README's first incident, pointed at this API."""
    script = shell_blocks("README.md")
    assert "API=http://127.0.0.1:8000" in script
    return script.replace("API=http://127.0.0.1:8000", f"API={api}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Up:
    """One `vigil up` process, its output collected line by line."""

    @classmethod
    def start(cls, env: dict[str, str], marker: str, ports: tuple[int, int, int] | None = None) -> "Up":
        """Start and wait for `marker`; on free ports, retried if another process takes one first."""
        for _ in range(3):
            up = cls(env, *(ports or (free_port(), free_port(), free_port())))
            if up.wait_for(marker, timeout=120):
                return up
            output = up.drain()
            up.interrupt()
            if ports or "is in use" not in output:
                raise AssertionError(output)
        raise AssertionError("no free ports for vigil up")

    def __init__(self, env: dict[str, str], port: int, temporal_port: int, ui_port: int):
        self.ports = (port, temporal_port, ui_port)
        self.base = f"http://127.0.0.1:{port}"
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [VIGIL, "up", "--port", str(port), "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
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
    up = Up.start(env, "admin.token")
    port, temporal_port, ui_port = up.ports
    base = up.base
    try:
        # The first admin's token is in a file only its owner reads; the output says where, never the token.
        token_file = tmp_path / "home" / "admin.token"
        assert any(str(token_file) in line for line in up.output)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        admin = token_file.read_text().strip()
        assert admin.startswith("vgl_") and not any(admin in line for line in up.output)
        wait_ready(base)
        assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {admin}"}).json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=5).status_code == 200  # Temporal Web UI

        # docs/walkthrough.md, as written (bash, curl, the venv's `vigil`).
        scratch = tmp_path / "walk"
        scratch.mkdir()
        walk = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough(base, scratch)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert walk.returncode == 0, walk.stdout + walk.stderr
        assert '"error"' not in walk.stdout, walk.stdout
        walked_id = json.loads((scratch / "incident.json").read_text())["id"]
        walked = httpx.get(f"{base}/api/incidents/{walked_id}", headers={"Authorization": f"Bearer {admin}"}).json()
        assert (walked["severity"], walked["status"], walked["resolution"]) == ("SEV1", "resolved", "actioned")
        assert [v["by"] for v in walked["proposals"][0]["votes"]] == ["leo", "lucia"]
        assert walk.stdout.count("lucia") >= 2 and "leo" in walk.stdout  # the timelines name the approvers

        # The README's first incident, as written.
        first = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", first_incident(base)],
            cwd=REPO,
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.returncode == 0, first.stdout + first.stderr
        assert "SEV3  triage  Slurs against a streamer in a live chat" in first.stdout, first.stdout
        assert "clock sla.acknowledge: due" in first.stdout  # shown before it was acknowledged
        assert "SEV3  investigating  Slurs against a streamer" in first.stdout and "assignee: sam" in first.stdout

        # The CLI, as docs/walkthrough.md uses it.
        secret = cli(env, "users", "add", "bea", "--role", "analyst", "-q").strip()
        token = cli(env, "users", "enrol", secret, "-q").strip()
        api = ["--api", base, "--token", token]
        body = intake_body()
        created = cli(
            env,
            "incidents",
            "create",
            "--title",
            body["title"],
            "--channel",
            body["channel"],
            "--category",
            body["category"],
            "--region",
            body["region"],
            "--language",
            "es",
            *api,
        )
        assert "INC-" in created and "SEV1" in created and "triage" in created
        incident_id = created.split()[0]
        assert "investigating" in cli(env, "incidents", "act", incident_id, "acknowledge", *api)
        assert incident_id in cli(env, "incidents", "list", *api)
        assert "investigating" in cli(env, "incidents", "show", incident_id, *api)

        # The demo drives incidents through the API to a mix of states.
        demo = cli(env, "demo", "--incidents", "8", "--seed", "3", "--api", base)
        assert "8/8" in demo and "failed" not in demo, demo
    finally:
        code = up.interrupt()
    output = up.drain()
    assert code == 0, output
    assert "Stopped." in output
    for p in (port, temporal_port, ui_port):  # every child is gone, its port free
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"

    # Second start: same data, no new admin token.
    again = Up.start(env, "Vigil is up", ports=up.ports)
    try:
        wait_ready(base)
        state = httpx.get(f"{base}/api/incidents/{incident_id}", headers={"Authorization": f"Bearer {token}"}).json()
        assert state["status"] == "investigating"
    finally:
        code = again.interrupt()
    assert code == 0
    second = again.drain()
    assert "admin.token" not in second and admin not in second + output
    home = tmp_path / "home"
    for name in ("vigil.db", "vigil.db-wal", "encryption.keys", "admin.token", "temporal.db"):
        if (home / name).exists():  # the WAL is gone after a clean stop
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.slow
async def test_vigil_up_uses_the_temporal_server_named_by_temporal_address(tmp_path: Path, dev_env) -> None:
    namespace = "vigil-up-external"
    await namespace_client(dev_env, namespace)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_ENCRYPTION_KEYS")}
    env.update(
        VIGIL_HOME=str(tmp_path / "home"),
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE=namespace,
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    up = await asyncio.to_thread(Up.start, env, "Vigil is up")
    try:
        await asyncio.to_thread(wait_ready, up.base)
    finally:
        code = await asyncio.to_thread(up.interrupt)
    output = up.drain()
    assert code == 0, output
    assert "(TEMPORAL_ADDRESS)" in output
    assert not (tmp_path / "home" / "temporal.db").exists()  # no server of its own
    assert await dev_env.client.service_client.check_health()  # and the external one still runs
