"""Benchmark harness (issue 6): the real service path against the simulators, one table row per
scenario with its ideal time and the ratio to it. ``python -m bench --help``."""
