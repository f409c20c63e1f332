"""``python -m sandbox``: run the Katana and Luca simulators on one threaded WSGI server."""

from __future__ import annotations

import argparse

from sandbox import katana, luca
from sandbox.server import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Katana MRP and Luca Koza simulators (loopback only) with fault injection and "
        "Turkish demo data. Prints 'SANDBOX READY katana=URL luca=URL' once listening.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--katana-port", type=int, default=5101, help="Katana port (default 5101; 0 = any)")
    parser.add_argument("--luca-port", type=int, default=5102, help="Luca port (default 5102; 0 = any)")
    parser.add_argument("--threads", type=int, default=64, help="server threads (default 64)")
    parser.add_argument("--log-level", default="warning", help="gunicorn log level (default warning)")
    katana.add_arguments(parser)
    luca.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    serve(
        lambda: [katana.build_app(args), luca.build_app(args)],
        host=args.host,
        ports=[args.katana_port, args.luca_port],
        names=["katana", "luca"],
        threads=args.threads,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
