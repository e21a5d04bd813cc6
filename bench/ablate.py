"""`python -m bench.ablate worker`: where the worker's time goes, by switching one thing off.

Not part of bench/run. Each variant runs in the same rounds as the unchanged worker (rotated
order, the harness of bench/worker.py), so its effect is a same-run ratio: Spillway, Spillway
without task events, with Celery's unbatched events, with prefetch (multiplier 4), with both,
and plain Celery.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
from typing import Any

import redis

from bench import worker
from bench.harness.cpus import Cpus
from bench.harness.priority import boost
from bench.harness.probes import wait_ok
from bench.harness.processes import BIN, MAX_BACKLOG, Proc, child_env, logs
from bench.harness.redisserver import redis_server
from bench.harness.repeat import clean_run
from bench.harness.stats import rotate, summary
from functions.localredis import free_port

WORKER_VARIANTS: dict[str, dict[str, Any] | None] = {
    "spillway": {},
    "spillway-no-events": {"worker_send_task_events": False},
    # Celery's own consumer: task events published on the next loop turn, not batched.
    "spillway-unbatched-events": {"worker_consumer": "celery.worker.consumer:Consumer"},
    "spillway-prefetch": {"worker_disable_prefetch": False, "worker_prefetch_multiplier": 4},
    "spillway-no-events-prefetch": {
        "worker_send_task_events": False,
        "worker_disable_prefetch": False,
        "worker_prefetch_multiplier": 4,
    },
    "plain-celery": None,
}


def ablate_worker(rounds: int, messages: int, concurrency: int, cpus: Cpus) -> dict[str, Any]:
    config = worker.Config(rounds=rounds, messages=messages, concurrency=concurrency)
    names = list(WORKER_VARIANTS)
    results: dict[str, list[float]] = {n: [] for n in names}
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        api_port = free_port()
        api = Proc(
            "prefill-api",
            [*cpus.taskset("load"), str(BIN / "spillway"), "api", "--port", str(api_port)],
            child_env(REDIS_URL=server.url, SPILLWAY_MAX_BACKLOG=MAX_BACKLOG),
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
                                PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(dir=logs()),
                                BENCH_CELERY_OVERRIDES=json.dumps(overrides),
                            ),
                        )
                    kind = "spillway" if overrides is not None else "plain-celery"
                    # Repeated when other processes took the server's CPU, as in bench/run.
                    res = clean_run(
                        name,
                        functools.partial(
                            worker.one_run,
                            kind,
                            client,
                            server.url,
                            config,
                            cpus,
                            api_port,
                            command,
                        ),
                        print,
                    )
                    results[name].append(res["tasks_per_s"])
                    print(
                        f"  round {r + 1} {name:28s} {res['tasks_per_s']:6.0f} tasks/s "
                        f"others-on-cpu {res['others_on_server_cpu_pct']:.1f}%"
                    )
        finally:
            api.stop()
    return {"tasks_per_s": {n: summary(v) for n, v in results.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ablate")
    parser.add_argument("what", choices=["worker"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    cpus = Cpus.detect()
    os.sched_setaffinity(0, set(cpus.load))
    boost()
    result = ablate_worker(args.rounds, args.messages, args.concurrency, cpus)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
