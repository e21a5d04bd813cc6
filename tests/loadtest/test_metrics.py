"""Figures computed from hand-made records: every definition in functions/loadtest/metrics.py."""

from __future__ import annotations

from typing import cast

import pytest

from functions.loadtest import metrics
from functions.loadtest.producer import _retry_after
from functions.loadtest.records import Arrival, RequestRecord, Sample
from functions.loadtest.sources import parse_metrics
from functions.loadtest.summary import RunDescription, RunFacts, summarize
from functions.loadtest.timeseries import timeseries


def arrival(i: int, **fields: object) -> Arrival:
    a = Arrival(index=i, request=i, scheduled_t=float(i), first_sent_t=float(i))
    for name, value in fields.items():
        setattr(a, name, value)
    return a


def done(
    i: int, submitted: float, started: float, finished: float, status: str = "succeeded"
) -> Arrival:
    return arrival(
        i,
        outcome="accepted",
        status=status,
        answered_t=submitted + 0.01,
        submit_latency_s=0.01,
        submitted_t=submitted,
        started_t=started,
        finished_t=finished,
    )


def samples(rows: list[tuple[float, int, int, int | None, int | None]]) -> list[Sample]:
    return [
        Sample(t=t, queue_depth=q, in_flight=f, replicas=r, desired=d) for t, q, f, r, d in rows
    ]


def test_lost_counts_only_accepted_invocations_that_never_finished() -> None:
    runs = [
        done(0, 0.0, 1.0, 2.0),
        done(1, 0.0, 1.0, 3.0, status="failed"),
        arrival(2, outcome="accepted", status="lost"),
        arrival(3, outcome="rejected", reason="backlog-429"),
        arrival(4, outcome="rejected", reason="backlog-429"),
        arrival(5, outcome="rejected", reason="http-422"),
    ]
    requests = [
        RequestRecord(3, 1, 1, 3.0, 3.1, 429, 2.0),
        RequestRecord(3, 2, 1, 5.1, 5.2, 429, 2.0),
        RequestRecord(4, 1, 1, 4.0, 4.1, 429, 2.0),
    ]
    counted = metrics.counts(runs, requests)
    assert counted["offered"] == 6
    assert counted["accepted"] == 3 and counted["rejected"] == 3
    assert counted["succeeded"] == 1 and counted["failed"] == 1 and counted["lost"] == 1
    assert counted["rejected_by_reason"] == {"backlog-429": 2, "http-422": 1}
    assert counted["throttled_answers"] == 3 and counted["retried_requests"] == 1


def test_per_invocation_latencies() -> None:
    a = done(0, submitted=0.2, started=1.7, finished=2.2)
    assert a.queue_wait_s == pytest.approx(1.5)
    assert a.run_s == pytest.approx(0.5)
    assert a.end_to_end_s == pytest.approx(2.2)  # from the first send at t=0
    assert arrival(1).queue_wait_s is None


def test_time_to_first_worker_from_zero_and_when_warm() -> None:
    cold = samples([(0.0, 0, 0, 0, 0), (1.0, 5, 0, 0, 1), (2.0, 5, 0, 0, 1), (3.0, 3, 2, 1, 1)])
    assert metrics.time_to_first_worker(cold, first_arrival=0.5) == pytest.approx(2.5)
    warm = samples([(0.0, 0, 0, 1, 1), (1.0, 5, 0, 1, 1)])
    assert metrics.time_to_first_worker(warm, first_arrival=0.5) == 0.0
    assert metrics.time_to_first_worker(samples([(0.0, 0, 0, None, None)]), 0.0) is None


def test_scale_out_lag_runs_to_the_peak_desired_count_of_the_episode() -> None:
    rows = samples(
        [
            (0.0, 0, 0, 0, 0),
            (1.0, 2, 0, 0, 1),  # backlog 2: not above a target of 2
            (2.0, 10, 0, 0, 1),  # above: the lag starts here
            (3.0, 8, 2, 1, 4),
            (4.0, 6, 2, 2, 5),
            (5.0, 3, 4, 4, 5),
            (6.0, 0, 2, 5, 5),  # ready reaches the peak desired (5)
            (7.0, 0, 0, 5, 2),
        ]
    )
    lag = metrics.scale_out(rows, pod_target=2)
    assert lag is not None
    assert lag.backlog_over_target_t == 2.0 and lag.target_replicas == 5
    assert lag.reached_t == 6.0 and lag.lag_s == pytest.approx(4.0)


def test_scale_out_lag_without_desired_uses_peak_ready_and_none_when_never_loaded() -> None:
    rows = samples([(0.0, 9, 0, 1, None), (1.0, 9, 2, 2, None), (2.0, 1, 2, 3, None)])
    lag = metrics.scale_out(rows, pod_target=2)
    assert lag is not None and lag.target_replicas == 3 and lag.lag_s == pytest.approx(2.0)
    assert metrics.scale_out(samples([(0.0, 1, 1, 1, 1)]), pod_target=2) is None
    never = metrics.scale_out(samples([(0.0, 9, 0, 0, 3), (1.0, 9, 0, 1, 3)]), pod_target=2)
    assert never is not None and never.reached_t is None and never.lag_s is None


def test_drain_time_is_last_submit_to_last_finish() -> None:
    runs = [done(0, 0.0, 0.5, 1.0), done(1, 2.0, 6.0, 9.5), done(2, 1.0, 3.0, 4.0)]
    assert metrics.drain_time(runs) == pytest.approx(7.5)
    assert metrics.drain_time([arrival(0, outcome="accepted", submitted_t=1.0)]) is None


def test_replica_seconds_holds_each_sample_until_the_next() -> None:
    rows = samples([(0.0, 0, 0, 0, 0), (1.0, 0, 0, 2, 2), (3.0, 0, 0, 4, 4), (3.5, 0, 0, 1, 1)])
    assert metrics.replica_seconds(rows) == pytest.approx(0 * 1 + 2 * 2 + 4 * 0.5)
    assert metrics.replica_seconds(samples([(0.0, 0, 0, None, None)])) is None


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert metrics.percentile(values, 50) == pytest.approx(2.5)
    assert metrics.percentile(values, 95) == pytest.approx(3.85)
    assert metrics.percentile([], 50) is None
    assert metrics.distribution([None, 2.0, 4.0])["mean"] == pytest.approx(3.0)


def test_summary_has_the_required_keys_and_warns_about_lost_and_slot_waits() -> None:
    runs = [done(0, 0.1, 0.5, 1.0), arrival(1, outcome="accepted", status="lost")]
    rows = samples([(0.0, 0, 0, 0, 0), (1.0, 3, 0, 1, 2), (2.0, 0, 1, 2, 2)])
    facts = RunFacts(
        config=cast(RunDescription, {}), pod_target=2, max_in_flight=8, peak_in_flight_requests=8,
        slot_waits=3, max_send_delay_s=0.4, replicas_source="spillway dev (local scaler)",
    )  # fmt: skip
    summary = summarize(runs, [], rows, facts)
    for key in ("accepted", "rejected", "succeeded", "failed", "lost", "peak_replicas",
                "time_to_first_worker_s", "drain_time_s"):  # fmt: skip
        assert key in summary
    assert summary["lost"] == 1 and summary["peak_replicas"] == 2
    assert summary["time_to_first_worker_s"] == pytest.approx(1.0)
    assert summary["scale_out_lag_s"] == pytest.approx(1.0)
    assert any("lost" in w for w in summary["warnings"])
    assert any("in-flight bound (8)" in w for w in summary["warnings"])


def test_timeseries_rates_and_latency_by_interval() -> None:
    runs = [done(i, i * 0.5, i * 0.5 + 1, i * 0.5 + 2) for i in range(4)]
    for a in runs:
        assert a.submitted_t is not None
        a.scheduled_t = a.first_sent_t = a.submitted_t
    requests = [RequestRecord(i, 1, 1, i * 0.5, i * 0.5 + 0.1, 202) for i in range(4)]
    buckets = timeseries(runs, requests, end=4.0)
    assert [b.offered for b in buckets] == [2, 2, 0, 0]
    assert [b.finished for b in buckets] == [0, 0, 2, 2]
    assert buckets[0].submit_p50 == pytest.approx(0.1)
    assert buckets[0].e2e_p99 == pytest.approx(2.0) and buckets[2].e2e_p50 is None


def test_parse_metrics_picks_the_function_and_queue() -> None:
    text = "\n".join(
        [
            "# TYPE spillway_invocations_submitted_total counter",
            'spillway_invocations_submitted_total{function="sleep"} 7.0',
            'spillway_invocations_submitted_total{function="echo"} 3.0',
            "# TYPE spillway_invocations_rejected_total counter",
            'spillway_invocations_rejected_total{function="sleep",reason="backlog"} 2.0',
            'spillway_invocations_rejected_total{function="sleep",reason="invalid"} 1.0',
            "# TYPE spillway_queue_depth gauge",
            'spillway_queue_depth{queue="spillway"} 5.0',
            'spillway_queue_depth{queue="other"} 9.0',
            "# TYPE spillway_in_flight gauge",
            "spillway_in_flight 2.0",
            "",
        ]
    )
    assert parse_metrics(text, "sleep", "spillway") == {
        "submitted": 7.0, "rejected": 3.0, "queue_depth": 5.0, "in_flight": 2.0,
    }  # fmt: skip


def test_retry_after_seconds_and_http_date() -> None:
    import httpx

    assert _retry_after(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    assert _retry_after(httpx.Response(429)) is None
    past = _retry_after(
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert past == 0.0
