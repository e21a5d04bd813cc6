"""The comparison apps the benchmarks run next to Spillway (baseline, ceiling, floor, Celery)."""
