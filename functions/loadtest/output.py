"""The run folder: raw CSVs, summary.json, charts, the simulator comparison and report.md."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functions.loadtest import charts, report, simcompare
from functions.loadtest.config import LoadConfig
from functions.loadtest.errors import SimulatorError
from functions.loadtest.metrics import scale_out
from functions.loadtest.profiles import write_arrivals
from functions.loadtest.records import Arrival, RequestRecord, Sample, write_csv
from functions.loadtest.summary import RunFacts, summarize
from functions.loadtest.timeseries import timeseries


def write_run(
    config: LoadConfig,
    arrivals: Sequence[Arrival],
    requests: Sequence[RequestRecord],
    samples: Sequence[Sample],
    facts: RunFacts,
    times: Sequence[float],
) -> dict[str, Any]:
    out = config.out
    write_arrivals(out / "arrivals.txt", times)
    write_csv(out / "requests.csv", requests)
    write_csv(out / "invocations.csv", arrivals, extra=("queue_wait_s", "run_s", "end_to_end_s"))
    write_csv(out / "samples.csv", samples, extra=("backlog",))
    summary = summarize(arrivals, requests, samples, facts)
    end = max(
        [s.t for s in samples]
        + [t for a in arrivals for t in (a.answered_t, a.finished_t) if t is not None]
        + [1.0]
    )
    buckets = timeseries(arrivals, requests, end)
    write_csv(out / "timeseries.csv", buckets)
    drawn = [
        charts.rates(buckets, out / "rates.png"),
        charts.queue(samples, out / "queue.png"),
        charts.replicas(samples, out / "replicas.png", scale_out(samples, facts.pod_target)),
        charts.latency(buckets, out / "latency.png"),
    ]
    comparison = None
    if config.compare_sim:
        comparison = _compare(config, summary, samples)
        if "chart" in comparison:
            drawn.append(out / comparison["chart"])
        summary["simulator"] = comparison
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    names = [p.name for p in drawn]
    ok = comparison if comparison and "error" not in comparison else None
    (out / "report.md").write_text(report.markdown(summary, names, ok))
    return summary


def _compare(
    config: LoadConfig, summary: dict[str, Any], samples: Sequence[Sample]
) -> dict[str, Any]:
    """Run the simulator on the same schedule; a failure here is reported, not raised: the
    measured run is already on disk and worth keeping."""
    task_seconds = config.task_seconds or summary["run_s"]["mean"]
    if not task_seconds:
        message = "no --task-seconds and no finished invocation to measure it from"
        summary["warnings"].append(f"simulator comparison skipped: {message}")
        return {"error": message}
    start = next((s for s in samples if s.replicas is not None), None)
    start_replicas = (
        None if start is None else (start.desired if start.desired is not None else start.replicas)
    )
    scaler = summary["dev_scaler"]
    extra = simcompare.same_conditions(config.sim_args, start_replicas, scaler)
    # `spillway dev --fast` runs its scaler's clock this many times faster than real time.
    time_scale = float(scaler["fast_factor"]) if scaler else 1.0
    try:
        prediction = simcompare.simulate(
            scaledobject=config.scaledobject,
            arrivals=config.out / "arrivals.txt",
            task_seconds=task_seconds,
            out=config.out / "sim",
            extra_args=extra,
            time_scale=time_scale,
        )
    except SimulatorError as exc:
        summary["warnings"].append(f"simulator comparison failed: {exc}")
        return {"error": str(exc)}
    errors = simcompare.errors(prediction, samples)
    chart = charts.comparison(prediction, samples, errors, config.out / "compare.png")
    return {
        "task_seconds": task_seconds,
        "scaledobject": str(config.scaledobject),
        "args": extra,
        "time_scale": time_scale,
        "errors": errors,
        "scalars": simcompare.scalars(prediction, summary, samples),
        "chart": Path(chart).name,
    }
