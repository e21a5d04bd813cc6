"""429 + Retry-After against a real API, on a function whose backlog limit is 3 and whose queue
no worker consumes (it stays full until the test empties it)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from functions.loadtest.producer import Producer, ProducerConfig
from functions.loadtest.records import Clock
from tests.loadtest.backlog_functions import QUEUE
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e


@pytest.fixture
def full_api(load_api: Proc) -> Proc:
    return load_api


@pytest.fixture
def queue_key(key_prefix: str) -> str:
    return f"{key_prefix}{QUEUE}"


@pytest.fixture
def queue(redis_url: str, queue_key: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(queue_key)
    yield client
    client.delete(queue_key)
    client.close()


def produce(url: str, count: int, *, batch: int = 0, **config: Any) -> Producer:
    producer = Producer(
        ProducerConfig(
            url=url,
            function="tiny-backlog",
            payload={"n": 1},
            run_id=f"retry-{secrets.token_hex(4)}",
            batch=batch,
            **config,
        ),
        [0.0] * count,
        Clock(),
    )

    async def run() -> None:
        async with producer.client() as client:
            await producer.run(client)

    asyncio.run(run())
    return producer


def test_429_is_retried_after_retry_after_then_counted_as_rejected(
    full_api: Proc, queue: redis.Redis, queue_key: str
) -> None:
    producer = produce(full_api.url, 6, retries=2, max_retry_wait=5)
    accepted = [a for a in producer.arrivals if a.outcome == "accepted"]
    rejected = [a for a in producer.arrivals if a.outcome == "rejected"]
    assert len(accepted) == 3 and len(rejected) == 3
    assert {a.reason for a in rejected} == {"backlog-429"}
    assert all(a.attempts == 3 and a.throttled == 2 for a in rejected)
    for a in rejected:
        tries = sorted(
            (r for r in producer.requests if r.request == a.request), key=lambda r: r.attempt
        )
        assert [r.status for r in tries] == [429, 429, 429]
        assert all(r.retry_after == 1.0 for r in tries)
        for before, after in zip(tries, tries[1:], strict=False):
            assert after.sent_t - before.answered_t >= 0.95  # waited the Retry-After
    assert queue.llen(queue_key) == 3  # nothing enqueued twice


def test_retry_waits_are_capped_by_max_retry_wait(full_api: Proc, queue: redis.Redis) -> None:
    producer = produce(full_api.url, 4, retries=1, max_retry_wait=0.2)
    retried = [r for r in producer.requests if r.attempt == 2]
    assert len(retried) == 1
    first = next(r for r in producer.requests if r.request == retried[0].request and r.attempt == 1)
    assert 0.15 <= retried[0].sent_t - first.answered_t < 0.9


def test_a_retry_is_accepted_once_the_backlog_has_room(
    full_api: Proc, queue: redis.Redis, queue_key: str
) -> None:
    async def make_room() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(queue.delete, queue_key)

    producer = Producer(
        ProducerConfig(
            url=full_api.url,
            function="tiny-backlog",
            payload={},
            run_id=f"room-{secrets.token_hex(4)}",
            retries=3,
        ),
        [0.0] * 5,
        Clock(),
    )

    async def run() -> None:
        async with producer.client() as client:
            await asyncio.gather(producer.run(client), make_room())

    asyncio.run(run())
    assert all(a.outcome == "accepted" for a in producer.arrivals)
    assert sum(a.throttled for a in producer.arrivals) == 2
    assert len({a.id for a in producer.arrivals}) == 5


def test_a_batch_over_the_limit_is_rejected_whole(full_api: Proc, queue: redis.Redis) -> None:
    producer = produce(full_api.url, 5, batch=5, retries=0)
    assert [a.outcome for a in producer.arrivals] == ["rejected"] * 5
    assert len(producer.requests) == 1 and producer.requests[0].items == 5
    ok = produce(full_api.url, 3, batch=2, retries=0)
    assert [a.outcome for a in ok.arrivals] == ["accepted"] * 3
    assert len(ok.requests) == 2
