"""The worker's invocation records, against a real Redis."""

from __future__ import annotations

import time

import pytest
import redis

from functions import keys, records
from functions.worker.store import RecordStore


def _fields(client: redis.Redis, invocation_id: str) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = client.hgetall(keys.record_key("p:", invocation_id))  # type: ignore[assignment]
    return fields


@pytest.fixture
def store(redis_client: redis.Redis) -> RecordStore:
    return RecordStore(redis_client, "p:", ttl=60)


def test_begin_counts_attempts_and_keeps_the_submission_time(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    key = keys.record_key("p:", "i1")
    redis_client.hset(
        key,
        mapping={
            "function": "echo",
            "status": "queued",
            "submitted_at": f"{time.time() - 2:.6f}",
            "attempts": 0,
        },
    )
    first = store.begin("i1", "echo")
    assert first is not None and first.attempts == 1
    assert 1.9 < first.queue_wait < 5
    second = store.begin("i1", "echo")
    assert second is not None and second.attempts == 2
    assert redis_client.hget(key, "status") == b"running"
    assert 0 < redis_client.ttl(key) <= 60


def test_begin_skips_invocations_that_already_finished(store: RecordStore) -> None:
    store.begin("i2", "echo")
    store.succeed("i2", {"ok": True})
    assert store.begin("i2", "echo") is None
    store.begin("i3", "echo")
    store.fail("i3", "boom")
    assert store.begin("i3", "echo") is None


def test_records_read_back_through_the_public_view(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    store.begin("i4", "echo")
    store.retrying("i4", "Flaky: once")
    view = records.decode("i4", _fields(redis_client, "i4"))
    assert view["status"] == "retrying" and view["error"] == "Flaky: once"
    store.begin("i4", "echo")
    store.succeed("i4", {"n": [1, 2]})
    view = records.decode("i4", _fields(redis_client, "i4"))
    assert view["status"] == "succeeded" and view["result"] == {"n": [1, 2]}
    assert view["error"] is None and view["attempts"] == 2
    assert view["finished_at"] is not None
