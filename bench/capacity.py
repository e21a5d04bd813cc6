"""API capacity: Spillway's submit throughput and latency against the number of requests in flight.

The Knative Service's `target` and `containerConcurrency` come from here (knative/service.yaml):
one uvicorn process, as in one API pod, driven by wrk with 1, 2, 4 ... 64 connections (closed
loop, so exactly that many requests are in flight). Throughput rises with concurrency until the
process's CPU is saturated; past that knee more in-flight requests only add latency. The knee is
the smallest concurrency reaching 90 % of the best throughput: a pod should be kept near it.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass
from typing import Any

import redis

from bench import submit
from bench.harness.cpus import Cpus
from bench.harness.redisserver import redis_server
from bench.harness.repeat import clean_run
from bench.harness.stats import rotate

KNEE_SHARE = 0.9


@dataclass(frozen=True)
class Config:
    levels: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    rounds: int = 2
    duration: int = 4
    warmup: int = 1


def knee(levels: dict[int, dict[str, float]]) -> int:
    """The smallest concurrency whose median throughput reaches KNEE_SHARE of the best."""
    best = max(level["rps"] for level in levels.values())
    return min(c for c, level in levels.items() if level["rps"] >= KNEE_SHARE * best)


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    bodies = submit.write_bodies()
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in config.levels}
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        for r in range(config.rounds):
            for c in rotate(list(config.levels), r):
                cfg = submit.Config(
                    rounds=1, duration=config.duration, warmup=config.warmup, connections=c
                )
                result = clean_run(
                    f"{c} in flight",
                    functools.partial(
                        submit.one_run, "spillway", client, server.url, cfg, cpus, bodies
                    ),
                    log,
                )
                runs[c].append(result)
                log(
                    f"  round {r + 1}/{config.rounds} {c:3d} in flight {result['rps']:7.0f} req/s"
                    f"  mean {result['mean_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:6.2f}"
                    f" ms  non-2xx {result['status_errors']}"
                    f"  others-on-cpu {result['others_on_server_cpu_pct']:.1f}%"
                )
        client.close()
    levels = {
        c: {
            "rps": statistics.median(x["rps"] for x in results),
            "mean_ms": statistics.median(x["mean_us"] / 1000 for x in results),
            "p99_ms": statistics.median(x["p99_us"] / 1000 for x in results),
            "non_2xx": sum(x["status_errors"] for x in results),
        }
        for c, results in runs.items()
    }
    at = knee(levels)
    best = max(level["rps"] for level in levels.values())
    log(
        f"  knee: {at} in flight, {levels[at]['rps']:.0f} req/s at {levels[at]['mean_ms']:.2f} ms"
        f" mean (best {best:.0f} req/s)"
    )
    return {
        "config": {**config.__dict__, "knee_share": KNEE_SHARE},
        "levels": {str(c): level for c, level in levels.items()},
        "knee": {"in_flight": at, **levels[at]},
        "best_rps": best,
        "runs": {str(c): results for c, results in runs.items()},
    }
