"""The short Markdown report: the figures that matter, the charts, and what to distrust."""

from __future__ import annotations

from typing import Any, Literal

from functions.loadtest.summary import Summary

_Figure = Literal[
    "offered",
    "accepted",
    "rejected",
    "succeeded",
    "failed",
    "lost",
    "time_to_first_worker_s",
    "scale_out_lag_s",
    "peak_replicas",
    "peak_queue_depth",
    "drain_time_s",
    "replica_seconds",
]
_Latency = Literal["submit_latency_s", "queue_wait_s", "run_s", "end_to_end_s"]

_HEADLINE: tuple[tuple[_Figure, str, str], ...] = (
    ("offered", "invocations offered", ""),
    ("accepted", "accepted (202)", ""),
    ("rejected", "rejected after retries", ""),
    ("succeeded", "succeeded", ""),
    ("failed", "failed", ""),
    ("lost", "lost (accepted, never finished)", ""),
    ("time_to_first_worker_s", "time to first worker", "s"),
    ("scale_out_lag_s", "scale-out lag", "s"),
    ("peak_replicas", "peak ready replicas", ""),
    ("peak_queue_depth", "peak queue depth", ""),
    ("drain_time_s", "drain time (last submit to last finish)", "s"),
    ("replica_seconds", "replica-seconds", ""),
)

_LATENCIES: tuple[tuple[_Latency, str], ...] = (
    ("submit_latency_s", "HTTP submit"),
    ("queue_wait_s", "queue wait (started - submitted)"),
    ("run_s", "run time"),
    ("end_to_end_s", "end to end (send to finish)"),
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def markdown(summary: Summary, charts: list[str], comparison: dict[str, Any] | None) -> str:
    run = summary["run"]
    lines = [
        f"# Load test: {run['profile']['name']} against {run['url']}",
        "",
        f"Started {run['started_at']}; function `{run['function']}`, "
        f"{'batches of ' + str(run['batch']) if run['batch'] else 'one invocation per request'}; "
        f"replicas from {summary['replicas_source'] or 'nowhere (no data)'}.",
        "",
        "| figure | value |",
        "| --- | --- |",
        *(f"| {label} | {_fmt(summary[key], unit)} |" for key, label, unit in _HEADLINE),
        "",
        "| latency, seconds | p50 | p95 | p99 | max |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, label in _LATENCIES:
        d = summary[key]
        lines.append(
            f"| {label} | {_fmt(d['p50'])} | {_fmt(d['p95'])} | {_fmt(d['p99'])} | "
            f"{_fmt(d['max'])} |"
        )
    if comparison:
        lines += ["", "## Simulator vs measured", "", "| figure | predicted | measured | error |"]
        lines.append("| --- | --- | --- | --- |")
        for key, row in comparison["scalars"].items():
            lines.append(
                f"| {key} | {_fmt(row['predicted'])} | {_fmt(row['measured'])} | "
                f"{_fmt(row['error'])} |"
            )
        for series, err in comparison["errors"].items():
            lines.append(
                f"\n{series}: mean absolute error {err['mae']:.2f}, RMSE {err['rmse']:.2f}, "
                f"largest {err['max_abs']:.2f} (predicted minus measured, sampled each second)."
            )
    if summary["warnings"]:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in summary["warnings"])]
    lines += ["", "## Charts", ""]
    lines += [f"![{name}]({name})" for name in charts]
    lines += [
        "",
        "Raw data: `invocations.csv` (one row per invocation), `requests.csv` (one row per HTTP "
        "attempt), `samples.csv` (once a second), `timeseries.csv` (per interval), "
        "`arrivals.txt` (the schedule), `summary.json`.",
        "",
    ]
    return "\n".join(lines)
