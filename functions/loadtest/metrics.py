"""What a run measured, computed from its records alone (pure functions, no I/O).

Definitions (docs/load-testing.md explains each figure):
- time to first worker: from the first arrival until a sample shows a ready worker (0 if one
  was already ready); the samples are a second apart, so it is exact to about a second.
- scale-out lag: from the first sample whose backlog (queued + in flight) exceeds one pod's target
  to the first sample whose ready replicas reach the most replicas desired while the backlog
  stayed above that target (the peak ready count when the desired count is not known).
- drain time: from the last accepted submission to the last finish (both server timestamps).
- replica-seconds: ready replicas integrated over the sampled time (each sample held until the
  next), the cost side of the run.
- lost: accepted, and not finished by the end of the drain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from functions.loadtest.records import Arrival, RequestRecord, Sample

QUANTILES = (50, 95, 99)


class Distribution(TypedDict):
    """Percentiles (QUANTILES), largest and mean of one figure; None when nothing was measured."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None
    count: int


class Rejection(TypedDict):
    """Invocations refused for one reason with one explanation (the API's problem detail)."""

    reason: str
    detail: str
    count: int


class Counts(TypedDict):
    """What happened to the invocations offered and the requests that carried them."""

    offered: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    rejections: list[Rejection]
    succeeded: int
    failed: int
    lost: int
    requests: int
    throttled_answers: int
    retried_requests: int


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: Iterable[float | None]) -> Distribution:
    present = [v for v in values if v is not None]
    p50, p95, p99 = (percentile(present, q) for q in QUANTILES)
    return {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "max": max(present) if present else None,
        "mean": sum(present) / len(present) if present else None,
        "count": len(present),
    }


def counts(arrivals: Sequence[Arrival], requests: Sequence[RequestRecord]) -> Counts:
    reasons: dict[str, int] = {}
    details: dict[tuple[str, str], int] = {}
    for a in arrivals:
        if a.outcome == "rejected":
            reasons[a.reason] = reasons.get(a.reason, 0) + 1
            details[a.reason, a.error] = details.get((a.reason, a.error), 0) + 1
    return {
        "offered": len(arrivals),
        "accepted": sum(a.outcome == "accepted" for a in arrivals),
        "rejected": sum(a.outcome == "rejected" for a in arrivals),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "rejections": [
            {"reason": reason, "detail": detail, "count": n}
            for (reason, detail), n in sorted(details.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "succeeded": sum(a.status == "succeeded" for a in arrivals),
        "failed": sum(a.status == "failed" for a in arrivals),
        "lost": sum(a.outcome == "accepted" and a.status == "lost" for a in arrivals),
        "requests": len(requests),
        "throttled_answers": sum(r.status in (429, 503) for r in requests),
        "retried_requests": len({r.request for r in requests if r.attempt > 1}),
    }


def client_errors(counted: Counts) -> int:
    """Invocations the API refused as invalid (a 4xx other than 429): the run did not offer
    what it was asked to, whatever else it measured."""
    return sum(
        n
        for reason, n in counted["rejected_by_reason"].items()
        if reason.startswith("http-4") and reason != "http-429"
    )


def time_to_first_worker(samples: Sequence[Sample], first_arrival: float) -> float | None:
    known = [s for s in samples if s.replicas is not None]
    before = [s for s in known if s.t <= first_arrival]
    if before and (before[-1].replicas or 0) >= 1:
        return 0.0
    for s in known:
        if s.t > first_arrival and (s.replicas or 0) >= 1:
            return s.t - first_arrival
    return None


@dataclass(frozen=True)
class ScaleOut:
    backlog_over_target_t: float  # when the backlog first exceeded one pod's target
    target_replicas: int  # the replica count it had to reach
    reached_t: float | None  # when ready replicas reached it (None: never)

    @property
    def lag_s(self) -> float | None:
        return None if self.reached_t is None else self.reached_t - self.backlog_over_target_t


def scale_out(samples: Sequence[Sample], pod_target: float) -> ScaleOut | None:
    known = [s for s in samples if s.backlog is not None and s.replicas is not None]
    start = next((i for i, s in enumerate(known) if (s.backlog or 0) > pod_target), None)
    if start is None:
        return None
    episode: list[Sample] = []
    for s in known[start:]:
        if (s.backlog or 0) <= pod_target:
            break
        episode.append(s)
    desired = [s.desired for s in episode if s.desired is not None]
    after = known[start:]
    target = max(desired) if desired else max(s.replicas or 0 for s in after)
    reached = next((s.t for s in after if (s.replicas or 0) >= target), None)
    return ScaleOut(known[start].t, target, reached)


def replica_seconds(samples: Sequence[Sample]) -> float | None:
    known = [s for s in samples if s.replicas is not None]
    if not known:
        return None
    return sum((b.t - a.t) * (a.replicas or 0) for a, b in zip(known, known[1:], strict=False))


def peak(samples: Sequence[Sample], field: Callable[[Sample], int | None]) -> int | None:
    values = [v for v in map(field, samples) if v is not None]
    return max(values) if values else None


def drain_time(arrivals: Sequence[Arrival]) -> float | None:
    accepted = [a for a in arrivals if a.outcome == "accepted"]
    submitted = [a.submitted_t for a in accepted if a.submitted_t is not None]
    finished = [a.finished_t for a in accepted if a.finished_t is not None]
    if not submitted or not finished:
        return None
    return max(0.0, max(finished) - max(submitted))


def last(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def first(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
