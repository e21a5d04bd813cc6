"""Counters a simulation keeps, and the JSON summary it reports."""

from __future__ import annotations

import bisect
import math
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 100]) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class Stats:
    def __init__(self, arrivals: list[float]) -> None:
        self.arrivals = arrivals
        self.waits: list[float] = []
        self.last_done: float | None = None
        self.first_ready: float | None = None
        self.max_queue = 0
        self.max_replicas = 0
        self.requeued = 0
        self.pod_seconds = 0.0
        self._pods_since = 0.0
        self._sampled = 0  # arrivals already counted in a timeline row

    def worker_ready(self, t: float) -> None:
        if self.first_ready is None and self.arrivals and t >= self.arrivals[0]:
            self.first_ready = t

    def pods_changed(self, t: float, alive: int) -> None:
        """Call just before the number of live worker pods changes (and at the end)."""
        self.pod_seconds += alive * (t - self._pods_since)
        self._pods_since = t

    def take_arrivals(self, t: float) -> int:
        upto = bisect.bisect_right(self.arrivals, t)
        count, self._sampled = upto - self._sampled, upto
        return count

    def summary(self, end: float, extra: dict[str, Any]) -> dict[str, Any]:
        waits = sorted(self.waits)
        first = self.arrivals[0] if self.arrivals else None
        ttfw = None
        if first is not None and self.first_ready is not None:
            ttfw = self.first_ready - first
        elif first is not None and waits and waits[0] == 0.0:
            ttfw = 0.0  # a worker was already up
        out: dict[str, Any] = {
            "tasks": len(self.arrivals),
            "completed": len(waits),
            "time_to_first_worker_s": _round(ttfw),
            "queue_wait_p50_s": _round(percentile(waits, 50)),
            "queue_wait_p95_s": _round(percentile(waits, 95)),
            "queue_wait_p99_s": _round(percentile(waits, 99)),
            "queue_wait_max_s": _round(waits[-1] if waits else None),
            "queue_wait_mean_s": _round(sum(waits) / len(waits) if waits else None),
            "max_queue_depth": self.max_queue,
            "max_replicas": self.max_replicas,
            "pod_seconds": round(self.pod_seconds, 1),
            "drained_at_s": _round(self.last_done),
            "requeued_tasks": self.requeued,
        }
        out.update(extra)
        out["end_s"] = round(end, 3)
        return out
