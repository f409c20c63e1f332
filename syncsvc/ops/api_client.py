"""A small client of our own HTTP API, used by the CLI and the demo."""

from __future__ import annotations

import time
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from syncsvc.ops.tables import Column, fit_table

TERMINAL_STATES = ("FINISHED", "FAILED", "STOPPED", "CANCELED")
OUTCOME_COLUMNS = ("total", "created", "updated", "adopted", "skipped", "failed")


class ApiError(Exception):
    """The API could not be reached or answered an error; the message is one line."""


class ApiClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach the API at {self.base_url} ({type(exc).__name__}); is it running?") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else resp.text[:200]
            raise ApiError(f"HTTP {resp.status_code}: {message}")
        return body

    def start(self, sync_type: str, limit: int | None = None, dry_run: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {"syncType": sync_type, "dryRun": dry_run}
        if limit is not None:
            payload["limit"] = limit
        result: dict[str, Any] = self.request("POST", "/api/sync/start", json=payload)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/sync/job/{job_id}")
        return result

    def history(self, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        result: dict[str, Any] = self.request("GET", "/api/sync/history", params=clean)
        return result

    def type_states(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/api/sync/status")
        return result

    def resume(self, sync_type: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/api/sync/resume", json={"syncType": sync_type})
        return result

    def items(self, run_id: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        result: dict[str, Any] = self.request("GET", f"/api/sync/history/{run_id}/items", params=clean)
        return result


def wait_for_job(
    client: ApiClient, job_id: str, console: Console, label: str, timeout: float = 1800, poll: float = 0.5
) -> dict[str, Any]:
    """Poll the job route with a progress bar until the job ends or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    body = client.job(job_id)
    columns = (
        TextColumn("[bold]{task.fields[label]:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("", total=None, label=label, phase=body["state"].lower())
        while True:
            progress = body.get("progress") or {}
            phase = progress.get("phase") or body["state"].lower()
            total = progress.get("total")
            bar.update(task, total=total or None, completed=progress.get("processed", 0), phase=phase)
            if body["state"] in TERMINAL_STATES:
                if body["state"] == "FINISHED" and total:
                    bar.update(task, completed=total)
                return body
            if time.monotonic() > deadline:
                return body
            time.sleep(poll)
            body = client.job(job_id)


def summary_table(rows: list[tuple[str, dict[str, Any]]], width: int = 80) -> Table:
    """One row per job: type, state, the outcome counts and the duration."""
    columns = [
        Column("type", 0, keep_whole=True),
        Column("state", 1, keep_whole=True),
        *(Column(name, 2 + i, numeric=True) for i, name in enumerate(OUTCOME_COLUMNS)),
        Column("seconds", 2 + len(OUTCOME_COLUMNS), numeric=True),
    ]
    body = []
    for label, job in rows:
        result = job.get("result") or {}
        counts = result or (job.get("progress") or {})
        seconds = result.get("durationSeconds")
        body.append(
            [
                label,
                str(job.get("state", "?")),
                *(str(counts.get(name, "")) for name in OUTCOME_COLUMNS),
                f"{seconds:.1f}" if isinstance(seconds, int | float) else "",
            ]
        )
    return fit_table("Sync results", columns, body, width)


def failures_table(rows: list[tuple[str, dict[str, Any]]], width: int = 80) -> Table | None:
    columns = [Column("type", 2, keep_whole=True), Column("key", 0), Column("error", 3), Column("reason", 1)]
    body = []
    for label, job in rows:
        for failure in (job.get("result") or {}).get("failures") or []:
            body.append([label, str(failure.get("key")), str(failure.get("errorClass")), str(failure.get("message"))])
        if job.get("state") == "FAILED":
            body.append([label, "(whole run)", "job failed", str(job.get("error"))])
    return fit_table("Failed items", columns, body, width) if body else None


def failure_groups(failures: list[dict[str, Any]]) -> list[tuple[int, str, str, list[str]]]:
    """Failures grouped by (error class, reason), biggest group first: count, class, reason, keys."""
    groups: dict[tuple[str, str], list[str]] = {}
    for failure in failures:
        error = str(failure.get("errorClass") or failure.get("error_class") or "")
        reason = str(failure.get("message") or "").strip()
        key = str(failure.get("key") or failure.get("itemKey") or "")
        groups.setdefault((error, reason), []).append(key)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [(len(keys), error, reason, keys) for (error, reason), keys in ordered]


def failure_groups_table(failures: list[dict[str, Any]], width: int = 80, examples: int = 3) -> Table:
    columns = [Column("items", 0, numeric=True), Column("error", 2), Column("reason", 1), Column("e.g. keys", 3)]
    body = [
        [str(n), error, reason, ", ".join(keys[:examples]) + (f" (+{n - examples})" if n > examples else "")]
        for n, error, reason, keys in failure_groups(failures)
    ]
    return fit_table(f"Failures by reason ({len(failures)} items)", columns, body, width)
