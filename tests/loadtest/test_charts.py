"""The charts, read as a person would: what is drawn, where the legend is, where the axes start.

Each was looked at for a burst, a steady run and a spike train; these tests hold what looking
found wrong: series hidden under others, zero series left out of the legend, axes that do not
start at 0, a latency chart that is one point for a burst, an unmarked end of measurement.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from functions.loadtest import charts
from functions.loadtest.records import Arrival, RequestRecord, Sample
from functions.loadtest.simcompare import Prediction
from functions.loadtest.timeseries import timeseries


def _labels(ax: Axes) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def _legend_is_beside(ax: Axes) -> bool:
    """The legend's box starts right of the axes: it cannot cover the data."""
    legend = ax.get_legend()
    figure = ax.get_figure()
    assert legend is not None and isinstance(figure, Figure)
    figure.canvas.draw()
    box = legend.get_window_extent().transformed(ax.transAxes.inverted())
    return bool(box.x0 >= 1.0)


def _steady(rate: float = 2.0, seconds: int = 10) -> list[Arrival]:
    """Evenly spaced arrivals, all accepted and finished 1 s after they were sent."""
    arrivals = []
    for i in range(int(rate * seconds)):
        t = i / rate
        arrivals.append(
            Arrival(index=i, request=i, scheduled_t=t, first_sent_t=t, answered_t=t + 0.02,
                    submit_latency_s=0.02, outcome="accepted", status="succeeded",
                    submitted_t=t + 0.01, started_t=t + 0.01, finished_t=t + 1.01)
        )  # fmt: skip
    return arrivals


def _burst(count: int = 40) -> list[Arrival]:
    """Sent at once; started one after another, 0.5 s apart."""
    return [
        Arrival(index=i, request=i, scheduled_t=0.0, first_sent_t=0.0, answered_t=0.3,
                submit_latency_s=0.3, outcome="accepted", status="succeeded", submitted_t=0.2,
                started_t=2 + i * 0.5, finished_t=3 + i * 0.5)
        for i in range(count)
    ]  # fmt: skip


def test_rates_show_every_series_from_zero_with_offered_and_sent_both_visible() -> None:
    arrivals = _steady()
    requests = [RequestRecord(a.index, 1, 1, a.scheduled_t, a.scheduled_t + 0.02, 202)
                for a in arrivals]  # fmt: skip
    figure = charts.draw_rates(timeseries(arrivals, requests, 12.0))
    sending, outcome = figure.axes
    assert _labels(sending) == ["offered", "sent"]
    # offered is an area (a collection), sent a line over it: equal values, both visible.
    assert sending.collections and [line.get_label() for line in sending.lines][-1] == "sent"
    assert _labels(outcome) == ["accepted", "rejected (none)", "throttled (none)", "finished"]
    for ax in (sending, outcome):
        assert ax.get_ylim()[0] == 0  # a flat 2/s reads as flat, not as noise
        assert _legend_is_beside(ax)


def test_queue_keeps_the_redis_series_visible_under_the_api_gauge() -> None:
    samples = [Sample(t=float(t), queue_depth=q, in_flight=1, api_queue_depth=float(q))
               for t, q in enumerate([0, 40, 40, 20, 0])]  # fmt: skip
    (ax,) = charts.draw_queue(samples).axes
    lines = {line.get_label(): line for line in ax.lines}
    redis, gauge = lines["queued (Redis)"], lines["queued (API /metrics)"]
    assert redis.get_linewidth() > 2 * gauge.get_linewidth()  # wide under thin: both show
    assert gauge.get_linestyle() == ":" and ax.collections  # and the Redis area under both
    assert ax.get_ylim()[0] == 0 and _legend_is_beside(ax)


def test_latency_is_a_distribution_per_phase_even_for_a_burst() -> None:
    (ax,) = charts.draw_latency(_burst(40)).axes
    labels = _labels(ax)
    assert [label.split(" (")[0] for label in labels] == [
        "HTTP submit", "queue wait", "run", "end to end"
    ]  # fmt: skip
    assert all("(n=40)" in label and "p95" in label for label in labels)
    waits = next(line for line in ax.lines if str(line.get_label()).startswith("queue wait"))
    xs = set(np.asarray(waits.get_xydata())[:, 0].tolist())
    assert len(xs) == 40  # every invocation, not one point at x = 0
    assert ax.get_xscale() == "log"


def test_latency_says_which_phase_has_no_data() -> None:
    rejected = [Arrival(index=0, request=0, scheduled_t=0.0, submit_latency_s=0.01,
                        outcome="rejected")]  # fmt: skip
    (ax,) = charts.draw_latency(rejected).axes
    assert "queue wait: no data" in _labels(ax) and "end to end: no data" in _labels(ax)


def test_comparison_labels_its_axes_and_marks_where_measuring_stopped() -> None:
    prediction = Prediction(
        summary={}, t=[0.0, 5.0, 60.0, 120.0], replicas=[0, 3, 1, 0], desired=[1, 3, 1, 0],
        queue_depth=[40, 10, 0, 0], in_flight=None,
    )  # fmt: skip
    samples = [Sample(t=float(t), queue_depth=40 - t, replicas=min(t, 3), desired=3)
               for t in range(0, 31)]  # fmt: skip
    figure = charts.draw_comparison(prediction, samples, {})
    for ax, what in zip(figure.axes, ("ready replicas", "queued invocations"), strict=True):
        assert ax.get_ylabel() == what
        labels = _labels(ax)
        assert "last sample, t=30 s" in labels
        assert "after the last sample: prediction only" in labels  # the prediction runs to 120
        assert ax.get_ylim()[0] == 0 and _legend_is_beside(ax)


def test_replicas_keep_running_visible_under_desired() -> None:
    samples = [Sample(t=float(t), replicas=r, desired=4, running=4, queue_depth=10)
               for t, r in enumerate([0, 0, 2, 4, 4])]  # fmt: skip
    (ax,) = charts.draw_replicas(samples, (0.0, 3.0)).axes
    widths = {line.get_label(): line.get_linewidth() for line in ax.lines}
    assert widths["running"] > widths["desired"] > widths["ready"]
    assert "scale-out lag 3.0 s" in _labels(ax) and _legend_is_beside(ax)
