"""Functions used only by tests: short time limits (so a short visibility timeout is legal),
controllable failures, and a function that kills its own worker process."""

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


def _count(key: str) -> int:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return int(client.incr(key))
    finally:
        client.close()


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
    """Count the call, then sleep: a task to kill mid-run."""
    calls = _count(payload.key)
    time.sleep(payload.seconds)
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
