"""Start the sandbox as a real subprocess for tests, benchmarks and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Sandbox:
    """A running ``python -m sandbox`` process and its URLs."""

    proc: subprocess.Popen[str]
    katana_url: str
    luca_url: str
    log: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    def admin(self, which: str, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """Call an admin endpoint (``which`` is "katana" or "luca") and return its JSON."""
        base = self.katana_url if which == "katana" else self.luca_url
        resp = requests.request(method, f"{base}/_admin/{path.lstrip('/')}", json=body, params=params, timeout=60)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def reset(self, **options: Any) -> None:
        """Reseed both simulators; ``options`` may carry ``katana={...}`` / ``luca={...}`` bodies."""
        self.admin("katana", "POST", "reset", options.get("katana") or {})
        self.admin("luca", "POST", "reset", options.get("luca") or {})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.pump is not None:
            self.pump.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    *args: str, host: str = "127.0.0.1", timeout: float = 30.0, env: dict[str, str] | None = None
) -> Sandbox:
    """Start ``python -m sandbox`` on free ports (unless ``args`` name ports) and wait until ready.

    Extra ``args`` are passed to the CLI, e.g. ``start_sandbox("--products", "50")``.
    """
    argv = [sys.executable, "-m", "sandbox", "--host", host]
    if "--katana-port" not in args:
        argv += ["--katana-port", "0"]
    if "--luca-port" not in args:
        argv += ["--luca-port", "0"]
    argv += list(args)
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    log: list[str] = []
    ready: dict[str, str] = {}
    done = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            if len(log) > 2000:
                del log[:1000]
            if line.startswith("SANDBOX READY"):
                for kv in line.split()[2:]:
                    name, _, url = kv.partition("=")
                    ready[name] = url
                done.set()
        done.set()

    pump_thread = threading.Thread(target=pump, daemon=True, name="sandbox-log")
    pump_thread.start()
    deadline = time.monotonic() + timeout
    while not done.wait(0.05):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("sandbox did not start in time:\n" + "\n".join(log[-40:]))
    if "katana" not in ready:
        proc.wait(timeout=5)
        raise RuntimeError("sandbox exited before it was ready:\n" + "\n".join(log[-40:]))
    sb = Sandbox(proc=proc, katana_url=ready["katana"], luca_url=ready["luca"], log=log, pump=pump_thread)
    # gunicorn reports readiness from the master; wait until the worker answers too.
    while time.monotonic() < deadline:
        try:
            requests.get(f"{sb.luca_url}/_admin/state", timeout=2)
            requests.get(f"{sb.katana_url}/_admin/stats", timeout=2)
            return sb
        except requests.RequestException:
            time.sleep(0.05)
    sb.stop()
    raise RuntimeError("sandbox worker did not answer:\n" + json.dumps(log[-40:], indent=1))
