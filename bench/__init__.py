"""Benchmarks for issue 6 (performance); run ``python bench/run.py``. Not part of the tests."""
