"""Recovery after kill -9 of a whole worker, with the default lease settings.

A private Redis, one `spillway api` and two `spillway worker`s with their defaults
(SPILLWAY_LEASE_TTL 10 s, renewed every 2 s; SPILLWAY_SWEEP_INTERVAL 1 s; concurrency 2). Each
round starts two fresh workers on an emptied Redis, submits two `mark` invocations
(bench/apps/marks.py: every run notes its start, with the time and its pid, in a Redis of the
benchmark's own; the first run sleeps), waits until they run, waits a random part of one renewal
interval (so the kill falls anywhere between two renewals), kills the process group of a worker
running them (main process and pool children, as a lost pod or node), and measures from just
before the kill until each of its invocations starts running again on the other worker. The
figure per kill is the slowest of its invocations (all its work back); the section reports min,
median, p90 and max over the kills, and the spread per invocation.

Expected, from the settings: the lease outlives the kill by 8 to 10 s (the last renewal was up
to 2 s earlier), then the next sweep (within 1 s) puts the deliveries back at the head of the
queue and the other worker takes them at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from bench.harness.cpus import Cpus
from bench.harness.probes import http_post, wait_ok
from bench.harness.processes import BIN, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.stats import summary
from functions.keys import record_key
from functions.localredis import free_port

FUNCTIONS = "bench.apps.marks"
RENEWAL_INTERVAL = 2.0  # s: SPILLWAY_LEASE_TTL / 5 (functions/worker/lease.py)


@dataclass(frozen=True)
class Config:
    kills: int = 20
    per_kill: int = 2  # invocations submitted per round (the worker's default concurrency)
    first_run_s: float = 60.0  # how long a first run sleeps: far longer than recovery
    timeout_s: float = 40.0  # per round, for the work to run again
    seed: int = 0  # of the pause before each kill


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _worker(url: str, marks_url: str, n: int) -> tuple[Proc, int]:
    port = free_port()
    env = child_env(
        REDIS_URL=url,
        SPILLWAY_FUNCTION_MODULES=FUNCTIONS,
        SPILLWAY_LOG_LEVEL="WARNING",
        SPILLWAY_WORKER_HTTP_PORT=str(port),
        BENCH_MARKS_URL=marks_url,
    )
    return Proc(f"recovery-worker-{n}", [str(BIN / "spillway"), "worker"], env).start(), port


def _runs(marks: redis.Redis, key: str) -> list[tuple[int, float]]:
    """(pid, start time) of each run of one invocation, in order."""
    runs = [_text(raw).split() for raw in marks.lrange(key, 0, -1)]
    return [(int(pid), float(at)) for pid, at in runs]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"recovery: {what} within {timeout:g}s")
        time.sleep(0.01)


def _owner(client: redis.Redis, invocation_id: str) -> int:
    """The main pid of the worker holding an invocation (its lease is
    "<host>:<pid>:<epoch>:<random>", functions/worker/lease.py)."""
    lease = client.hget(record_key("", invocation_id), "worker")
    if lease is None:
        raise BenchError(f"recovery: no worker on record for {invocation_id}")
    return int(_text(lease).split(":")[1])


def one_kill(
    config: Config,
    api_port: int,
    client: redis.Redis,
    marks: redis.Redis,
    workers: list[Proc],
    pause: float,
) -> list[float]:
    """One round: submit, kill the worker running the work, time until it runs again."""
    keys = [f"mark:{uuid.uuid4().hex}" for _ in range(config.per_kill)]
    ids = []
    for key in keys:
        body = json.dumps({"key": key, "seconds": config.first_run_s}).encode()
        status, answer = http_post(api_port, "/v1/functions/mark/invocations", body)
        if status != 202:
            raise BenchError(f"recovery: submit answered {status}: {answer[:300]!r}")
        ids.append(json.loads(answer)["id"])
    _wait(lambda: all(_runs(marks, k) for k in keys), 30, "the work did not start")
    owners = {invocation_id: _owner(client, invocation_id) for invocation_id in ids}
    victim = max(set(owners.values()), key=list(owners.values()).count)
    killed = [(key, i) for key, i in zip(keys, ids, strict=True) if owners[i] == victim]
    (proc,) = [w for w in workers if w.pid == victim]
    time.sleep(pause)  # anywhere in the lease's renewal interval
    killed_at = time.time()
    os.killpg(victim, signal.SIGKILL)
    proc.stop()  # reaps it
    _wait(
        lambda: all(len(_runs(marks, key)) >= 2 for key, _ in killed),
        config.timeout_s,
        "the killed worker's work did not run again",
    )
    waits = []
    for key, invocation_id in killed:
        if _owner(client, invocation_id) == victim:
            raise BenchError("recovery: the rerun is on record for the killed worker")
        waits.append(_runs(marks, key)[1][1] - killed_at)
    return waits


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    per_kill: list[float] = []
    per_invocation: list[float] = []
    rng = random.Random(config.seed)
    with redis_server(cpus.load) as server, redis_server(cpus.load) as marks_server:
        client = redis.Redis.from_url(server.url)
        marks = redis.Redis.from_url(marks_server.url)
        api_port = free_port()
        api = Proc(
            "recovery-api",
            [str(BIN / "spillway"), "api", "--host", "127.0.0.1", "--port", str(api_port)],
            child_env(
                REDIS_URL=server.url,
                SPILLWAY_FUNCTION_MODULES=FUNCTIONS,
                SPILLWAY_LOG_LEVEL="WARNING",
            ),
        ).start()
        workers: list[Proc] = []
        try:
            wait_ok(api_port, "/readyz", api, timeout=60, interval=0.05)
            for k in range(config.kills):
                # Two fresh, idle workers on an empty Redis for every kill.
                client.flushall()
                started = [_worker(server.url, marks_server.url, 2 * k + n) for n in range(2)]
                workers = [proc for proc, _ in started]
                for proc, port in started:
                    wait_ok(port, "/healthz", proc, timeout=60, interval=0.05)
                pause = rng.uniform(0, RENEWAL_INTERVAL)
                waits = one_kill(config, api_port, client, marks, workers, pause)
                for proc in workers:
                    proc.stop(timeout=0)  # the survivor: SIGTERM, then SIGKILL at once
                per_kill.append(max(waits))
                per_invocation.extend(waits)
                log(
                    f"  kill {k + 1}/{config.kills}: running again after "
                    + ", ".join(f"{w:.2f}" for w in waits)
                    + " s"
                )
        finally:
            for proc in workers:
                proc.stop(timeout=0)
            api.stop()
            client.close()
            marks.close()
    return {
        "config": config.__dict__,
        "settings": {"SPILLWAY_LEASE_TTL": 10.0, "SPILLWAY_SWEEP_INTERVAL": 1.0},
        "seconds": {**summary(per_kill), "p90": _pct(per_kill, 90)},
        "per_invocation": summary(per_invocation),
    }
