"""Profile scenario 5 in-process (``python -m bench.profile [--products N]``): a cold PRODUCT sync
at zero latency with cProfile in the coordinating thread and in every pool thread, merged.

In-process because a profiler cannot follow RQ's fork; the engine code run is the same."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from bench import infra
from jobs.run import run_sync
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--resync", action="store_true", help="profile an unchanged second run (scenario 3)")
    parser.add_argument("--callers", help="also print the callers of functions matching this pattern")
    args = parser.parse_args()
    profiles: list[cProfile.Profile] = []

    def per_thread(*_: Any) -> None:
        # threading.setprofile runs this first thing in each new thread: swap in a real profiler.
        prof = cProfile.Profile(time.thread_time)  # CPU, not waiting for the GIL
        profiles.append(prof)
        prof.enable()

    with (
        tempfile.TemporaryDirectory() as tmp,
        infra.private_redis() as url,
        infra.sandbox("--products", str(args.products), "--variants-per-product", "1-1") as sb,
    ):
        settings = Settings(
            redis_url=url, key_prefix="prof", katana_base_url=f"{sb.katana_url}/v1",
            luca_base_url=f"{sb.luca_url}/Yetki", history_db=str(Path(tmp) / "h.db"), katana_api_key=infra.KEYS.take(),
        )  # fmt: skip
        conn = redis.Redis.from_url(url)
        if args.resync:
            run_sync(RunRequest("PRODUCT", mode="full"), settings=settings, conn=conn, run_id=uuid.uuid4().hex)
            settings = settings.with_overrides(katana_api_key=infra.KEYS.take())
        main_prof = cProfile.Profile(time.thread_time)  # CPU, not waiting for the GIL
        profiles.append(main_prof)
        threading.setprofile(per_thread)
        cpu0, t0 = time.process_time(), time.perf_counter()
        main_prof.enable()
        summary = run_sync(RunRequest("PRODUCT", mode="full"), settings=settings, conn=conn, run_id=uuid.uuid4().hex)
        main_prof.disable()
        threading.setprofile(None)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        conn.close()
    items = summary["total"]
    print(f"{items} items in {wall:.2f} s; process CPU {cpu:.2f} s = {cpu * 1000 / items:.2f} ms/item (profiled)")
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for prof in profiles[1:]:
        try:
            stats.add(prof)
        except TypeError:  # a thread that never ran a profiled call
            pass
    stats.sort_stats(args.sort).print_stats(args.top)
    if args.callers:
        stats.print_callers(args.callers)
    print(out.getvalue())


if __name__ == "__main__":
    main()
