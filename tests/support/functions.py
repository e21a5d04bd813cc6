"""Functions used only by tests: short time limits, controllable failures, and a function that
kills its own worker process.

They account for themselves in the test's ledger (tests/support/ledger.py), a Redis of its own
named by SPILLWAY_TEST_LEDGER_URL, so that the faults a test injects into the Redis under test
cannot touch the accounting (without it, REDIS_URL is used). Per payload `key`:
  <key>        how many runs started (the ledger's "dequeued" observation)
  <key>:ticks  "<run> <pid> <time>" when a run starts and while it runs, and
               "<run> <pid> <time> end" when its body returns or raises (it was not cut short)
Each result names the key and the run that produced it, so a record can be checked against its
own payload.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import redis
from pydantic import BaseModel

from functions import EventRoute, RetryPolicy, function


class Flaky(Exception):
    """A transient error the `flaky` function declares retryable."""


class Counted(BaseModel):
    """Input of the counting test functions."""

    key: str  # a Redis key counting calls, so a test can see every attempt
    fail_times: int = 0
    seconds: float = 0.0


class Done(BaseModel):
    """Which run of which payload produced this result."""

    calls: int
    key: str = ""


LEDGER_ENV = "SPILLWAY_TEST_LEDGER_URL"
# Count the run and note its start in one step, so every counted run has a start tick.
_START = """
local run = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], run .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])
return run
"""
_clients: dict[int, tuple[redis.Redis, Any]] = {}


def _ledger() -> redis.Redis:
    return _connection()[0]


def _connection() -> tuple[redis.Redis, Any]:
    pid = os.getpid()
    if pid not in _clients:
        url = os.environ.get(LEDGER_ENV) or os.environ["REDIS_URL"]
        client = redis.Redis.from_url(url, socket_timeout=5)
        _clients[pid] = (client, client.register_script(_START))
    return _clients[pid]


def _now() -> str:
    return f"{time.time():.6f}"


def _count(key: str) -> int:
    """Count a call of the function body and note that it started (the ledger's "dequeued")."""
    _, start = _connection()
    return int(start(keys=[key, f"{key}:ticks"], args=[os.getpid(), _now()]))


def _tick(key: str, run: int, end: bool = False) -> None:
    """Note that run `run` of `key` is executing now (from this process), or has ended."""
    _ledger().rpush(f"{key}:ticks", f"{run} {os.getpid()} {_now()}" + (" end" if end else ""))


def _flaky(payload: Counted) -> Done:
    calls = _count(payload.key)
    try:
        if calls <= payload.fail_times:
            raise Flaky(f"call {calls} fails on purpose")
        return Done(calls=calls, key=payload.key)
    finally:
        _tick(payload.key, calls, end=True)


@function(
    "flaky",
    time_limit=10,
    retry=RetryPolicy(attempts=3, on=(Flaky,), backoff=0.2, backoff_max=1.0),
    # tests/e2e/test_cloudevents.py: events of this type from this source run `flaky`, from
    # any other source `slow`.
    events=[EventRoute("dev.spillway.test.counted", source="/tests/flaky")],
)
def flaky(payload: Counted) -> Done:
    """Raise Flaky on the first `fail_times` calls, then succeed."""
    return _flaky(payload)


@function(
    "flaky-later",
    time_limit=10,
    retry=RetryPolicy(attempts=3, on=(Flaky,), backoff=2.0, backoff_max=2.0, jitter=False),
)
def flaky_later(payload: Counted) -> Done:
    """`flaky` whose retries wait 2 s in the scheduled set: long enough for a fault to strike
    while they wait."""
    return _flaky(payload)


@function("broken", time_limit=10, retry=RetryPolicy(attempts=2, on=(Flaky,), backoff=0.1))
def broken(payload: Counted) -> Done:
    """Fail with a non-retryable error."""
    calls = _count(payload.key)
    _tick(payload.key, calls, end=True)
    raise ValueError("broken on purpose")


@function("slow", time_limit=8, events=["dev.spillway.test.counted"])
def slow(payload: Counted) -> Done:
    """Count the call, then sleep, noting every 0.1 s that it still runs: a task to kill or
    freeze mid-run, whose runs a test can check for overlap."""
    calls = _count(payload.key)
    deadline = time.monotonic() + payload.seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.1, left))
        _tick(payload.key, calls)
    _tick(payload.key, calls, end=True)
    return Done(calls=calls, key=payload.key)


@function("suicide", time_limit=10)
def suicide(payload: Counted) -> Done:
    """SIGKILL the pool child on the first `fail_times` calls: a stand-in for an OOM kill."""
    calls = _count(payload.key)
    if calls <= payload.fail_times:
        os.kill(os.getpid(), signal.SIGKILL)
    _tick(payload.key, calls, end=True)
    return Done(calls=calls, key=payload.key)


@function("overtime", time_limit=2)
def overtime(payload: Counted) -> Done:
    """Sleep past the time limit."""
    _count(payload.key)
    time.sleep(payload.seconds)
    return Done(calls=0)


class Secretive(BaseModel):
    """Input that a test looks for wherever it must not appear."""

    secret: str


class Count(BaseModel):
    n: int


@function("leaky", time_limit=10)
def leaky(payload: Secretive) -> Count:
    """Return the input where a number belongs: pydantic's output error quotes it
    (`input_value='<secret>'`)."""
    return {"n": payload.secret}  # type: ignore[return-value]


@function("stoppable", time_limit=60, interruptible=True)
def stoppable(payload: Counted) -> Done:
    """Count the call, then sleep `seconds` in one blocking call: a cancel may stop it
    (`interruptible`), which tests/e2e/test_cancel.py checks ends even a blocking sleep."""
    calls = _count(payload.key)
    try:
        time.sleep(payload.seconds)
    except Exception:  # a careless function swallows errors; a cancel gets through
        pass
    _tick(payload.key, calls, end=True)
    return Done(calls=calls, key=payload.key)
