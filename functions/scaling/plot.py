"""The PNG of a run: arrivals, queue and in-flight tasks, and replicas over time."""

from __future__ import annotations

from pathlib import Path

from functions.scaling.simulate import Result


def write_png(result: Result, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    rows = result.timeline
    t = [r[0] for r in rows]
    dt = [b - a for a, b in zip(t, t[1:], strict=False)] or [1.0]
    rate = [r[1] / d for r, d in zip(rows[1:], dt, strict=False)]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, sharex=True, figsize=(10, 7.5), dpi=100)
    ax1.step(t[1:], rate, where="pre", color="tab:gray", lw=1)
    ax1.set_ylabel("arrivals / s")
    ax2.step(t, [r[2] for r in rows], where="post", label="queued", color="tab:orange")
    ax2.step(t, [r[3] for r in rows], where="post", label="in flight", color="tab:green")
    ax2.set_ylabel("tasks")
    ax2.legend(loc="upper right")
    ax3.step(t, [r[4] for r in rows], where="post", label="worker replicas (spec)", lw=1.5)
    ax3.step(t, [r[5] for r in rows], where="post", label="ready workers", ls="--")
    if any(r[6] for r in rows):
        ax3.step(t, [r[6] for r in rows], where="post", label="API pods", color="tab:purple")
    ax3.set_ylabel("pods")
    ax3.set_xlabel("time (s)")
    ax3.legend(loc="upper right")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
