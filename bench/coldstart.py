"""Cold start: process exec to the first 200 from /readyz, and where import time goes.

Three commands, interleaved run by run (the order rotates), each started on the server CPU:
  spillway  `spillway api` (the production entry point: settings, uvicorn, the app, its Redis pool)
  baseline  `uvicorn bench.apps.naive:app` (FastAPI + Celery, /readyz pings Celery's Redis client)
  floor     `uvicorn bench.apps.floor:app` (bare FastAPI, /readyz returns 200)
The clock starts just before the harness forks the process and stops when a GET /readyz over a
fresh connection first answers 200 (polled every 2 ms from another CPU). Under Knative this is
the part of a cold start the application controls.
"""

from __future__ import annotations

import functools
import random
import re
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.harness.cpus import Cpus
from bench.harness.interference import OTHERS_LIMIT_PCT, OthersOnCpu
from bench.harness.probes import wait_ok
from bench.harness.processes import BIN, ROOT, UVICORN_OPTS, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.repeat import clean_only, clean_round
from bench.harness.stats import rotate, summary
from functions.localredis import free_port


def commands(port: int) -> dict[str, list[str]]:
    host = ["--host", "127.0.0.1", "--port", str(port)]
    return {
        "spillway": [str(BIN / "spillway"), "api", *host],
        "baseline": [str(BIN / "uvicorn"), "bench.apps.naive:app", *host, *UVICORN_OPTS],
        "floor": [str(BIN / "uvicorn"), "bench.apps.floor:app", *host, *UVICORN_OPTS],
    }


ORDER = ["spillway", "baseline", "floor"]


@dataclass(frozen=True)
class Config:
    runs: int = 15
    importtime_reps: int = 5


def _starts(order: list[str], url: str, cpus: Cpus) -> dict[str, tuple[float, float]]:
    """One start of each app, in this order."""
    return {name: one_start(name, url, cpus) for name in order}


def one_start(name: str, url: str, cpus: Cpus) -> tuple[float, float]:
    """(ms from exec to the first 200, % of the server CPU other processes took meanwhile)"""
    port = free_port()
    argv = [*cpus.taskset("server"), *commands(port)[name]]
    env = child_env(REDIS_URL=url, SPILLWAY_LOG_LEVEL="WARNING")
    proc = Proc(f"cold-{name}", argv, env)
    try:
        proc.start()
        others = OthersOnCpu(proc.pid, cpus.server, fresh=True)
        ready = wait_ok(port, "/readyz", proc, timeout=60, interval=0.002)
        elapsed = ready - proc.started_at
        return elapsed * 1000, others.pct()
    finally:
        proc.stop()


# --- python -X importtime -------------------------------------------------------------------------
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( +)(\S+)")


def _importtime(code: str, env: dict[str, str]) -> list[tuple[str, int, int, int]]:
    """(module, self_us, cumulative_us, depth) for each import `code` made."""
    out = subprocess.run(
        [str(BIN / "python"), "-X", "importtime", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise BenchError(f"python -X importtime -c {code!r} failed:\n{out.stderr[-2000:]}")
    rows = []
    for line in out.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            rows.append((match.group(4), int(match.group(1)), int(match.group(2)), depth))
    return rows


def importtime(reps: int, url: str, cpus: Cpus, top: int = 20) -> dict[str, Any]:
    env = child_env(REDIS_URL=url, SPILLWAY_LOG_LEVEL="WARNING")
    startup = {row[0] for row in _importtime("pass", env)}
    targets = {
        "spillway": "import functions.api.main",
        "spillway_cli_api": "import functions.cli, functions.settings, uvicorn, functions.api.main",
        "baseline": "import bench.apps.naive",
        "floor": "import bench.apps.floor",
        "uvicorn_uvloop_httptools": "import uvicorn, uvloop, httptools",
    }
    totals: dict[str, list[float]] = defaultdict(list)
    cumulative: dict[str, list[int]] = defaultdict(list)
    own: dict[str, list[int]] = defaultdict(list)
    for rep in range(reps):
        for name in rotate(list(targets), rep):
            rows = _importtime(targets[name], env)
            # Modules the interpreter imports for `pass` are not the app's doing.
            total = sum(cum for mod, _, cum, depth in rows if depth == 0 and mod not in startup)
            totals[name].append(total / 1000)
            if name == "spillway":
                per_root: dict[str, int] = defaultdict(int)
                for mod, self_us, cum, _ in rows:
                    if mod in startup:
                        continue
                    cumulative[mod].append(cum)
                    per_root[mod.split(".")[0]] += self_us
                for root, us in per_root.items():
                    own[root].append(us)
    top_cumulative = sorted(
        ((mod, statistics.median(v) / 1000) for mod, v in cumulative.items() if len(v) == reps),
        key=lambda item: -item[1],
    )[:top]
    by_package = sorted(
        ((root, statistics.median(v) / 1000) for root, v in own.items()), key=lambda i: -i[1]
    )
    return {
        "reps": reps,
        "totals_ms": {name: summary(v) for name, v in totals.items()},
        "spillway_top_cumulative_ms": [{"module": m, "ms": ms} for m, ms in top_cumulative],
        "spillway_self_by_package_ms": [{"package": p, "ms": ms} for p, ms in by_package[:15]],
    }


def bootstrap(a: list[float], b: list[float], reps: int = 2000) -> dict[str, float]:
    """90 % bootstrap interval of median(a) - median(b) and median(a) / median(b): how far the
    medians of a few noisy starts can be trusted against a target."""
    rng = random.Random(0)
    diffs, ratios = [], []
    for _ in range(reps):
        ma = statistics.median(rng.choices(a, k=len(a)))
        mb = statistics.median(rng.choices(b, k=len(b)))
        diffs.append(ma - mb)
        ratios.append(ma / mb)
    diffs.sort()
    ratios.sort()
    lo, hi = int(reps * 0.05), int(reps * 0.95) - 1
    return {
        "minus_ms_lo": diffs[lo],
        "minus_ms_hi": diffs[hi],
        "ratio_lo": ratios[lo],
        "ratio_hi": ratios[hi],
    }


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in ORDER}
    rounds = []
    foreigns: list[float] = []
    waits: list[float] = []
    with redis_server(cpus.load) as server:
        # One discarded start each: byte-code compiled and files in the page cache for all.
        for name in ORDER:
            one_start(name, server.url, cpus)
        for i in range(config.runs):
            order = rotate(ORDER, i)
            trio, foreign, _ = clean_round(
                f"run {i + 1}",
                functools.partial(_starts, order, server.url, cpus),
                log,
                lambda trio: max(wait for _, wait in trio.values()),
            )
            current = {name: ms for name, (ms, _) in trio.items()}
            foreigns.append(foreign)
            waits.append(max(wait for _, wait in trio.values()))
            rounds.append(
                {
                    "vs_baseline": current["spillway"] / current["baseline"],
                    "minus_floor_ms": current["spillway"] - current["floor"],
                    "ms": current,
                    "clean": waits[-1] <= OTHERS_LIMIT_PCT,
                }
            )
            log(
                f"  run {i + 1:2d}/{config.runs} "
                + "  ".join(f"{n} {current[n]:7.1f} ms" for n in ORDER)
                + f"  others-on-cpu {waits[-1]:.1f}% others {foreign:.0f}%"
            )
        imports = importtime(config.importtime_reps, server.url, cpus)
    # Runs still disturbed after every attempt are left out of the figures.
    kept = clean_only(rounds)
    for name in ORDER:
        times[name] = [r["ms"][name] for r in kept]
    starts = {name: summary(v) for name, v in times.items()}
    sp, base, floor = (starts[n]["median"] for n in ORDER)
    return {
        "config": {**config.__dict__, "poll_interval_ms": 2, "server_cpus": list(cpus.server)},
        "ms": starts,
        "ratios": {
            # Targets are on medians; the per-run pairs show how stable the comparison is.
            "median_vs_baseline": sp / base,
            "median_minus_floor_ms": sp - floor,
            "per_run_vs_baseline": summary([r["vs_baseline"] for r in kept]),
            "per_run_minus_floor_ms": summary([r["minus_floor_ms"] for r in kept]),
            "ci90_vs_baseline": bootstrap(times["spillway"], times["baseline"]),
            "ci90_vs_floor": bootstrap(times["spillway"], times["floor"]),
        },
        "runs_left_out": len(rounds) - len(kept),
        "importtime": imports,
        "foreign_cpu_pct_max": max(foreigns),
        "others_on_server_cpu_pct_max": max(waits),
    }
