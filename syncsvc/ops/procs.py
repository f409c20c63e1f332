"""Child processes of the CLI (gunicorn, ``rq worker``): start with a shared env, stop cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from jobs.enqueue import WORKER_COMMAND
from syncsvc.process import stop_process

ROOT = Path(__file__).resolve().parents[2]


def web_argv(bind: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:syncsvc.ops.gunicorn_conf"]
    if bind:
        argv += ["--bind", bind]
    return [*argv, "syncsvc.web.app:create_app()"]


def worker_argv(*extra: str) -> list[str]:
    # Same words as the documented command, run through this interpreter's rq.
    words = WORKER_COMMAND.split()[1:]
    return [sys.executable, "-m", "rq.cli", *words, *extra]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (gunicorn and rq both shut down gracefully on it), then SIGKILL after ``timeout``."""
        return stop_process(self.proc, timeout)

    def tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _tee(proc: subprocess.Popen[bytes], log_path: Path | None, echo: TextIO) -> None:
    assert proc.stdout is not None
    sink = open(log_path, "ab") if log_path is not None else None
    try:
        for line in proc.stdout:
            if sink is not None:
                sink.write(line)
                sink.flush()
            echo.write(line.decode("utf-8", "replace"))
            echo.flush()
    finally:
        if sink is not None:
            sink.close()


@dataclass
class Children:
    items: list[Child] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log_dir: Path | None = None,
        cwd: Path | None = None,
        echo: TextIO | None = None,
    ) -> Child:
        """Start a child; its output goes to ``log_dir/<name>.log`` (appended), and with ``echo``
        also, line by line, to that stream (``syncsvc serve`` in a terminal shows what it logs)."""
        log_path = None
        out: int | object = subprocess.DEVNULL
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / f"{name}.log"
            out = open(log_path, "ab")  # the child keeps its own copy of the descriptor
        if echo is not None:
            out = subprocess.PIPE
        proc = subprocess.Popen(
            argv,
            cwd=cwd or ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            # Own process group: a Ctrl-C in the terminal reaches only us; we stop children in order.
            start_new_session=True,
        )
        if echo is not None:
            threading.Thread(target=_tee, args=(proc, log_path, echo), name=f"tee-{name}", daemon=True).start()
        elif log_path is not None and hasattr(out, "close"):
            out.close()
        child = Child(name, proc, log_path)
        self.items.append(child)
        return child

    def stop_all(self) -> None:
        # Reverse start order: workers finish their job before the web and Redis go away.
        for child in reversed(self.items):
            child.stop()
        self.items.clear()
