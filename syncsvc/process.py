"""Stopping a child process: the one way every part of the service (and its benches and tests)
does it. The sandbox simulators keep their own copy: they stand alone, importing nothing of the
service."""

from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0) -> int | None:
    """SIGTERM (gunicorn, rq and redis-server all shut down gracefully on it: redis-server flushes
    its append-only file), then SIGKILL after ``timeout`` seconds. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode
