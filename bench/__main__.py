"""``python -m bench [--quick] [--only NAME ...] [--write FILE]``: run the scenarios, print the table."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import psutil

from bench import infra
from bench.scenarios import BIG, ORDER, SCENARIOS, Ctx, big
from bench.table import Row, cells, markdown

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every context manager stops what it started.
    raise KeyboardInterrupt


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs (`nproc`), {mem:.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def write_results(path: Path, command: str, started: str, header: str, rows: list[Row]) -> None:
    block = f"{BEGIN}\n{header}\n\nCommand: `{command}` · run {started}\n\n{markdown(rows)}\n{END}"
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under a minute")
    parser.add_argument("--only", nargs="+", choices=ORDER, metavar="NAME", help=f"scenarios: {', '.join(ORDER)}")
    parser.add_argument("--write", type=Path, help="replace the table block of this Markdown file (results.md)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wanted = [name for name in ORDER if not args.only or name in args.only]
    header = machine()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(header, flush=True)
    rows: list[Row] = []

    def emit(row: Row) -> None:
        rows.append(row)
        print(" | ".join(cells(row)), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, infra.private_redis() as redis_url:
        ctx = Ctx(redis_url, Path(tmp), args.quick, emit)
        big_done = False
        for name in wanted:
            if name in BIG:
                if not big_done:
                    big(ctx, {n for n in wanted if n in BIG})
                    big_done = True
                continue
            SCENARIOS[name](ctx)
    print()
    print(markdown(rows))
    if args.write:
        command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
        write_results(args.write, command.strip(), started, header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
