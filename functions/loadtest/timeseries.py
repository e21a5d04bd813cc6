"""Per-interval rates and latency percentiles: what the charts draw and timeseries.csv holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from functions.loadtest.metrics import QUANTILES, percentile
from functions.loadtest.records import Arrival, RequestRecord

MAX_BUCKETS = 150


@dataclass(slots=True)
class Bucket:
    t: float  # start of the interval, seconds from the start of the run
    width: float
    offered: float = 0.0  # per second, by scheduled time
    sent: float = 0.0  # per second, by first send
    accepted: float = 0.0  # per second, by answer time
    rejected: float = 0.0
    throttled: float = 0.0  # 429/503 answers per second (retried or not)
    started: float = 0.0  # per second, by the record's started_at
    finished: float = 0.0
    submit_p50: float | None = None  # HTTP submit latency of requests sent in the interval
    submit_p95: float | None = None
    submit_p99: float | None = None
    e2e_p50: float | None = None  # end to end of invocations first sent in the interval
    e2e_p95: float | None = None
    e2e_p99: float | None = None
    _submit: list[float] = field(default_factory=list, repr=False)
    _e2e: list[float] = field(default_factory=list, repr=False)


def bucket_width(span: float) -> float:
    """One second, or wider so a long run keeps at most MAX_BUCKETS intervals."""
    return float(max(1, math.ceil(span / MAX_BUCKETS)))


def timeseries(
    arrivals: Sequence[Arrival], requests: Sequence[RequestRecord], end: float
) -> list[Bucket]:
    width = bucket_width(end)
    buckets = [Bucket(t=i * width, width=width) for i in range(max(1, math.ceil(end / width)))]

    def at(t: float | None) -> Bucket | None:
        if t is None or t < 0:
            return None
        return buckets[min(int(t // width), len(buckets) - 1)]

    def bump(t: float | None, name: str) -> None:
        bucket = at(t)
        if bucket is not None:
            setattr(bucket, name, getattr(bucket, name) + 1 / width)

    for a in arrivals:
        bump(a.scheduled_t, "offered")
        bump(a.first_sent_t, "sent")
        if a.outcome in ("accepted", "rejected"):
            bump(a.answered_t, a.outcome)
        bump(a.started_t, "started")
        bump(a.finished_t, "finished")
        e2e, bucket = a.end_to_end_s, at(a.first_sent_t)
        if e2e is not None and bucket is not None:
            bucket._e2e.append(e2e)
    for r in requests:
        if r.status in (429, 503):
            bump(r.answered_t, "throttled")
        bucket = at(r.sent_t)
        if bucket is not None and r.status is not None:
            bucket._submit.append(r.answered_t - r.sent_t)
    for b in buckets:
        b.submit_p50, b.submit_p95, b.submit_p99 = (percentile(b._submit, q) for q in QUANTILES)
        b.e2e_p50, b.e2e_p95, b.e2e_p99 = (percentile(b._e2e, q) for q in QUANTILES)
    return buckets
