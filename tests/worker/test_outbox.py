"""Every final outcome queues its callback in the script that writes it (notify, _lib.lua).

If the outcome and the outbox push were two steps, a worker dying between them would leave a
finished invocation whose callback is never sent; in one script, Redis runs both or neither.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from functions import keys
from functions.worker.inflight import Inflight, PoolKeys
from tests.worker.conftest import echo_spec
from tests.worker.test_inflight import fetch, record, submit

HOOK = "https://hooks.example.com/x"


@pytest.fixture
def inflight(redis_client: redis.Redis) -> Inflight:
    """A pool's scripts, with worker w1 holding a lease (fetch takes only for a live lease)."""
    scripts = Inflight(redis_client, PoolKeys.of("", ""), record_ttl=60, dead_letter_max=3)
    scripts.acquire("w1", 10, [echo_spec.task_name])
    return scripts


def outbox(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(keys.outbox_key(""), 0, -1)]


def with_callback(client: redis.Redis) -> str:
    invocation_id = submit(client)
    client.hset(keys.record_key("", invocation_id), "callback", HOOK)
    return invocation_id


def test_success_queues_the_callback_with_a_snapshot_of_the_record(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    invocation_id = with_callback(redis_client)
    tag = fetch(inflight, "w1")[1]
    assert inflight.finish("w1", tag, invocation_id, "succeeded", "result", '{"n":1}') == 1
    (item,) = outbox(redis_client)
    assert item["kind"] == "callback" and item["url"] == HOOK
    assert item["invocation"] == invocation_id and item["id"] == f"{invocation_id}-1"
    snapshot = dict(zip(item["record"][::2], item["record"][1::2], strict=True))
    assert snapshot["status"] == "succeeded" and snapshot["result"] == '{"n":1}'
    assert record(redis_client, invocation_id)["callback_state"] == "pending"


def test_a_failure_for_good_queues_it_too_as_does_quarantine(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    first = with_callback(redis_client)
    tag = fetch(inflight, "w1")[1]
    inflight.finish(
        "w1", tag, first, "failed", "error", "boom", ("retries_exhausted", '{"type":"E"}')
    )
    second = with_callback(redis_client)
    tag = fetch(inflight, "w1")[1]
    assert inflight.quarantine("w1", tag, "poison", "WorkerLost", "died 3 times") == 1
    items = outbox(redis_client)
    assert [i["invocation"] for i in items] == [second, first]  # LPUSH: newest on the left
    assert {json.dumps(i["record"]).count('"failed"') for i in items} == {1}


def test_no_callback_and_no_events_sink_queue_nothing(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    tag = fetch(inflight, "w1")[1]
    inflight.finish("w1", tag, invocation_id, "succeeded", "result", "{}")
    assert redis_client.llen(keys.outbox_key("")) == 0
    assert "notified" not in record(redis_client, invocation_id)


def test_with_an_events_sink_every_outcome_queues_a_completion_event(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.outbox_events_key(""), "1")
    plain = submit(redis_client)
    inflight.finish("w1", fetch(inflight, "w1")[1], plain, "succeeded", "result", "{}")
    hooked = with_callback(redis_client)
    inflight.finish("w1", fetch(inflight, "w1")[1], hooked, "succeeded", "result", "{}")
    kinds = [(i["kind"], i["id"]) for i in outbox(redis_client)]
    assert kinds == [
        ("event", f"{hooked}-1-event"),
        ("callback", f"{hooked}-1"),
        ("event", f"{plain}-1-event"),
    ]


def test_a_fenced_off_finish_queues_nothing(inflight: Inflight, redis_client: redis.Redis) -> None:
    invocation_id = with_callback(redis_client)
    fetch(inflight, "w1")
    assert (
        inflight.finish("w1", f"{invocation_id}.gone", invocation_id, "succeeded", "result", "{}")
        == 0
    )
    assert redis_client.llen(keys.outbox_key("")) == 0
