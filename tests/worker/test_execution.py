"""The plain functions behind the Celery task, against a real Redis."""

from __future__ import annotations

import random
import time

import pytest
import redis
from pydantic import ValidationError

from functions import keys, records
from functions.registry import RetryPolicy, registry
from functions.worker.execution import RecordStore, backoff_delay, call_function, describe


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
    view = records.decode("i4", redis_client.hgetall(keys.record_key("p:", "i4")))
    assert view["status"] == "retrying" and view["error"] == "Flaky: once"
    store.begin("i4", "echo")
    store.succeed("i4", {"n": [1, 2]})
    view = records.decode("i4", redis_client.hgetall(keys.record_key("p:", "i4")))
    assert view["status"] == "succeeded" and view["result"] == {"n": [1, 2]}
    assert view["error"] is None and view["attempts"] == 2
    assert view["finished_at"] is not None


def test_call_function_validates_both_ways() -> None:
    spec = registry.get("process-data")
    assert spec is not None
    assert call_function(spec, {"user_id": 1, "data": "d"}) == {
        "status": "success",
        "result": "Processed d for user 1",
    }
    with pytest.raises(ValidationError):
        call_function(spec, {"user_id": "x"})


def test_builtin_cpu_and_sleep_do_what_they_say() -> None:
    cpu, sleep = registry.get("cpu"), registry.get("sleep")
    assert cpu is not None and sleep is not None
    started = time.process_time()
    assert call_function(cpu, {"milliseconds": 100})["iterations"] > 0
    busy = time.process_time() - started
    started, wall = time.process_time(), time.perf_counter()
    assert call_function(sleep, {"seconds": 0.1}) == {"slept": 0.1}
    idle = time.process_time() - started
    assert time.perf_counter() - wall >= 0.1
    # cpu burns CPU time, sleep does not (thresholds loose: the machine may be shared).
    assert busy > 0.02 > idle


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, backoff=1, backoff_max=8, jitter=False)
    assert [backoff_delay(policy, n) for n in range(5)] == [1, 2, 4, 8, 8]
    jittered = RetryPolicy(attempts=10, backoff=4, backoff_max=60)
    delays = {backoff_delay(jittered, 1, random.Random(seed)) for seed in range(50)}
    assert all(4 <= d <= 8 for d in delays) and len(delays) > 10


def test_describe_names_the_error() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert describe(TimeoutError()) == "TimeoutError"
