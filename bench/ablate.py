"""`python -m bench.ablate api|worker`: where Spillway's time goes, by switching one thing off.

Not part of bench/run. Each variant runs in the same rounds as the unchanged code (rotated order,
same harness as bench/submit.py and bench/worker.py), so its effect is a same-run ratio:
  api     spillway, spillway with async dependencies, ceiling
  worker  spillway, spillway without task events, with prefetch, with both, plain Celery
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

import redis

from bench import payloads, submit, worker
from bench.common import (
    BIN,
    LOGS,
    Cpus,
    Proc,
    child_env,
    clean_round,
    redis_server,
    rotate,
    summary,
    wait_ok,
)
from functions.localredis import free_port

WORKER_VARIANTS: dict[str, dict[str, Any] | None] = {
    "spillway": {},
    "spillway-no-events": {"worker_send_task_events": False},
    "spillway-prefetch": {"worker_disable_prefetch": False, "worker_prefetch_multiplier": 4},
    "spillway-no-events-prefetch": {
        "worker_send_task_events": False,
        "worker_disable_prefetch": False,
        "worker_prefetch_multiplier": 4,
    },
    "plain-celery": None,
}


def ablate_api(rounds: int, duration: int, cpus: Cpus) -> dict[str, Any]:
    submit.APPS["spillway-async-deps"] = submit.App(
        "bench.apps.spillway_variants:api_async_deps", submit.APPS["spillway"].path, "spillway"
    )
    names = ["spillway", "spillway-async-deps", "ceiling"]
    config = submit.Config(rounds=rounds, duration=duration, warmup=2)
    body = LOGS / "single.json"
    body.write_bytes(payloads.body())
    bodies = {"single": body, "batch": body}
    results: dict[str, list[float]] = {n: [] for n in names}
    ratios: list[float] = []
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        for r in range(rounds):
            current = {}
            for name in rotate(names, r):
                res, foreign, _ = clean_round(
                    name,
                    lambda name=name: submit.one_run(
                        name, client, server.url, config, cpus, bodies
                    ),
                    print,
                )
                current[name] = res["rps"]
                results[name].append(res["rps"])
                print(
                    f"  round {r + 1} {name:20s} {res['rps']:7.0f} req/s p99 "
                    f"{res['p99_us'] / 1000:.1f} ms others {foreign:.0f}%"
                )
            ratios.append(current["spillway-async-deps"] / current["spillway"])
    return {
        "rps": {n: summary(v) for n, v in results.items()},
        "async_deps_vs_spillway": summary(ratios),
    }


def ablate_worker(rounds: int, messages: int, cpus: Cpus) -> dict[str, Any]:
    config = worker.Config(rounds=rounds, messages=messages)
    names = list(WORKER_VARIANTS)
    results: dict[str, list[float]] = {n: [] for n in names}
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        api_port = free_port()
        api = Proc(
            "prefill-api",
            [*cpus.taskset("load"), str(BIN / "spillway"), "api", "--port", str(api_port)],
            child_env(REDIS_URL=server.url, SPILLWAY_MAX_BACKLOG="1000000000"),
        ).start()
        try:
            wait_ok(api_port, "/readyz", api)
            for r in range(rounds):
                for name in rotate(names, r):
                    overrides = WORKER_VARIANTS[name]
                    command = None
                    if overrides is not None:
                        command = (
                            [
                                *cpus.taskset("server"),
                                str(BIN / "celery"),
                                "-A",
                                "bench.apps.spillway_variants:worker",
                                "worker",
                                "--queues",
                                "spillway",
                                "--loglevel",
                                "WARNING",
                                "--without-gossip",
                                "--without-mingle",
                            ],
                            child_env(
                                REDIS_URL=server.url,
                                REMAP_SIGTERM="SIGQUIT",
                                SPILLWAY_WORKER_CONCURRENCY=str(config.concurrency),
                                SPILLWAY_WORKER_HTTP_PORT=str(free_port()),
                                SPILLWAY_LOG_LEVEL="WARNING",
                                PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=LOGS),
                                BENCH_CELERY_OVERRIDES=json.dumps(overrides),
                            ),
                        )
                    kind = "spillway" if overrides is not None else "plain-celery"
                    res, foreign, _ = clean_round(
                        name,
                        lambda kind=kind, command=command: worker.one_run(
                            kind, client, server.url, config, cpus, api_port, command
                        ),
                        print,
                    )
                    results[name].append(res["tasks_per_s"])
                    print(
                        f"  round {r + 1} {name:28s} {res['tasks_per_s']:6.0f} tasks/s "
                        f"others {foreign:.0f}%"
                    )
        finally:
            api.stop()
    return {"tasks_per_s": {n: summary(v) for n, v in results.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ablate")
    parser.add_argument("what", choices=["api", "worker"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    cpus = Cpus.detect()
    os.sched_setaffinity(0, set(cpus.load))
    if args.what == "api":
        result = ablate_api(args.rounds, args.duration, cpus)
    else:
        result = ablate_worker(args.rounds, args.messages, cpus)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
