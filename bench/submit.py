"""Submit throughput and latency: Spillway vs the naive baseline vs the ceiling, and batch submit.

Each run starts ONE uvicorn process for one app (same options for all), against a private Redis
that is flushed before the run, warms it up with wrk, then measures with wrk for a fixed duration
and connection count. A round runs every app once; the order rotates between rounds so no app is
always first or last. Ratios are computed within each round, then summarised across rounds.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench import payloads
from bench.harness.cpus import Cpus
from bench.harness.interference import OthersOnCpu
from bench.harness.probes import http_post, wait_ok
from bench.harness.processes import (
    BIN,
    MAX_BACKLOG,
    UVICORN_OPTS,
    BenchError,
    Proc,
    child_env,
    logs,
)
from bench.harness.redisserver import redis_server
from bench.harness.repeat import all_clean, clean_only, clean_run, kept_rounds
from bench.harness.stats import rotate, summary
from functions.localredis import free_port

LUA = Path(__file__).with_name("post.lua")


@dataclass(frozen=True)
class App:
    module: str
    path: str
    queue: str  # the Redis list it pushes to
    per_request: int = 1  # invocations per request


APPS: dict[str, App] = {
    "spillway": App("functions.api.main:app", payloads.SUBMIT_PATH, "spillway"),
    "baseline": App("bench.apps.naive:app", payloads.SUBMIT_PATH, "celery"),
    "ceiling": App("bench.apps.ceiling:app", payloads.SUBMIT_PATH, "ceiling"),
    "ceiling-resp": App("bench.apps.ceiling_resp:app", payloads.SUBMIT_PATH, "ceiling"),
    "spillway-batch": App(
        "functions.api.main:app", payloads.BATCH_PATH, "spillway", payloads.BATCH_SIZE
    ),
}
ORDER = ["spillway", "baseline", "ceiling", "ceiling-resp", "spillway-batch"]


@dataclass(frozen=True)
class Config:
    rounds: int = 5
    duration: int = 8
    warmup: int = 2
    connections: int = 32


def uvicorn_argv(module: str, port: int, cpus: Cpus) -> list[str]:
    return [
        *cpus.taskset("server"),
        str(BIN / "uvicorn"),
        module,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *UVICORN_OPTS,
    ]


def wrk(
    port: int,
    path: str,
    body_file: Path,
    duration: int,
    connections: int,
    cpus: Cpus,
    env: dict[str, str] | None = None,
    authorization: str = "",
) -> dict[str, Any]:
    argv = [
        *cpus.taskset("load"),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{path}",
    ]
    wrk_env = dict(
        os.environ, BENCH_BODY_FILE=str(body_file), BENCH_AUTHORIZATION=authorization, **(env or {})
    )
    out = subprocess.run(argv, env=wrk_env, capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            break
    else:
        raise BenchError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["socket_errors"] = sum(
        result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return result


def one_run(
    name: str, client: redis.Redis, url: str, config: Config, cpus: Cpus, bodies: dict[str, Path]
) -> dict[str, Any]:
    app = APPS[name]
    body_file = bodies["batch" if app.per_request > 1 else "single"]
    client.flushall()
    port = free_port()
    env = child_env(REDIS_URL=url, SPILLWAY_MAX_BACKLOG=MAX_BACKLOG, SPILLWAY_LOG_LEVEL="WARNING")
    with Proc(name, uvicorn_argv(app.module, port, cpus), env) as proc:
        wait_ok(port, "/readyz", proc)
        status, answer = http_post(port, app.path, body_file.read_bytes())
        if status != 202:
            raise BenchError(f"{name}: smoke request answered {status}: {answer[:300]!r}")
        warm = wrk(port, app.path, body_file, config.warmup, config.connections, cpus)
        others = OthersOnCpu(proc.pid, cpus.server)
        result = wrk(port, app.path, body_file, config.duration, config.connections, cpus)
        others_pct = others.pct()
        if not proc.alive():
            raise BenchError(f"{name} died during the run:\n{proc.log_tail()}")
    depth = int(client.llen(app.queue))
    sample = client.lindex(app.queue, 0)
    counted = (1 + warm["requests"] + result["requests"]) * app.per_request
    result.update(
        app=name,
        invocations_per_s=result["rps"] * app.per_request,
        warmup_status_errors=warm["status_errors"],
        warmup_socket_errors=warm["socket_errors"],
        queue_depth_after=depth,
        # wrk cannot count responses still in flight when it stops, so the queue may hold a
        # few more than it counted, never fewer.
        enqueued_at_least_counted=depth >= counted,
        message_bytes=len(sample) if isinstance(sample, bytes) else None,
        others_on_server_cpu_pct=others_pct,
    )
    return result


def write_bodies() -> dict[str, Path]:
    """The request bodies as files for wrk's script (bench/post.lua reads $BENCH_BODY_FILE)."""
    workdir = Path(tempfile.mkdtemp(prefix="bodies-", dir=logs()))
    bodies = {"single": workdir / "single.json", "batch": workdir / "batch.json"}
    bodies["single"].write_bytes(payloads.body())
    bodies["batch"].write_bytes(payloads.batch_body())
    return bodies


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    bodies = write_bodies()
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
                    functools.partial(one_run, name, client, server.url, config, cpus, bodies),
                    log,
                )
                current[name] = result
                runs[name].append(result)
                log(
                    f"  round {r + 1}/{config.rounds} {name:15s} {result['rps']:9.0f} req/s "
                    f"{result['invocations_per_s']:9.0f} inv/s  p50 {result['p50_us'] / 1000:6.2f} "
                    f"ms  p99 {result['p99_us'] / 1000:6.2f} ms  non-2xx "
                    f"{result['status_errors']} sock-err {result['socket_errors']}  "
                    f"others-on-cpu {result['others_on_server_cpu_pct']:.1f}% "
                    f"others {result['foreign_cpu_pct']:.0f}%"
                )
            s, b, c = current["spillway"], current["baseline"], current["ceiling"]
            rounds.append(
                {
                    "order": order,
                    "throughput_vs_baseline": s["rps"] / b["rps"],
                    "throughput_vs_ceiling": s["rps"] / c["rps"],
                    # Informative: the same ceiling on Spillway's RESP client.
                    "throughput_vs_ceiling_resp": s["rps"] / current["ceiling-resp"]["rps"],
                    "p99_vs_baseline": s["p99_us"] / b["p99_us"],
                    "batch_vs_single": current["spillway-batch"]["invocations_per_s"] / s["rps"],
                    "clean": all_clean(current.values()),
                }
            )
            for name in order:
                current[name]["round"] = r
        client.flushall()
        client.close()
    # Rounds still disturbed after every attempt are left out of the figures (kept in "rounds").
    kept = kept_rounds(rounds)
    apps = {}
    for name, all_results in runs.items():
        results = [x for x in all_results if x["round"] in kept]
        apps[name] = {
            "rps": summary([x["rps"] for x in results]),
            "invocations_per_s": summary([x["invocations_per_s"] for x in results]),
            "p50_ms": summary([x["p50_us"] / 1000 for x in results]),
            "p99_ms": summary([x["p99_us"] / 1000 for x in results]),
            "non_2xx": sum(x["status_errors"] + x["warmup_status_errors"] for x in results),
            "socket_errors": sum(x["socket_errors"] + x["warmup_socket_errors"] for x in results),
            "enqueued_at_least_counted": all(x["enqueued_at_least_counted"] for x in results),
            "message_bytes": results[0]["message_bytes"] if results else None,
            "foreign_cpu_pct_max": max(x["foreign_cpu_pct"] for x in results),
            "others_on_server_cpu_pct_max": max(x["others_on_server_cpu_pct"] for x in results),
            "runs": results,
        }
    ratios = {
        key: summary([r[key] for r in clean_only(rounds)])
        for key in (
            "throughput_vs_baseline",
            "throughput_vs_ceiling",
            "throughput_vs_ceiling_resp",
            "p99_vs_baseline",
            "batch_vs_single",
        )
    }
    return {
        "config": {
            **config.__dict__,
            "threads": 1,
            "batch_size": payloads.BATCH_SIZE,
            "payload": payloads.PAYLOAD,
            "single_body_bytes": len(payloads.body()),
            "batch_body_bytes": len(payloads.batch_body()),
        },
        "apps": apps,
        "rounds": rounds,
        "rounds_left_out": len(rounds) - len(kept),
        "ratios": ratios,
    }
