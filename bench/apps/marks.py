"""A Spillway function for the recovery benchmark: it notes when each of its runs starts.

Run a worker with `SPILLWAY_FUNCTION_MODULES=bench.apps.marks` and `BENCH_MARKS_URL` naming a
Redis of the benchmark's own (not the one the worker uses, which the benchmark may wreck).
"""

from __future__ import annotations

import os
import time

import redis
from pydantic import BaseModel

from functions import function

MARKS_ENV = "BENCH_MARKS_URL"
_clients: dict[int, redis.Redis] = {}


class Mark(BaseModel):
    """Where to note the runs, and how long the first run sleeps."""

    key: str
    seconds: float = 0.0


class Marked(BaseModel):
    run: int


def _marks() -> redis.Redis:
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = redis.Redis.from_url(os.environ[MARKS_ENV], socket_timeout=5)
    return _clients[pid]


@function("mark", time_limit=120)
def mark(payload: Mark) -> Marked:
    """RPUSH "<pid> <unix time>" when a run starts; the first run then sleeps `seconds` (long
    enough to be killed in), later runs return at once."""
    run = int(_marks().rpush(payload.key, f"{os.getpid()} {time.time():.6f}"))
    if run == 1:
        time.sleep(payload.seconds)
    return Marked(run=run)
