"""Let a child process die with its parent (Linux ``prctl(PR_SET_PDEATHSIG)``).

RQ's worker is a process tree: the main process, a forked work horse per job, and with
``--with-scheduler`` a scheduler process. When only the main pid is SIGKILLed the other two live
on: the horse keeps running a job whose heartbeats nobody sends, and the scheduler keeps holding
``rq:scheduler-lock:<queue>`` (issue #10 defect 4). With this, the horse dies with its parent
(the run is then handed back like any killed run, see :mod:`jobs.recovery`) and the scheduler
gets SIGTERM, on which RQ's scheduler releases its locks and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int, expected_parent: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits.

    Returns False where that is not available (not Linux). When ``expected_parent`` is given and
    the parent has already changed (it died before the request), ``sig`` is raised at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), sig)
    return True
