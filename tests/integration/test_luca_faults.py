"""Luca simulator fault injection, session policies and concurrency, over real TCP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.testing import Sandbox, start_sandbox
from tests.integration.luca_client import LucaClient, card, company, invoice


@pytest.fixture
def luca(sandbox_session: Sandbox) -> Sandbox:
    sandbox_session.admin("luca", "POST", "reset", {})
    return sandbox_session


@pytest.fixture
def client(luca: Sandbox) -> Iterator[LucaClient]:
    c = LucaClient(luca.luca_url).ready()
    yield c
    c.close()


def arm(luca: Sandbox, faults: dict[str, Any], **extra: Any) -> None:
    luca.admin("luca", "POST", "faults", {"faults": faults, "seed": 7, **extra})


def injected(luca: Sandbox, kind: str) -> int:
    count: int = luca.admin("luca", "GET", "faults")["injected"][kind]
    return count


def card_count(luca: Sandbox) -> int:
    count: int = luca.admin("luca", "GET", "state")["stock_cards"]["count"]
    return count


def test_reset_is_a_connection_error_and_nothing_is_saved(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"reset": {"every": 1, "actions": ["EkleStkWsSkart"]}})
    with pytest.raises(requests.ConnectionError):
        client.post("EkleStkWsSkart", card("R-1"))
    assert card_count(luca) == 0 and injected(luca, "reset") == 1
    assert client.call("ListeleStkSkart")["code"] == 0  # other actions unaffected


def test_bad_gateway_is_netscaler_html(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"bad_gateway": {"probability": 1.0}})
    resp = client.post("ListeleStkSkart")
    assert resp.status_code == 502 and "NetScaler" in resp.text
    assert resp.headers["Content-Type"].startswith("text/html")


def test_html_login_page_drops_the_session(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"html_login": {"every": 1, "actions": ["ListeleStkSkart"]}})
    resp = client.post("ListeleStkSkart")
    assert resp.status_code == 200 and "Koza Projesi" in resp.text
    arm(luca, {})
    assert client.call("ListeleStkSkart")["code"] == 1001


def test_empty_error_saves_nothing(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"empty_error": {"probability": 1.0}})
    assert client.call("EkleStkWsSkart", card("E-1")) == {"error": True}
    assert card_count(luca) == 0


def test_session_expiry_every_third_call(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"session_expiry": {"every": 3}})
    codes = []
    for _ in range(7):
        reply = client.call("ListeleStkSkart")
        codes.append(reply["code"])
        if reply["code"] != 0:
            client.ready()  # login and branch calls are exempt, so they don't advance the count
    assert codes == [0, 0, 1001, 0, 0, 1001, 0]
    assert injected(luca, "session_expiry") == 2
    assert luca.admin("luca", "GET", "faults")["eligible_calls"]["session_expiry"] == 7


def test_branch_loss_needs_reselection(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"branch_loss": {"every": 3}})
    assert client.call("ListeleStkSkart")["code"] == 0
    assert client.call("ListeleStkSkart")["code"] == 0
    assert client.call("ListeleStkSkart")["code"] == 1003
    assert client.call("ListeleStkSkart")["code"] == 1003  # stays lost until selected again
    client.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": 11746})
    assert client.call("ListeleStkSkart")["code"] == 0


def test_slow_exceeds_client_timeout_then_answers(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {"slow": {"every": 1, "actions": ["ListeleStkSkart"]}}, slow_seconds=1.0)
    with pytest.raises(requests.Timeout):
        client.post("ListeleStkSkart", timeout=0.3)
    started = time.perf_counter()
    assert client.call("ListeleStkSkart", timeout=5)["code"] == 0
    assert time.perf_counter() - started >= 0.9


@pytest.mark.parametrize("mode", ["html", "reset", "timeout"])
def test_commit_then_fail_really_saves(luca: Sandbox, client: LucaClient, mode: str) -> None:
    arm(luca, {"commit_then_fail": {"every": 1, "mode": mode}}, slow_seconds=0.8)
    assert client.call("ListeleStkSkart")["code"] == 0  # reads are never eligible
    try:
        resp = client.post("EkleStkWsSkart", card("C-1"), timeout=0.3)
        assert mode == "html" and "Koza Projesi" in resp.text
    except requests.Timeout:
        assert mode == "timeout"
    except requests.ConnectionError:
        assert mode == "reset"
    assert card_count(luca) == 1
    arm(luca, {})
    assert client.call("EkleStkWsSkart", card("C-1"))["message"] == "Kart kodu daha önce kullanılmış"
    assert luca.admin("luca", "GET", "requests", action="EkleStkWsSkart")[0]["fault"] == f"commit_then_fail:{mode}"


def test_commit_then_fail_only_when_the_write_succeeds(luca: Sandbox, client: LucaClient) -> None:
    client.call("EkleFinMusteriWS", company("CK-1"))
    client.call("EkleStkWsSkart", card("M-1"))
    arm(luca, {"commit_then_fail": {"every": 1, "mode": "html"}})
    assert client.call("EkleFtrWsFaturaBaslik", invoice("CK-1", "NOPE"))["error"] is True
    assert injected(luca, "commit_then_fail") == 0
    resp = client.post("EkleFtrWsFaturaBaslik", invoice("CK-1", "M-1", belgeTakipNo="T-1"))
    assert resp.headers["Content-Type"].startswith("text/html")
    assert luca.admin("luca", "GET", "state")["invoices"]["count"] == 1


def test_login_is_exempt_unless_listed(luca: Sandbox) -> None:
    arm(luca, {"empty_error": {"probability": 1.0}, "bad_gateway": {"every": 1, "actions": ["Giris"]}})
    c = LucaClient(luca.luca_url)
    try:
        assert c.post("Giris", {}).status_code == 502
        arm(luca, {"empty_error": {"probability": 1.0}})
        assert c.login()["code"] == 0
        assert c.call("YdlUserResponsibilityOrgSs")["code"] == 0
    finally:
        c.close()


def test_fault_config_validation_and_reset_defaults(luca: Sandbox) -> None:
    with pytest.raises(requests.HTTPError):
        luca.admin("luca", "POST", "faults", {"faults": {"meteor": {"probability": 1}}})
    with pytest.raises(requests.HTTPError):
        luca.admin("luca", "POST", "faults", {"faults": {"reset": {"probability": 2}}})
    luca.admin("luca", "POST", "reset", {"faults": {"reset": {"every": 5}}, "page_size": 3})
    shown = luca.admin("luca", "GET", "faults")
    assert shown["faults"]["reset"]["every"] == 5 and luca.admin("luca", "GET", "config")["page_size"] == 3
    luca.admin("luca", "POST", "reset", {})
    assert luca.admin("luca", "GET", "faults")["faults"] == {}


def test_probability_is_seeded(luca: Sandbox, client: LucaClient) -> None:
    def run() -> list[int]:
        arm(luca, {"empty_error": {"probability": 0.5}})
        return [1 if client.call("ListeleStkSkart").get("error") else 0 for _ in range(20)]

    first, second = run(), run()
    assert first == second and 0 < sum(first) < 20


# -- session policies ---------------------------------------------------------------------------
def test_new_login_evicts_older_session_by_default(luca: Sandbox, client: LucaClient) -> None:
    other = LucaClient(luca.luca_url).ready()
    try:
        assert other.call("ListeleStkSkart")["code"] == 0
        assert client.call("ListeleStkSkart")["code"] == 1001
        arm(luca, {}, single_session_per_user=False)
        client.ready()
        assert other.call("ListeleStkSkart")["code"] == 0 and client.call("ListeleStkSkart")["code"] == 0
    finally:
        other.close()


def test_sessions_kill(luca: Sandbox, client: LucaClient) -> None:
    assert luca.admin("luca", "POST", "sessions/kill")["killed"] == 1
    assert client.call("ListeleStkSkart")["code"] == 1001
    assert client.call("YdlUserResponsibilityOrgSs")["code"] == 1002


# -- concurrency and latency --------------------------------------------------------------------
def _parallel(client: LucaClient, n: int) -> float:
    def one() -> None:
        with requests.Session() as http:
            http.cookies.update(client.http.cookies)
            resp = http.post(f"{client.base_url}/Yetki/ListeleStkSkart.do", json={}, timeout=10)
            assert resp.json()["code"] == 0

    threads = [threading.Thread(target=one) for _ in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def test_latency_overlaps_and_max_concurrency(luca: Sandbox, client: LucaClient) -> None:
    arm(luca, {}, latency_ms=300, jitter_ms=20)
    started = time.perf_counter()
    client.call("ListeleStkSkart")
    assert time.perf_counter() - started >= 0.27
    elapsed = _parallel(client, 5)
    assert elapsed < 0.9, elapsed  # ~0.3 s if overlapped, 1.5 s if serialised
    assert luca.admin("luca", "GET", "state")["max_concurrency"] >= 5


def test_cli_options() -> None:
    with start_sandbox(
        "--luca-fault",
        "empty_error=every:2",
        "--luca-page-size",
        "2",
        "--luca-branches",
        "11746:Merkez,22001:İzmir",
        "--luca-username",
        "ops",
    ) as sb:
        c = LucaClient(sb.luca_url)
        try:
            assert (
                c.call("Giris", {"orgCode": "1234567", "userName": "ops", "userPassword": "demo-luca-pass"})["code"]
                == 0
            )
            branches = c.call("YdlUserResponsibilityOrgSs", headers={"No-Paging": "true"})
            assert [b["id"] for b in branches["list"]] == ["11746", "22001"]
            assert c.call("GuncelleYtkSirketSubeDegistir", {"orgSirketSubeId": 22001})["@sirketSubeAdi"].endswith(
                "İzmir"
            )
            replies = [c.call("ListeleGnlOlcumBirimi") for _ in range(4)]
            assert [r.get("error") for r in replies] == [None, True, None, True]
            assert len(replies[0]["list"]) == 2
            assert sb.admin("luca", "GET", "faults")["faults"]["empty_error"]["every"] == 2
        finally:
            c.close()
