"""PNG charts of a run (matplotlib's Agg renderer through Figure, never pyplot's global state).

Each chart has a `draw_*` function that returns the Figure (what the tests read) and a function
that writes it. Rules every chart keeps, because a reader met each of them broken: counts and
rates start at 0, so a flat line reads as flat; every series is in the legend even when it is
all zero (a zero is a finding); the legend sits beside the axes, never on the data; series that
often coincide are drawn so both stay visible (a filled area under a line, a thin dark line over
a wide pale one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

# No display, ever: this also runs in CI and over ssh. Chosen before anything draws.
matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from functions.loadtest.metrics import QUANTILES, percentile
from functions.loadtest.records import Arrival, Sample
from functions.loadtest.simcompare import Prediction
from functions.loadtest.timeseries import Bucket

SIZE = (10.0, 4.0)
TIME = "seconds since the start of the run"
# Latencies under this are drawn at it on the CDF's log axis (a 0 s queue wait has no log).
FLOOR_S = 0.001


def _figure(rows: int = 1, height: float = SIZE[1]) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(SIZE[0], height), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return figure, list(axes)


def _from_zero(ax: Axes, whole: bool = False) -> None:
    """y from 0, with headroom, at least 0..1 (an all-zero series stays on the floor)."""
    top = max(1.0, float(ax.dataLim.y1)) if ax.has_data() else 1.0
    ax.set_ylim(0, top * 1.12)
    if whole:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def _counts(ax: Axes, ylabel: str, empty: str) -> None:
    """Finish a chart of sampled counts over the run: whole numbers from 0, and a word where
    nothing was sampled."""
    if not ax.lines:
        ax.text(0.5, 0.5, empty, ha="center", transform=ax.transAxes)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(TIME)
    _from_zero(ax, whole=True)
    _legend(ax)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    return path


def _series(
    samples: Sequence[Sample], value: Callable[[Sample], float | None]
) -> tuple[list[float], list[float]]:
    points = [(s.t, v) for s in samples if (v := value(s)) is not None]
    return [t for t, _ in points], [v for _, v in points]


def _steps(buckets: Sequence[Bucket], name: str) -> tuple[list[float], list[float]]:
    """A bucket series as steps: one point more at the end, so the last interval has its width."""
    t = [b.t for b in buckets] + ([buckets[-1].t + buckets[-1].width] if buckets else [])
    values = [float(getattr(b, name)) for b in buckets]
    return t, values + values[-1:]


def draw_rates(buckets: Sequence[Bucket]) -> Figure:
    figure, (sending, outcome) = _figure(2, SIZE[1] * 1.6)
    sending.set_title("Sending: offered (the schedule) and sent")
    t, offered = _steps(buckets, "offered")
    sending.fill_between(t, offered, step="post", alpha=0.3, color="tab:blue", label="offered")
    sending.step(t, offered, where="post", color="tab:blue", linewidth=1)
    t, sent = _steps(buckets, "sent")
    sending.step(t, sent, where="post", color="black", linewidth=1.2, linestyle="--", label="sent")
    outcome.set_title("What came back: accepted, rejected, throttled, finished")
    for name, color, style in (
        ("accepted", "tab:green", "-"),
        ("rejected", "tab:red", "-"),
        ("throttled", "tab:orange", ":"),
        ("finished", "tab:purple", "-."),
    ):
        t, values = _steps(buckets, name)
        label = f"{name} (none)" if not any(values) else name
        outcome.step(t, values, where="post", color=color, linestyle=style, label=label)
    for ax in (sending, outcome):
        ax.set_ylabel("invocations per second")
        _from_zero(ax)
        _legend(ax)
    outcome.set_xlabel(TIME)
    return figure


def rates(buckets: Sequence[Bucket], path: Path) -> Path:
    return _save(draw_rates(buckets), path)


def draw_queue(samples: Sequence[Sample]) -> Figure:
    figure, (ax,) = _figure()
    ax.set_title("Queue depth and in flight (sampled)")
    t, queued = _series(samples, lambda s: s.queue_depth)
    if t:  # the area stays visible under the API's gauge when the two agree
        ax.fill_between(t, queued, step="post", alpha=0.3, color="tab:blue")
        ax.step(t, queued, where="post", color="tab:blue", linewidth=2.5, label="queued (Redis)")
    t, in_flight = _series(samples, lambda s: s.in_flight)
    if t:
        ax.step(
            t, in_flight, where="post", color="tab:green", linewidth=2, label="in flight (Redis)"
        )
    t, gauge = _series(samples, lambda s: s.api_queue_depth)
    if t:
        ax.step(t, gauge, where="post", color="black", linewidth=1, linestyle=":",
                label="queued (API /metrics)")  # fmt: skip
    _counts(ax, "invocations", "no queue data (no --redis-url)")
    return figure


def queue(samples: Sequence[Sample], path: Path) -> Path:
    return _save(draw_queue(samples), path)


def draw_replicas(samples: Sequence[Sample], lag_span: tuple[float, float | None] | None) -> Figure:
    """`lag_span`: when the backlog first exceeded one pod's target, and when the replicas it
    needed were ready (None: never)."""
    figure, (ax,) = _figure()
    ax.set_title("Worker replicas")
    # Widest first: running and desired often coincide, and each stays visible under the next.
    for label, value, color, width, style, alpha in (
        ("running", lambda s: s.running, "tab:gray", 5.0, "-", 0.35),
        ("desired", lambda s: s.desired, "tab:orange", 2.0, "--", 1.0),
        ("ready", lambda s: s.replicas, "tab:blue", 1.5, "-", 1.0),
    ):
        t, v = _series(samples, value)
        if t:
            ax.step(t, v, where="post", label=label, color=color, linewidth=width,
                    linestyle=style, alpha=alpha)  # fmt: skip
    if lag_span is not None:
        start, reached = lag_span
        ax.axvline(start, color="grey", linewidth=0.8)
        if reached is not None:
            ax.axvspan(start, reached, color="orange", alpha=0.15,
                       label=f"scale-out lag {reached - start:.1f} s")  # fmt: skip
    _counts(ax, "replicas", "no replica data")
    return figure


def replicas(
    samples: Sequence[Sample], path: Path, lag_span: tuple[float, float | None] | None
) -> Path:
    return _save(draw_replicas(samples, lag_span), path)


# The phases of an invocation, as summary.json names them.
PHASES: tuple[tuple[str, Callable[[Arrival], float | None]], ...] = (
    ("HTTP submit", lambda a: a.submit_latency_s),
    ("queue wait", lambda a: a.queue_wait_s),
    ("run", lambda a: a.run_s),
    ("end to end", lambda a: a.end_to_end_s),
)


def draw_latency(arrivals: Sequence[Arrival]) -> Figure:
    """One CDF per phase: the share of invocations done within x seconds. A burst's invocations
    are all sent at once, so a by-time view shows one point; a distribution shows them all."""
    figure, (ax,) = _figure(height=SIZE[1] * 1.3)
    ax.set_title("Latency of each phase: share of invocations within x seconds")
    for name, value in PHASES:
        values = sorted(max(FLOOR_S, v) for a in arrivals if (v := value(a)) is not None)
        if not values:
            ax.plot([], [], label=f"{name}: no data")
            continue
        p50, p95, p99 = (percentile(values, q) for q in QUANTILES)
        shares = [(i + 1) / len(values) for i in range(len(values))]
        figures = f"p50 {p50:.3g} s, p95 {p95:.3g} s, p99 {p99:.3g} s"
        label = f"{name} (n={len(values)}): {figures}"
        ax.step([values[0], *values], [0.0, *shares], where="post", label=label)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))  # 0.1 1 10, not 10^0
    ax.set_xlabel(
        f"seconds (log scale; under {FLOOR_S * 1000:g} ms drawn at {FLOOR_S * 1000:g} ms)"
    )
    ax.set_ylabel("share of invocations")
    ax.set_ylim(0, 1.02)
    for q in QUANTILES:
        ax.axhline(q / 100, color="grey", linewidth=0.6, linestyle=":")
        where = (1.0, q / 100)  # at the right edge, in the data's height
        ax.annotate(f"p{q}", where, xycoords=("axes fraction", "data"), xytext=(3, -3),
                    textcoords="offset points", fontsize="x-small", color="grey")  # fmt: skip
    if ax.get_legend_handles_labels()[0]:  # below: the figures in it are long
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small",
                  frameon=False)  # fmt: skip
    return figure


def latency(arrivals: Sequence[Arrival], path: Path) -> Path:
    return _save(draw_latency(arrivals), path)


def draw_comparison(
    prediction: Prediction, samples: Sequence[Sample], errors: dict[str, dict[str, float]]
) -> Figure:
    """Predicted (simulator) and measured curves on shared axes, with the prediction's error.
    The prediction can run past the last sample: the measured window's end is marked."""
    figure, (top, bottom) = _figure(2, SIZE[1] * 1.6)
    end = samples[-1].t if samples else None
    for ax, name, what, predicted, measured in (
        (top, "replicas", "ready replicas", prediction.replicas, lambda s: s.replicas),
        (bottom, "queue_depth", "queued invocations", prediction.queue_depth,
         lambda s: s.queue_depth),
    ):  # fmt: skip
        err = errors.get(name)
        suffix = f" (MAE {err['mae']:.2f}, RMSE {err['rmse']:.2f})" if err else ""
        ax.set_title(f"{what}: simulator vs measured{suffix}")
        ax.set_ylabel(what)
        if predicted is not None:
            ax.step(prediction.t, predicted, where="post", color="tab:blue", linestyle="--",
                    label="predicted")  # fmt: skip
        t, v = _series(samples, measured)
        if t:
            ax.step(t, v, where="post", color="tab:orange", linewidth=2, label="measured")
        if name == "replicas" and prediction.desired is not None:
            ax.step(prediction.t, prediction.desired, where="post", color="tab:blue",
                    linestyle=":", alpha=0.7, label="predicted desired")  # fmt: skip
            t, v = _series(samples, lambda s: s.desired)
            if t:
                ax.step(t, v, where="post", color="tab:red", linestyle="-.", alpha=0.7,
                        label="measured desired")  # fmt: skip
        _from_zero(ax, whole=True)
        if end is not None and prediction.t and prediction.t[-1] > end:
            ax.axvspan(end, prediction.t[-1], color="grey", alpha=0.12,
                       label="after the last sample: prediction only")  # fmt: skip
        if end is not None:
            ax.axvline(end, color="black", linewidth=0.8, label=f"last sample, t={end:.0f} s")
        _legend(ax)
    bottom.set_xlabel(TIME)
    return figure


def comparison(
    prediction: Prediction,
    samples: Sequence[Sample],
    errors: dict[str, dict[str, float]],
    path: Path,
) -> Path:
    return _save(draw_comparison(prediction, samples, errors), path)
