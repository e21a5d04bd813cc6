"""The outbox's moves against a real Redis, one step at a time: a delivery is always in exactly
one place (ready, a sender's processing list, the retry set, or a dead letter), whichever step a
sender dies after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from redis import asyncio as aioredis

from functions import keys
from functions.sender.outbox import Outbox, Settlement

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(redis_url: str, redis_client: redis.Redis) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def outbox(client: aioredis.Redis, sender: str, lease: float = 5.0) -> Outbox:
    return Outbox(
        client,
        "",
        sender,
        lease_ttl=lease,
        record_ttl=60,
        dead_letter_max=10,
        dead_letter_max_bytes=1 << 20,
    )


def item(invocation: str = "inv", n: int = 1, **extra: Any) -> str:
    fields = {
        "kind": "callback",
        "id": f"{invocation}-{n}",
        "n": n,
        "invocation": invocation,
        "url": "https://hooks.example.com/",
        "at": 1.0,
        "attempts": 0,
        "record": ["function", "echo", "status", "succeeded"],
        **extra,
    }
    return json.dumps(fields)


def places(sync: redis.Redis) -> dict[str, int]:
    processing = sum(sync.llen(k) for k in sync.keys("spillway:outbox:processing:*"))
    return {
        "ready": int(sync.llen(keys.outbox_key(""))),
        "processing": int(processing),
        "retry": int(sync.zcard(keys.outbox_retry_key(""))),
        "dead": int(sync.hlen("spillway:dlq:spillway:outbox")),
    }


async def test_take_settle_delivered_updates_the_record(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.hset("spillway:inv:inv", mapping={"status": "succeeded", "notified": 1})
    redis_client.lpush(keys.outbox_key(""), item())
    box = outbox(client, "s1")
    await box.sweep()
    raw = await box.take(1)
    assert raw == item() and places(redis_client)["processing"] == 1
    assert await box.settle(raw, Settlement("delivered", 1, status=200), 5.0)
    assert places(redis_client) == {"ready": 0, "processing": 0, "retry": 0, "dead": 0}
    record = redis_client.hgetall("spillway:inv:inv")
    assert record[b"callback_state"] == b"delivered" and record[b"callback_status"] == b"200"


async def test_a_dead_senders_deliveries_go_back_and_its_late_settle_is_fenced_off(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    """Killed after BLMOVE and before settling: the lease expires, another sender's sweep puts
    the delivery back. If the first one was only paused, its settle later changes nothing."""
    redis_client.lpush(keys.outbox_key(""), item())
    dead, alive = outbox(client, "dead", lease=2.0), outbox(client, "alive")
    await dead.sweep()
    raw = await dead.take(1)
    assert raw is not None
    assert await alive.sweep() == (0, 0)  # its lease still runs
    await asyncio.sleep(2.1)
    assert await alive.sweep() == (0, 1)
    assert places(redis_client) == {"ready": 1, "processing": 0, "retry": 0, "dead": 0}
    assert not await dead.settle(raw, Settlement("delivered", 1, status=200), 5.0)
    assert places(redis_client)["ready"] == 1  # still owed: the copy put back owns it


async def test_a_retry_waits_in_the_retry_set_until_due(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.lpush(keys.outbox_key(""), item())
    box = outbox(client, "s1")
    await box.sweep()
    raw = await box.take(1)
    assert raw is not None
    later = item(attempts=1, last_status=503)
    seconds, micros = await client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    await box.settle(
        raw, Settlement("retry", 1, 503, "503", next_item=later, due_ms=now_ms + 800), 5
    )
    assert places(redis_client) == {"ready": 0, "processing": 0, "retry": 1, "dead": 0}
    assert await box.sweep() == (0, 0)
    await asyncio.sleep(0.9)
    assert await box.sweep() == (1, 0)
    assert redis_client.lrange(keys.outbox_key(""), 0, -1) == [later.encode()]


async def test_a_clean_stop_gives_back_what_is_unsettled(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    for n in (1, 2):
        redis_client.lpush(keys.outbox_key(""), item(n=n))
    box = outbox(client, "s1")
    await box.sweep()
    assert await box.take(1) and await box.take(1)
    assert await box.release() == 2
    assert places(redis_client)["ready"] == 2
    assert not redis_client.zscore(keys.outbox_senders_key(""), "s1")


async def test_failed_deliveries_and_junk_are_dead_lettered_not_lost(
    client: aioredis.Redis, redis_client: redis.Redis
) -> None:
    redis_client.lpush(keys.outbox_key(""), item(), "not json")  # taken from the right
    box = outbox(client, "s1")
    await box.sweep()
    good = await box.take(1)
    junk = await box.take(1)
    assert good == item() and junk == "not json"
    await box.settle(good, Settlement("failed", 1, 400, "400", error_type="Refused"), 5.0)
    await box.settle(junk, Settlement("failed", 1, error="unreadable"), 5.0)
    assert places(redis_client) == {"ready": 0, "processing": 0, "retry": 0, "dead": 2}
    entry = json.loads(redis_client.hget("spillway:dlq:spillway:outbox", "inv-1") or b"{}")
    assert entry["reason"] == "callback_failed" and entry["delivery"]["last_status"] == 400
    assert entry["function"] == "echo" and entry["invocation_id"] == "inv"
