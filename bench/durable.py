"""What durability costs the submit path: the same single-submit load under each setting.

One uvicorn process serves `functions.api.main:app` as in the submit section (same body, same
wrk options), against a private Redis configured per variant:

  memory          no persistence (what the submit section measures): the same-run baseline
  aof-everysec    appendonly yes, appendfsync everysec (the platform Redis, platform/redis.yaml)
  aof-always      appendonly yes, appendfsync always (an fsync before replies, in beforeSleep)
  wait-replica    no persistence, one replica, SPILLWAY_DURABLE_REPLICAS=1 (WAIT in the same
                  round trip as the submit script)

A round runs every variant once, in rotating order, each with a fresh Redis (and replica) whose
files are on the machine's disk (the report names its filesystem: fsync on tmpfs costs nothing).
Ratios to `memory` and to `aof-everysec` are computed per round, then summarised. Each run also
measures one connection alone (`wrk -c1`): with many submits in flight Redis shares one fsync (or
one replica acknowledgment) among all that arrived in the same event-loop pass, while a lone
producer waits for each, so the cost shows in that latency first.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench import payloads
from bench.harness.cpus import Cpus, pin
from bench.harness.interference import OthersOnCpu
from bench.harness.priority import boost
from bench.harness.probes import http_post, wait_ok
from bench.harness.processes import MAX_BACKLOG, BenchError, Proc, child_env
from bench.harness.repeat import all_clean, clean_only, clean_run, kept_rounds
from bench.harness.stats import rotate, summary
from bench.submit import uvicorn_argv, write_bodies, wrk
from functions.localredis import RedisServer, free_port

APP = "functions.api.main:app"


@dataclass(frozen=True)
class Variant:
    appendfsync: str | None  # None: AOF off
    replica: bool = False


VARIANTS: dict[str, Variant] = {
    "memory": Variant(None),
    "aof-everysec": Variant("everysec"),
    "aof-always": Variant("always"),
    "wait-replica": Variant(None, replica=True),
}
ORDER = list(VARIANTS)


@dataclass(frozen=True)
class Config:
    rounds: int = 4
    duration: int = 8
    warmup: int = 2
    connections: int = 32
    alone_duration: int = 3  # seconds of wrk -c1
    durable_timeout: float = 0.3  # with a 1 s Redis deadline: throughput, not timeouts


def _start(server: RedisServer, cpus: Cpus) -> RedisServer:
    server.start()
    assert server.process is not None
    pin(server.process.pid, cpus.load)
    boost(server.process.pid)
    return server


@contextlib.contextmanager
def redis_for(variant: Variant, cpus: Cpus) -> Iterator[tuple[RedisServer, RedisServer | None]]:
    """A fresh Redis (and replica) for one run, files on the disk under the temp directory."""
    primary = _start(RedisServer(appendonly=variant.appendfsync is not None), cpus)
    replica = None
    try:
        admin = redis.Redis.from_url(primary.url)
        if variant.appendfsync:
            admin.config_set("appendfsync", variant.appendfsync)
        if variant.replica:
            admin.config_set("repl-diskless-sync-delay", 0)
            replica = _start(RedisServer(), cpus)
            follower = redis.Redis.from_url(replica.url)
            follower.replicaof("127.0.0.1", primary.port)
            deadline = time.monotonic() + 30
            while not _acknowledging(follower, admin):
                if time.monotonic() > deadline:
                    raise BenchError("the replica did not sync within 30 s")
                time.sleep(0.05)
            admin.delete("bench:synced")
            follower.close()
        admin.close()
        yield primary, replica
    finally:
        if replica is not None:
            replica.close()
        primary.close()


def _acknowledging(replica: redis.Redis, primary: redis.Redis) -> bool:
    """Linked and acknowledging: right after a full sync, Redis 7.0's first WAITs time out."""
    if replica.info("replication").get("master_link_status") != "up":
        return False
    primary.set("bench:synced", 1)
    return int(primary.execute_command("WAIT", 1, 100)) == 1  # type: ignore[no-untyped-call]


def one_run(name: str, config: Config, cpus: Cpus, body_file: Path) -> dict[str, Any]:
    variant = VARIANTS[name]
    with redis_for(variant, cpus) as (primary, _replica):
        port = free_port()
        settings = {"REDIS_URL": primary.url, "SPILLWAY_MAX_BACKLOG": MAX_BACKLOG}
        settings["SPILLWAY_LOG_LEVEL"] = "WARNING"
        if variant.replica:
            settings["SPILLWAY_DURABLE_REPLICAS"] = "1"
            settings["SPILLWAY_DURABLE_TIMEOUT"] = str(config.durable_timeout)
            settings["SPILLWAY_REDIS_TIMEOUT"] = "1.0"
        with Proc(name, uvicorn_argv(APP, port, cpus), child_env(**settings)) as proc:
            wait_ok(port, "/readyz", proc)
            status, answer = http_post(port, payloads.SUBMIT_PATH, body_file.read_bytes())
            if status != 202:
                raise BenchError(f"{name}: smoke request answered {status}: {answer[:300]!r}")
            wrk(port, payloads.SUBMIT_PATH, body_file, config.warmup, config.connections, cpus)
            others = OthersOnCpu(proc.pid, cpus.server)
            result = wrk(
                port, payloads.SUBMIT_PATH, body_file, config.duration, config.connections, cpus
            )
            others_pct = others.pct()
            alone = wrk(port, payloads.SUBMIT_PATH, body_file, config.alone_duration, 1, cpus)
            if not proc.alive():
                raise BenchError(f"{name} died during the run:\n{proc.log_tail()}")
        client = redis.Redis.from_url(primary.url)
        depth = int(client.llen("spillway"))
        client.close()
    result.update(
        variant=name,
        queue_depth_after=depth,
        enqueued_at_least_counted=depth >= result["requests"] + alone["requests"],
        alone_rps=alone["rps"],
        alone_p50_us=alone["p50_us"],
        alone_p99_us=alone["p99_us"],
        alone_errors=alone["status_errors"] + alone["socket_errors"],
        others_on_server_cpu_pct=others_pct,
    )
    return result


def _filesystem(path: str) -> str:
    out = subprocess.run(
        ["df", "--output=fstype", path], capture_output=True, text=True, check=False
    )
    lines = out.stdout.split()
    return lines[-1] if len(lines) > 1 else "unknown"


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    body_file = write_bodies()["single"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ORDER}
    rounds: list[dict[str, Any]] = []
    for r in range(config.rounds):
        order = rotate(ORDER, r)
        current: dict[str, dict[str, Any]] = {}
        for name in order:
            result = clean_run(
                f"round {r + 1} {name}",
                functools.partial(one_run, name, config, cpus, body_file),
                log,
            )
            result["round"] = r
            current[name] = result
            runs[name].append(result)
            log(
                f"  round {r + 1}/{config.rounds} {name:13s} {result['rps']:8.0f} req/s  p50 "
                f"{result['p50_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:6.2f} ms  "
                f"non-2xx {result['status_errors']} sock-err {result['socket_errors']}  "
                f"others-on-cpu {result['others_on_server_cpu_pct']:.1f}%"
            )
        base, platform = current["memory"], current["aof-everysec"]
        rounds.append(
            {
                "order": order,
                "vs_memory": {n: current[n]["rps"] / base["rps"] for n in ORDER},
                "vs_everysec": {n: current[n]["rps"] / platform["rps"] for n in ORDER},
                "clean": all_clean(current.values()),
            }
        )
    kept = kept_rounds(rounds)
    clean = clean_only(rounds)
    variants = {}
    for name, results in runs.items():
        used = [x for x in results if x["round"] in kept]
        variants[name] = {
            "rps": summary([x["rps"] for x in used]),
            "p50_ms": summary([x["p50_us"] / 1000 for x in used]),
            "p99_ms": summary([x["p99_us"] / 1000 for x in used]),
            "alone_rps": summary([x["alone_rps"] for x in used]),
            "alone_p50_ms": summary([x["alone_p50_us"] / 1000 for x in used]),
            "alone_p99_ms": summary([x["alone_p99_us"] / 1000 for x in used]),
            "vs_memory": summary([r["vs_memory"][name] for r in clean]),
            "vs_everysec": summary([r["vs_everysec"][name] for r in clean]),
            "non_2xx": sum(x["status_errors"] for x in used),
            "socket_errors": sum(x["socket_errors"] + x["alone_errors"] for x in used),
            "enqueued_at_least_counted": all(x["enqueued_at_least_counted"] for x in used),
            "runs": used,
        }
    return {
        "config": {**config.__dict__, "threads": 1, "payload": payloads.PAYLOAD},
        "aof_filesystem": _filesystem(os.environ.get("TMPDIR", "/tmp")),
        "variants": variants,
        "rounds": rounds,
        "rounds_left_out": len(rounds) - len(kept),
    }
