"""Benchmarks (performance); run ``python bench/run.py``. Not part of the tests."""
