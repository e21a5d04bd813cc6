"""The PNG of a run: arrivals, queue and in-flight tasks, and replicas over time.

Drawn through matplotlib's Figure (no pyplot state) with the rules of `spillway load`'s charts
(functions/loadtest/charts.py): counts from 0 in whole numbers, legends beside the axes so
they never cover a peak, and arrivals counted in fixed bins, so a rate reads the same whatever
the spacing of the timeline's rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from functions.scaling.simulate import Result

MAX_BINS = 300  # arrival bins of 1 s, or wider for a long run


def arrival_rate(t: Sequence[float], arrived: Sequence[float]) -> tuple[list[float], list[float]]:
    """Arrivals per second in bins of 1 s or more: (bin edges, one rate per bin and the last
    repeated, for a post step). A row's arrivals happened since the row before it, so they are
    counted from that row's time."""
    end = t[-1] if t else 0.0
    width = float(max(1, math.ceil(end / MAX_BINS)))
    bins = [0.0] * max(1, math.ceil(end / width))
    for since, n in zip([0.0, *t], arrived, strict=False):
        bins[min(int(since // width), len(bins) - 1)] += n
    rates = [n / width for n in bins]
    return [i * width for i in range(len(bins) + 1)], [*rates, rates[-1]]


def draw(result: Result, title: str) -> Figure:
    rows = result.timeline
    t = [r[0] for r in rows]
    figure = Figure(figsize=(11, 7.5), dpi=100, layout="constrained")
    ax1, ax2, ax3 = figure.subplots(3, 1, sharex=True)
    edges, rate = arrival_rate(t, [r[1] for r in rows])
    ax1.step(edges, rate, where="post", color="tab:gray", lw=1, label="arrivals")
    ax1.set_ylabel(f"arrivals / s ({edges[1] - edges[0]:g} s bins)")
    ax2.fill_between(t, [r[2] for r in rows], step="post", color="tab:orange", alpha=0.25)
    ax2.step(t, [r[2] for r in rows], where="post", label="queued", color="tab:orange")
    ax2.step(t, [r[3] for r in rows], where="post", label="in flight", color="tab:green")
    ax2.set_ylabel("tasks")
    ax3.step(t, [r[4] for r in rows], where="post", label="worker replicas (spec)", lw=3,
             alpha=0.4, color="tab:blue")  # fmt: skip
    ax3.step(t, [r[5] for r in rows], where="post", label="ready workers", color="tab:blue",
             lw=1.2, ls="--")  # fmt: skip
    if any(r[6] for r in rows):
        ax3.step(t, [r[6] for r in rows], where="post", label="API pods", color="tab:purple")
    ax3.set_ylabel("pods")
    ax3.set_xlabel("time (s)")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if ax is not ax1:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    figure.suptitle(title)
    return figure


def write_png(result: Result, path: str | Path, title: str) -> None:
    draw(result, title).savefig(path)
