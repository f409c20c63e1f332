"""What a run costs our own processes: peak RSS of the worker tree and CPU seconds, sampled by a
background thread (psutil) while the job runs."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_s(pids: Iterable[int]) -> float:
    """User + system seconds of each process tree, including reaped children.

    A work-horse that has exited and been waited for by its ``rq worker`` shows up in the
    parent's ``children_*`` times, so live descendants plus the parents' children totals count
    each forked job exactly once."""
    total = 0.0
    for pid in pids:
        for proc in _tree(pid):
            try:
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


class Sampler:
    """Every ``every_s``: the largest RSS of any single process in the worker trees.

    The forked work-horse is where a job's memory lives; summing the tree would count pages it
    shares with its parent twice."""

    def __init__(self, worker_pids: list[int], cpu_pids: list[int], every_s: float = 0.05) -> None:
        self.worker_pids = worker_pids
        self.cpu_pids = cpu_pids
        self.every_s = every_s
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._cpu0 = 0.0
        self.cpu_s = 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in self.worker_pids:
                for proc in _tree(pid):
                    try:
                        self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
                    except psutil.NoSuchProcess:
                        pass
            self._stop.wait(self.every_s)

    def __enter__(self) -> Sampler:
        self._cpu0 = tree_cpu_s(self.cpu_pids)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.cpu_s = tree_cpu_s(self.cpu_pids) - self._cpu0
