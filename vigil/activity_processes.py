"""The activity processes `vigil worker` starts beside itself (`--activity-processes N`).

Workflow tasks are short and on the critical path of every action; activities write SQL,
send mail and call the platform. In one process they share one GIL, and a workflow task waits
behind whatever activity holds it. So by default `vigil worker` runs the workflows and starts
one child process that runs only the activities, on the same task queue (Temporal hands each
kind of task only to a process polling for it). Children die with their parent (Linux's
parent-death signal), get its SIGTERM to finish in-flight work, and are started again if one
exits on its own.
"""

import asyncio
import logging
import os
import socket
import subprocess
import sys

from vigil.parent_death import die_with

log = logging.getLogger("vigil.worker")

COMMAND = [sys.executable, "-m", "vigil.cli", "worker", "--activities-only"]
_PARENT = "VIGIL_WORKER_PARENT"  # the pid of the worker that started this child


def die_with_parent() -> None:
    """In an activity process, first thing: end with the worker that started it (kill -9 too)."""
    parent = os.environ.get(_PARENT)
    if parent is not None:
        die_with(int(parent))


def identity() -> str:
    """How Temporal names this activity process in history: "<worker pid>@<host>:activities-<pid>",
    so an activity's `identity` names the `vigil worker` an operator sees and would stop."""
    parent = os.environ.get(_PARENT, str(os.getpid()))
    return f"{parent}@{socket.gethostname()}:activities-{os.getpid()}"


class ActivityProcesses:
    """`count` children running `vigil worker --activities-only`, kept running until `stop`."""

    def __init__(self, count: int, command: list[str] | None = None) -> None:
        self.count, self.command = count, command or COMMAND
        self.children: list[subprocess.Popen[bytes]] = []
        self._stopping = False

    def start(self) -> None:
        self.children = [self._spawn() for _ in range(self.count)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Output goes where the worker's goes; stdin closed, so Ctrl-C reaches them only through us.
        env = {**os.environ, _PARENT: str(os.getpid())}
        return subprocess.Popen(self.command, stdin=subprocess.DEVNULL, env=env)

    async def keep_running(self) -> None:
        """Start again any child that exits while the worker runs."""
        while not self._stopping:
            for index, child in enumerate(self.children):
                code = child.poll()
                if code is not None and not self._stopping:
                    log.error("activity process %s exited with %s: starting another", child.pid, code)
                    self.children[index] = self._spawn()
            await asyncio.sleep(1)

    async def stop(self, timeout: float = 30) -> None:
        """SIGTERM to each (they finish in-flight activities), then kill what is left after `timeout`."""
        self._stopping = True
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        loop = asyncio.get_running_loop()
        for child in self.children:
            try:
                await loop.run_in_executor(None, child.wait, timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
