"""``syncsvc`` / ``python -m syncsvc``: start and watch syncs, serve the API, run a worker, the demo.

Every failure ends in one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from syncsvc.clients.katana_webhooks import WebhookAdmin
from syncsvc.domain.errors import ConfigError, HistoryUnavailable, TransientError
from syncsvc.domain.model import RUN_STATUSES
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES
from syncsvc.domain.webhooks import SUBSCRIBED_EVENTS
from syncsvc.logsetup import configure, install_mask
from syncsvc.net import bind_host, is_loopback_host
from syncsvc.ops.api_client import (
    OUTCOME_COLUMNS,
    ApiClient,
    ApiError,
    failure_groups_table,
    failures_table,
    summary_table,
    wait_for_job,
)
from syncsvc.ops.procs import Children, web_argv, worker_argv
from syncsvc.ops.reports import reconcile_tables
from syncsvc.ops.signals import Stop, ignore_stop_signals, install_stop_signals, wait_while_alive
from syncsvc.ops.tables import Column, fit_table
from syncsvc.settings import Settings, check_api_token, from_env, secrets_of
from syncsvc.store.history import History, is_postgres_url, open_history
from syncsvc.store.history.export import Copied, copy_history
from syncsvc.store.redis_conn import export_url, redact_url, resolve_redis

# The terminal's width, or COLUMNS, or 80 when piped; tables fit it (syncsvc.ops.tables).
console = Console()
log = logging.getLogger("syncsvc")


class Cli(click.Group):
    """Turn our expected errors into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ApiError, ConfigError, HistoryUnavailable) as exc:
            click.echo(f"syncsvc: {exc}", err=True)
            sys.exit(1)
        except (KeyboardInterrupt, Stop):
            click.echo("syncsvc: interrupted", err=True)
            sys.exit(130)


def load_settings() -> Settings:
    settings = from_env()
    configure()
    install_mask(secrets_of(settings))
    return settings


def api(settings: Settings) -> ApiClient:
    return ApiClient(settings.api_url, settings.sync_api_token)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Katana MRP -> Luca Koza sync service. Settings come from the environment and .env."""


@main.command()
@click.argument("sync_type", type=click.Choice(SYNC_TYPE_NAMES))
@click.option("--limit", type=click.IntRange(min=1), help="process at most N items")
@click.option("--dry-run", is_flag=True, help="compute outcomes, write nothing to Luca")
@click.option("--wait", is_flag=True, help="show progress until the job ends, then a summary")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds to wait with --wait")
def start(sync_type: str, limit: int | None, dry_run: bool, wait: bool, timeout: float) -> None:
    """Queue a sync through the HTTP API (SYNC_API_URL, SYNC_API_TOKEN)."""
    client = api(load_settings())
    started = client.start(sync_type, limit=limit, dry_run=dry_run)
    console.print(f"{started['message']}  job [bold]{started['jobId']}[/]")
    console.print(f"dashboard: {started['dashboardUrl']}")
    if not wait:
        return
    follow(client, started["jobId"], sync_type, timeout)


def follow(client: ApiClient, job_id: str, sync_type: str, timeout: float) -> None:
    """Progress until the job ends, then its summary and failures; raise unless it finished."""
    job = wait_for_job(client, job_id, console, sync_type, timeout=timeout)
    rows = [(sync_type, job)]
    console.print(summary_table(rows, console.width))
    failures = failures_table(rows, console.width)
    if failures is not None:
        console.print(failures)
    if job["state"] != "FINISHED":
        raise ApiError(f"job {job['jobId']} ended {job['state']}: {job.get('error') or 'did not finish in time'}")


@main.command()
@click.argument("job_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="print the API's raw JSON answer instead")
def status(job_id: str | None, as_json: bool) -> None:
    """Without JOB_ID: per type the cursor, last run, next schedule, pending webhook events and
    retry set. With JOB_ID: one job's state, counts, and its failed items grouped by reason."""
    client = api(load_settings())
    if job_id is None:
        _continuous_status(client, as_json)
        return
    job = client.job(job_id)
    if as_json:
        click.echo(json.dumps(job, indent=2, ensure_ascii=False))
        return
    result = job.get("result") or {}
    counts = result or (job.get("progress") or {})
    console.print(f"job {job['jobId']}  {job.get('syncType', '')}  [bold]{job['state']}[/]")
    figures = ", ".join(f"{k} {counts[k]}" for k in ("total", *OUTCOME_COLUMNS[1:]) if k in counts)
    if figures:
        console.print(figures + (f" in {result['durationSeconds']:.1f} s" if "durationSeconds" in result else ""))
    if job.get("error"):
        console.print(f"[red]error:[/] {job['error']}")
    failures = list(result.get("failures") or [])
    if result.get("failed", 0) > len(failures):  # the job keeps 50; the history has every one
        page = client.items(job_id, outcome="failed", limit=1000)
        failures = [
            {"key": i["itemKey"], "errorClass": i["errorClass"], "message": i["message"]} for i in page["items"]
        ]
    if failures:
        console.print(failure_groups_table(failures, console.width))
    console.print(f"raw answer: syncsvc status {job_id} --json")


def _continuous_status(client: ApiClient, as_json: bool) -> None:
    body = client.request("GET", "/api/sync/status")
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    columns = [
        Column("type", 0, keep_whole=True), Column("cursor", 3), Column("last run", 1), Column("next run", 4),
        Column("pending", 2, numeric=True), Column("retry", 2, numeric=True),
    ]  # fmt: skip
    rows = []
    for t in body["types"]:
        last = t.get("lastRun") or {}
        outcome = "-"
        if last:
            failed = (last.get("counts") or {}).get("failed", 0)
            outcome = f"{last.get('status')} {last.get('mode') or ''}, {failed} failed"
        rows.append([
            t["syncType"] + (" (paused)" if t.get("paused") else ""),
            (t.get("cursor") or "-")[:19].replace("T", " "),
            outcome,
            (t.get("nextRun") or "off")[:16].replace("T", " "),
            str(t.get("pendingEvents", 0)),
            str(t.get("retrySet", 0)),
        ])  # fmt: skip
    title = "Continuous sync" + ("" if body.get("webhooks") else " (webhooks off)")
    console.print(fit_table(title, columns, rows, console.width))


@main.command()
def scheduler() -> None:
    """Run the scheduled incremental syncs (SYNC_SCHEDULE_*): rq's cron with a leader lock, so
    starting it on several hosts is safe (one leads, the others take over if it dies)."""
    import threading

    import redis as redis_lib

    from syncsvc.ops.scheduler import LeaderCron

    settings = load_settings()
    resolved = resolve_redis(settings)
    stop = threading.Event()
    install_stop_signals()
    conn = redis_lib.Redis.from_url(resolved.url)
    try:
        LeaderCron(conn, settings).run(stop)
    except (KeyboardInterrupt, Stop):
        stop.set()
    finally:
        conn.close()


@main.group()
def webhooks() -> None:
    """Manage this service's webhook in Katana (KATANA_BASE_URL, KATANA_API_KEY)."""


def _webhook_admin(settings: Settings) -> WebhookAdmin:
    return WebhookAdmin(settings.katana_base_url, settings.katana_api_key, settings.katana_timeout_s)


@webhooks.command("register")
@click.argument("url")
def webhooks_register(url: str) -> None:
    """Ask Katana to notify URL (…/api/webhooks/katana) of product, variant and order changes."""
    settings = load_settings()
    if not url.rstrip("/").endswith("/api/webhooks/katana"):
        raise ConfigError(f"URL must be this service's webhook endpoint, ending in /api/webhooks/katana; got {url}")
    admin = _webhook_admin(settings)
    try:
        hook = admin.register(url, SUBSCRIBED_EVENTS, "syncsvc: Katana -> Luca")
    except TransientError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        admin.close()
    click.echo(f"registered webhook {hook['id']} -> {hook['url']}")
    click.echo(f"events: {', '.join(hook['subscribed_events'])}")
    click.echo("Configure the web process with this token (keep the old one, comma-separated, while rotating):")
    click.echo(f"KATANA_WEBHOOK_TOKEN={hook['token']}")


@webhooks.command("list")
def webhooks_list() -> None:
    """List the webhooks registered in Katana (tokens are not shown)."""
    admin = _webhook_admin(load_settings())
    try:
        hooks = admin.list()
    except TransientError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        admin.close()
    columns = [Column("id", 0, numeric=True), Column("enabled", 2), Column("url", 1), Column("events", 3, numeric=True)]
    rows = [
        [str(hook["id"]), "yes" if hook.get("enabled") else "no", str(hook["url"]),
         str(len(hook.get("subscribed_events") or []))]
        for hook in hooks
    ]  # fmt: skip
    console.print(fit_table("Katana webhooks", columns, rows, console.width) if hooks else "no webhooks registered")


@webhooks.command("delete")
@click.argument("hook_id", type=click.IntRange(min=1))
def webhooks_delete(hook_id: int) -> None:
    """Delete webhook HOOK_ID in Katana (the scheduled runs keep Luca in step without it)."""
    admin = _webhook_admin(load_settings())
    try:
        admin.delete(hook_id)
    except TransientError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        admin.close()
    click.echo(f"deleted webhook {hook_id}")


@main.command()
def types() -> None:
    """Per sync type: paused (after SYNC_PAUSE_AFTER systemic failures in a row) and why, last success."""
    states = {t["syncType"]: t for t in api(load_settings()).type_states()["types"]}
    columns = [Column("type", 0, keep_whole=True), Column("state", 1, keep_whole=True),
               Column("failures", 3, numeric=True), Column("last success", 4), Column("reason", 2)]  # fmt: skip
    rows = [
        [name, "PAUSED" if st["paused"] else "active", str(st["consecutiveFailures"]), str(st["lastSuccessAt"] or "-"),
         st["pausedReason"] or ""]
        for name, st in states.items()
    ]  # fmt: skip
    console.print(fit_table("Sync types", columns, rows, console.width))
    for name, st in states.items():
        if st["paused"]:
            console.print(f"{name} is paused: scheduled runs skip it until `syncsvc resume {name}`")


@main.command()
@click.argument("sync_type", type=click.Choice(SYNC_TYPE_NAMES))
def resume(sync_type: str) -> None:
    """Resume a paused sync type's scheduled runs."""
    console.print(api(load_settings()).resume(sync_type)["message"])


@main.group(invoke_without_command=True)
@click.option("--type", "sync_type", type=click.Choice(SYNC_TYPE_NAMES), help="only this sync type")
@click.option("--status", "run_status", type=click.Choice(RUN_STATUSES), help="only runs with this status")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.pass_context
def history(ctx: click.Context, sync_type: str | None, run_status: str | None, limit: int) -> None:
    """List recent runs from the history (or: history export / prune)."""
    if ctx.invoked_subcommand is not None:
        return
    page = api(load_settings()).history(type=sync_type, status=run_status, limit=limit)
    counts = ("total", "created", "updated", "adopted", "skipped", "failed")
    priority = {"total": 3, "failed": 4, "created": 5, "updated": 6, "skipped": 7, "adopted": 8}
    columns = [
        Column("run", 0, keep_whole=True),  # ids are for copy-paste: never wrapped
        Column("type", 1, keep_whole=True),
        Column("status", 2),
        Column("started", 9),
        *(Column(name, priority[name], numeric=True) for name in counts),
    ]
    rows = [
        [
            run["runId"],
            run["syncType"],
            run["status"] + (" (dry run)" if run.get("dryRun") else ""),
            str(run.get("startedAt") or ""),
            *(str(run.get(k, "")) for k in counts),
        ]
        for run in page["runs"]
    ]
    console.print(fit_table(f"Runs ({len(page['runs'])} of {page['total']})", columns, rows, console.width))


@history.command("export")
@click.option("--to", "to_url", required=True, metavar="postgresql://USER@HOST:5432/DB", help="the PostgreSQL history")
@click.option("--from", "from_path", metavar="FILE", help="the SQLite history (default: SYNC_HISTORY_DB)")
def history_export(to_url: str, from_path: str | None) -> None:
    """Copy a SQLite history into PostgreSQL (safe to run again: rows are upserted, never doubled).
    Stop the workers first, or export again after they stop, to include runs still being written."""
    settings = load_settings()
    source_path = from_path or settings.history_db
    if not is_postgres_url(to_url):
        raise ConfigError(f"--to must be a postgresql:// URL, got {redact_url(to_url)!r}")
    if not Path(source_path).is_file():
        raise ConfigError(f"no SQLite history at {source_path} (set --from or SYNC_HISTORY_DB)")
    install_mask([p for p in [urlsplit(to_url).password] if p])
    source = open_history(source_path)
    try:
        dest = open_history(to_url)
        try:
            copied = _copy_with_progress(source, dest)
        finally:
            dest.close()
    finally:
        source.close()
    console.print(f"Copied {copied.runs} runs and {copied.items} items from {source.describe()} to {dest.describe()}")


def _copy_with_progress(source: History, dest: History) -> Copied:
    columns = (TextColumn("{task.description:<6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def show(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task("runs" if table == "runs" else "items", total=total)
            bar.update(tasks[table], completed=done, total=total)

        return copy_history(source, dest, show)


@history.command("prune")
@click.option("--keep-days", type=click.IntRange(1), help="default: SYNC_HISTORY_KEEP_DAYS")
def history_prune(keep_days: int | None) -> None:
    """Delete runs that ended more than N days ago, with their items (runs also prune, hourly)."""
    settings = load_settings()
    days = keep_days or settings.history_keep_days
    if not days:
        raise ConfigError("set --keep-days or SYNC_HISTORY_KEEP_DAYS (the default keeps every run)")
    store = open_history(settings)
    try:
        console.print(f"Pruned {store.prune(days)} runs older than {days} days from {store.describe()}")
    finally:
        store.close()


@main.command()
@click.argument("run_id")
@click.option("--wait", is_flag=True, help="show progress until the retry ends, then a summary")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds to wait with --wait")
def retry(run_id: str, wait: bool, timeout: float) -> None:
    """Retry the failed items of RUN_ID: a new run of just those keys, linked to it."""
    client = api(load_settings())
    started = client.request("POST", f"/api/sync/history/{run_id}/retry")
    console.print(f"{started['message']}  job [bold]{started['jobId']}[/]")
    if not wait:
        return
    follow(client, started["jobId"], started["syncType"], timeout)


@main.command()
@click.argument("sync_type", type=click.Choice(SYNC_TYPE_NAMES))
@click.option("--fix", is_flag=True, help="then queue a sync of the missing (and drifted) records")
@click.option("--timeout", type=float, default=1800, show_default=True, help="seconds to wait for the comparison")
def reconcile(sync_type: str, fix: bool, timeout: float) -> None:
    """Compare Katana with Luca for SYNC_TYPE: missing, extra, drifted records, stale cache entries."""
    client = api(load_settings())
    started = client.request("POST", "/api/reconcile", json={"syncType": sync_type})
    rid = started["reconcileId"]
    console.print(f"{started['message']}  id [bold]{rid}[/]  page {started['pageUrl']}")
    job = wait_for_job(client, rid, console, sync_type, timeout=timeout)
    if job["state"] != "FINISHED":
        raise ApiError(f"reconciliation {rid} ended {job['state']}: {job.get('error') or 'did not finish in time'}")
    report = client.request("GET", f"/api/reconcile/{rid}")["result"]
    for table in reconcile_tables(report):
        console.print(table)
    if fix:
        if not report["fixKeys"]:
            console.print("Nothing to fix.")
            return
        fixed = client.request("POST", f"/api/reconcile/{rid}/fix")
        console.print(f"{fixed['message']}  job [bold]{fixed['jobId']}[/]")


def _foreground(name: str, argv: list[str], settings: Settings) -> None:
    resolved = resolve_redis(settings, allow_start=True)
    console.print(resolved.describe())
    export_url(resolved)
    children = Children()
    install_stop_signals()
    try:
        # The child's output (gunicorn's access log, our JSON/text lines) is kept in the log
        # directory and shown here: a "500 ... see the server log" must leave a log to read.
        log_dir = Path(os.environ.get("SYNC_LOG_DIR") or "var/log").resolve()
        child = children.spawn(name, argv, env={}, log_dir=log_dir, echo=sys.stdout)
        console.print(f"{name} output also in {child.log_path}")
        code = wait_while_alive(children, lambda child, rc: log.error("%s exited with code %s", child, rc))
    finally:
        ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        children.stop_all()
        if resolved.server is not None:
            resolved.server.stop()
    if code:
        sys.exit(code)


@main.command()
@click.option("--bind", help="HOST:PORT (default SYNC_BIND or 127.0.0.1:8000)")
def serve(bind: str | None) -> None:
    """Serve the API and /rq with gunicorn (threads)."""
    settings = load_settings()
    check_api_token(settings.sync_api_token)
    bind = bind or settings.bind
    if settings.sync_api_token is None:
        if not is_loopback_host(bind_host(bind)):
            raise ConfigError(f"refusing to listen on {bind} without SYNC_API_TOKEN (set one, or bind 127.0.0.1)")
        console.print(f"SYNC_API_TOKEN is not set: the API is open, so it listens on loopback only ({bind})")
    _foreground("web", web_argv(bind), settings)


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def worker(burst: bool) -> None:
    """Run `rq worker -c syncsvc.ops.rq_settings --with-scheduler` (on the SYNC_INSTANCE queue)."""
    settings = load_settings()
    _foreground("worker", worker_argv(*(["--burst"] if burst else [])), settings)


@main.command()
@click.option("--once", is_flag=True, help="exit after the summary (non-zero if a sync job failed)")
@click.option("--timeout", type=float, default=900, show_default=True, help="seconds to wait for each job")
def demo(once: bool, timeout: float) -> None:
    """Run everything against the simulators and sync PRODUCT, CUSTOMER, INVOICE."""
    from syncsvc.ops.demo import run_demo

    configure()
    sys.exit(run_demo(console, once=once, timeout=timeout))


if __name__ == "__main__":
    main()
