"""The console in a real browser, as an operator uses it: sign in, start and watch a sync, read a
run, fix data and retry, and the XSS and cross-site cases refused.

The tests of this module share one service stack and one signed-in browser context, and run in
file order (each builds on the state the previous one left, like an operator's session).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Dialog, Page

from sandbox.testing import Sandbox
from tests.browser.conftest import shot
from tests.e2e.conftest import Stack
from tests.service_fixtures import TOKEN

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_SKU = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def context(chromium: Browser, console_stack: Stack) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(base_url=console_stack.url, viewport={"width": 1360, "height": 900})
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab in the shared context; any JavaScript dialog fails the test (XSS would open one)."""
    tab = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    yield tab
    tab.close()
    assert dialogs == [], f"a script ran: dialogs {dialogs}"


def sign_in(page: Page, token: str = TOKEN) -> None:
    page.goto("/login")
    page.fill("input[name=token]", token)
    page.click("form[action='/login'] button[type=submit]")


def wait_until(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def katana_variants(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Variants of live products with a SKU: the ones a PRODUCT run syncs."""
    dump = sandbox.admin("katana", "GET", "dump")
    live = {p["id"] for p in dump["products"] if not p.get("archived_at") and not p.get("deleted_at")}
    return [v for v in dump["variants"] if v["product_id"] in live and v["sku"] and not v.get("deleted_at")]


def luca_cards(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {str(c["kartKodu"]): c for c in sandbox.admin("luca", "GET", "stock_cards")["records"]}


def skuless(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Variants without a SKU (the data has some, and the first test removes one more)."""
    return [v for v in sandbox.admin("katana", "GET", "dump")["variants"] if v["sku"] is None and not v["deleted_at"]]


def start_from_form(page: Page, sync_type: str) -> str:
    page.goto("/start")
    page.select_option("select[name=syncType]", sync_type)
    page.click("form[action='/start'] button[type=submit]")
    page.wait_for_url("**/runs/*")
    return page.url.rsplit("/", 1)[-1]


def watch_to_the_end(page: Page, timeout: float = 90) -> list[str]:
    """Read the live status until the page shows a finished or failed run; return what it showed."""
    seen: list[str] = []

    def ended() -> bool:
        try:
            text = (page.text_content("[data-state]", timeout=1000) or "").strip()
        except Exception:  # noqa: BLE001 - the page is reloading
            return False
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        return text in ("finished", "failed")

    wait_until(ended, timeout, "the run to end")
    return seen


def test_sign_in_with_the_token(chromium: Browser, console_stack: Stack, context: BrowserContext) -> None:
    fresh = chromium.new_context(base_url=console_stack.url)
    fresh.set_default_timeout(10_000)
    tab = fresh.new_page()
    tab.goto("/")
    assert "/login" in tab.url  # not signed in: the console asks first
    shot(tab, "login")
    sign_in(tab, "not-the-token-at-all")
    assert "not right" in tab.text_content("main")
    sign_in(tab)
    tab.wait_for_url(console_stack.url + "/")
    assert tab.text_content("h1") == "Runs"
    cookie = next(c for c in fresh.cookies() if c["name"] == "syncsvc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    headers = tab.request.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    # The dashboard is behind the same sign-in.
    tab.goto("/rq/")
    assert "/rq/" in tab.url and tab.locator("text=Queues").count() > 0
    tab.goto("/")
    tab.click("text=Sign out")
    tab.goto("/rq/")
    assert "/login" in tab.url
    fresh.close()
    # The shared context signs in once for the tests below.
    shared = context.new_page()
    sign_in(shared)
    shared.wait_for_url(console_stack.url + "/")
    shared.close()


def test_start_a_sync_and_watch_it_reach_done(page: Page, console_stack: Stack, sandbox_session: Sandbox) -> None:
    # One variant loses its SKU in Katana: it must fail, with a reason, and be retried later.
    broken = katana_variants(sandbox_session)[0]
    sandbox_session.admin("katana", "PATCH", f"variants/{broken['id']}", {"sku": None})
    run_id = start_from_form(page, "PRODUCT")
    seen = watch_to_the_end(page)
    assert seen[-1] == "finished", seen
    assert any(s.startswith(("queued", "started")) for s in seen[:-1]), seen  # the live progress showed
    shot(page, "run")
    assert page.text_content("h1").startswith("PRODUCT run")
    assert f"failed {len(skuless(sandbox_session))}" in page.text_content(".bar")
    page.goto("/")
    row = page.locator(f"tr:has(a[href='/runs/{run_id}'])")
    assert row.locator("td").nth(4).text_content().strip() == "finished"
    assert row.locator("td").nth(2).text_content() == "dashboard"
    shot(page, "runs")


def test_open_a_run_and_filter_its_failed_items(page: Page, sandbox_session: Sandbox) -> None:
    expected = len(skuless(sandbox_session))
    page.goto("/")
    page.locator("table.runs tbody tr a[href^='/runs/']").first.click()
    page.select_option("select[name=outcome]", "failed")
    page.click("main form.filters button[type=submit]")
    rows = page.locator("table.items tbody tr")
    assert rows.count() == expected
    for n in range(expected):
        assert rows.nth(n).locator("td").nth(4).text_content().startswith("failed")
        assert "no SKU" in rows.nth(n).text_content()
    csv_link = page.locator("a[href*='items.csv']").get_attribute("href")
    assert csv_link is not None
    body = page.request.get(csv_link).text()
    assert body.splitlines()[0].startswith("item_key,label,katana_id") and len(body.splitlines()) == 1 + expected
    page.goto("/failed")
    assert "variant has no SKU" in page.text_content("section.group h2")
    assert "fix it in Katana" in page.text_content("section.group .advice")
    shot(page, "failed")


def test_fix_the_data_retry_and_see_them_created(page: Page, sandbox_session: Sandbox) -> None:
    fixed = []
    for n, broken in enumerate(skuless(sandbox_session), 1):
        fixed.append(f"FIXED-{n:04d}")
        sandbox_session.admin("katana", "PATCH", f"variants/{broken['id']}", {"sku": fixed[-1]})
    page.goto("/")
    parent = page.locator("table.runs tbody tr a[href^='/runs/']").first.get_attribute("href")
    assert parent is not None
    page.goto(parent)
    page.click("#retry-failed")
    page.wait_for_url(lambda url: not url.endswith(parent))
    assert watch_to_the_end(page)[-1] == "finished"
    assert f"Retry of{parent.rsplit('/', 1)[-1]}" in page.text_content("dl.facts").replace("\n", "")
    items = page.locator("table.items tbody tr")
    assert items.count() == len(fixed)
    for n, code in enumerate(fixed):
        assert items.nth(n).locator("td").nth(0).text_content() == code
        assert items.nth(n).locator("td").nth(4).text_content().strip() == "created"
        assert code in luca_cards(sandbox_session)
    page.goto(parent)
    assert "Retried by" in page.text_content("dl.facts")
    assert page.locator("#retry-failed").count() == 0  # nothing left to retry
    page.goto("/failed")
    assert "No failed items" in page.text_content("main")


def test_katana_text_renders_as_text_everywhere(page: Page, console_stack: Stack, sandbox_session: Sandbox) -> None:
    variants = katana_variants(sandbox_session)
    other = next(v for v in variants if v["product_id"] != variants[0]["product_id"])
    sandbox_session.admin("katana", "PATCH", f"products/{variants[0]['product_id']}", {"name": SCRIPT_NAME})
    sandbox_session.admin("katana", "PATCH", f"variants/{other['id']}", {"sku": IMG_SKU})
    run_id = start_from_form(page, "PRODUCT")
    assert watch_to_the_end(page)[-1] == "finished"
    page.goto(f"/runs/{run_id}?q=script")
    assert SCRIPT_NAME in page.text_content("table.items")
    page.goto(f"/runs/{run_id}?outcome=failed")
    assert IMG_SKU in page.text_content("table.items")
    page.goto("/failed")
    assert IMG_SKU in page.text_content("main")
    assert page.locator("main img").count() == 0
    # The dashboard's job page shows the failure message carrying the SKU: as text.
    page.goto(f"/rq/0/view/job/{run_id}")
    page.wait_for_selector("#job-data pre")
    wait_until(lambda: IMG_SKU in (page.text_content("#job-data") or ""), 20, "the job data")
    assert page.locator("#job-data img").count() == 0
    shot(page, "dashboard-job")
    # The failed-items text as the dashboard's job list shows it.
    page.goto("/rq/0/view/jobs/sync/finished/8/asc/1")
    page.wait_for_selector("tr[data-role=job]")
    assert page.locator("tbody img").count() == 0


class _Attacker:
    """A page on another origin that auto-submits forms at the console and the dashboard."""

    def __init__(self, target: str, csrf: str) -> None:
        target_js = target.replace('"', "")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                action = self.path.strip("/")
                forms = {
                    "empty": f'<form id="f" method="post" action="{target_js}/rq/queue/sync/finished/empty"></form>',
                    "start": f'<form id="f" method="post" action="{target_js}/start">'
                    f'<input name="syncType" value="CUSTOMER"><input name="csrf" value="{csrf}"></form>',
                }
                body = (forms.get(action, "") + "<script>document.getElementById('f').submit()</script>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_cross_origin_posts_are_refused(page: Page, console_stack: Stack) -> None:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {console_stack.env['SYNC_API_TOKEN']}"
    finished_before = api.get(f"{console_stack.url}/rq/0/data/jobs/sync/finished/100/asc/1.json", timeout=5).json()
    assert finished_before["jobs"]
    runs_before = api.get(f"{console_stack.url}/api/sync/history", timeout=5).json()["total"]
    # Even with this session's real CSRF token, a form posted from another origin is refused
    # (another port on the same host is "same-site", so the cookie does travel: Origin decides).
    page.goto("/start")
    csrf = page.get_attribute("input[name=csrf]", "value")
    assert csrf
    attacker = _Attacker(console_stack.url, csrf)
    try:
        for action in ("empty", "start"):
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.goto(f"{attacker.url}/{action}")
            assert posted.value.status == 403, (action, posted.value.status)
            assert "cross-origin request refused" in posted.value.text()
    finally:
        attacker.close()
    after = api.get(f"{console_stack.url}/rq/0/data/jobs/sync/finished/100/asc/1.json", timeout=5).json()
    assert len(after["jobs"]) == len(finished_before["jobs"])
    assert api.get(f"{console_stack.url}/api/sync/history", timeout=5).json()["total"] == runs_before
    # The same action from our own pages works: the dashboard's POST carries our Origin.
    victim = finished_before["jobs"][0]["id"]
    page.goto(f"/rq/0/view/job/{victim}")
    status = page.evaluate(f"fetch('/rq/job/{victim}/delete', {{method: 'POST'}}).then(r => r.status)")
    assert status == 200
    after = api.get(f"{console_stack.url}/rq/0/data/jobs/sync/finished/100/asc/1.json", timeout=5).json()
    assert len(after["jobs"]) == len(finished_before["jobs"]) - 1


def test_reconciliation_finds_a_deleted_card_and_the_button_restores_it(
    page: Page, console_stack: Stack, sandbox_session: Sandbox
) -> None:
    cards = luca_cards(sandbox_session)
    synced = sorted(v["sku"] for v in katana_variants(sandbox_session) if v["sku"] in cards)
    gone, drifted = synced[0], synced[1]
    sandbox_session.admin("luca", "DELETE", f"stock_cards/{cards[gone]['skartId']}")
    sandbox_session.admin("luca", "PATCH", f"stock_cards/{cards[drifted]['skartId']}", {"kartAdi": "Elle değişti"})
    page.goto("/reconcile")
    page.select_option("select[name=syncType]", "PRODUCT")
    page.click("form[action='/reconcile'] button[type=submit]")
    page.wait_for_url("**/reconcile/*")
    page.wait_for_selector("#count-missing", timeout=60_000)  # the live page reloads when done
    shot(page, "reconcile")
    assert page.text_content("#count-missing") == "1", page.text_content("main")
    assert page.text_content("#count-drifted") == "1", page.text_content("main")
    assert gone in page.text_content("#missing")
    assert "Elle değişti" in page.text_content("#drifted")
    report_id = page.url.rsplit("/", 1)[-1]
    headers = {"Authorization": f"Bearer {console_stack.env['SYNC_API_TOKEN']}"}
    report = requests.get(f"{console_stack.url}/api/reconcile/{report_id}", headers=headers, timeout=5).json()
    assert report["state"] == "FINISHED" and len(report["result"]["fixKeys"]) == 2
    assert report["result"]["drifted"][0]["fields"]["name"][0] == "Elle değişti"
    page.click("#fix")
    page.wait_for_url("**/runs/*")
    assert watch_to_the_end(page)[-1] == "finished"
    outcomes = {
        row.locator("td").nth(0).text_content(): row.locator("td").nth(4).text_content().strip()
        for row in page.locator("table.items tbody tr").all()
    }
    assert outcomes == {gone: "created", drifted: "updated"}, outcomes
    now = luca_cards(sandbox_session)
    assert gone in now and now[drifted]["kartAdi"] != "Elle değişti"


def test_a_dry_run_shows_per_item_what_would_change(page: Page, sandbox_session: Sandbox) -> None:
    cards = luca_cards(sandbox_session)
    variant = next(v for v in katana_variants(sandbox_session) if v["sku"] in cards)
    sandbox_session.admin("katana", "PATCH", f"variants/{variant['id']}", {"sales_price": 999.99})
    page.goto("/start")
    page.select_option("select[name=syncType]", "PRODUCT")
    page.check("input[name=dryRun]")
    page.click("form[action='/start'] button[type=submit]")
    page.wait_for_url("**/runs/*")
    assert watch_to_the_end(page)[-1] == "finished"
    page.goto(page.url + "?outcome=updated")
    row = page.locator("table.items > tbody > tr", has_text=variant["sku"])
    assert "dry run: would update" in row.text_content()
    diff = row.locator("table.diff").text_content()
    assert "salesPrice" in diff and "999.99" in diff
    assert luca_cards(sandbox_session)[variant["sku"]]["perakendeSatisBirimFiyat"] != 999.99  # nothing written
    shot(page, "dry-run")


def test_reconcile_and_retry_from_the_command_line(chromium: Browser, console_stack: Stack) -> None:
    # After the browser flow above (its runs and fixes): part of the same suite.
    env = {**os.environ, **console_stack.env}
    out = subprocess.run(
        [sys.executable, "-m", "syncsvc", "reconcile", "PRODUCT"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "PRODUCT reconciliation" in out.stdout and "missingInLuca" in out.stdout
    runs = requests.get(
        f"{console_stack.url}/api/sync/history",
        headers={"Authorization": f"Bearer {console_stack.env['SYNC_API_TOKEN']}"},
        timeout=5,
    ).json()["runs"]
    done = subprocess.run(
        [sys.executable, "-m", "syncsvc", "retry", runs[-1]["runId"]], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    # Every failure of the first run was fixed and retried above: nothing is left to retry.
    assert done.returncode == 1 and "no failed items left" in done.stderr, done.stderr
