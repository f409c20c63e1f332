"""Luca Koza simulator (placeholder until the full simulator lands)."""

from __future__ import annotations

import argparse

from flask import Flask, jsonify, request

from sandbox.server import WSGIApp, reset_connection


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("luca")


def build_app(args: argparse.Namespace) -> WSGIApp:
    app = Flask("luca-sim")

    @app.get("/_admin/state")
    def state():  # type: ignore[no-untyped-def]
        return jsonify({"simulator": "luca"})

    @app.post("/_admin/reset-me")
    def reset_me():  # type: ignore[no-untyped-def]
        reset_connection(request.environ)
        return ""

    return app
