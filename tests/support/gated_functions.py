"""A test function that fails until it is told otherwise: the thing an operator fixes, then
replays (issue 13). The "fix" is a key in Redis, `gate:<key>`, or `open` in a corrected payload."""

from __future__ import annotations

import os

import redis
from pydantic import BaseModel

from functions import RetryPolicy, function


class Gate(BaseModel):
    """Which gate to pass, and whether to pass it regardless."""

    key: str
    open: bool = False


class Passed(BaseModel):
    key: str


class Closed(Exception):
    """The gate is closed: the invocation fails (after its one retry)."""


_clients: dict[int, redis.Redis] = {}


def _redis() -> redis.Redis:
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
    return _clients[pid]


@function("gated", time_limit=10, retry=RetryPolicy(attempts=2, on=(Closed,), backoff=0.1))
def gated(payload: Gate) -> Passed:
    """Fail with Closed unless `gate:<key>` exists in Redis or the payload says `open`."""
    if not payload.open and not _redis().exists(f"gate:{payload.key}"):
        raise Closed(f"gate {payload.key} is closed")
    return Passed(key=payload.key)
