"""CloudEvents ingress vs a plain invocation of the same function, in the same run.

One uvicorn process serves `functions.api.main:app` as in the submit section (same options,
same private Redis flushed before each run), and wrk sends `echo` the submit section's payload
either as a plain invocation (`POST /v1/functions/echo/invocations`) or as a CloudEvent in binary
mode (`POST /v1/events`, `ce-type: dev.spillway.echo`, a new `ce-id` per request, so each is a
new event and enqueued, not an idempotent replay). Both build each request in bench/post.lua's
request() ($BENCH_PER_REQUEST), so the client does the same work for both. A round runs
both, in rotating order; the ratio events / plain is taken per round. Target: at least 0.9
(issue 14).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench import payloads
from bench.harness.cpus import Cpus
from bench.harness.interference import OthersOnCpu
from bench.harness.probes import wait_ok
from bench.harness.processes import MAX_BACKLOG, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.repeat import all_clean, clean_only, clean_run, kept_rounds
from bench.harness.stats import rotate, summary
from bench.submit import uvicorn_argv, write_bodies, wrk
from functions.localredis import free_port

APP = "functions.api.main:app"
EVENT_TYPE = "dev.spillway.echo"
PATHS = {"plain": "/v1/functions/echo/invocations", "event": "/v1/events"}
ORDER = ["plain", "event"]


@dataclass(frozen=True)
class Config:
    rounds: int = 4
    duration: int = 8
    warmup: int = 2
    connections: int = 32


def one_run(
    name: str, client: redis.Redis, url: str, config: Config, cpus: Cpus, body_file: Path
) -> dict[str, Any]:
    client.flushall()
    port = free_port()
    env = child_env(REDIS_URL=url, SPILLWAY_MAX_BACKLOG=MAX_BACKLOG, SPILLWAY_LOG_LEVEL="WARNING")
    extra = {"BENCH_PER_REQUEST": "1"}
    if name == "event":
        extra["BENCH_CE_TYPE"] = EVENT_TYPE
    path = PATHS[name]
    with Proc(name, uvicorn_argv(APP, port, cpus), env) as proc:
        wait_ok(port, "/readyz", proc)
        warm = wrk(port, path, body_file, config.warmup, config.connections, cpus, env=extra)
        if warm["requests"] == 0 or warm["status_errors"]:
            raise BenchError(f"{name}: warm-up answered {warm['status_errors']} errors")
        others = OthersOnCpu(proc.pid, cpus.server)
        result = wrk(port, path, body_file, config.duration, config.connections, cpus, env=extra)
        others_pct = others.pct()
        if not proc.alive():
            raise BenchError(f"{name} died during the run:\n{proc.log_tail()}")
    depth = int(client.llen("spillway"))
    result.update(
        variant=name,
        queue_depth_after=depth,
        # Every answered request was a new invocation (no replays), so the queue holds them all.
        enqueued_at_least_counted=depth >= warm["requests"] + result["requests"],
        others_on_server_cpu_pct=others_pct,
    )
    return result


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    body_file = write_bodies()["single"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ORDER}
    rounds: list[dict[str, Any]] = []
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        for r in range(config.rounds):
            order = rotate(ORDER, r)
            current: dict[str, dict[str, Any]] = {}
            for name in order:
                result = clean_run(
                    f"round {r + 1} {name}",
                    functools.partial(one_run, name, client, server.url, config, cpus, body_file),
                    log,
                )
                result["round"] = r
                current[name] = result
                runs[name].append(result)
                log(
                    f"  round {r + 1}/{config.rounds} {name:6s} {result['rps']:8.0f} req/s  p50 "
                    f"{result['p50_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:6.2f} ms  "
                    f"non-2xx {result['status_errors']} sock-err {result['socket_errors']}  "
                    f"others-on-cpu {result['others_on_server_cpu_pct']:.1f}%"
                )
            rounds.append(
                {
                    "order": order,
                    "event_vs_plain": current["event"]["rps"] / current["plain"]["rps"],
                    "clean": all_clean(current.values()),
                }
            )
        client.flushall()
        client.close()
    kept = kept_rounds(rounds)
    variants = {}
    for name, results in runs.items():
        used = [x for x in results if x["round"] in kept]
        variants[name] = {
            "rps": summary([x["rps"] for x in used]),
            "p50_ms": summary([x["p50_us"] / 1000 for x in used]),
            "p99_ms": summary([x["p99_us"] / 1000 for x in used]),
            "non_2xx": sum(x["status_errors"] for x in used),
            "socket_errors": sum(x["socket_errors"] for x in used),
            "enqueued_at_least_counted": all(x["enqueued_at_least_counted"] for x in used),
            "others_on_server_cpu_pct_max": max(x["others_on_server_cpu_pct"] for x in used),
            "runs": used,
        }
    return {
        "config": {**config.__dict__, "threads": 1, "payload": payloads.PAYLOAD},
        "variants": variants,
        "rounds": rounds,
        "rounds_left_out": len(rounds) - len(kept),
        "ratios": {"event_vs_plain": summary([r["event_vs_plain"] for r in clean_only(rounds)])},
    }
