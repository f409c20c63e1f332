"""Katana simulator internals: the generator, money rules, rate-limit windows, admin guard."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sandbox.katana import add_arguments, build_app
from sandbox.katana.data import GenOptions, generate, parse_range
from sandbox.katana.encoding import parse_iso, stringify_numbers
from sandbox.katana.ratelimit import RateLimiter

ANCHOR = datetime(2025, 6, 1, 15, 30, tzinfo=UTC)


def cents(value: Decimal) -> Decimal:
    """The simulator's documented rounding: to cents, half up."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_same_seed_and_day_give_identical_data() -> None:
    a = generate(GenOptions(seed=5), ANCHOR)
    b = generate(GenOptions(seed=5), ANCHOR.replace(hour=9))
    assert a == b
    assert generate(GenOptions(seed=6), ANCHOR) != a


def test_generator_scales_to_benchmark_size() -> None:
    # Its speed is a benchmark figure (bench/results.md), not a timed assertion here.
    data = generate(GenOptions(products=3000, customers=300, orders=600), ANCHOR)
    goods = [v for v in data.variants.values() if v["type"] != "service"]
    assert len(goods) >= 9000
    delivered = sum(so["status"] == "DELIVERED" for so in data.sales_orders.values())
    assert delivered >= 300


def test_one_variant_per_product_gives_exact_counts() -> None:
    data = generate(GenOptions(products=300, variants_min=1, variants_max=1), ANCHOR)
    goods = [v for v in data.variants.values() if v["type"] != "service"]
    assert len(goods) == 300 and all(v["config_attributes"] == [] for v in goods)


def test_ids_increase_with_creation_and_have_seven_or_eight_digits() -> None:
    data = generate(GenOptions(), ANCHOR)
    for records in (data.customers, data.sales_orders, data.locations, data.tax_rates):
        assert all(1_000_000 <= i < 100_000_000 for i in records)
    orders = sorted(data.sales_orders.values(), key=lambda o: o["id"])
    assert [o["created_at"] for o in orders] == sorted(o["created_at"] for o in orders)
    assert [o["order_no"] for o in orders] == [f"SO-{n}" for n in range(1, len(orders) + 1)]


def test_order_totals_follow_the_money_rules() -> None:
    data = generate(GenOptions(orders=200), ANCHOR)
    rates = {tid: Decimal(str(t["rate"])) for tid, t in data.tax_rates.items()}
    foreign = 0
    for so in data.sales_orders.values():
        net = tax = Decimal(0)
        for row in so["sales_order_rows"]:
            disc = Decimal(row["total_discount"] or 0)
            total = cents(Decimal(row["quantity"]) * Decimal(row["price_per_unit"]) - disc)
            assert Decimal(str(row["total"])) == total
            net += total
            tax += cents(total * rates[row["tax_rate_id"]] / 100)
        assert Decimal(str(so["total"])) == net + tax
        if so["currency"] != "TRY":
            foreign += 1
            conv = Decimal(str(so["conversion_rate"]))
            assert Decimal(str(so["total_in_base_currency"])) == cents(Decimal(str(so["total"])) * conv)
            assert so["conversion_date"] is not None
    assert foreign > 0


def test_parse_range_and_iso() -> None:
    assert parse_range("1-6") == (1, 6) and parse_range("3") == (3, 3)
    with pytest.raises(ValueError):
        parse_range("4-2")
    z = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_iso("2024-01-02T03:04:05Z") == z
    assert parse_iso("2024-01-02T06:04:05+03:00") == z
    assert parse_iso("2024-01-02T03:04:05") == z
    assert parse_iso("2024-01-02T03:04:05.000Z") == z
    assert parse_iso("2024-01-02") == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_iso("yesterday") is None


def test_stringify_numbers_leaves_ids_and_bools() -> None:
    obj = {"id": 1, "customer_id": 2, "rate": 20, "total": 1.5, "ok": True, "rows": [{"quantity": 3}]}
    assert stringify_numbers(obj) == {
        "id": 1,
        "customer_id": 2,
        "rate": "20",
        "total": "1.5",
        "ok": True,
        "rows": [{"quantity": "3"}],
    }


def test_rate_limiter_fixed_window_counts_rejections() -> None:
    limiter = RateLimiter(2, 10)
    assert [limiter.hit("k", now=100.0).allowed for _ in range(3)] == [True, True, False]
    over = limiter.hit("k", now=103.2)
    assert not over.allowed and over.retry_after == 7 and over.reset_at == 110.0
    assert limiter.hit("other", now=103.2).remaining == 1
    fresh = limiter.hit("k", now=110.0)
    assert fresh.allowed and fresh.remaining == 1 and fresh.reset_at == 120.0


def test_admin_refuses_non_loopback_clients() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    app = build_app(parser.parse_args(["--products", "5", "--orders", "2"]))
    client = app.test_client()  # type: ignore[attr-defined]
    assert client.get("/_admin/stats", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/_admin/stats", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/_admin/stats", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
