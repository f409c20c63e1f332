"""Faithful Katana MRP and Luca Koza simulators for tests, benchmarks and the demo.

Run both with ``python -m sandbox``; from tests use :func:`sandbox.testing.start_sandbox`.
"""
