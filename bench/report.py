"""Targets and the Markdown rendering of a result."""

from __future__ import annotations

from typing import Any

from bench.harness.interference import OTHERS_LIMIT_PCT
from bench.harness.repeat import ROUND_ATTEMPTS

# (key, what, comparison, target)
TARGETS: list[tuple[str, str, str, float]] = [
    ("submit_vs_baseline", "submit throughput, Spillway / baseline", ">=", 2.5),
    ("submit_vs_ceiling", "submit throughput, Spillway / ceiling", ">=", 0.8),
    ("p99_vs_baseline", "submit p99 latency, Spillway / baseline", "<=", 0.5),
    ("batch_vs_single", "batch invocations/s / single invocations/s", ">=", 8.0),
    ("cold_vs_baseline", "cold start median, Spillway / baseline", "<=", 0.7),
    ("cold_minus_floor_ms", "cold start median, Spillway - floor (ms)", "<=", 150.0),
    ("worker_vs_plain_c1", "worker tasks/s, Spillway / plain Celery, concurrency 1", ">=", 0.8),
    ("worker_vs_plain_c2", "worker tasks/s, Spillway / plain Celery, concurrency 2", ">=", 0.8),
    (
        "worker_from_start_vs_plain_c1",
        "worker tasks/s from process start to drained, Spillway / plain Celery, concurrency 1",
        ">=",
        0.85,
    ),
    ("simulate_100k_s", "simulator, 100k tasks, wall s", "<", 2.0),
    ("simulate_1m_s", "simulator, 1M tasks, wall s", "<", 20.0),
    ("recovery_s", "kill -9 of a worker: its work running again, s (every kill)", "<=", 15.0),
    (
        "callbacks_queued_vs_none",
        "worker tasks/s, every invocation with a callback (queued, no sender) / none",
        ">=",
        0.95,
    ),
    ("events_vs_plain", "CloudEvents binary / plain invocation throughput", ">=", 0.9),
]


def figures(result: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Each target's figure: median with min-max over rounds where it is a per-round ratio."""
    out: dict[str, dict[str, Any] | None] = {key: None for key, *_ in TARGETS}
    if sub := result.get("submit"):
        out["submit_vs_baseline"] = sub["ratios"]["throughput_vs_baseline"]
        out["submit_vs_ceiling"] = sub["ratios"]["throughput_vs_ceiling"]
        out["p99_vs_baseline"] = sub["ratios"]["p99_vs_baseline"]
        out["batch_vs_single"] = sub["ratios"]["batch_vs_single"]
    if cold := result.get("coldstart"):
        per_run = cold["ratios"]["per_run_vs_baseline"]
        minus = cold["ratios"]["per_run_minus_floor_ms"]
        out["cold_vs_baseline"] = {**per_run, "median": cold["ratios"]["median_vs_baseline"]}
        out["cold_minus_floor_ms"] = {**minus, "median": cold["ratios"]["median_minus_floor_ms"]}
    if work := result.get("worker"):
        for level, data in work["levels"].items():
            out[f"worker_vs_plain_c{level}"] = data["ratio_spillway_vs_plain"]
            if "ratio_from_start_spillway_vs_plain" in data:
                out[f"worker_from_start_vs_plain_c{level}"] = data[
                    "ratio_from_start_spillway_vs_plain"
                ]
    if cb := result.get("callbacks"):
        out["callbacks_queued_vs_none"] = cb["ratio_queued_vs_none"]
    if ev := result.get("events"):
        out["events_vs_plain"] = ev["ratios"]["event_vs_plain"]
    if rec := result.get("recovery"):
        out["recovery_s"] = {**rec["seconds"], "judge": "max"}  # every kill, not the median
    if sim := result.get("simulate"):
        for size, key in (("100000", "simulate_100k_s"), ("1000000", "simulate_1m_s")):
            if size in sim["sizes"]:
                out[key] = sim["sizes"][size]["seconds"]
    return out


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    figs = figures(result)
    for key, what, op, target in TARGETS:
        fig = figs.get(key)
        if fig is None:
            continue
        value = fig[fig.get("judge", "median")]
        ok = {
            ">=": value >= target,
            "<=": value <= target,
            "<": value < target,
        }[op]
        rows.append(
            {
                "key": key,
                "what": what,
                "target": f"{op} {target:g}",
                "median": fig["median"],
                "min": fig["min"],
                "max": fig["max"],
                "met": ok,
            }
        )
    return rows


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _s(stat: dict[str, Any], digits: int = 2) -> str:
    """median (min-max)"""
    return f"{_f(stat['median'], digits)} ({_f(stat['min'], digits)}-{_f(stat['max'], digits)})"


def _head(*columns: str) -> list[str]:
    """A Markdown table's header row and its separator."""
    return ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# Spillway benchmarks, {result['date']} on {m['host']} ({result['mode']})",
        "",
        "Every figure is the median of the runs, with the spread (min-max) in parentheses. "
        "Ratios are computed within one round (same run) and then summarised. "
        "Produced by `bench/run`; see docs/benchmarks.md for what each benchmark does. "
        "*Others on its CPU* is the CPU time other processes took on the CPU reserved for the "
        "process under test, as a share of the measured time (/proc/stat minus the process "
        f"tree's own time); runs above {OTHERS_LIMIT_PCT:g}% are repeated (up to "
        f"{ROUND_ATTEMPTS} attempts).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}, nproc {m['nproc']} ({m['cpus_usable']} usable), "
        f"memory {m['memory_gib']} GiB, kernel {m['kernel']}",
        f"- Python {m['python']}; {m['redis_server']}; {m['wrk']}",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- Code: commit {m['code']['commit']}, functions/ sha256 {m['code']['functions_sha256']}"
        f" ({m['code']['functions_uncommitted_files']} uncommitted files under functions/)",
        f"- Placement: {result['cpus']}",
        "- Background CPU busy before each section (other processes; 0-100%): "
        + ", ".join(f"{k} {v:.0f}%" for k, v in result["background_busy_pct"].items()),
        f"- Wall time of the suite: {result['elapsed_s']:.0f} s",
        "",
        "## Targets",
        "",
        *_head("target", "figure", "median (min-max)", "met"),
    ]
    for row in result["verdicts"]:
        lines.append(
            f"| {row['what']} | {row['target']} | {_s(row)} | {'yes' if row['met'] else '**no**'} |"
        )
    if sub := result.get("submit"):
        cfg = sub["config"]
        lines += [
            "",
            "## Submit (wrk)",
            "",
            f"{cfg['rounds']} rounds; per app and round one fresh uvicorn process, "
            f"{cfg['warmup']} s warm-up, then {cfg['duration']} s measured, "
            f"wrk -t1 -c{cfg['connections']}; "
            f"body {cfg['single_body_bytes']} B (batch: {cfg['batch_size']} items, "
            f"{cfg['batch_body_bytes']} B).",
            "",
            *_head(
                "app",
                "req/s",
                "invocations/s",
                "p50 ms",
                "p99 ms",
                "non-2xx",
                "socket errors",
                "message bytes",
                "others on its CPU, worst run",
            ),
        ]
        for name, app in sub["apps"].items():
            lines.append(
                f"| {name} | {_s(app['rps'], 0)} | {_s(app['invocations_per_s'], 0)} "
                f"| {_s(app['p50_ms'])} | {_s(app['p99_ms'])} | {app['non_2xx']} "
                f"| {app['socket_errors']} | {app['message_bytes']} "
                f"| {app['others_on_server_cpu_pct_max']:.1f}% |"
            )
        lines += ["", *_head("per-round ratio", "median (min-max)")]
        for key, stat in sub["ratios"].items():
            lines.append(f"| {key} | {_s(stat)} |")
    if ev := result.get("events"):
        cfg = ev["config"]
        lines += [
            "",
            "## CloudEvents ingress (wrk, echo)",
            "",
            f"{cfg['rounds']} rounds; per variant and round one fresh uvicorn process, "
            f"{cfg['warmup']} s warm-up, then {cfg['duration']} s measured, wrk -t1 "
            f"-c{cfg['connections']}; the same body as a plain invocation of echo, or as a "
            "CloudEvent in binary mode with a new ce-id per request (bench/post.lua, "
            "$BENCH_PER_REQUEST).",
            "",
            *_head("variant", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"),
        ]
        for name, variant in ev["variants"].items():
            lines.append(
                f"| {name} | {_s(variant['rps'], 0)} | {_s(variant['p50_ms'])} "
                f"| {_s(variant['p99_ms'])} | {variant['non_2xx']} | {variant['socket_errors']} |"
            )
        lines += ["", f"event / plain, per round: {_s(ev['ratios']['event_vs_plain'])}"]
    if cap := result.get("capacity"):
        cfg = cap["config"]
        knee = cap["knee"]
        lines += [
            "",
            "## API capacity (one `spillway api` process, requests in flight)",
            "",
            f"wrk -t1 with N connections (closed loop: N requests in flight), {cfg['rounds']} "
            f"round(s) of {cfg['duration']} s per level after {cfg['warmup']} s warm-up; "
            "medians. The knee is the smallest N reaching "
            f"{cfg['knee_share']:.0%} of the best throughput: **{knee['in_flight']} in flight, "
            f"{knee['rps']:,.0f} req/s at {knee['mean_ms']:.2f} ms mean** (best "
            f"{cap['best_rps']:,.0f} req/s). knative/service.yaml derives its `target` from it.",
            "",
            *_head("in flight", "req/s", "mean ms", "p99 ms", "non-2xx"),
        ]
        for n, level in cap["levels"].items():
            lines.append(
                f"| {n} | {level['rps']:,.0f} | {level['mean_ms']:.2f} | {level['p99_ms']:.2f} "
                f"| {level['non_2xx']} |"
            )
    if cold := result.get("coldstart"):
        lines += [
            "",
            "## Cold start (exec to first 200 from /readyz)",
            "",
            f"{cold['config']['runs']} runs each, interleaved, server on CPU "
            f"{cold['config']['server_cpus']}, /readyz polled every "
            f"{cold['config']['poll_interval_ms']} ms. Others on the server's CPU in the worst "
            f"kept run: {cold['others_on_server_cpu_pct_max']:.1f}%.",
            "",
            *_head("app", "ms"),
        ]
        for name, stat in cold["ms"].items():
            lines.append(f"| {name} | {_s(stat, 0)} |")
        ci_b = cold["ratios"].get("ci90_vs_baseline")
        ci_f = cold["ratios"].get("ci90_vs_floor")
        if ci_b and ci_f:
            lines += [
                "",
                "90 % bootstrap intervals of the medians: Spillway / baseline "
                f"{ci_b['ratio_lo']:.2f}-{ci_b['ratio_hi']:.2f}; Spillway - floor "
                f"{ci_f['minus_ms_lo']:.0f} to {ci_f['minus_ms_hi']:.0f} ms. A target inside "
                "the interval is not decided by this run.",
            ]
        imp = cold["importtime"]
        lines += [
            "",
            f"### python -X importtime (median of {imp['reps']}; interpreter start-up "
            "imports excluded; -X importtime itself inflates the figures)",
            "",
            *_head("import", "total ms"),
        ]
        for name, stat in imp["totals_ms"].items():
            lines.append(f"| {name} | {_s(stat, 0)} |")
        lines += [
            "",
            "Spillway (`import functions.api.main`), top cumulative entries:",
            "",
            *_head("module", "cumulative ms"),
        ]
        for row in imp["spillway_top_cumulative_ms"]:
            lines.append(f"| {row['module']} | {row['ms']:.0f} |")
        lines += [
            "",
            "Spillway, self time by top-level package:",
            "",
            *_head("package", "self ms"),
        ]
        for row in imp["spillway_self_by_package_ms"]:
            lines.append(f"| {row['package']} | {row['ms']:.0f} |")
    if work := result.get("worker"):
        for level, data in work["levels"].items():
            cfg = data["config"]
            lines += [
                "",
                f"## Worker (echo, per process), concurrency {level}",
                "",
                f"{cfg['rounds']} rounds of {cfg['messages']} pre-filled messages, prefork, "
                f"concurrency {cfg['concurrency']}, worker on CPU {cfg['worker_cpus']}.",
                "",
                *_head(
                    "worker",
                    "tasks/s (draining)",
                    "tasks/s from process start",
                    "exec to first consumption s",
                    "others on its CPU, worst run",
                ),
            ]
            for name, w in data["workers"].items():
                from_start = w.get("tasks_per_s_from_start")
                lines.append(
                    f"| {name} | {_s(w['tasks_per_s'], 0)} "
                    f"| {_s(from_start, 0) if from_start else '-'} "
                    f"| {_s(w['start_to_first_consumption_s'])} "
                    f"| {w['others_on_server_cpu_pct_max']:.1f}% |"
                )
            ratio = _s(data["ratio_spillway_vs_plain"])
            lines.append(f"\nPer-round ratio Spillway / plain, draining: {ratio}")
            if "ratio_from_start_spillway_vs_plain" in data:
                whole = _s(data["ratio_from_start_spillway_vs_plain"])
                lines.append(f"Per-round ratio Spillway / plain, from process start: {whole}")
    if dur := result.get("durable"):
        cfg = dur["config"]
        lines += [
            "",
            "## Durable submits (bench/durable.py)",
            "",
            f"{cfg['rounds']} rounds; per variant and round a fresh Redis (AOF files on "
            f"{dur['aof_filesystem']}) and one uvicorn process serving single submits, "
            f"{cfg['warmup']} s warm-up, then {cfg['duration']} s of `wrk -t1 "
            f"-c{cfg['connections']}`. Ratios per round against `memory` (no persistence) and "
            "`aof-everysec` (the platform Redis). wait-replica: SPILLWAY_DURABLE_REPLICAS=1, "
            f"SPILLWAY_DURABLE_TIMEOUT {cfg['durable_timeout']:g} s. *Alone*: then "
            f"{cfg['alone_duration']} s of `wrk -c1`, one submit at a time.",
            "",
            *_head(
                "variant",
                "req/s",
                "p50 ms",
                "p99 ms",
                "/ memory",
                "/ aof-everysec",
                "alone req/s",
                "alone p50 ms",
                "non-2xx",
            ),
        ]
        for name, v in dur["variants"].items():
            lines.append(
                f"| {name} | {_s(v['rps'], 0)} | {_s(v['p50_ms'])} | {_s(v['p99_ms'])} "
                f"| {_s(v['vs_memory'])} | {_s(v['vs_everysec'])} | {_s(v['alone_rps'], 0)} "
                f"| {_s(v['alone_p50_ms'])} | {v['non_2xx']} |"
            )
    if e2e := result.get("e2e"):
        cfg = e2e["config"]
        lines += [
            "",
            "## End-to-end latency at idle (echo, submit to succeeded)",
            "",
            f"{len(e2e['runs'])} runs of {cfg['invocations']} sequential invocations (after "
            f"{cfg['warmup']} warm-up), one `spillway api`, one `spillway worker` at "
            f"concurrency {cfg['worker_concurrency']}, private Redis. *client*: POST sent to "
            f"the first GET /v1/invocations/{{id}} showing `succeeded` (polled every "
            f"{cfg['poll_ms']:g} ms on one keep-alive connection); *record*: finished_at - "
            "submitted_at. Median over runs of each run's percentile.",
            "",
            *_head("figure", "ms"),
        ]
        for key, stat in e2e["ms"].items():
            lines.append(f"| {key.removesuffix('_ms').replace('_', ' ')} | {_s(stat, 1)} |")
    if cb := result.get("callbacks"):
        cfg = cb["config"]
        lines += [
            "",
            "## Callbacks (bench/callbacks.py)",
            "",
            f"{cfg['rounds']} rounds of {cfg['messages']} pre-filled echo invocations, worker "
            f"concurrency {cfg['concurrency']} on CPU {cfg['worker_cpus']}: without callbacks, "
            "with callbacks queued (no sender), and with callbacks sent meanwhile by a sender "
            "and a local receiver on the load CPU.",
            "",
            *_head("variant", "worker tasks/s", "others on its CPU, worst run"),
        ]
        for name, w in cb["workers"].items():
            lines.append(
                f"| {name} | {_s(w['tasks_per_s'], 0)} | {w['others_on_server_cpu_pct_max']:.1f}% |"
            )
        lines += [
            "",
            f"Per-round ratio queued / none: {_s(cb['ratio_queued_vs_none'])}; "
            f"sent / none: {_s(cb['ratio_sent_vs_none'])}.",
            f"Sender alone (on the server CPU, receiver on the load CPU): "
            f"{_s(cb['sender']['deliveries_per_s'], 0)} deliveries/s.",
        ]
    if rec := result.get("recovery"):
        cfg, sec = rec["config"], rec["seconds"]
        lines += [
            "",
            "## Recovery after kill -9 of a whole worker (bench/recovery.py)",
            "",
            f"{sec['n']} kills, each of a worker running {cfg['per_kill']} invocations (or fewer, "
            "when the other worker took some), with the default SPILLWAY_LEASE_TTL (10 s) and "
            "SPILLWAY_SWEEP_INTERVAL (1 s): seconds from the kill until the last of its "
            "invocations ran again on the other worker.",
            "",
            *_head("kills", "min", "median", "p90", "max"),
            f"| {sec['n']} | {sec['min']:.2f} | {sec['median']:.2f} | {sec['p90']:.2f} "
            f"| {sec['max']:.2f} |",
            "",
            f"Per invocation ({rec['per_invocation']['n']}): {_s(rec['per_invocation'])} s.",
        ]
    if sim := result.get("simulate"):
        lines += [
            "",
            "## Simulator speed (`spillway simulate`, bench/simulate.py)",
            "",
            f"Steady Poisson load at {sim['config']['rate_per_s']:g} tasks/s on the repository's "
            "ScaledObject and Knative Service; wall time of generating the tasks plus "
            "simulating them.",
            "",
            *_head("tasks", "runs", "wall s", "tasks/s (at median)", "target"),
        ]
        for data in sim["sizes"].values():
            lines.append(
                f"| {data['tasks']:,} | {data['seconds']['n']} | {_s(data['seconds'])} "
                f"| {data['tasks_per_s']:,.0f} | < {data['target_s']:g} s |"
            )
    if scale := result.get("scaleout"):
        cfg = scale["config"]
        lines += [
            "",
            "## Scale-out (`spillway load` against `spillway dev --fast`)",
            "",
            f"{len(scale['runs'])} run(s), each a fresh `spillway dev --fast --max-workers "
            f"{cfg['max_workers']}` on a private Redis (from zero workers), one burst of "
            f"{cfg['count']} `sleep` invocations of {cfg['seconds']:g} s. Times are in dev's "
            "--fast clock (scaler 10x faster than KEDA/HPA).",
            "",
            *_head("figure", "median (min-max)"),
        ]
        for key, stat in scale["figures"].items():
            digits = 0 if key in ("accepted", "lost", "peak_replicas") else 2
            lines.append(f"| {key} | {_s(stat, digits)} |")
        if any(r["lost"] for r in scale["runs"]):
            lines.append("\n**Invocations were lost in a run** (must be 0; see the JSON).")
    if result.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"
