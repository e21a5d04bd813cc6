"""Callbacks: what they cost the worker, and how fast the sender delivers them (issue 14).

The worker's share of a callback is one more push in the script that records the outcome
(notify in functions/worker/lua/_lib.lua); the HTTP request is the sender's, in another process.
So the worker is measured as bench/worker.py measures it (pre-filled echo invocations, the worker
alone on the server CPU, timed from its first consumption until every record is succeeded), in
three variants per round, in rotating order:

    none     no X-Callback-Url
    queued   every invocation has one; no sender runs, so the deliveries wait in the outbox:
             the worker-side cost alone
    sent     every invocation has one and a sender delivers them meanwhile to a local receiver,
             both on the load CPU (shared with Redis and the harness): what the worker sees
             when the whole system runs

and, after each `queued` run, the sender alone: started (on the server CPU) with the outbox
holding that run's deliveries, timed until every record says `delivered`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import redis

from bench import worker
from bench.harness.cpus import Cpus
from bench.harness.interference import OthersOnCpu
from bench.harness.probes import wait_ok
from bench.harness.processes import BIN, MAX_BACKLOG, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.repeat import all_clean, clean_only, clean_run, kept_rounds
from bench.harness.stats import rotate, summary
from functions import keys
from functions.localredis import free_port

SECRET = "whsec_" + "QkVOQ0hNQVJLLW9OTFktbm90LWEtc2VjcmV0LWF0LWFsbA=="  # bench only, not a secret
_COUNT_DELIVERED = """
local n = 0
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. 'spillway:inv:*')) do
  if redis.call('HGET', key, 'callback_state') == 'delivered' then n = n + 1 end
end
return n
"""
VARIANTS = ("none", "queued", "sent")


@dataclass(frozen=True)
class Config:
    rounds: int = 3
    messages: int = 2000
    concurrency: int = 2  # SPILLWAY_WORKER_CONCURRENCY's default
    timeout: float = 180.0


def _env(url: str, **extra: str) -> dict[str, str]:
    return child_env(
        REDIS_URL=url,
        SPILLWAY_LOG_LEVEL="WARNING",
        SPILLWAY_CALLBACK_SECRET=SECRET,
        SPILLWAY_CALLBACK_ALLOW_NETWORKS="127.0.0.0/8",
        **extra,
    )


def _sender(url: str, cpus: Cpus, where: str) -> Proc:
    port = free_port()
    proc = Proc(
        "sender",
        [*cpus.taskset(where), str(BIN / "spillway"), "sender"],
        _env(url, SPILLWAY_SENDER_HTTP_PORT=str(port)),
    ).start()
    wait_ok(port, "/healthz", proc)
    return proc


def sender_drain(
    client: redis.Redis, url: str, cpus: Cpus, n: int, timeout: float
) -> dict[str, Any]:
    """Start a sender with `n` deliveries waiting; time until every one is delivered."""
    waiting = int(client.llen(keys.outbox_key("")))
    if waiting != n:
        raise BenchError(f"the outbox holds {waiting} deliveries, not {n}")
    count = client.register_script(_COUNT_DELIVERED)
    proc = _sender(url, cpus, "server")
    try:
        others = OthersOnCpu(proc.pid, cpus.server, fresh=True)
        started = time.perf_counter()
        t_done = None
        while time.perf_counter() - started < timeout:
            if int(client.llen(keys.outbox_key(""))) == 0 and int(count(args=[""])) == n:
                t_done = time.perf_counter()
                break
            if not proc.alive():
                raise BenchError(f"the sender exited:\n{proc.log_tail()}")
            time.sleep(0.02)
        if t_done is None:
            raise BenchError(f"the sender delivered {int(count(args=['']))}/{n} in {timeout:g}s")
        return {
            "deliveries_per_s": n / (t_done - started),
            "seconds": t_done - started,
            "others_on_server_cpu_pct": others.pct(),
        }
    finally:
        proc.stop()


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    senders: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    drain = worker.Config(
        rounds=1, messages=config.messages, concurrency=config.concurrency, timeout=config.timeout
    )
    receiver_port = free_port()
    target = f"http://127.0.0.1:{receiver_port}/hook"
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        api_port = free_port()
        api = Proc(
            "prefill-api",
            [*cpus.taskset("load"), str(BIN / "spillway"), "api", "--host", "127.0.0.1",
             "--port", str(api_port)],
            _env(server.url, SPILLWAY_MAX_BACKLOG=MAX_BACKLOG, SPILLWAY_MAX_BATCH="1000"),
        ).start()  # fmt: skip
        receiver = Proc(
            "receiver",
            [*cpus.taskset("load"), str(BIN / "python"), "-m", "bench.apps.receiver",
             str(receiver_port)],
            child_env(),
        ).start()  # fmt: skip
        try:
            wait_ok(api_port, "/readyz", api)
            for r in range(config.rounds):
                current: dict[str, dict[str, Any]] = {}
                for name in rotate(list(VARIANTS), r):
                    sender = _sender(server.url, cpus, "load") if name == "sent" else None
                    try:
                        result = clean_run(
                            f"round {r + 1} {name}",
                            functools.partial(
                                worker.one_run,
                                f"spillway-{name}",
                                client,
                                server.url,
                                drain,
                                cpus,
                                api_port,
                                command=worker._command("spillway", drain, server.url, cpus),
                                callback=None if name == "none" else target,
                            ),
                            log,
                        )
                    finally:
                        if sender is not None:
                            sender.stop()
                    result["round"] = r
                    current[name] = result
                    runs[name].append(result)
                    log(
                        f"  round {r + 1}/{config.rounds} {name:7s} {result['tasks_per_s']:7.0f} "
                        f"tasks/s  others-on-cpu {result['others_on_server_cpu_pct']:.1f}%"
                    )
                    if name == "queued":
                        sent = sender_drain(client, server.url, cpus, config.messages, 120)
                        sent["round"] = r
                        senders.append(sent)
                        log(f"  round {r + 1}/{config.rounds} sender  "
                            f"{sent['deliveries_per_s']:7.0f} deliveries/s")  # fmt: skip
                none = current["none"]["tasks_per_s"]
                ratios.append(
                    {
                        "queued": current["queued"]["tasks_per_s"] / none,
                        "sent": current["sent"]["tasks_per_s"] / none,
                        "clean": all_clean(current.values()),
                    }
                )
        finally:
            api.stop()
            receiver.stop()
        client.flushall()
        client.close()
    kept = kept_rounds(ratios)
    runs = {name: [x for x in results if x["round"] in kept] for name, results in runs.items()}
    clean = clean_only(ratios)
    return {
        "config": {**config.__dict__, "task": "echo", "worker_cpus": list(cpus.server)},
        "workers": {
            name: {
                "tasks_per_s": summary([x["tasks_per_s"] for x in results]),
                "others_on_server_cpu_pct_max": max(x["others_on_server_cpu_pct"] for x in results),
                "runs": results,
            }
            for name, results in runs.items()
        },
        "ratio_queued_vs_none": summary([r["queued"] for r in clean]),
        "ratio_sent_vs_none": summary([r["sent"] for r in clean]),
        "sender": {
            "deliveries_per_s": summary([s["deliveries_per_s"] for s in senders]),
            "runs": senders,
        },
        "rounds_left_out": len(ratios) - len(kept),
    }
