"""Fixtures: dead letters filed the way workers file them (the worker's scripts, a real Redis).

Imported by the conftest of each test folder that needs them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from functions.deadletters.connection import Connection
from functions.deadletters.store import DeadLetters
from functions.worker.inflight import Inflight, PoolKeys
from tests.worker.conftest import echo_spec
from tests.worker.test_inflight import QUEUE, fetch, submit

WORKER = "w1"


@pytest.fixture
def dl_inflight(redis_client: redis.Redis) -> Inflight:
    inflight = Inflight(redis_client, PoolKeys.of("", ""), record_ttl=60, dead_letter_max=100)
    inflight.acquire(WORKER, 30, [echo_spec.task_name])
    return inflight


@pytest.fixture
def fail(dl_inflight: Inflight, redis_client: redis.Redis) -> Callable[..., str]:
    """Submit an `echo` invocation and fail it for good; its id (= its dead letter's id)."""

    def make(body: str = '{"n":1}', error: str = "ValueError: bad input", idem: str = "") -> str:
        invocation_id = submit(redis_client, body=body)
        if idem:
            redis_client.hset(f"spillway:inv:{invocation_id}", "idem", idem)
        tag = fetch(dl_inflight, WORKER)[1]
        kind, _, message = error.partition(": ")
        assert (
            dl_inflight.finish(
                WORKER,
                tag,
                invocation_id,
                "failed",
                "error",
                error,
                ("retries_exhausted", json.dumps({"type": kind, "message": message})),
            )
            == 1
        )
        return invocation_id

    return make


@pytest.fixture
def junk(dl_inflight: Inflight, redis_client: redis.Redis) -> Callable[[str], str]:
    """Push a list entry that is not a message and let a worker dead-letter it; its id."""

    def make(text: str) -> str:
        redis_client.lpush(QUEUE, text)
        tag = fetch(dl_inflight, WORKER)[1]
        dl_inflight.quarantine(WORKER, tag, "malformed", "DecodeError", "not JSON")
        return tag[1:]

    return make


@pytest.fixture
async def store(redis_url: str, redis_client: redis.Redis) -> AsyncIterator[DeadLetters]:
    connection = Connection(redis_url)
    yield DeadLetters(connection, "", actor="test")
    await connection.aclose()
