"""Worker throughput per process: Spillway's worker vs a plain Celery worker, on an echo task.

For each worker: flush Redis, pre-fill N messages, start the worker (prefork, same concurrency,
pinned to the server CPU), and time from its first consumption (the queue first drops below N)
until every invocation is finished (Spillway: every record `succeeded`; plain Celery: every
result stored). Spillway runs with the reliability settings of functions/worker/app.py (late
acks, no prefetch, task events, invocation records); the plain worker with Celery's defaults
(early acks, prefetch multiplier 4, results in Redis). Both get `--without-gossip
--without-mingle`, which `spillway worker` passes.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import redis

from bench import payloads
from bench.harness.cpus import Cpus
from bench.harness.interference import OthersOnCpu
from bench.harness.probes import http_post, wait_ok
from bench.harness.processes import BIN, MAX_BACKLOG, BenchError, Proc, child_env, logs
from bench.harness.redisserver import redis_server
from bench.harness.repeat import all_clean, clean_only, clean_run, kept_rounds
from bench.harness.stats import rotate, summary
from functions.keys import record_key
from functions.localredis import free_port

_COUNT_SUCCEEDED = """
local n = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 'status') == 'succeeded' then n = n + 1 end
end
return n
"""
_COUNT_SUCCESS_RESULTS = """
local n = 0
for i = 1, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw and string.find(raw, '"status": "SUCCESS"', 1, true) then n = n + 1 end
end
return n
"""


@dataclass(frozen=True)
class Config:
    rounds: int = 3
    messages: int = 3000
    concurrency: int = 1
    timeout: float = 180.0
    levels: tuple[int, ...] = (1, 2)  # run_levels: 1 process slot, and the default of 2


# --- pre-filling ---------------------------------------------------------------------------------
def prefill_spillway(port: int, n: int, callback: str | None = None) -> tuple[str, list[str]]:
    """Enqueue through Spillway's API batch endpoint (one uvicorn kept up for the section);
    `callback`: every invocation asks for one there (bench/callbacks.py)."""
    ids: list[str] = []
    headers = {"X-Callback-Url": callback} if callback else None
    for start in range(0, n, 500):
        items = [{**payloads.ECHO_PAYLOAD, "n": i} for i in range(start, min(n, start + 500))]
        status, answer = http_post(
            port,
            "/v1/functions/echo/invocations/batch",
            json.dumps({"items": items}).encode(),
            headers=headers,
        )
        if status != 202:
            raise BenchError(f"spillway batch submit answered {status}: {answer[:300]!r}")
        ids.extend(json.loads(answer)["ids"])
    return "spillway", ids


def prefill_plain(url: str, n: int) -> tuple[str, list[str]]:
    """Enqueue with Celery's send_task (the producer needs no result backend)."""
    from celery import Celery

    from bench.apps.celery_plain import TASK_NAME

    producer = Celery("plain-producer", broker=url)
    ids = [
        producer.send_task(TASK_NAME, args=[{**payloads.ECHO_PAYLOAD, "n": i}]).id for i in range(n)
    ]
    producer.close()
    return "celery", ids


# --- one run -------------------------------------------------------------------------------------
def _command(name: str, config: Config, url: str, cpus: Cpus) -> tuple[list[str], dict[str, str]]:
    concurrency = str(config.concurrency)
    if name == "spillway":
        env = child_env(
            REDIS_URL=url,
            SPILLWAY_WORKER_CONCURRENCY=concurrency,
            SPILLWAY_WORKER_HTTP_PORT=str(free_port()),
            SPILLWAY_LOG_LEVEL="WARNING",
            PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="metrics-", dir=logs()),
        )
        return [*cpus.taskset("server"), str(BIN / "spillway"), "worker"], env
    argv = [
        *cpus.taskset("server"),
        str(BIN / "celery"),
        "-A",
        "bench.apps.celery_plain",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        concurrency,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    return argv, child_env(REDIS_URL=url)


def one_run(
    name: str,
    client: redis.Redis,
    url: str,
    config: Config,
    cpus: Cpus,
    api_port: int,
    command: tuple[list[str], dict[str, str]] | None = None,
    callback: str | None = None,
) -> dict[str, Any]:
    """One drain. `name` starting with "spillway" means Spillway messages and records; `command`
    replaces the worker command (bench/ablate.py runs variants this way); `callback` is the
    X-Callback-Url every invocation carries (bench/callbacks.py)."""
    client.flushall()
    n = config.messages
    if name.startswith("spillway"):
        queue, ids = prefill_spillway(api_port, n, callback)
        keys = [record_key("", i) for i in ids]
        count = client.register_script(_COUNT_SUCCEEDED)
    else:
        queue, ids = prefill_plain(url, n)
        keys = [f"celery-task-meta-{i}" for i in ids]
        count = client.register_script(_COUNT_SUCCESS_RESULTS)
    depth = int(client.llen(queue))
    if depth != n:
        raise BenchError(f"{name}: pre-filled {n} but the queue {queue!r} holds {depth}")
    finished: Callable[[], int] = lambda: int(count(keys=keys))  # noqa: E731
    argv, env = command or _command(name, config, url, cpus)
    with Proc(f"worker-{name}", argv, env) as proc:
        others = OthersOnCpu(proc.pid, cpus.server, fresh=True)
        t_first = t_empty = t_done = None
        deadline = time.perf_counter() + config.timeout
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            depth = int(client.llen(queue))
            if t_first is None and depth < n:
                t_first = now
            if t_first is not None and depth == 0:
                t_empty = t_empty or now
                if finished() == n:
                    t_done = time.perf_counter()
                    break
            if not proc.alive():
                raise BenchError(f"{name} worker exited:\n{proc.log_tail()}")
            time.sleep(0.005)
        if t_first is None or t_done is None:
            raise BenchError(
                f"{name}: {finished()}/{n} finished within {config.timeout:g}s:\n{proc.log_tail()}"
            )
        started = proc.started_at
        others_pct = others.pct()
    seconds = t_done - t_first
    return {
        "worker": name,
        "tasks_per_s": n / seconds,
        "drain_s": seconds,
        # As a user sees it: from starting the process to the queue empty and nothing in
        # flight, start-up included (issue 11's performance guard).
        "tasks_per_s_from_start": n / (t_done - started),
        "start_to_first_consumption_s": t_first - started,
        "queue_empty_to_all_done_ms": (t_done - (t_empty or t_done)) * 1000,
        "finished": n,
        "others_on_server_cpu_pct": others_pct,
    }


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    order = ["spillway", "plain-celery"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
    ratios: list[dict[str, Any]] = []
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        api_port = free_port()
        api = Proc(
            "prefill-api",
            [
                *cpus.taskset("load"),
                str(BIN / "spillway"),
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
            ],
            child_env(
                REDIS_URL=server.url,
                SPILLWAY_MAX_BACKLOG=MAX_BACKLOG,
                SPILLWAY_MAX_BATCH="1000",
                SPILLWAY_LOG_LEVEL="WARNING",
            ),
        ).start()
        try:
            wait_ok(api_port, "/readyz", api)
            for r in range(config.rounds):
                current = {}
                for name in rotate(order, r):
                    result = clean_run(
                        f"round {r + 1} {name}",
                        functools.partial(
                            one_run, name, client, server.url, config, cpus, api_port
                        ),
                        log,
                    )
                    result["round"] = r
                    current[name] = result
                    runs[name].append(result)
                    log(
                        f"  round {r + 1}/{config.rounds} {name:12s} {result['tasks_per_s']:7.0f} "
                        f"tasks/s ({config.messages} in {result['drain_s']:.2f} s)  "
                        f"others-on-cpu {result['others_on_server_cpu_pct']:.1f}% "
                        f"others {result['foreign_cpu_pct']:.0f}%"
                    )
                ratios.append(
                    {
                        "ratio": current["spillway"]["tasks_per_s"]
                        / current["plain-celery"]["tasks_per_s"],
                        "ratio_from_start": current["spillway"]["tasks_per_s_from_start"]
                        / current["plain-celery"]["tasks_per_s_from_start"],
                        "clean": all_clean(current.values()),
                    }
                )
        finally:
            api.stop()
        client.flushall()
        client.close()
    # Rounds still disturbed after every attempt are left out of the figures.
    kept = kept_rounds(ratios)
    runs = {name: [x for x in results if x["round"] in kept] for name, results in runs.items()}
    return {
        "config": {
            **config.__dict__,
            "pool": "prefork",
            "task": "echo",
            "payload": payloads.ECHO_PAYLOAD,
            "worker_cpus": list(cpus.server),
        },
        "workers": {
            name: {
                "tasks_per_s": summary([x["tasks_per_s"] for x in results]),
                "tasks_per_s_from_start": summary([x["tasks_per_s_from_start"] for x in results]),
                "start_to_first_consumption_s": summary(
                    [x["start_to_first_consumption_s"] for x in results]
                ),
                "foreign_cpu_pct_max": max(x["foreign_cpu_pct"] for x in results),
                "others_on_server_cpu_pct_max": max(x["others_on_server_cpu_pct"] for x in results),
                "runs": results,
            }
            for name, results in runs.items()
        },
        "ratio_spillway_vs_plain": summary([r["ratio"] for r in clean_only(ratios)]),
        "ratio_from_start_spillway_vs_plain": summary(
            [r["ratio_from_start"] for r in clean_only(ratios)]
        ),
        "rounds_left_out": len(ratios) - len(kept),
    }


def run_levels(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    """`run` once per concurrency in config.levels (SPILLWAY_WORKER_CONCURRENCY defaults to 2)."""
    levels = {}
    for concurrency in config.levels:
        log(f"  concurrency {concurrency}:")
        levels[str(concurrency)] = run(replace(config, concurrency=concurrency), cpus, log)
    return {"levels": levels}
