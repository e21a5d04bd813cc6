"""PNG charts of a run (matplotlib's Agg renderer through Figure, never pyplot's global state)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

# No display, ever: this also runs in CI and over ssh. Chosen before anything draws.
matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from functions.loadtest.metrics import ScaleOut
from functions.loadtest.records import Sample
from functions.loadtest.simcompare import Prediction
from functions.loadtest.timeseries import Bucket

SIZE = (9.0, 4.0)


def _axes(title: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE, layout="constrained")
    ax = figure.subplots()
    ax.set_title(title)
    ax.set_xlabel("seconds since the start of the run")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return figure, ax


def _series(
    samples: Sequence[Sample], value: Callable[[Sample], float | None]
) -> tuple[list[float], list[float]]:
    points = [(s.t, v) for s in samples if (v := value(s)) is not None]
    return [t for t, _ in points], [v for _, v in points]


def _save(figure: Figure, path: Path, ax: Axes) -> Path:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    figure.savefig(path, dpi=100)
    return path


def rates(buckets: Sequence[Bucket], path: Path) -> Path:
    figure, ax = _axes("Offered vs accepted rate", "invocations per second")
    # One point more at the end, so the last interval is drawn its full width.
    t = [b.t for b in buckets] + ([buckets[-1].t + buckets[-1].width] if buckets else [])
    for name, style, width in (
        ("offered", "-", 4.0),  # wide and pale: the lines that match it stay visible on top
        ("sent", ":", 1.5),
        ("accepted", "-", 1.5),
        ("rejected", "--", 1.5),
        ("finished", "-.", 1.5),
    ):
        values = [getattr(b, name) for b in buckets]
        if any(values):
            alpha = 0.35 if name == "offered" else 1.0
            ax.step(t, values + values[-1:], where="post", linestyle=style, linewidth=width,
                    alpha=alpha, label=name)  # fmt: skip
    return _save(figure, path, ax)


def queue(samples: Sequence[Sample], path: Path) -> Path:
    figure, ax = _axes("Queue depth and in-flight", "invocations")
    for label, value in (
        ("queued (Redis)", lambda s: s.queue_depth),
        ("in flight (Redis)", lambda s: s.in_flight),
        ("queued (API /metrics)", lambda s: s.api_queue_depth),
    ):
        t, v = _series(samples, value)
        if t:
            ax.step(t, v, where="post", label=label, linestyle="--" if "API" in label else "-")
    if not ax.lines:
        ax.text(
            0.5, 0.5, "no queue data (Redis not reachable)", ha="center", transform=ax.transAxes
        )
    return _save(figure, path, ax)


def replicas(samples: Sequence[Sample], path: Path, lag: ScaleOut | None) -> Path:
    figure, ax = _axes("Worker replicas", "replicas")
    for label, value, style in (
        ("ready", lambda s: s.replicas, "-"),
        ("desired", lambda s: s.desired, "--"),
        ("running", lambda s: s.running, ":"),
    ):
        t, v = _series(samples, value)
        if t:
            ax.step(t, v, where="post", label=label, linestyle=style)
    if lag is not None:
        ax.axvline(lag.backlog_over_target_t, color="grey", linewidth=0.8)
        if lag.reached_t is not None:
            ax.axvspan(lag.backlog_over_target_t, lag.reached_t, color="orange", alpha=0.15)
            ax.annotate(
                f"scale-out lag {lag.lag_s:.1f} s",
                (lag.reached_t, lag.target_replicas),
                fontsize="small",
            )
    if not ax.lines:
        ax.text(0.5, 0.5, "no replica data", ha="center", transform=ax.transAxes)
    return _save(figure, path, ax)


def latency(buckets: Sequence[Bucket], path: Path) -> Path:
    figure = Figure(figsize=(SIZE[0], SIZE[1] * 1.6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    for ax, prefix, title in (
        (top, "submit", "HTTP submit latency (by send time)"),
        (bottom, "e2e", "End to end, send to finish (by send time)"),
    ):
        ax.set_title(title)
        ax.set_ylabel("seconds")
        ax.grid(True, alpha=0.3)
        for q in ("p50", "p95", "p99"):
            points = [(b.t, v) for b in buckets if (v := getattr(b, f"{prefix}_{q}")) is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=q)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    bottom.set_xlabel("seconds since the start of the run")
    figure.savefig(path, dpi=100)
    return path


def comparison(
    prediction: Prediction,
    samples: Sequence[Sample],
    errors: dict[str, dict[str, float]],
    path: Path,
) -> Path:
    """Predicted (simulator) and measured curves on shared axes, with the prediction's error."""
    figure = Figure(figsize=(SIZE[0], SIZE[1] * 1.6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    for ax, name, predicted, measured in (
        (top, "replicas", prediction.replicas, lambda s: s.replicas),
        (bottom, "queue_depth", prediction.queue_depth, lambda s: s.queue_depth),
    ):
        err = errors.get(name)
        suffix = f" (MAE {err['mae']:.2f}, RMSE {err['rmse']:.2f})" if err else ""
        what = "ready replicas" if name == "replicas" else "queue depth"
        ax.set_title(f"{what}: simulator vs measured{suffix}")
        ax.grid(True, alpha=0.3)
        if predicted is not None:
            ax.step(prediction.t, predicted, where="post", linestyle="--", label="predicted")
        t, v = _series(samples, measured)
        if t:
            ax.step(t, v, where="post", label="measured")
        if name == "replicas" and prediction.desired is not None:
            ax.step(prediction.t, prediction.desired, where="post", linestyle=":",
                    label="predicted desired")  # fmt: skip
            t, v = _series(samples, lambda s: s.desired)
            if t:
                ax.step(t, v, where="post", linestyle="-.", label="measured desired")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    bottom.set_xlabel("seconds since the start of the run")
    figure.savefig(path, dpi=100)
    return path
