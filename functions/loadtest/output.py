"""The run folder: raw CSVs, summary.json, charts and report.md (with simcompare's comparison)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from functions.loadtest import charts, report, simcompare
from functions.loadtest.config import LoadConfig
from functions.loadtest.metrics import scale_out
from functions.loadtest.profiles import write_arrivals
from functions.loadtest.records import Arrival, RequestRecord, Sample, write_csv
from functions.loadtest.summary import ComparedSummary, RunFacts, Summary, summarize
from functions.loadtest.timeseries import timeseries


def write_run(
    config: LoadConfig,
    arrivals: Sequence[Arrival],
    requests: Sequence[RequestRecord],
    samples: Sequence[Sample],
    facts: RunFacts,
    times: Sequence[float],
) -> Summary:
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
    lag = scale_out(samples, facts.pod_target)
    drawn = [
        charts.rates(buckets, out / "rates.png"),
        charts.queue(samples, out / "queue.png"),
        charts.replicas(
            samples,
            out / "replicas.png",
            None if lag is None else (lag.backlog_over_target_t, lag.reached_t),
        ),
        charts.latency(arrivals, out / "latency.png"),
    ]
    comparison = None
    if config.compare_sim:
        comparison, prediction = simcompare.compare(config, summary, samples)
        if prediction is not None:
            chart = out / "compare.png"
            charts.comparison(prediction, samples, comparison["errors"], chart)
            comparison["chart"] = chart.name
            drawn.append(chart)
        compared: ComparedSummary = {**summary, "simulator": comparison}
        summary = compared
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    names = [p.name for p in drawn]
    ok = comparison if comparison and "error" not in comparison else None
    (out / "report.md").write_text(report.markdown(summary, names, ok))
    return summary
