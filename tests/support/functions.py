"""Functions used only by tests: short time limits, controllable failures, and a function that
kills its own worker process.

They account for themselves in the test's ledger (tests/support/ledger.py), a Redis of its own
named by SPILLWAY_TEST_LEDGER_URL, so that the faults a test injects into the Redis under test
cannot touch the accounting (without it, REDIS_URL is used)."""

from __future__ import annotations

import os
import signal
import time

import redis
from pydantic import BaseModel

from functions import RetryPolicy, function


class Flaky(Exception):
    """A transient error the `flaky` function declares retryable."""


class Counted(BaseModel):
    """Input of the counting test functions."""

    key: str  # a Redis key counting calls, so a test can see every attempt
    fail_times: int = 0
    seconds: float = 0.0


class Done(BaseModel):
    """How many times the function has been called."""

    calls: int


LEDGER_ENV = "SPILLWAY_TEST_LEDGER_URL"
_clients: dict[int, redis.Redis] = {}


def _ledger() -> redis.Redis:
    pid = os.getpid()
    if pid not in _clients:
        url = os.environ.get(LEDGER_ENV) or os.environ["REDIS_URL"]
        _clients[pid] = redis.Redis.from_url(url, socket_timeout=5)
    return _clients[pid]


def _count(key: str) -> int:
    """Count a call of the function body (the ledger's "dequeued" observation)."""
    return int(_ledger().incr(key))


def _tick(key: str, run: int) -> None:
    """Note that run `run` of `key` is executing now (from this process)."""
    _ledger().rpush(f"{key}:ticks", f"{run} {os.getpid()} {time.time():.6f}")


@function(
    "flaky",
    time_limit=10,
    retry=RetryPolicy(attempts=3, on=(Flaky,), backoff=0.2, backoff_max=1.0),
)
def flaky(payload: Counted) -> Done:
    """Raise Flaky on the first `fail_times` calls, then succeed."""
    calls = _count(payload.key)
    if calls <= payload.fail_times:
        raise Flaky(f"call {calls} fails on purpose")
    return Done(calls=calls)


@function("broken", time_limit=10, retry=RetryPolicy(attempts=2, on=(Flaky,), backoff=0.1))
def broken(payload: Counted) -> Done:
    """Fail with a non-retryable error."""
    _count(payload.key)
    raise ValueError("broken on purpose")


@function("slow", time_limit=8)
def slow(payload: Counted) -> Done:
    """Count the call, then sleep, noting every 0.1 s that it still runs: a task to kill or
    freeze mid-run, whose runs a test can check for overlap."""
    calls = _count(payload.key)
    deadline = time.monotonic() + payload.seconds
    _tick(payload.key, calls)
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.1, left))
        _tick(payload.key, calls)
    _ledger().incr(f"{payload.key}:done")
    return Done(calls=calls)


@function("suicide", time_limit=10)
def suicide(payload: Counted) -> Done:
    """SIGKILL the pool child on the first `fail_times` calls: a stand-in for an OOM kill."""
    calls = _count(payload.key)
    if calls <= payload.fail_times:
        os.kill(os.getpid(), signal.SIGKILL)
    return Done(calls=calls)


@function("overtime", time_limit=2)
def overtime(payload: Counted) -> Done:
    """Sleep past the time limit."""
    _count(payload.key)
    time.sleep(payload.seconds)
    return Done(calls=0)
