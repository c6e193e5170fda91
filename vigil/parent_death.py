"""Child processes that die with the process that started them, even when it is killed -9.

Vigil starts helper processes (the worker's activity processes, the replay pools); a parent
that is killed, or that exits without the interpreter's shutdown (vigil.cli.app.exit_now), would
otherwise leave them running, replaying and holding cores. Linux's parent-death signal ends
them; elsewhere they are left to finish on their own.
"""

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """Call first thing in the child: SIGKILL this process when `parent` dies. Done in the child
    rather than between fork and exec, which is unsafe in a process with threads."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)
