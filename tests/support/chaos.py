"""A small Spillway deployment for chaos tests: its own redis-server, an API and workers.

Each cell has a private Redis, so which worker can receive a task is decided by which workers the
test has started, and nothing another test leaves behind (a requeued message, an `unacked` entry)
can leak in.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import redis

from functions import keys
from functions.localredis import RedisServer
from functions.registry import DEFAULT_QUEUE
from tests.support.functions import LEDGER_ENV
from tests.support.ledger import Ledger
from tests.support.processes import Proc, start_api, start_worker, wait_until

T = TypeVar("T")

LEASE_TTL = 3  # short, so lost workers come back quickly in tests
SOFT_SHUTDOWN_TIMEOUT = 3
HEARTBEAT_MAX_AGE = 3

# The test functions only, short timeouts everywhere, and a sweep every half second.
SETTINGS = {
    "SPILLWAY_FUNCTION_MODULES": "tests.support.functions,tests.support.chaos_functions",
    "SPILLWAY_LEASE_TTL": str(LEASE_TTL),
    "SPILLWAY_SWEEP_INTERVAL": "0.5",
    "SPILLWAY_SOFT_SHUTDOWN_TIMEOUT": str(SOFT_SHUTDOWN_TIMEOUT),
    "SPILLWAY_HEARTBEAT_INTERVAL": "0.5",
    "SPILLWAY_HEARTBEAT_MAX_AGE": str(HEARTBEAT_MAX_AGE),
    "SPILLWAY_WORKER_CONCURRENCY": "2",
}


def in_parallel(*starts: Callable[[], T]) -> list[T]:
    """Run the start functions concurrently (process startup dominates these tests)."""
    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        futures = [pool.submit(start) for start in starts]
        results: list[T] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:  # re-raised below, after stopping the others
                errors.append(exc)
    if errors:
        for result in results:
            if isinstance(result, Proc):
                result.stop(5)
        raise errors[0]
    return results


@dataclass
class Cell:
    server: RedisServer
    settings: dict[str, str]
    api: Proc
    workers: list[Proc]
    client: redis.Redis
    http: httpx.Client
    ledger_client: redis.Redis
    _procs: list[Proc] = field(default_factory=list)

    @classmethod
    def start(
        cls, server: RedisServer, ledger_url: str, workers: int = 1, **overrides: str
    ) -> Cell:
        settings = {**SETTINGS, LEDGER_ENV: ledger_url, **overrides}
        url = server.url
        procs = in_parallel(
            lambda: start_api(url, **settings),
            *[lambda: start_worker(url, **settings) for _ in range(workers)],
        )
        return cls(
            server=server,
            settings=settings,
            api=procs[0],
            workers=procs[1:],
            client=redis.Redis.from_url(url),
            http=httpx.Client(timeout=5),
            ledger_client=redis.Redis.from_url(ledger_url),
            _procs=list(procs),
        )

    def add_worker(self, **overrides: str) -> Proc:
        proc = start_worker(self.server.url, **{**self.settings, **overrides})
        self.workers.append(proc)
        self._procs.append(proc)
        return proc

    def replace_api(self, api: Proc) -> None:
        """Serve the cell from `api` from now on (the old one is dead or stopped)."""
        self.api = api
        self._procs.append(api)

    def worker_logs(self) -> list[str]:
        """The logs of every worker this cell started, replaced ones included."""
        return [proc.log() for proc in self._procs if proc.name == "worker"]

    def ledger(self) -> Ledger:
        """A ledger for this cell: it samples the cell's records while the test runs and checks
        that the cell is quiet once drained. A fault it is told of may cut runs short until a
        lease runs out or a soft shutdown ends."""
        reach = max(
            float(self.settings["SPILLWAY_LEASE_TTL"]),
            float(self.settings["SPILLWAY_SOFT_SHUTDOWN_TIMEOUT"]),
        )
        return Ledger(self.api.url, self.ledger_client, broker_url=self.server.url, reach=reach + 1)

    def queue_len(self, queue: str = DEFAULT_QUEUE) -> int:
        return int(self.client.llen(keys.queue_key("", queue)))

    def unacked_len(self) -> int:
        return int(self.client.hlen(keys.unacked_key("")))

    def wait_idle(self, timeout: float = 5) -> None:
        """Wait until nothing is queued or held unacked (so nothing can come back later)."""
        deadline = time.monotonic() + timeout
        while self.queue_len() or self.unacked_len():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"still {self.queue_len()} queued and {self.unacked_len()} unacked "
                    f"after {timeout:g}s"
                )
            time.sleep(0.05)

    def close(self) -> None:
        if self._procs:  # together: each worker may wait out its soft shutdown
            in_parallel(*[lambda proc=proc: proc.stop(10) for proc in self._procs])
        self.http.close()
        self.client.close()
        self.ledger_client.close()


def children(pid: int) -> list[int]:
    """Direct children of `pid` (a prefork worker's pool processes), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":  # a zombie is already dead
            found.append(int(entry))
    return sorted(found)


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie (killed, not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def received(log: str, task: str) -> set[str]:
    """Ids of `task` that a worker log shows as received."""
    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log))


def succeeded(log: str, task: str) -> set[str]:
    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] succeeded", log))


def timed(call: Callable[[], T]) -> tuple[T, float]:
    t0 = time.monotonic()
    result = call()
    return result, time.monotonic() - t0


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` every 50 ms; return the seconds it took, or fail naming `what`."""
    t0 = time.monotonic()
    wait_until(check, timeout, what)
    return time.monotonic() - t0
