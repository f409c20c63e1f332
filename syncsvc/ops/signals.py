"""Run child processes in the foreground until Ctrl-C / SIGTERM, then stop everything in order."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

from syncsvc.ops.procs import Children


class Stop(Exception):
    """Raised inside the main thread by SIGTERM/SIGINT so ``finally`` blocks clean up."""


def install_stop_signals() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def ignore_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def wait_while_alive(children: Children, on_exit: Callable[[str, int | None], None]) -> int:
    """Block until a child exits (returns its exit code) or a stop signal arrives (returns 0)."""
    try:
        while True:
            for child in children.items:
                if not child.alive():
                    on_exit(child.name, child.proc.returncode)
                    return child.proc.returncode or 1
            time.sleep(0.2)
    except Stop:
        return 0
