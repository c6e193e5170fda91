"""Helper processes (the worker's activity processes, the replay pools) end with the process that
started them, even when it is killed -9: real processes, a parent killed, its child looked for."""

import os
import signal
import subprocess
import sys
import time

# The parent starts a child and prints its pid; the child asks to die with it, says so, and waits.
PARENT = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", CHILD], env={**os.environ, "PARENT": str(os.getpid())})
print(child.pid, flush=True)
child.wait()
"""
CHILD = """
import os, time
from vigil.parent_death import die_with
die_with(int(os.environ["PARENT"]))
print("asked", flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is gone too
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_child_that_asked_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", f"CHILD = {CHILD!r}\n{PARENT}"], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "asked" and _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
