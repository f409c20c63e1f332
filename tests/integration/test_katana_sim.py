"""The Katana simulator over real loopback HTTP: the API facts a sync client depends on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from sandbox.testing import Sandbox, start_sandbox

KEY = "demo-katana-key"
OTHER_KEY = "bench-katana-key"


class Katana:
    """A thin client for the simulator; one keep-alive session per key."""

    def __init__(self, sb: Sandbox, key: str = KEY) -> None:
        self.sb = sb
        self.url = sb.katana_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.url}/v1/{path}", params=params, timeout=30)

    def data(self, path: str, **params: Any) -> list[dict[str, Any]]:
        resp = self.get(path, **params)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["data"])

    def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.get(path, limit=250, page=page, **params)
            assert resp.status_code == 200, resp.text
            out += resp.json()["data"]
            if json.loads(resp.headers["X-Pagination"])["last_page"] == "true":
                return out
            page += 1

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.sb.admin("katana", method, path, body)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def katana(sandbox_session: Sandbox) -> Iterator[Katana]:
    """Default data, and a quota roomy enough that only the rate-limit tests meet it.

    Resets the Katana side only, so these tests do not depend on the Luca simulator's admin API.
    """
    sandbox_session.admin("katana", "POST", "reset", {})
    sandbox_session.admin("katana", "POST", "faults", {"rate_limit": "1000/60"})
    client = Katana(sandbox_session)
    yield client
    client.close()


def pagination(resp: requests.Response) -> dict[str, str]:
    meta = json.loads(resp.headers["X-Pagination"])
    assert all(isinstance(v, str) for v in meta.values()), meta
    return dict(meta)


# -- auth and routing ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", f"Basic {KEY}", "Bearer "])
def test_bad_credentials_get_401_body_with_ratelimit_headers(katana: Katana, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = requests.get(f"{katana.url}/v1/products", headers=headers, timeout=10)
    assert resp.status_code == 401
    assert resp.json() == {"statusCode": 401, "name": "UnauthorizedError", "message": "Unauthorized"}
    assert {"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"} <= set(resp.headers)


def test_paths_the_gateway_lacks_are_404(katana: Katana) -> None:
    customer_id = katana.data("customers", limit=1)[0]["id"]
    not_found = {"statusCode": 404, "name": "NotFoundError", "message": "Not found"}
    for path in (f"customers/{customer_id}", "customers/1", "purchase-orders", "tax_rates/1", "nope"):
        resp = katana.get(path)
        assert (resp.status_code, resp.json()) == (404, not_found), path
        assert "X-Ratelimit-Remaining" in resp.headers
    put = katana.http.put(f"{katana.url}/v1/sales_orders/1", json={}, timeout=10)
    post_location = katana.http.post(f"{katana.url}/v1/locations", json={"name": "x"}, timeout=10)
    assert (put.status_code, put.json()) == (404, not_found)
    assert (post_location.status_code, post_location.json()) == (404, not_found)


def test_get_by_id_returns_the_bare_object(katana: Katana) -> None:
    product = katana.data("products", limit=1)[0]
    variant = katana.data("variants", limit=1)[0]
    order = katana.data("sales_orders", limit=1)[0]
    for path, expected in ((f"products/{product['id']}", product), (f"variants/{variant['id']}", variant)):
        assert katana.get(path).json() == expected
    got = katana.get(f"sales_orders/{order['id']}").json()
    assert got["id"] == order["id"] and got["sales_order_rows"] == order["sales_order_rows"]
    assert katana.get("products/1").status_code == 404


def test_unknown_and_invalid_query_params_are_ignored(katana: Katana) -> None:
    baseline = katana.data("customers")
    assert katana.data("customers", fromDate="2020-01-01", toDate="2020-01-02", foo="bar") == baseline
    assert katana.data("customers", ids="abc") == baseline  # an invalid filter is not applied
    assert katana.data("customers", limit="lots") == baseline


# -- pagination ------------------------------------------------------------------------------


def test_pagination_header_default_limit_and_last_page(katana: Katana) -> None:
    visible = katana.admin("GET", "stats")["variants"]["visible"]
    first = katana.get("variants")
    meta = pagination(first)
    assert len(first.json()["data"]) == 50
    pages = -(-visible // 50)
    assert meta == {
        "total_records": str(visible),
        "total_pages": str(pages),
        "offset": "0",
        "page": "1",
        "first_page": "true",
        "last_page": "false",
    }
    last = katana.get("variants", page=pages)
    assert len(last.json()["data"]) == visible - 50 * (pages - 1)
    assert pagination(last)["last_page"] == "true" and pagination(last)["first_page"] == "false"
    beyond = katana.get("variants", page=pages + 1)
    assert beyond.json() == {"data": []} and pagination(beyond)["last_page"] == "true"
    empty = katana.get("customers", ids=1)
    assert empty.json() == {"data": []}
    assert pagination(empty)["total_records"] == "0" and pagination(empty)["last_page"] == "true"


def test_limit_is_clamped_to_250_and_pages_cover_everything_once(katana: Katana) -> None:
    katana.admin("POST", "reset", {"products": 150})
    katana.admin("POST", "faults", {"rate_limit": "1000/60"})
    visible = katana.admin("GET", "stats")["variants"]["visible"]
    assert visible > 250
    resp = katana.get("variants", limit=1000)
    assert len(resp.json()["data"]) == 250 and pagination(resp)["total_pages"] == str(-(-visible // 250))
    ids = [v["id"] for v in katana.every("variants")]
    assert len(ids) == len(set(ids)) == visible


def test_lists_are_newest_first(katana: Katana) -> None:
    orders = katana.every("sales_orders")
    keys = [(o["created_at"], o["id"]) for o in orders]
    assert keys == sorted(keys, reverse=True)


# -- filters ---------------------------------------------------------------------------------


def test_ids_filter_with_repeated_keys_and_commas(katana: Katana) -> None:
    wanted = sorted(v["id"] for v in katana.data("variants", limit=10)[2:5])
    repeated = katana.data("variants", ids=wanted)
    assert f"ids={wanted[0]}&ids={wanted[1]}" in katana.get("variants", ids=wanted).url
    assert sorted(v["id"] for v in repeated) == wanted
    comma = katana.data("variants", ids=",".join(map(str, wanted)))
    assert comma == repeated


def test_include_deleted_and_include_archived(katana: Katana) -> None:
    stats = katana.admin("GET", "stats")
    products = katana.every("products")
    with_deleted = katana.every("products", include_deleted="true")
    with_archived = katana.every("products", include_archived="true")
    assert len(products) == stats["products"]["visible"]
    assert len(with_deleted) == stats["products"]["visible"] + stats["products"]["deleted"]
    assert len(with_archived) == stats["products"]["visible"] + stats["products"]["archived"]
    assert stats["products"]["deleted"] > 0 and stats["products"]["archived"] > 0
    assert all(p["deleted_at"] is None and p["archived_at"] is None for p in products)
    assert any(p["deleted_at"] for p in with_deleted) and any(p["archived_at"] for p in with_archived)
    v = stats["variants"]
    assert len(katana.every("variants")) == v["visible"]
    assert len(katana.every("variants", include_deleted="true", include_archived="true")) == v["total"]
    customers = katana.every("customers")
    assert len(customers) == stats["customers"]["visible"] < stats["customers"]["total"]
    assert len(katana.every("customers", include_deleted="true")) == stats["customers"]["total"]


def test_variant_filters_sku_product_and_sales_order_filters(katana: Katana) -> None:
    variant = next(v for v in katana.data("variants", limit=100) if v["sku"] and v["product_id"])
    assert [v["id"] for v in katana.data("variants", sku=variant["sku"])] == [variant["id"]]
    siblings = katana.data("variants", product_id=variant["product_id"])
    assert variant["id"] in {v["id"] for v in siblings}
    assert all(v["product_id"] == variant["product_id"] for v in siblings)
    delivered = katana.every("sales_orders", status="DELIVERED")
    stats = katana.admin("GET", "stats")["sales_orders"]
    assert len(delivered) == stats["by_status"]["DELIVERED"] >= stats["total"] / 2
    order = delivered[0]
    assert [o["id"] for o in katana.data("sales_orders", order_no=order["order_no"])] == [order["id"]]
    by_customer = katana.every("sales_orders", customer_id=order["customer_id"])
    assert order["id"] in {o["id"] for o in by_customer}
    assert all(o["customer_id"] == order["customer_id"] for o in by_customer)


def test_created_and_updated_at_windows_are_inclusive_and_accept_loose_iso(katana: Katana) -> None:
    orders = katana.every("sales_orders")
    pivot = sorted(orders, key=lambda o: o["updated_at"])[len(orders) // 2]["updated_at"]
    newer = katana.every("sales_orders", updated_at_min=pivot)
    assert {o["id"] for o in newer} == {o["id"] for o in orders if o["updated_at"] >= pivot}
    older = katana.every("sales_orders", updated_at_max=pivot)
    assert {o["id"] for o in older} == {o["id"] for o in orders if o["updated_at"] <= pivot}
    day = orders[-1]["created_at"][:10]  # a date-only bound is midnight UTC
    assert katana.every("sales_orders", created_at_min=day) == [o for o in orders if o["created_at"] >= day]
    no_millis = pivot[:19] + "+00:00"
    assert {o["id"] for o in katana.every("sales_orders", updated_at_min=no_millis)} >= {o["id"] for o in newer}


def test_extend_product_or_material_embeds_the_parent(katana: Katana) -> None:
    variants = katana.every("variants", extend="product_or_material")
    assert {v["type"] for v in variants} == {"product", "material"}
    for v in variants:
        parent = v["product_or_material"]
        assert parent["id"] == (v["product_id"] or v["material_id"]) and parent["type"] == v["type"]
        assert {"name", "uom", "category_name", "configs"} <= set(parent)
        assert parent["uom"] in {"pcs", "kg", "m", "m2", "adet"}
    assert "product_or_material" not in katana.data("variants", limit=1)[0]
    multi = [v for v in variants if len(v["config_attributes"]) > 0]
    assert multi and all(
        {a["config_name"] for a in v["config_attributes"]} <= {c["name"] for c in v["product_or_material"]["configs"]}
        for v in multi
    )


def test_order_rows_resolve_through_variants_plus_services(katana: Katana) -> None:
    variant_ids = {v["id"] for v in katana.every("variants")}
    services = katana.every("services")
    assert {s["name"] for s in services} >= {"Nakliye", "Montaj"}
    service_variants = {v["id"]: v for s in services for v in s["variants"]}
    assert all(v["type"] == "service" and v["service_id"] for v in service_variants.values())
    assert not variant_ids & set(service_variants)
    rows = [r for o in katana.every("sales_orders") for r in o["sales_order_rows"]]
    assert {r["variant_id"] for r in rows} <= variant_ids | set(service_variants)
    assert any(r["variant_id"] in service_variants for r in rows) or len(rows) < 30


def test_sales_order_rows_endpoint_and_extend_variant(katana: Katana) -> None:
    orders = katana.data("sales_orders", limit=3)
    ids = [o["id"] for o in orders]
    rows = katana.every("sales_order_rows", sales_order_ids=ids, extend="variant")
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for o in orders for r in o["sales_order_rows"])
    assert all(r["variant"]["id"] == r["variant_id"] for r in rows)


# -- data shape ------------------------------------------------------------------------------


def test_numbers_come_in_the_mixed_real_style(katana: Katana) -> None:
    rows = [r for o in katana.every("sales_orders") for r in o["sales_order_rows"]]
    assert all(isinstance(r["quantity"], str) and len(r["quantity"].split(".")[1]) == 5 for r in rows)
    assert all(isinstance(r["price_per_unit"], str) and len(r["price_per_unit"].split(".")[1]) == 10 for r in rows)
    assert any(isinstance(r["total_discount"], str) for r in rows)
    prices = [v["sales_price"] for v in katana.every("variants") if v["sales_price"] is not None]
    assert any(isinstance(p, str) for p in prices) and any(isinstance(p, int | float) for p in prices)
    assert all(isinstance(t["rate"], int | float) for t in katana.data("tax_rates"))
    assert sorted(t["rate"] for t in katana.data("tax_rates")) == [0, 1, 10, 20]


def test_numbers_as_strings_fuzz_keeps_ids_numeric(katana: Katana) -> None:
    katana.admin("POST", "faults", {"numbers_as_strings": True})
    rates = katana.data("tax_rates")
    assert all(isinstance(t["rate"], str) and isinstance(t["id"], int) for t in rates)
    order = katana.data("sales_orders", limit=1)[0]
    assert isinstance(order["total"], str) and isinstance(order["customer_id"], int)


def test_null_skus_collisions_and_turkish_text_are_present(katana: Katana) -> None:
    stats = katana.admin("GET", "stats")
    variants = katana.every("variants")
    assert sum(v["sku"] is None for v in variants) == stats["variants"]["visible_null_sku"] > 0
    skus = {v["sku"] for v in variants}
    assert {s for pair in stats["sku_collision_pairs"] for s in pair} <= skus
    names = " ".join(p["name"] for p in katana.every("products", include_archived="true"))
    assert set("ışğüöç") & set(names) and set("⌀ØΦ") & set(names)
    customers = katana.every("customers")
    refs = [c["reference_id"] for c in customers if c["reference_id"]]
    assert any(len(r) == 10 and r.isdigit() for r in refs) or any(len(r) == 11 and r.isdigit() for r in refs)
    assert all(c["addresses"] and c["addresses"][0]["entity_type"] == "billing" for c in customers)


def test_exactly_one_delivered_order_has_an_unresolvable_line(katana: Katana) -> None:
    unresolvable = katana.admin("GET", "stats")["unresolvable"]
    assert len(unresolvable["sales_order_ids"]) == 1 and len(unresolvable["row_ids"]) == 1
    null_sku = {v["id"] for v in katana.every("variants") if v["sku"] is None}
    hits = [
        (o["id"], r["id"])
        for o in katana.every("sales_orders")
        for r in o["sales_order_rows"]
        if r["variant_id"] in null_sku
    ]
    assert hits == [(unresolvable["sales_order_ids"][0], unresolvable["row_ids"][0])]
    order = katana.get(f"sales_orders/{hits[0][0]}").json()
    assert order["status"] == "DELIVERED"


def test_same_seed_same_data_other_seed_other_data(katana: Katana) -> None:
    def fingerprint() -> list[Any]:
        dump = katana.admin("GET", "dump")
        return [
            [(v["id"], v["sku"]) for v in dump["variants"]],
            [(p["id"], p["name"]) for p in dump["products"]],
            [(c["id"], c["name"], c["reference_id"]) for c in dump["customers"]],
            [(o["id"], o["order_no"], o["status"], o["total"]) for o in dump["sales_orders"]],
        ]

    katana.admin("POST", "reset", {"seed": 7})
    first = fingerprint()
    katana.admin("POST", "reset", {"seed": 7})
    assert fingerprint() == first
    katana.admin("POST", "reset", {"seed": 8})
    assert fingerprint() != first


# -- admin mutations -------------------------------------------------------------------------


def test_variant_patch_bumps_updated_at_and_shows_in_delta(katana: Katana) -> None:
    variant = katana.data("variants", limit=5)[4]
    mark = katana.admin("GET", "clock")["now"]
    patched = katana.admin("PATCH", f"variants/{variant['id']}", {"sales_price": "99.5000000000"})
    assert patched["updated_at"] > variant["updated_at"] and patched["updated_at"] >= mark
    delta = katana.data("variants", updated_at_min=mark)
    assert [(v["id"], v["sales_price"]) for v in delta] == [(variant["id"], "99.5000000000")]


def test_product_patch_reaches_variants_embedded_parent(katana: Katana) -> None:
    product = next(p for p in katana.data("products") if len(p["variants"]) >= 2)
    mark = katana.admin("GET", "clock")["now"]
    katana.admin("PATCH", f"products/{product['id']}", {"name": "Yeni İsim Çalışma Masası"})
    delta = katana.data("variants", updated_at_min=mark, extend="product_or_material")
    assert sorted(v["id"] for v in delta) == sorted(v["id"] for v in product["variants"])
    assert {v["product_or_material"]["name"] for v in delta} == {"Yeni İsim Çalışma Masası"}
    assert [p["id"] for p in katana.data("products", updated_at_min=mark)] == [product["id"]]


def test_customer_patch_and_product_soft_delete(katana: Katana) -> None:
    customer = katana.data("customers", limit=1)[0]
    product = katana.data("products", limit=1)[0]
    mark = katana.admin("GET", "clock")["now"]
    katana.admin("PATCH", f"customers/{customer['id']}", {"email": "yeni@örnek.com.tr"})
    assert [c["email"] for c in katana.data("customers", updated_at_min=mark)] == ["yeni@örnek.com.tr"]
    katana.admin("DELETE", f"products/{product['id']}")
    assert product["id"] not in {p["id"] for p in katana.every("products")}
    tomb = katana.data("products", updated_at_min=mark, include_deleted="true")
    assert [p["id"] for p in tomb] == [product["id"]] and tomb[0]["deleted_at"] == tomb[0]["updated_at"]
    gone = katana.data("variants", updated_at_min=mark, include_deleted="true")
    assert {v["id"] for v in gone} == {v["id"] for v in product["variants"]}
    assert all(v["deleted_at"] for v in gone)
    assert katana.get(f"products/{product['id']}").status_code == 404


def test_admin_sales_order_create_and_deliver(katana: Katana) -> None:
    customer = katana.data("customers", limit=1)[0]
    variant = next(v for v in katana.data("variants") if v["sku"] and v["product_id"])
    tax = next(t for t in katana.data("tax_rates") if t["rate"] == 10)
    before = katana.every("sales_orders")
    created = katana.admin(
        "POST",
        "sales_orders",
        {"customer_id": customer["id"], "rows": [{"variant_id": variant["id"], "quantity": 3,
                                                   "price_per_unit": "100.50", "tax_rate_id": tax["id"]}]},
    )  # fmt: skip
    numbers = [int(o["order_no"].split("-")[1]) for o in before]
    assert created["order_no"] == f"SO-{max(numbers) + 1}" and created["status"] == "NOT_SHIPPED"
    row = created["sales_order_rows"][0]
    assert (row["quantity"], row["price_per_unit"], row["total"]) == ("3.00000", "100.5000000000", 301.5)
    assert Decimal(str(created["total"])) == Decimal("331.65")  # 301.50 + 10 % KDV
    mark = katana.admin("GET", "clock")["now"]
    delivered = katana.admin("POST", f"sales_orders/{created['id']}/deliver")
    assert delivered["status"] == "DELIVERED" and delivered["updated_at"] >= mark
    assert delivered["delivery_date"] and delivered["picked_date"]
    delta = katana.data("sales_orders", updated_at_min=mark, status="DELIVERED")
    assert [o["id"] for o in delta] == [created["id"]]
    assert katana.data("sales_orders", limit=1)[0]["id"] == created["id"]  # newest first


def test_clock_advance_moves_timestamps(katana: Katana) -> None:
    before = katana.admin("GET", "clock")["now"]
    after = katana.admin("POST", "clock", {"advance_seconds": 86400})["now"]
    assert after[:10] > before[:10]
    customer = katana.data("customers", limit=1)[0]
    patched = katana.admin("PATCH", f"customers/{customer['id']}", {"comment": "x"})
    assert patched["updated_at"] >= after


# -- writes on /v1 ---------------------------------------------------------------------------


def test_v1_writes_validate_like_the_gateway(katana: Katana) -> None:
    resp = katana.http.post(f"{katana.url}/v1/customers", json={"name": "X", "tax_no": "1"}, timeout=10)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert body["details"] == [
        {
            "path": "",
            "code": "additionalProperties",
            "message": "should NOT have additional properties",
            "info": {"additionalProperty": "tax_no"},
        }
    ]
    cancel = {"customer_id": 1, "sales_order_rows": [], "status": "CANCELLED"}
    bad_status = katana.http.post(f"{katana.url}/v1/sales_orders", json=cancel, timeout=10)
    assert bad_status.status_code == 422 and bad_status.json()["details"][0]["code"] == "enum"
    made = katana.http.post(f"{katana.url}/v1/customers", json={"name": "Öz Ticaret"}, timeout=10)
    assert made.status_code == 200 and made.json()["name"] == "Öz Ticaret"
    gone = katana.http.delete(f"{katana.url}/v1/customers/{made.json()['id']}", timeout=10)
    assert gone.status_code == 204 and gone.content == b""
    log = katana.admin("GET", "requests")["requests"]
    assert [e["method"] for e in log if e["method"] != "GET"] == ["POST", "POST", "POST", "DELETE"]


# -- observability and faults ----------------------------------------------------------------


def test_request_log_masks_keys_and_pages_by_index(katana: Katana) -> None:
    katana.get("products", limit=1)
    katana.get("nothing-here")
    log = katana.admin("GET", "requests")
    assert [(e["method"], e["path"], e["status"]) for e in log["requests"]] == [
        ("GET", "/v1/products", 200),
        ("GET", "/v1/nothing-here", 404),
    ]
    entry = log["requests"][0]
    assert entry["query"] == "limit=1" and KEY not in json.dumps(log) and entry["key"].endswith("-key")
    assert katana.sb.admin("katana", "GET", "requests", since=1)["requests"][0]["path"] == "/v1/nothing-here"
    assert katana.admin("GET", "stats")["requests"]["served"] == 2


def test_random_faults_apply_to_v1_only_and_reset_clears_them(katana: Katana) -> None:
    katana.admin("POST", "faults", {"random_500": 1.0})
    resp = katana.get("products")
    assert resp.status_code == 500 and resp.json()["name"] == "InternalServerError"
    assert katana.admin("GET", "stats")["products"]["total"] > 0  # admin untouched
    katana.admin("POST", "faults", {"random_500": 0.0, "random_429": 1.0})
    resp = katana.get("products")
    assert resp.status_code == 429 and resp.headers["Retry-After"] in {"1", "2"}
    assert resp.json() == {"statusCode": 429, "name": "TooManyRequests", "message": "Too Many Requests"}
    assert katana.admin("GET", "faults")["random_429"] == 1.0
    katana.admin("POST", "reset")
    assert katana.admin("GET", "faults")["random_429"] == 0.0
    assert katana.get("products").status_code == 200
    with pytest.raises(requests.HTTPError):
        katana.admin("POST", "faults", {"random_429": 2})


def test_mutate_during_paging_shifts_pages(katana: Katana) -> None:
    katana.admin("POST", "faults", {"mutate_during_paging": True})
    first = katana.data("sales_orders", limit=10)
    second = katana.data("sales_orders", limit=10, page=2)
    assert second[0]["id"] == first[-1]["id"]  # an insert at the head pushed a record down
    assert katana.admin("GET", "stats")["paging_mutations"] == 2


# -- rate limiting (own processes: they need CLI options) ------------------------------------


def test_every_response_carries_ms_reset_headers(katana: Katana) -> None:
    katana.admin("POST", "reset")  # back to the default 60/60
    now_ms = time.time() * 1000
    resp = katana.get("tax_rates")
    assert resp.headers["X-Ratelimit-Limit"] == "60" and resp.headers["X-Ratelimit-Remaining"] == "59"
    reset = int(resp.headers["X-Ratelimit-Reset"])
    assert now_ms + 55_000 < reset < now_ms + 65_000


def test_rate_limit_window_429_and_per_key_isolation() -> None:
    with start_sandbox("--katana-rate", "5/2", "--katana-reset-seconds", "--products", "5") as sb:
        a, b = Katana(sb), Katana(sb, OTHER_KEY)
        try:
            remaining = [a.get("tax_rates").headers["X-Ratelimit-Remaining"] for _ in range(4)]
            remaining.append(a.get("customers/1").headers["X-Ratelimit-Remaining"])  # 404s count too
            assert remaining == ["4", "3", "2", "1", "0"]
            over = a.get("tax_rates")
            assert over.status_code == 429
            assert over.json() == {
                "statusCode": 429,
                "name": "TooManyRequests",
                "message": "Too Many Requests",
            }
            retry = int(over.headers["Retry-After"])
            assert 1 <= retry <= 2
            reset = int(over.headers["X-Ratelimit-Reset"])
            assert time.time() < reset <= time.time() + 3  # seconds, as switched on
            assert a.get("tax_rates").status_code == 429  # 429s count and keep the window closed
            other = b.get("tax_rates")
            assert other.status_code == 200 and other.headers["X-Ratelimit-Remaining"] == "4"
            buckets = sb.admin("katana", "GET", "ratelimit")["buckets"]
            assert {k: v["count"] for k, v in buckets.items()} == {"demo***-key": 7, "benc***-key": 1}
            assert sb.admin("katana", "GET", "stats")["requests"]["rate_limited"] == 2
            time.sleep(max(0.0, reset - time.time()) + 0.05)
            again = a.get("tax_rates")
            assert again.status_code == 200 and again.headers["X-Ratelimit-Remaining"] == "4"
        finally:
            a.close()
            b.close()


def test_rate_limit_is_exact_under_concurrency(katana: Katana) -> None:
    from concurrent.futures import ThreadPoolExecutor

    katana.admin("POST", "faults", {"rate_limit": "40/60"})
    sessions = [Katana(katana.sb) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: sessions[i % 8].get("tax_rates").status_code, range(64)))
    finally:
        for s in sessions:
            s.close()
    assert (codes.count(200), codes.count(429)) == (40, 24)


def test_latency_and_slow_pages_are_injected(katana: Katana) -> None:
    katana.admin("POST", "faults", {"latency_ms": 150, "slow_page_probability": 1.0, "slow_page_ms": 250})
    started = time.perf_counter()
    assert katana.get("tax_rates").status_code == 200
    assert time.perf_counter() - started >= 0.4
    started = time.perf_counter()
    katana.admin("GET", "stats")
    assert time.perf_counter() - started < 0.15  # admin is exempt


def test_help_explains_the_katana_options() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    for flag in (
        "--katana-api-keys",
        "--katana-rate",
        "--katana-reset-seconds",
        "--katana-numbers-as-strings",
        "--katana-random-429",
        "--katana-random-500",
        "--katana-latency-ms",
        "--katana-clock",
        "--products",
        "--customers",
        "--orders",
        "--variants-per-product",
    ):
        assert flag in out, flag
