"""A randomized fault soak: producers submit mixed work for minutes while faults from the fault
suite's menu strike at random, then the fault ledger judges every submission.

    python -m bench.soak [--minutes 10] [--seed 1] [--workers 3] [--rate 5]
                         [--persistence always|everysec] [--json PATH]

Not part of `bench/run` (nor of CI): one cell as in tests/faults (a private Redis with an
append-only file, one `spillway api`, `--workers` workers with the fault tests' short lease
settings; tests/support/chaos.py), the same test functions and the same ledger
(tests/support/ledger.py), kept in a Redis of its own. Every `--gap` seconds on average one
fault from FAULTS strikes; workers lost to it are replaced. At the end the producers stop, the
cell drains, and the soak prints the ledger's figures and the faults it injected. Exit status 1
when the verdict names a problem.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from functions.localredis import RedisServer
from tests.support.chaos import LEASE_TTL, SOFT_SHUTDOWN_TIMEOUT, Cell, children
from tests.support.faults import crash_redis, freeze_redis, kill_connections, kill_main, thaw_redis
from tests.support.ledger import Ledger, Verdict
from tests.support.processes import Proc, start_api

Fault = Callable[[Cell, Ledger, random.Random], None]


def _worker(cell: Cell, rng: random.Random) -> Proc | None:
    busy = [w for w in cell.workers if w.alive()]
    return rng.choice(busy) if busy else None


def kill_worker(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if worker := _worker(cell, rng):
        with ledger.fault("kill -9 of a whole worker"):
            worker.kill_group()


def kill_worker_main(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if worker := _worker(cell, rng):
        with ledger.fault("kill -9 of a worker's main process"):
            kill_main(worker)


def kill_pool_child(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if (worker := _worker(cell, rng)) and (pool := children(worker.pid)):
        with ledger.fault("kill -9 of a pool child"):
            os.kill(rng.choice(pool), signal.SIGKILL)


def freeze_worker(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if worker := _worker(cell, rng):
        with ledger.fault("SIGSTOP of a worker past its lease"):
            worker.signal_group(signal.SIGSTOP)
            time.sleep(LEASE_TTL + 1)
            worker.signal_group(signal.SIGCONT)


def scale_in(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if worker := _worker(cell, rng):
        with ledger.fault("SIGTERM of a worker (scale-in)"):
            worker.signal(signal.SIGTERM)
            worker.process.wait(SOFT_SHUTDOWN_TIMEOUT + 15)


def client_kill(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    if worker := _worker(cell, rng):
        with ledger.fault("CLIENT KILL of a worker's connections"):
            kill_connections(cell.client, worker, cell.server.port)


def kill_api(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    with ledger.fault("kill -9 of the API"):
        cell.api.kill_group()
        replacement = start_api(cell.server.url, **cell.settings)
        cell.replace_api(replacement)
        ledger.api_url = replacement.url


def freeze_redis_fault(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    with ledger.fault("SIGSTOP of Redis"):
        freeze_redis(cell.server)
        time.sleep(rng.uniform(0.5, LEASE_TTL + 1))
        thaw_redis(cell.server)


def restart_redis(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    with ledger.fault("Redis shut down and started again"):
        cell.server.stop()
        time.sleep(rng.uniform(0.2, 2))
        cell.server.start()


def crash_redis_fault(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    durable = "always" in cell.server.args
    with ledger.fault("kill -9 of Redis", loses_data=not durable):
        crash_redis(cell.server)
        cell.server.start()


def squeeze_memory(cell: Cell, ledger: Ledger, rng: random.Random) -> None:
    used = int(cell.client.info("memory")["used_memory"])
    with ledger.fault("maxmemory below the memory in use"):
        cell.client.config_set("maxmemory", str(used // 2))
        time.sleep(rng.uniform(1, 4))
        cell.client.config_set("maxmemory", "0")


FAULTS: dict[str, Fault] = {
    "kill -9 worker": kill_worker,
    "kill -9 worker main process": kill_worker_main,
    "kill -9 pool child": kill_pool_child,
    "SIGSTOP worker": freeze_worker,
    "SIGTERM worker": scale_in,
    "CLIENT KILL": client_kill,
    "kill -9 API": kill_api,
    "SIGSTOP Redis": freeze_redis_fault,
    "restart Redis": restart_redis,
    "kill -9 Redis": crash_redis_fault,
    "maxmemory": squeeze_memory,
}


def produce(ledger: Ledger, rate: float, seed: int, stop: threading.Event) -> None:
    """Mixed work at about `rate` submissions a second: short sleeps, long ones (for faults to
    cut short), retries that wait in Redis, fast retries, and batches. About 0.6 s of work per
    submission on average."""
    rng = random.Random(seed)
    with httpx.Client() as http:
        while not stop.is_set():
            pick = rng.random()
            if pick < 0.6:
                ledger.submit(http, "slow", timeout=3, seconds=round(rng.uniform(0, 0.5), 2))
            elif pick < 0.75:
                ledger.submit(http, "slow", timeout=3, seconds=round(rng.uniform(2, 4), 2))
            elif pick < 0.9:
                ledger.submit(http, "flaky-later", expected_runs=2, timeout=3, fail_times=1)
            elif pick < 0.97:
                fails = rng.randint(0, 2)
                ledger.submit(http, "flaky", expected_runs=fails + 1, timeout=3, fail_times=fails)
            else:
                ledger.submit_batch(http, "slow", [{"seconds": 0.1}] * 5, timeout=3)
            stop.wait(rng.expovariate(rate))


def keep_workers(cell: Cell, count: int) -> None:
    """Replace the workers a fault took away."""
    for worker in [w for w in cell.workers if not w.alive()]:
        worker.stop()
        cell.workers.remove(worker)
    while len(cell.workers) < count:
        cell.add_worker()


def figures(
    ledger: Ledger, verdict: Verdict, faults: Counter[str], started: float, logs: list[str]
) -> dict[str, Any]:
    """The verdict's counts, and for every unexplained rerun what the ledger saw of it."""
    zero = min([f.start for f in ledger.faults], default=0.0)
    by_label = {str(e.id) if e.id else e.key: e for e in ledger.entries}

    def runs(label: str) -> list[dict[str, Any]]:
        return [
            {
                "run": n,
                "pid": r.pid,
                "first": round(r.first - zero, 2),
                "last": round(r.last - zero, 2),
                "ended": r.ended,
            }
            for n, r in sorted(ledger.runs(by_label[label]).items())
        ]

    return {
        "elapsed_s": round(time.monotonic() - started),
        "faults": dict(faults),
        "attempted": verdict.attempted,
        "acknowledged": verdict.acknowledged,
        "rejected": verdict.rejected,
        "unknown": verdict.unknown,
        "recovered": len(verdict.recovered),
        "succeeded": len(verdict.succeeded),
        "failed": len(verdict.failed),
        "lost": len(verdict.lost),
        "duplicated": len(verdict.duplicated),
        "unexplained_duplicates": len(verdict.unexplained),
        "falsely_rejected": len(verdict.falsely_rejected),
        "overlapping": len(verdict.overlapping),
        "regressed": len(verdict.regressed),
        "mismatched": len(verdict.mismatched),
        "unexpected": len(verdict.unexpected),
        "residue": str(verdict.residue),
        # From the workers' logs: tasks the fence stopped (injected faults, or a lease renewal
        # that came too late on its own: a stalled Redis or worker), renewals that failed.
        "fence_stops": sum(log.count("stopped by the lease fence") for log in logs),
        "late_renewals": sum(log.count("could not renew the lease") for log in logs),
        "problems": verdict.problems(),
        "fault_log": [
            {"what": f.what, "start": round(f.start - zero, 2), "end": round(f.end - zero, 2)}
            for f in ledger.faults
        ],
        "unexplained_runs": {
            label: {
                "function": by_label[label].function,
                "runs": runs(label),
                "history": (ledger.records.get(label) or {}).get("history"),
            }
            for label in verdict.unexplained
        },
    }


def soak(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    ledger_redis = RedisServer().start()
    server = RedisServer(appendonly=True, args=("--appendfsync", args.persistence)).start()
    cell = Cell.start(server, ledger_redis.url, workers=args.workers)
    stop = threading.Event()
    producers: list[threading.Thread] = []
    faults: Counter[str] = Counter()
    started = time.monotonic()
    try:
        ledger = cell.ledger()
        producers = [
            threading.Thread(target=produce, args=(ledger, args.rate / 2, args.seed + i, stop))
            for i in range(2)
        ]
        for thread in producers:
            thread.start()
        end = started + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(rng.expovariate(1 / args.gap))
            name = rng.choice(sorted(FAULTS))
            print(f"{time.monotonic() - started:6.0f}s  {name}", flush=True)
            FAULTS[name](cell, ledger, rng)
            faults[name] += 1
            keep_workers(cell, args.workers)
        stop.set()
        for thread in producers:
            thread.join(30)
        print("draining ...", flush=True)
        verdict = ledger.drain(cell.http, timeout=args.drain)
        return figures(ledger, verdict, faults, started, cell.worker_logs())
    finally:
        stop.set()
        cell.close()
        server.close()
        ledger_redis.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long faults strike")
    parser.add_argument("--seed", type=int, default=1, help="the faults' and the work's seed")
    parser.add_argument("--workers", type=int, default=3, help="workers kept running")
    parser.add_argument("--rate", type=float, default=5.0, help="submissions a second")
    parser.add_argument("--gap", type=float, default=10.0, help="mean seconds between faults")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds allowed to drain")
    parser.add_argument(
        "--persistence", choices=("always", "everysec"), default="always", help="appendfsync"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = soak(args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, **result}))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
