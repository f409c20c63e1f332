"""Katana MRP simulator: the public ``/v1`` API subset a Katana -> Luca sync reads, with faults.

``add_arguments`` and ``build_app`` are the contract with ``python -m sandbox``; the pieces live
in small modules: ``data`` (seeded generator), ``state`` (store and mutations), ``query``
(filters and pagination), ``ratelimit``, ``faults``, ``encoding`` (wire number style), ``api`` and
``admin`` (routes), ``simulator`` (root object), ``app`` (request pipeline).
"""

from __future__ import annotations

import argparse
from datetime import datetime

from sandbox.katana.app import create_app
from sandbox.katana.data import GenOptions, parse_range
from sandbox.katana.encoding import parse_iso
from sandbox.katana.faults import Faults
from sandbox.katana.ratelimit import parse_rate
from sandbox.katana.simulator import Config, Simulator
from sandbox.server import WSGIApp


def _rate(text: str) -> str:
    try:
        parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _range(text: str) -> tuple[int, int]:
    try:
        return parse_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("want a probability between 0 and 1")
    return value


def _instant(text: str) -> datetime:
    value = parse_iso(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("katana", "Katana MRP simulator (API under /v1, admin under /_admin)")
    group.add_argument(
        "--katana-api-keys",
        default="demo-katana-key,bench-katana-key",
        help="comma-separated valid Bearer API keys (default demo-katana-key,bench-katana-key)",
    )
    group.add_argument(
        "--katana-rate",
        type=_rate,
        default="60/60",
        help="rate limit per API key as REQUESTS/SECONDS, a fixed window from the key's first "
        "request (default 60/60, Katana's documented quota)",
    )
    group.add_argument(
        "--katana-reset-seconds",
        action="store_true",
        help="send X-Ratelimit-Reset in epoch seconds instead of the documented epoch milliseconds",
    )
    group.add_argument(
        "--katana-numbers-as-strings",
        action="store_true",
        help="fuzz: every numeric field except ids in /v1 responses becomes a string",
    )
    group.add_argument(
        "--katana-random-429",
        type=_probability,
        default=0.0,
        help="probability of a random 429 (Retry-After 1-2 s) on a /v1 request (default 0)",
    )
    group.add_argument(
        "--katana-random-500",
        type=_probability,
        default=0.0,
        help="probability of a random 500 on a /v1 request (default 0)",
    )
    group.add_argument(
        "--katana-latency-ms", type=int, default=0, help="added latency per /v1 request in ms (default 0)"
    )
    group.add_argument(
        "--katana-clock",
        type=_instant,
        default=None,
        help="start the simulator clock at this ISO-8601 instant (it then ticks in real time); "
        "default: real UTC now. Generated data is laid out relative to this clock's day",
    )
    group.add_argument(
        "--katana-webhook-retry-scale",
        type=_probability,
        default=1.0,
        help="multiply Katana's webhook retry waits (30 s, 2 min, 15 min) by this factor, e.g. "
        "0.001 for tests (default 1)",
    )
    group.add_argument("--seed", type=int, default=42, help="data generator seed (default 42)")
    group.add_argument(
        "--products",
        type=int,
        default=60,
        help="products + materials to generate, ~1 in 6 a material (default 60)",
    )
    group.add_argument("--customers", type=int, default=25, help="customers to generate (default 25)")
    group.add_argument(
        "--orders",
        type=int,
        default=40,
        help="sales orders to generate, at least 60%% DELIVERED (default 40)",
    )
    group.add_argument(
        "--variants-per-product",
        type=_range,
        default=(1, 6),
        metavar="MIN-MAX",
        help="variants per product/material, e.g. 1-1 for exact counts (default 1-6)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    lo, hi = args.variants_per_product
    return Config(
        api_keys=frozenset(k.strip() for k in args.katana_api_keys.split(",") if k.strip()),
        gen=GenOptions(
            seed=args.seed,
            products=args.products,
            customers=args.customers,
            orders=args.orders,
            variants_min=lo,
            variants_max=hi,
        ),
        faults=Faults(
            rate_limit=args.katana_rate,
            random_429=args.katana_random_429,
            random_500=args.katana_random_500,
            latency_ms=args.katana_latency_ms,
            numbers_as_strings=args.katana_numbers_as_strings,
            webhook_retry_scale=args.katana_webhook_retry_scale,
        ),
        reset_in_seconds=args.katana_reset_seconds,
        clock_start=args.katana_clock,
    )


def build_app(args: argparse.Namespace) -> WSGIApp:
    return create_app(Simulator(config_from_args(args)))
