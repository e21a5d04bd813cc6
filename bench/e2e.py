"""End-to-end latency at idle: submit `echo`, then poll until the record says `succeeded`.

One private redis-server, one `spillway api` and one `spillway worker` (concurrency 1, prefork).
Invocations go one at a time, the next only after the previous one succeeded, so the system is
idle apart from the one invocation in flight. Two figures per invocation:
  client     from just before the POST is sent to the GET /v1/invocations/{id} that first shows
             `succeeded` (polled over one keep-alive connection every `poll_ms`; the poll
             interval adds up to `poll_ms` to this figure)
  record     finished_at - submitted_at of that record (the server's clock; no polling in it)
Each run reports p50 and p95 over its invocations; the section reports the median of the runs'
p50 and p95 with their spread.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.harness.cpus import Cpus
from bench.harness.probes import wait_ok
from bench.harness.processes import BIN, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.stats import summary
from functions.localredis import free_port


@dataclass(frozen=True)
class Config:
    runs: int = 5
    invocations: int = 50
    warmup: int = 5
    poll_ms: float = 1.0
    timeout_s: float = 30.0


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def one_invocation(
    conn: http.client.HTTPConnection, config: Config, i: int
) -> tuple[float, float, float, int]:
    """(client-observed ms, record finished_at - submitted_at ms, the POST's round trip ms,
    GETs sent) of one echo."""
    body = json.dumps({"i": i}).encode()
    headers = {"Content-Type": "application/json"}
    start = time.perf_counter()
    conn.request("POST", "/v1/functions/echo/invocations", body, headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 202:
        raise BenchError(f"submit answered {response.status}: {data[:300]!r}")
    posted = time.perf_counter() - start
    path = f"/v1/invocations/{json.loads(data)['id']}"
    deadline = start + config.timeout_s
    polls = 0
    while True:
        polls += 1
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
        if response.status == 200:
            record = json.loads(data)
            if record["status"] == "succeeded":
                client = time.perf_counter() - start
                server = _ts(record["finished_at"]) - _ts(record["submitted_at"])
                return client * 1000, server * 1000, posted * 1000, polls
            if record["status"] == "failed":
                raise BenchError(f"echo ended {record['status']}: {record}")
        if time.perf_counter() > deadline:
            raise BenchError(f"echo not succeeded within {config.timeout_s:g}s: {data[:300]!r}")
        time.sleep(config.poll_ms / 1000)


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    runs = []
    with redis_server(cpus.load) as server:
        api_port = free_port()
        env = child_env(REDIS_URL=server.url, SPILLWAY_LOG_LEVEL="WARNING")
        api = Proc(
            "e2e-api",
            [str(BIN / "spillway"), "api", "--host", "127.0.0.1", "--port", str(api_port)],
            env,
        )
        worker_port = free_port()
        worker = Proc(
            "e2e-worker",
            [str(BIN / "spillway"), "worker"],
            child_env(
                REDIS_URL=server.url,
                SPILLWAY_LOG_LEVEL="WARNING",
                SPILLWAY_WORKER_CONCURRENCY="1",
                SPILLWAY_WORKER_HTTP_PORT=str(worker_port),
            ),
        )
        with api, worker:
            wait_ok(api_port, "/readyz", api, timeout=60, interval=0.05)
            wait_ok(worker_port, "/healthz", worker, timeout=60, interval=0.05)
            conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
            try:
                for i in range(config.warmup):  # connections, imports, first-task costs
                    one_invocation(conn, config, i)
                for r in range(config.runs):
                    client, record, post, polls = [], [], [], []
                    for i in range(config.invocations):
                        c, s, p, n = one_invocation(conn, config, i)
                        client.append(c)
                        record.append(s)
                        post.append(p)
                        polls.append(n)
                    run_ = {
                        "client_p50_ms": _pct(client, 50),
                        "client_p95_ms": _pct(client, 95),
                        "client_max_ms": max(client),
                        "record_p50_ms": _pct(record, 50),
                        "record_p95_ms": _pct(record, 95),
                        "record_mean_ms": statistics.fmean(record),
                        "post_p50_ms": _pct(post, 50),
                        "polls_mean": statistics.fmean(polls),
                    }
                    runs.append(run_)
                    log(
                        f"  run {r + 1}/{config.runs}: client p50 {run_['client_p50_ms']:.1f} "
                        f"p95 {run_['client_p95_ms']:.1f} ms; record p50 "
                        f"{run_['record_p50_ms']:.1f} p95 {run_['record_p95_ms']:.1f} ms"
                    )
            finally:
                conn.close()
    keys = ["client_p50_ms", "client_p95_ms", "record_p50_ms", "record_p95_ms", "post_p50_ms"]
    return {
        "config": {**config.__dict__, "worker_concurrency": 1},
        "ms": {k: summary([r[k] for r in runs]) for k in keys},
        "runs": runs,
    }
