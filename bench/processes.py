"""Vigil's processes on one machine, started the way `vigil up` starts them, and killable.

- `TemporalDevServer`: `temporal server start-dev` on a SQLite file in WAL mode (vigil/stack.py);
- `Deployment`: the settings every process of one Vigil deployment shares (Temporal address and
  namespace, database, encryption keys, policy, task queue), and its `vigil worker` and
  `vigil api` processes.

Benchmarks measure these processes; tests/reliability kill -9 and restart them. Every process
writes its output to a log file under the deployment's home, for the post-mortem.
"""

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client

from vigil import auth
from vigil.cli.stack import temporal_binary
from vigil.db.engine import make_engine, migrate
from vigil.temporal import DEV_SERVER_ARGS, SEARCH_ATTRIBUTES, data_converter
from vigil.temporal.codec import EncryptionCodec, KeyRing

BIN = Path(sys.executable).parent
VIGIL = str(BIN / "vigil")
HOST = "127.0.0.1"
WORKER_READY = "worker on task queue"  # what `vigil worker` logs once it polls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(what: str, ready: Callable[[], bool], timeout: float, process: "Process | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and not process.alive:
            raise RuntimeError(
                f"{process.name} exited with {process.returncode} while waiting for {what}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = f":\n{process.log_tail()}" if process else ""
            raise TimeoutError(f"{what} not ready within {timeout:.0f}s{tail}")
        time.sleep(0.1)


class Process:
    """One child process in its own process group, its output appended to a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, as an orchestrator stops a process; kill -9 if it does not stop in time."""
        if not self.alive:
            return
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_has(self, text: str) -> bool:
        try:
            return text in self.log.read_text(errors="replace")
        except OSError:
            return False


class TemporalDevServer(Process):
    """`temporal server start-dev` exactly as `vigil up` runs it, on a file that survives restarts."""

    def __init__(self, directory: Path, namespaces: tuple[str, ...] = (), port: int | None = None):
        self.port = port or free_port()
        self.db_file = directory / "temporal.db"
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--ui-port",
            str(free_port()),
            "--headless",
            "--log-level",
            "error",
            *DEV_SERVER_ARGS,
        ]
        for namespace in namespaces:
            command += ["--namespace", namespace]
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}=Keyword"]
        super().__init__("temporal", command, os.environ.copy(), directory / "temporal.log")

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 60) -> "TemporalDevServer":
        super().start()
        wait_until("the Temporal dev server", self._ready, timeout, self)
        return self

    def _ready(self) -> bool:
        async def check() -> bool:
            client = await Client.connect(self.address)
            return await client.service_client.check_health()

        try:  # in a thread of its own: callers may be inside an event loop already
            with ThreadPoolExecutor(1) as thread:
                return thread.submit(asyncio.run, check()).result()
        except Exception:
            return False


def new_encryption_keys() -> str:
    return "bench:" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Deployment:
    """What `vigil up` hands its children, for any number of workers and API replicas."""

    home: Path
    temporal_address: str
    database_url: str
    namespace: str = "default"
    task_queue: str = "vigil"
    policy: Path | None = None
    encryption_keys: str = field(default_factory=new_encryption_keys)
    extra_env: dict[str, str] = field(default_factory=dict)  # for every process of this deployment
    processes: list[Process] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "TEMPORAL_", "DATABASE_URL"))}
        env.update(
            VIGIL_HOME=str(self.home),
            TEMPORAL_ADDRESS=self.temporal_address,
            TEMPORAL_NAMESPACE=self.namespace,
            DATABASE_URL=self.database_url,
            VIGIL_ENCRYPTION_KEYS=self.encryption_keys,
            VIGIL_TASK_QUEUE=self.task_queue,
            PYTHONUNBUFFERED="1",
            PATH=f"{BIN}:{env.get('PATH', '')}",
        )
        if self.policy:
            env["VIGIL_POLICY"] = str(self.policy)
        env.update(self.extra_env)
        env.update(extra)
        return env

    # ------------------------------------------------------------------ what the driver uses

    def engine(self) -> Engine:
        return make_engine(self.database_url)

    def migrate(self) -> None:
        engine = self.engine()
        migrate(engine)
        engine.dispose()

    def add_people(self, people: dict[str, str]) -> dict[str, str]:
        """name -> role; returns name -> bearer token."""
        engine = self.engine()
        with Session(engine) as session:
            tokens = {name: auth.enrol(session, auth.add_user(session, name, role))[0] for name, role in people.items()}
        engine.dispose()
        return tokens

    def converter(self):
        return data_converter(EncryptionCodec(KeyRing.parse(self.encryption_keys)))

    async def client(self) -> Client:
        """A raw Temporal client speaking Vigil's converter (pydantic + this deployment's keys)."""
        return await Client.connect(self.temporal_address, namespace=self.namespace, data_converter=self.converter())

    # ------------------------------------------------------------------ processes

    def worker(
        self, name: str = "worker", command: list[str] | None = None, timeout: float = 60, **env: str
    ) -> Process:
        """`vigil worker` (or `command`), started, and polling once this returns."""
        process = Process(name, command or [VIGIL, "worker"], self.env(**env), self.home / "logs" / f"{name}.log")
        return self._start_worker(process, timeout)

    def restart(self, process: Process, timeout: float = 60) -> Process:
        """Start a stopped (or killed) worker again, same command and log."""
        self.processes.remove(process)
        return self._start_worker(process, timeout)

    def _start_worker(self, process: Process, timeout: float) -> Process:
        started_before = _count(process.log, WORKER_READY)
        process.start()
        wait_until(
            f"{process.name} polling", lambda: _count(process.log, WORKER_READY) > started_before, timeout, process
        )
        self.processes.append(process)
        return process

    def api(
        self, port: int | None = None, name: str | None = None, timeout: float = 60, ready_path: str = "/readyz"
    ) -> "Api":
        """`vigil api` (uvicorn), started, and answering `ready_path` with 200 once this returns."""
        port = port or free_port()
        name = name or f"api-{port}"
        command = [VIGIL, "api", "--host", HOST, "--port", str(port), "--no-migrate", "--no-access-log"]
        process = Api(
            name,
            command,
            self.env(VIGIL_PUBLIC_URL=f"http://{HOST}:{port}"),
            self.home / "logs" / f"{name}.log",
            port,
            ready_path,
        )
        process.start()
        wait_until(f"{name} ready", process.ready, timeout, process)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=10)
        self.processes.clear()


class Api(Process):
    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log: Path, port: int, ready_path: str = "/readyz"
    ):
        super().__init__(name, command, env, log)
        self.port, self.ready_path = port, ready_path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def family(pid: int, children: bool = True) -> list[psutil.Process]:
    """A process and its children (`vigil worker` starts its activity processes): what it costs."""
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)] if children else [parent]


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User and system CPU seconds of a process and (unless told not to) its live children."""
    total = 0.0
    for one in family(pid, children):
        try:
            total += sum(one.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of a process and (unless told not to) its children, in MB."""
    total = 0
    for one in family(pid, children):
        try:
            total += one.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(errors="replace").count(text)
    except OSError:
        return 0
