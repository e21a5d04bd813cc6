"""`python -m bench [--quick] [--only SECTION,...]`: run the suite, write the results.

Writes bench/results/<date>-<host>.md and .json (`-quick` added in quick mode, the sections'
names for a partial run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    callbacks,
    capacity,
    coldstart,
    durable,
    e2e,
    events,
    recovery,
    report,
    scaleout,
    simulate,
    submit,
    worker,
)
from bench.harness.cpus import Cpus
from bench.harness.interference import OTHERS_LIMIT_PCT
from bench.harness.machine import machine
from bench.harness.priority import boost, priority
from bench.harness.processes import ROOT, BenchError, logs
from bench.harness.repeat import ROUND_ATTEMPTS

SECTIONS = (
    "submit",
    "durable",
    "capacity",
    "coldstart",
    "worker",
    "e2e",
    "simulate",
    "scaleout",
    "recovery",
    "callbacks",
    "events",
)
QUIET_BUSY_PCT = 20.0


def cpu_busy_pct(seconds: float = 1.0) -> float:
    """System-wide CPU busy share over `seconds` (taken while the suite itself is idle)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return idle, sum(fields)

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def wait_quiet(max_wait: float) -> float:
    """Wait (up to max_wait s) until the machine is mostly idle; return the last busy share."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy_pct()
    while busy > QUIET_BUSY_PCT and time.monotonic() < deadline:
        print(f"  machine busy ({busy:.0f}% CPU from other processes); waiting for it to settle")
        busy = cpu_busy_pct(3.0)
    return busy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs (~2 min)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="result directory")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait before each section for other processes to go idle",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress when piped
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    for tool in ("wrk", "redis-server"):
        if {"submit", "durable", "capacity", "events"} & set(only) or tool == "redis-server":
            if shutil.which(tool) is None:
                parser.error(f"{tool} is not on PATH (bench/run installs it)")

    cpus = Cpus.detect()
    described = machine()  # before the harness narrows its own CPU affinity
    # The harness (pollers, pre-fillers) stays off the server's CPU.
    os.sched_setaffinity(0, set(cpus.load))
    # The suite and everything it starts run at a higher priority (harness.priority.boost).
    boost()
    # SIGTERM unwinds like Ctrl-C, so the servers and Redis this suite started are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.quick:
        configs: dict[str, Any] = {
            "submit": submit.Config(rounds=2, duration=3, warmup=1),
            "durable": durable.Config(rounds=2, duration=3, warmup=1),
            "capacity": capacity.Config(levels=(1, 4, 16, 64), rounds=1, duration=2),
            "coldstart": coldstart.Config(runs=5, importtime_reps=2),
            "worker": worker.Config(rounds=2, messages=400),
            "e2e": e2e.Config(runs=2, invocations=25),
            "simulate": simulate.Config(runs_100k=2, runs_1m=1),
            "scaleout": scaleout.Config(runs=1),
            "recovery": recovery.Config(kills=5),
            "callbacks": callbacks.Config(rounds=2, messages=400),
            "events": events.Config(rounds=2, duration=3, warmup=1),
        }
    else:
        configs = {
            "submit": submit.Config(rounds=4, duration=8, warmup=2),
            "durable": durable.Config(rounds=4, duration=8, warmup=2),
            "capacity": capacity.Config(),
            "coldstart": coldstart.Config(runs=15, importtime_reps=5),
            "worker": worker.Config(rounds=5, messages=3000),
            "e2e": e2e.Config(runs=5, invocations=50),
            "simulate": simulate.Config(runs_100k=5, runs_1m=3),
            "scaleout": scaleout.Config(runs=3),
            "recovery": recovery.Config(kills=20),
            "callbacks": callbacks.Config(rounds=3, messages=2000),
            "events": events.Config(rounds=4, duration=8, warmup=2),
        }
    runners: dict[str, Any] = {
        "submit": submit.run,
        "durable": durable.run,
        "capacity": capacity.run,
        "coldstart": coldstart.run,
        "worker": worker.run_levels,
        "e2e": e2e.run,
        "simulate": simulate.run,
        "scaleout": scaleout.run,
        "recovery": recovery.run,
        "callbacks": callbacks.run,
        "events": events.run,
    }

    started = time.monotonic()
    now = datetime.datetime.now().astimezone()
    result: dict[str, Any] = {
        "date": now.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": described,
        "cpus": cpus.describe() + f"; the suite's processes at {priority()}",
        "background_busy_pct": {},
        "warnings": [],
    }
    print(f"spillway bench ({result['mode']}): {result['cpus']}; logs in {logs()}")
    for section in only:
        busy = wait_quiet(args.quiet_wait)
        result["background_busy_pct"][section] = busy
        if busy > QUIET_BUSY_PCT:
            result["warnings"].append(
                f"{section}: other processes kept {busy:.0f}% of the CPUs busy at the start"
            )
        print(f"{section}:")
        try:
            result[section] = runners[section](configs[section], cpus)
        except BenchError as exc:
            print(f"{section} failed: {exc}", file=sys.stderr)
            result["warnings"].append(f"{section} failed: {str(exc).splitlines()[0]}")
    result["elapsed_s"] = time.monotonic() - started

    # Every wrk run must be all 2xx, and Redis must hold at least what was answered.
    for section, kind in (("submit", "apps"), ("durable", "variants"), ("events", "variants")):
        for name, app in (result.get(section) or {}).get(kind, {}).items():
            if app["non_2xx"] or app["socket_errors"]:
                result["warnings"].append(
                    f"{section} {name}: {app['non_2xx']} non-2xx responses, "
                    f"{app['socket_errors']} socket errors (must be 0)"
                )
            if not app["enqueued_at_least_counted"]:
                result["warnings"].append(f"{section} {name}: fewer messages queued than counted")
    for section in SECTIONS:
        data = result.get(section) or {}
        parts = [data, *(data.get("levels") or {}).values()]
        left_out = sum(p.get("rounds_left_out", 0) + p.get("runs_left_out", 0) for p in parts)
        if left_out:
            result["warnings"].append(
                f"{section}: {left_out} round(s) stayed disturbed by other processes after "
                f"{ROUND_ATTEMPTS} attempts (over {OTHERS_LIMIT_PCT:g}% of the server's CPU) "
                "and are left out of the figures (kept in the JSON)"
            )
    result["verdicts"] = report.verdicts(result)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", result["machine"]["host"])
    stem = f"{now.date().isoformat()}-{host}" + ("-quick" if args.quick else "")
    if set(only) != set(SECTIONS):  # a partial run never overwrites a full one
        stem += "-" + "-".join(only)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(report.markdown(result))
    print()
    for row in result["verdicts"]:
        print(
            f"{'MET ' if row['met'] else 'MISS'} {row['what']:50s} {row['target']:>7s}  "
            f"median {row['median']:.2f} ({row['min']:.2f}-{row['max']:.2f})"
        )
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    print(f"\nwrote {out / stem}.md and .json ({result['elapsed_s']:.0f} s)")
    shutil.rmtree(logs(), ignore_errors=True)
    return 1 if any("failed" in w for w in result["warnings"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
