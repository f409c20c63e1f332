"""Katana MRP simulator (placeholder until the full simulator lands)."""

from __future__ import annotations

import argparse

from flask import Flask, jsonify

from sandbox.server import WSGIApp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("katana")
    group.add_argument("--seed", type=int, default=42, help="data generator seed (default 42)")


def build_app(args: argparse.Namespace) -> WSGIApp:
    app = Flask("katana-sim")

    @app.get("/_admin/stats")
    def stats():  # type: ignore[no-untyped-def]
        return jsonify({"simulator": "katana"})

    return app
