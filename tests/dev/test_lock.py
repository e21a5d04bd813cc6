"""One `spillway dev` per Redis and key prefix (functions/dev/lock.py), on a real Redis."""

from __future__ import annotations

import redis

from functions.dev import lock as lock_module
from functions.dev.errors import AlreadyRunning
from functions.dev.lock import DevLock


def test_a_second_holder_is_refused_with_who_holds_it(redis_client: redis.Redis) -> None:
    first = DevLock(redis_client, "", "http://127.0.0.1:8080")
    first.acquire("redis://r")
    second = DevLock(redis_client, "", "http://127.0.0.1:8081")
    try:
        second.acquire("redis://r")
    except AlreadyRunning as exc:
        message = str(exc)
    else:
        raise AssertionError("the second spillway dev was let in")
    assert "API http://127.0.0.1:8080) is running on the Redis at redis://r" in message
    assert "unset REDIS_URL" in message
    DevLock(redis_client, "other:", "http://127.0.0.1:8082").acquire("redis://r")  # own prefix
    first.release()
    second.acquire("redis://r")  # free again


def test_the_key_expires_when_its_holder_stops_renewing(redis_client: redis.Redis) -> None:
    holder = DevLock(redis_client, "", "http://127.0.0.1:8080")
    holder.acquire("redis://r")
    ttl = redis_client.ttl(holder.key)
    assert 0 < ttl <= lock_module.TTL
    holder._renewed -= lock_module.RENEW_EVERY  # due
    redis_client.expire(holder.key, 1)
    holder.renew()
    assert redis_client.ttl(holder.key) > 1


def test_release_leaves_a_key_that_is_no_longer_ours(redis_client: redis.Redis) -> None:
    holder = DevLock(redis_client, "", "http://127.0.0.1:8080")
    holder.acquire("redis://r")
    redis_client.delete(holder.key)  # it expired while paused ...
    other = DevLock(redis_client, "", "http://127.0.0.1:8081")
    other.acquire("redis://r")  # ... and another took it
    holder.release()
    holder._renewed -= lock_module.RENEW_EVERY
    holder.renew()
    assert redis_client.get(holder.key) == other.value.encode()
