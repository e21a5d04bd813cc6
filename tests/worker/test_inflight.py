"""The delivery scripts (functions/worker/lua/) against a real Redis, one step at a time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis

from functions import keys
from functions.localredis import RedisServer
from functions.protocol import MessageBuilder, new_id
from functions.registry import FunctionSpec
from functions.worker.inflight import Inflight, PoolKeys, source
from tests.support.processes import redis_server_or_skip
from tests.worker.conftest import echo_spec

QUEUE = "spillway"


@pytest.fixture
def inflight(redis_client: redis.Redis) -> Inflight:
    return Inflight(redis_client, PoolKeys.of("", ""), record_ttl=60, dead_letter_max=3)


def submit(client: redis.Redis, spec: FunctionSpec = echo_spec, body: str = '{"n":1}') -> str:
    """What the API's submit script writes for one invocation: the record, then the message."""
    invocation_id = new_id()
    client.hset(
        keys.record_key("", invocation_id),
        mapping={
            "function": spec.name,
            "status": "queued",
            "submitted_at": time.time(),
            "attempts": 0,
        },
    )
    client.lpush(QUEUE, MessageBuilder(spec, QUEUE).build(invocation_id, body))
    return invocation_id


def fetch(inflight: Inflight, worker: str) -> list[str]:
    script = inflight.redis.register_script(source("fetch"))
    keys_, args = inflight.fetch_args(worker, [QUEUE], max_lost=3)
    return [x.decode() if isinstance(x, bytes) else str(x) for x in script(keys=keys_, args=args)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def record(client: redis.Redis, invocation_id: str) -> dict[str, str]:
    raw = client.hgetall(keys.record_key("", invocation_id))
    return {_text(k): _text(v) for k, v in raw.items()}


def history(client: redis.Redis, invocation_id: str) -> list[str]:
    return [e["event"] for e in json.loads(record(client, invocation_id).get("history", "[]"))]


@pytest.fixture
def worker(inflight: Inflight) -> str:
    inflight.acquire("w1", 10, [echo_spec.task_name])
    return "w1"


def test_fetch_takes_and_records_in_one_step(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    kind, tag, src, raw, attempts, *_ = fetch(inflight, worker)
    assert (kind, src, attempts) == ("ok", QUEUE, "1")
    assert tag.startswith(invocation_id + ".")
    assert json.loads(raw)["headers"]["id"] == invocation_id
    assert redis_client.llen(QUEUE) == 0
    assert redis_client.hget("unacked", tag) == f"{QUEUE}\n{raw}".encode()
    assert redis_client.smembers("spillway:held:w1") == {tag.encode()}
    rec = record(redis_client, invocation_id)
    assert (rec["status"], rec["delivery"], rec["worker"]) == ("running", tag, "w1")
    assert fetch(inflight, worker) == []


def test_fetch_refuses_a_worker_without_a_live_lease(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    submit(redis_client)
    assert fetch(inflight, "nobody") == ["lease"]
    inflight.acquire("brief", 0.05, [echo_spec.task_name])
    time.sleep(0.1)
    assert fetch(inflight, "brief") == ["lease"]
    assert redis_client.llen(QUEUE) == 1, "nothing may be taken under a dead lease"


def test_each_delivery_has_its_own_tag_and_an_old_one_is_fenced_off(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    first = fetch(inflight, worker)[1]
    assert inflight.settle(worker, first, "requeue", "released") == 2
    second = fetch(inflight, worker)[1]
    assert first != second
    # A late ack or outcome of the first delivery touches nothing of the second.
    assert inflight.settle(worker, first, "ack", "acked") == 0
    assert inflight.finish(worker, first, invocation_id, "succeeded", "result", "{}") == 0
    assert redis_client.hexists("unacked", second)
    assert record(redis_client, invocation_id)["status"] == "running"
    assert record(redis_client, invocation_id)["attempts"] == "2"


def test_finish_records_the_outcome_and_settles_together(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    tag = fetch(inflight, worker)[1]
    assert inflight.finish(worker, tag, invocation_id, "succeeded", "result", '{"n":1}') == 1
    rec = record(redis_client, invocation_id)
    assert (rec["status"], rec["result"]) == ("succeeded", '{"n":1}')
    assert redis_client.hlen("unacked") == 0 and redis_client.scard("spillway:held:w1") == 0
    assert 0 < redis_client.ttl(keys.record_key("", invocation_id)) <= 60
    # Celery's ack after the task recorded it finds nothing left to do.
    assert inflight.settle(worker, tag, "ack", "acked") == 0


def test_a_terminal_record_never_changes(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    tag = fetch(inflight, worker)[1]
    inflight.finish(worker, tag, invocation_id, "succeeded", "result", "{}")
    # A second copy of the same invocation (a producer pushed it twice) is dropped at fetch ...
    redis_client.lpush(QUEUE, MessageBuilder(echo_spec, QUEUE).build(invocation_id, "{}"))
    assert fetch(inflight, worker)[0] == "finished"
    assert record(redis_client, invocation_id)["attempts"] == "1"
    # ... and an outcome written for an entry that is somehow still in flight does not land.
    redis_client.hset("unacked", f"{invocation_id}.x", f"{QUEUE}\n{{}}")
    assert inflight.finish(worker, f"{invocation_id}.x", invocation_id, "failed", "error", "E") == 2
    assert record(redis_client, invocation_id)["status"] == "succeeded"


def test_an_ack_without_a_recorded_outcome_puts_the_message_back(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    tag = fetch(inflight, worker)[1]
    assert inflight.settle(worker, tag, "ack", "acked") == 2
    assert redis_client.llen(QUEUE) == 1 and redis_client.hlen("unacked") == 0
    assert record(redis_client, invocation_id)["status"] == "queued"
    assert history(redis_client, invocation_id) == ["unrecorded"]


def test_an_expired_lease_sends_its_deliveries_back_counted_as_lost(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    inflight.acquire("doomed", 0.3, [echo_spec.task_name])
    inflight.acquire("alive", 10, [echo_spec.task_name])
    first, second = submit(redis_client), submit(redis_client)
    fetch(inflight, "doomed")
    fetch(inflight, "alive")
    assert inflight.sweep(interval=1, lease_ttl=0.3) == (0, 0), "not before the deadline"
    time.sleep(0.35)
    assert inflight.sweep(interval=1, lease_ttl=0.3) == (0, 1)
    assert redis_client.llen(QUEUE) == 1 and redis_client.hlen("unacked") == 1
    rec = record(redis_client, first)
    assert (rec["status"], rec["lost"]) == ("queued", "1")
    assert history(redis_client, first) == ["worker_lost"]
    assert record(redis_client, second)["status"] == "running"
    assert not redis_client.exists("spillway:held:doomed", "spillway:tasks:doomed")
    assert inflight.renew("doomed", 10) is False
    assert inflight.renew("alive", 10) is True


def test_after_a_gap_in_sweeping_live_workers_get_a_lease_period_to_renew(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    """Redis paused or restarted: leases look expired only because nobody could renew them."""
    submit(redis_client)
    fetch(inflight, worker)
    inflight.sweep(interval=1, lease_ttl=10)
    redis_client.hset("spillway:sweep", "last", int(time.time() * 1000) - 60_000)
    redis_client.zadd("spillway:leases", {worker: 0})  # as if it expired during the outage
    assert inflight.sweep(interval=1, lease_ttl=10) == (0, 0)
    assert inflight.renew(worker, 10) is True
    assert redis_client.hlen("unacked") == 1


def test_a_retry_waits_in_the_scheduled_set_not_in_flight(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    tag = fetch(inflight, worker)[1]
    assert inflight.retry(worker, tag, invocation_id, 0.2, "Flaky: no", 1) == 1
    assert redis_client.hlen("unacked") == 0 and redis_client.llen(QUEUE) == 0
    assert redis_client.zcard("spillway:scheduled") == 1
    rec = record(redis_client, invocation_id)
    assert (rec["status"], rec["retries"], rec["error"]) == ("retrying", "1", "Flaky: no")
    assert inflight.sweep(1, 10) == (0, 0), "not due yet"
    time.sleep(0.25)
    assert inflight.sweep(1, 10) == (1, 0)
    kind, _, _, _, attempts, _, retries, _ = fetch(inflight, worker)
    assert (kind, attempts, retries) == ("ok", "2", "1")


def test_an_unknown_task_is_held_back_then_dead_lettered(
    inflight: Inflight, redis_client: redis.Redis
) -> None:
    inflight.acquire("old", 10, ["spillway.something-else"])
    invocation_id = submit(redis_client)
    kind, tag, *_ = fetch(inflight, "old")
    assert kind == "unknown"
    assert record(redis_client, invocation_id)["attempts"] == "0", "holding back is no attempt"
    assert inflight.hold("old", tag, echo_spec.task_name, delay=0.05, limit=0.5) == 1
    assert redis_client.zcard("spillway:scheduled") == 1
    time.sleep(0.6)
    inflight.sweep(1, 10)
    kind, tag, *_ = fetch(inflight, "old")
    assert inflight.hold("old", tag, echo_spec.task_name, delay=0.05, limit=0.5) == 2
    rec = record(redis_client, invocation_id)
    assert rec["status"] == "failed" and rec["dead_letter"] == f"{QUEUE}/{invocation_id}"
    entry = json.loads(redis_client.hget(f"spillway:dlq:{QUEUE}", invocation_id) or "{}")
    assert entry["reason"] == "unknown_task" and entry["function"] == "echo"


def test_a_malformed_message_is_dead_lettered_as_it_came(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    redis_client.lpush(QUEUE, "this is not json")
    kind, tag, src, raw = fetch(inflight, worker)
    assert (kind, raw) == ("malformed", "this is not json") and tag.startswith("!")
    assert inflight.quarantine(worker, tag, "malformed", "DecodeError", "not JSON") == 1
    (entry,) = redis_client.hvals(f"spillway:dlq:{QUEUE}")
    fields = json.loads(entry)
    assert fields["message"] == "this is not json" and fields["reason"] == "malformed"
    assert fields["error"] == {"type": "DecodeError", "message": "not JSON"}
    assert redis_client.hlen("unacked") == 0


def test_the_dead_letter_store_sheds_its_oldest(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    for n in range(5):
        redis_client.lpush(QUEUE, f"junk {n}")
        tag = fetch(inflight, worker)[1]
        inflight.quarantine(worker, tag, "malformed", "DecodeError", "not JSON")
    stored = sorted(json.loads(v)["message"] for v in redis_client.hvals(f"spillway:dlq:{QUEUE}"))
    assert stored == ["junk 2", "junk 3", "junk 4"]
    assert redis_client.hget("spillway:dlq:shed", QUEUE) == b"2"


def test_release_hands_back_what_a_worker_holds_without_counting_it_lost(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    invocation_id = submit(redis_client)
    fetch(inflight, worker)
    assert inflight.release(worker) == 1
    rec = record(redis_client, invocation_id)
    assert rec["status"] == "queued" and "lost" not in rec
    assert history(redis_client, invocation_id) == ["released"]
    assert redis_client.zscore("spillway:leases", worker) is None


def test_an_idempotency_key_expires_only_once_all_its_invocations_finished(
    inflight: Inflight, worker: str, redis_client: redis.Redis
) -> None:
    idem = "spillway:idem:echo:k"
    ids = [submit(redis_client), submit(redis_client)]
    redis_client.hset(idem, mapping={"value": "x", "pending": 2, "ttl": 100})
    for invocation_id in ids:
        redis_client.hset(keys.record_key("", invocation_id), "idem", idem)
    tags = [fetch(inflight, worker)[1], fetch(inflight, worker)[1]]
    inflight.finish(worker, tags[0], tags[0].rpartition(".")[0], "succeeded", "result", "{}")
    assert redis_client.ttl(idem) == -1
    inflight.finish(worker, tags[1], tags[1].rpartition(".")[0], "succeeded", "result", "{}")
    assert 0 < redis_client.ttl(idem) <= 100


@pytest.fixture
def full_redis() -> Iterator[redis.Redis]:
    """A private Redis at its maxmemory with noeviction."""
    server: RedisServer = redis_server_or_skip("needs redis-server to fill one up")
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()
        server.close()


def test_a_full_redis_still_lets_workers_finish_renew_and_recover(full_redis: redis.Redis) -> None:
    """Redis refuses a script's first write when it may grow memory, and only the first
    (redis 7.0.15 src/script.c, scriptVerifyOOM; 6.2 src/scripting.c, lua_write_dirty): each
    script a worker needs under memory pressure starts with a write that frees."""
    inflight = Inflight(full_redis, PoolKeys.of("", ""), record_ttl=60, dead_letter_max=3)
    inflight.acquire("w", 10, [echo_spec.task_name])
    ids = [submit(full_redis) for _ in range(3)]
    tags = [fetch(inflight, "w")[1] for _ in ids]
    used = int(full_redis.info("memory")["used_memory"])
    full_redis.config_set("maxmemory-policy", "noeviction")
    full_redis.config_set("maxmemory", used)
    with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
        full_redis.set("filler", "x" * 100_000)
    assert inflight.renew("w", 10) is True
    assert inflight.finish("w", tags[0], ids[0], "succeeded", "result", "{}") == 1
    assert inflight.retry("w", tags[1], ids[1], 0, "Flaky", 1) == 1
    assert inflight.settle("w", tags[2], "requeue", "released") == 2
    assert inflight.sweep(1, 10)[0] == 1
