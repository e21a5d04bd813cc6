"""Spillway's benchmark suite: `bench/run` (or `python -m bench`). See docs/benchmarks.md."""
