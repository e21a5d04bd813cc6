"""summary.json: the run's figures in one flat-ish JSON object (keys documented in
docs/load-testing.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from functions.loadtest import metrics
from functions.loadtest.metrics import Counts, Distribution
from functions.loadtest.records import Arrival, RequestRecord, Sample


class DevScaler(TypedDict):
    """`spillway dev`'s local scaler, as it published itself in Redis during the run."""

    fast: bool
    fast_factor: float
    max: int | None


class RunDescription(TypedDict):
    """What was run: `run` in summary.json."""

    id: str
    url: str
    function: str
    payload: Any
    profile: dict[str, Any]
    batch: int
    started_at: str
    duration_s: float
    drain_timeout_s: float
    settle_s: float


class ScaleOutFacts(TypedDict):
    backlog_over_target_at_s: float
    target_replicas: int
    reached_at_s: float | None


class ProducerFacts(TypedDict):
    max_in_flight: int
    peak_in_flight_requests: int
    slot_waits: int
    max_send_delay_s: float


class Summary(Counts):
    """summary.json, as every run writes it."""

    peak_replicas: int | None
    peak_desired_replicas: int | None
    time_to_first_worker_s: float | None
    time_to_first_start_s: float | None
    scale_out_lag_s: float | None
    scale_out: ScaleOutFacts | None
    drain_time_s: float | None
    drained_at_s: float | None
    replica_seconds: float | None
    peak_queue_depth: int | None
    peak_in_flight: int | None
    arrival_span_s: float
    offered_rate_per_s: float | None
    accepted_rate_per_s: float | None
    queue_wait_p50_s: float | None
    queue_wait_p95_s: float | None
    queue_wait_p99_s: float | None
    submit_latency_s: Distribution
    queue_wait_s: Distribution
    run_s: Distribution
    end_to_end_s: Distribution
    producer: ProducerFacts
    pod_target: float
    replicas_source: str | None
    dev_scaler: DevScaler | None
    run: RunDescription
    warnings: list[str]


class ComparedSummary(Summary):
    """summary.json of a run with --compare-sim: `simulator` is simcompare.compare's object."""

    simulator: dict[str, Any]


@dataclass
class RunFacts:
    """What the summary needs besides the records."""

    config: RunDescription
    pod_target: float
    max_in_flight: int
    peak_in_flight_requests: int
    slot_waits: int
    max_send_delay_s: float
    replicas_source: str | None
    redis_sampled: bool = True  # a Redis source answered: queue, in-flight, the dev scaler
    dev_scaler: DevScaler | None = None
    sampler_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def summarize(
    arrivals: Sequence[Arrival],
    requests: Sequence[RequestRecord],
    samples: Sequence[Sample],
    facts: RunFacts,
) -> Summary:
    counted = metrics.counts(arrivals, requests)
    first_arrival = arrivals[0].scheduled_t if arrivals else 0.0
    span = (arrivals[-1].scheduled_t - first_arrival) if arrivals else 0.0
    accepted_at = [a.answered_t for a in arrivals if a.outcome == "accepted"]
    started = metrics.first(a.started_t for a in arrivals)
    first_sent = metrics.first(a.first_sent_t for a in arrivals if a.outcome == "accepted")
    lag = metrics.scale_out(samples, facts.pod_target)
    queue_wait = metrics.distribution(a.queue_wait_s for a in arrivals)
    summary: Summary = {
        **counted,
        "peak_replicas": metrics.peak(samples, lambda s: s.replicas),
        "peak_desired_replicas": metrics.peak(samples, lambda s: s.desired),
        "time_to_first_worker_s": metrics.time_to_first_worker(samples, first_arrival),
        "time_to_first_start_s": (
            None if started is None or first_sent is None else max(0.0, started - first_sent)
        ),
        "scale_out_lag_s": lag.lag_s if lag else None,
        "scale_out": None
        if lag is None
        else {
            "backlog_over_target_at_s": lag.backlog_over_target_t,
            "target_replicas": lag.target_replicas,
            "reached_at_s": lag.reached_t,
        },
        "drain_time_s": metrics.drain_time(arrivals),
        "drained_at_s": metrics.last(a.finished_t for a in arrivals if a.outcome == "accepted"),
        "replica_seconds": metrics.replica_seconds(samples),
        "peak_queue_depth": metrics.peak(samples, lambda s: s.queue_depth),
        "peak_in_flight": metrics.peak(samples, lambda s: s.in_flight),
        "arrival_span_s": span,
        "offered_rate_per_s": len(arrivals) / span if span > 0 else None,
        "accepted_rate_per_s": _rate(accepted_at),
        "queue_wait_p50_s": queue_wait["p50"],
        "queue_wait_p95_s": queue_wait["p95"],
        "queue_wait_p99_s": queue_wait["p99"],
        "submit_latency_s": metrics.distribution(a.submit_latency_s for a in arrivals),
        "queue_wait_s": queue_wait,
        "run_s": metrics.distribution(a.run_s for a in arrivals),
        "end_to_end_s": metrics.distribution(a.end_to_end_s for a in arrivals),
        "producer": {
            "max_in_flight": facts.max_in_flight,
            "peak_in_flight_requests": facts.peak_in_flight_requests,
            "slot_waits": facts.slot_waits,
            "max_send_delay_s": facts.max_send_delay_s,
        },
        "pod_target": facts.pod_target,
        "replicas_source": facts.replicas_source,
        "dev_scaler": facts.dev_scaler,
        "run": facts.config,
        "warnings": [],
    }
    summary["warnings"] = _warnings(summary, facts)
    return summary


def _rate(times: Sequence[float | None]) -> float | None:
    present = sorted(t for t in times if t is not None)
    if len(present) < 2 or present[-1] <= present[0]:
        return None
    return (len(present) - 1) / (present[-1] - present[0])


def _warnings(summary: Summary, facts: RunFacts) -> list[str]:
    warnings = list(facts.notes)
    for rejection in summary["rejections"]:
        warnings.append(
            f"{rejection['count']} rejected, {rejection['reason']}: "
            f"{rejection['detail'] or 'no detail'}"
        )
    if summary["lost"]:
        warnings.append(f"{summary['lost']} accepted invocations never finished (lost)")
    if facts.slot_waits:
        warnings.append(
            f"the in-flight bound ({facts.max_in_flight}) was reached: {facts.slot_waits} "
            f"requests waited for a slot, the latest sent {facts.max_send_delay_s:.2f} s late; "
            "raise --max-in-flight to keep the run open-loop"
        )
    if facts.replicas_source is None:
        where = (
            "no local scaler state in Redis (spillway dev)"
            if facts.redis_sampled
            else "no Redis to read spillway dev's scaler state from"
        )
        warnings.append(
            f"no replica data: {where} and no --kube-deployment, so replica figures are empty"
        )
    warnings += facts.sampler_errors
    return warnings
