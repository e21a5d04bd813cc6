"""The queue list plus the pool's `unacked` hash is the whole backlog: what KEDA must count."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import redis

from functions import keys
from functions.registry import DEFAULT_QUEUE
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e


def _snapshot(client: redis.Redis, ids: list[str], pool_hash: str) -> tuple[int, int, int]:
    """Unfinished invocations, queue length and the pool's in-flight count, read in one MULTI:
    one consistent reading, as KEDA's Lua (separate reads let a task finish in between)."""
    pipe = client.pipeline(transaction=True)
    for invocation_id in ids:
        pipe.hget(keys.record_key("", invocation_id), "status")
    pipe.llen(keys.queue_key("", DEFAULT_QUEUE))
    pipe.hlen(pool_hash)
    *statuses, queued, in_flight = pipe.execute()
    unfinished = sum(1 for s in statuses if s not in (b"succeeded", b"failed"))
    return unfinished, int(queued), int(in_flight)


def test_no_hoarding_so_queue_plus_unacked_is_the_backlog(
    api: Proc, worker_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis
) -> None:
    worker_factory(redis_url, SPILLWAY_WORKER_CONCURRENCY="2", SPILLWAY_POOL="blue")
    items = [{"key": "calls:backlog", "seconds": 0.4} for _ in range(12)]
    response = httpx.post(f"{api.url}/v1/functions/slow/invocations/batch", json={"items": items})
    ids = response.json()["ids"]
    pool_hash, shared_hash = keys.unacked_key("", "blue"), keys.unacked_key("")
    peak = 0
    deadline = time.monotonic() + 30
    while True:
        unfinished, queued, in_flight = _snapshot(redis_client, ids, pool_hash)
        if not unfinished or time.monotonic() >= deadline:
            break
        peak = max(peak, in_flight)
        # Never more than one message per pool slot outside the list (no prefetch hoarding)...
        assert in_flight <= 2
        # ...and the list plus the pool's hash is exactly every unfinished invocation: a message
        # leaves the list into the hash in one script (fetch.lua), and leaves the hash in the
        # script that records its outcome (finish.lua), so no reading can catch one in transit
        # (kombu's BRPOP and its separate HSET could, and its ack came after the result).
        assert queued + in_flight == unfinished
        assert redis_client.hlen(shared_hash) == 0
        time.sleep(0.02)
    assert unfinished == 0
    assert peak == 2
